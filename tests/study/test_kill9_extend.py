"""Kill -9 the whole `scalinglab run` tree while it extends budgets and grows the grid (issue 15).

The kills are aimed at states read from the database, never at a time: one as soon as a
budget-extension run is RUNNING, one as soon as a grid-growth run is RUNNING, then three once
the process has COMPLETEd one, two and three more runs and holds another RUNNING. The final `run` must leave exactly the runs
of an uninterrupted study (same keys, each once COMPLETE, no failure) and the same curve.
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
from scalinglab.study import PHASE_BUDGET, PHASE_GROW, StudySpec, run_study, study_curves

# Error falls until step t* = n / 10 (20 steps per 1x budget): shards 400 and 800 need 2x and
# 4x. Best sizes grow past the initial grid [2, 4] (c small), up to max_size 64.
SPEC = """\
name = "kill9x"
task = "synthetic"
seeds = 2
[data]
shard_sizes = [100, 200, 400, 800]
[model]
sizes = [2, 4]
max_size = 64
[train]
noise = 0.0
c = 0.5
converge_step = 10
steps = 20
sleep_s = 0.004
[search]
method = "grid"
[execution]
heartbeat_s = 0.5
stale_after_s = 30.0
"""


def _holding(db, pgid: int) -> tuple[int, bool]:
    """(COMPLETE runs, whether a live process of group ``pgid`` holds a RUNNING run).

    Worker ids are ``host:pid:...``; runs left RUNNING by killed processes do not count.
    """
    if not db.exists():
        return 0, False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            complete = conn.execute("SELECT COUNT(*) FROM runs WHERE state = 'COMPLETE'").fetchone()[0]
            workers = [str(w) for (w,) in conn.execute("SELECT worker FROM runs WHERE state = 'RUNNING'")]
        finally:
            conn.close()
    except sqlite3.Error:  # the database is being created
        return 0, False
    held = False
    for worker in workers:
        with contextlib.suppress(IndexError, ValueError, ProcessLookupError):
            held = held or os.getpgid(int(worker.split(":")[1])) == pgid
    return int(complete), held


def _phase_running(db, phase: int) -> bool:
    if not db.exists():
        return False
    try:
        store = open_storage(db, migrate=False)
        study = store.get_study("kill9x")
        if study is None:
            return False
        frame = store.runs_frame(study.id, [RunState.RUNNING])
        store.close()
    except Exception:  # the database is being created
        return False
    return bool((frame["phase"] == phase).any())


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the whole tree: parent and workers
    process.wait()


@pytest.mark.slow
def test_kill_minus_9_during_budget_and_grid_extension_then_resume(tmp_path):
    spec_path = tmp_path / "kill9x.toml"
    spec_path.write_text(SPEC)
    db = tmp_path / "kill9x.db"
    env = {**os.environ, "SCALINGLAB_STORAGE": f"sqlite:///{db}"}
    command = [sys.executable, "-m", "scalinglab", "run", str(spec_path), "--workers", "2",
               "--no-progress"]
    aimed = []
    for phase in (PHASE_BUDGET, PHASE_GROW):
        process = subprocess.Popen(command, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if _phase_running(db, phase):
                aimed.append(phase)
                break
            time.sleep(0.05)
        _kill(process)
    for more in (1, 2, 3):
        before, _ = _holding(db, -1)
        process = subprocess.Popen(command, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            complete, held = _holding(db, process.pid)
            if complete >= before + more and held:
                aimed.append(more)
                break
            time.sleep(0.05)
        _kill(process)
    assert aimed == [PHASE_BUDGET, PHASE_GROW, 1, 2, 3]

    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr

    spec = StudySpec.from_toml(spec_path)
    reference = run_study(spec, storage=tmp_path / "ref.db", workers=0, progress=False)
    assert reference.n_extended > 0 and reference.n_grown > 0
    store = open_storage(db)
    ref_store = open_storage(tmp_path / "ref.db")
    runs = store.get_runs(store.get_study("kill9x").id)
    ref_runs = ref_store.get_runs(ref_store.get_study("kill9x").id)

    def key(r):
        return (r.shard_index, r.model_size, r.seed, r.config_key)

    keys = [key(r) for r in runs]
    assert len(keys) == len(set(keys)) == reference.n_runs
    assert set(keys) == {key(r) for r in ref_runs}
    assert all(r.state is RunState.COMPLETE and r.failures == 0 for r in runs)
    ref_curves = {key(r): [p.val_error for p in ref_store.get_curve(r.id)] for r in ref_runs}
    for run in runs:
        assert [p.val_error for p in store.get_curve(run.id)] == ref_curves[key(run)]
    got = study_curves("kill9x", store).to_dict()
    want = study_curves("kill9x", ref_store).to_dict()
    assert got == want
