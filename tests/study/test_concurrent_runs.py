"""Several `scalinglab run` processes on one study in a shared Postgres: no run twice.

The task records every execution (one file per call) before training; two CLI processes
with two local workers each race on the same fresh database (migrations, study creation,
planning and claims), and every planned run must have been executed exactly once.
The first run of each worker waits until a worker of the other process has started one
too (a barrier on files the task writes, not a sleep), so that both processes take part
however late the second one starts (under load the first could otherwise finish the study
alone); a barrier that never opens fails the test instead of letting one process run alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from scalinglab.storage import RunState, open_storage
from tests._services import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url", "record"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def record(trial):  # the task: importable as test_concurrent_runs:record
    from scalinglab.tasks.synthetic import train

    key = f"{trial.config.shard_index}_{float(trial.model_size)}_{trial.seed}"
    Path(trial.params["record_dir"], f"{key}@{uuid.uuid4().hex}").touch()
    # A worker's parent is its `scalinglab run` process's fork server (or, with spawn, the
    # process itself): one parent, so one file, per process.
    barrier = Path(trial.params["barrier_dir"])
    (barrier / str(os.getppid())).touch()
    # Wait for the state, never for a time: the deadline only turns a hang into a failure
    # (the run fails, so the test's attempts == 1 fails too); heartbeats keep the claim alive.
    deadline = time.monotonic() + 240
    while len(os.listdir(barrier)) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("the other `scalinglab run` process never started a run")
        time.sleep(0.05)
    return train(trial)


SPEC = """
name = "shared"
task = "test_concurrent_runs:record"
seeds = 2

[data]
shard_sizes = [64, 128, 256, 512]

[model]
sizes = [1, 2, 4, 8, 16]

[train]
epochs = 1
sleep_s = 0.02
record_dir = "{record_dir}"
barrier_dir = "{barrier_dir}"

[search]
method = "grid"
"""


@pytest.mark.slow
def test_two_cli_processes_never_run_a_run_twice(postgres_url, tmp_path):
    records = tmp_path / "records"
    barrier = tmp_path / "barrier"
    records.mkdir()
    barrier.mkdir()
    spec = tmp_path / "shared.toml"
    spec.write_text(SPEC.format(record_dir=records, barrier_dir=barrier))
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORAGE"}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), env.get("PYTHONPATH", "")])
    procs = [subprocess.Popen(
        [sys.executable, "-m", "scalinglab", "run", str(spec), "--storage", postgres_url,
         "--workers", "2", "--no-progress"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    n_planned = 4 * 5 * 2
    executions = Counter(name.split("@")[0] for name in os.listdir(records))
    assert len(executions) == n_planned
    assert max(executions.values()) == 1, executions.most_common(3)
    store = open_storage(postgres_url)
    runs = store.get_runs(store.get_study("shared").id)
    assert len(runs) == n_planned
    assert all(r.state is RunState.COMPLETE and r.attempts == 1 for r in runs)
    # Both processes did work: the race was real.
    assert len(os.listdir(barrier)) == 2, os.listdir(barrier)
    pids = {(r.worker or "").split(":")[1] for r in runs}
    assert len(pids) >= 2, pids
