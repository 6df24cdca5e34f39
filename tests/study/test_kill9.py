"""Kill -9 the whole `scalinglab run` process tree 20 times, then finish: same result.

Acceptance test of issue 4: every planned run ends exactly once in COMPLETE and the
aggregated curve equals that of an uninterrupted run with the same seeds.

Each kill is aimed at a state read from the database, not at a time: the even kills as soon
as a run is RUNNING (a claim left behind by a dead worker), the odd ones once a further run
has COMPLETEd since the process started and another is RUNNING (progress, then a run cut in
its middle). So every one of the 20 processes dies holding a claimed run, however loaded the
machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from scalinglab.storage import RunState, open_storage
from scalinglab.study import StudySpec, run_study, study_curves

SPEC = """\
name = "kill9"
task = "synthetic"
seeds = 2
[data]
min_shard_size = 64
max_shard_size = 1024
[model]
sizes = [1, 2, 4, 8, 16, 32]
[train]
epochs = 4
sleep_s = 0.02
[search]
method = "hestness"
samples = 2
[execution]
heartbeat_s = 0.5
stale_after_s = 30.0
"""


def _states(db) -> tuple[int, list[str]]:
    """(COMPLETE runs, workers of the RUNNING runs), read with read-only sqlite3."""
    if not db.exists():
        return 0, []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            complete = conn.execute("SELECT COUNT(*) FROM runs WHERE state = 'COMPLETE'").fetchone()[0]
            workers = [w for (w,) in conn.execute("SELECT worker FROM runs WHERE state = 'RUNNING'")]
        finally:
            conn.close()
    except sqlite3.Error:  # the database is being created
        return 0, []
    return int(complete), [str(w) for w in workers]


def _ours(worker: str, pgid: int) -> bool:
    """Whether a worker id ``host:pid:...`` names a live process of process group ``pgid``."""
    try:
        return os.getpgid(int(worker.split(":")[1])) == pgid
    except (IndexError, ValueError, ProcessLookupError):
        return False


@pytest.mark.slow
def test_kill_minus_9_twenty_times_then_resume(tmp_path):
    spec_path = tmp_path / "kill9.toml"
    spec_path.write_text(SPEC)
    db = tmp_path / "kill9.db"
    env = {**os.environ, "SCALINGLAB_STORAGE": f"sqlite:///{db}"}
    command = [sys.executable, "-m", "scalinglab", "run", str(spec_path), "--workers", "2",
               "--no-progress"]
    kills = 0
    for i in range(20):
        before, _ = _states(db)
        process = subprocess.Popen(command, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def aimed(i=i, before=before, pgid=process.pid):
            complete, workers = _states(db)
            progressed = i % 2 == 0 or complete > before
            return progressed and any(_ours(w, pgid) for w in workers)

        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline and not aimed():
            time.sleep(0.02)  # polling the database for a state, not waiting for a time
        if process.poll() is None and aimed():
            os.killpg(process.pid, signal.SIGKILL)  # the whole tree: parent and workers
            kills += 1
        process.wait()
        # Make sure no orphaned worker survives to finish the study behind our back.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        assert kills == i + 1, f"process {i} ended ({process.returncode}) before holding a run"

    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr

    spec = StudySpec.from_toml(spec_path)
    reference = run_study(spec, storage=tmp_path / "ref.db", workers=0, progress=False)
    store = open_storage(db)
    study = store.get_study("kill9")
    runs = store.get_runs(study.id)
    keys = [(r.shard_index, r.model_size, r.seed, r.config_key) for r in runs]
    assert len(keys) == len(set(keys)) == reference.n_runs
    assert all(r.state is RunState.COMPLETE for r in runs)
    assert all(r.failures == 0 for r in runs)
    for run in runs:
        assert [p.step for p in store.get_curve(run.id)] == [0, 1, 2, 3]
    got = study_curves("kill9", store).to_dict()
    want = study_curves("kill9", open_storage(tmp_path / "ref.db")).to_dict()
    assert got == want
