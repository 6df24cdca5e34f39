"""Kill -9 the whole `scalinglab run` process tree 20 times, then finish: same result.

Acceptance test of issue 4: every planned run ends exactly once in COMPLETE and the
aggregated curve equals that of an uninterrupted run with the same seeds.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
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


@pytest.mark.slow
def test_kill_minus_9_twenty_times_then_resume(tmp_path):
    spec_path = tmp_path / "kill9.toml"
    spec_path.write_text(SPEC)
    db = tmp_path / "kill9.db"
    env = {**os.environ, "SCALINGLAB_STORAGE": f"sqlite:///{db}"}
    command = [sys.executable, "-m", "scalinglab", "run", str(spec_path), "--workers", "2",
               "--no-progress"]
    rng = random.Random(20170112)
    kills = 0
    for _ in range(20):
        process = subprocess.Popen(command, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.3, 2.5))
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the whole tree: parent and workers
            kills += 1
        process.wait()
        # Make sure no orphaned worker survives to finish the study behind our back.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert kills >= 15

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
