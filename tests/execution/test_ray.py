"""The Ray executor: a local instance, a real 2-node cluster with Postgres, a node killed.

The clusters are started by the tests (tests/_services.py: ``ray start --block`` per node on
loopback addresses, token auth, telemetry off), stopped by killing their process groups, and
checked to leave no process behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from scalinglab.storage import RunState, open_storage
from scalinglab.study import StudySpec, run_study, study_curves
from tests._services import RayCluster, postgres_server, postgres_url, ray_cluster, ray_env

__all__ = ["postgres_server", "postgres_url", "ray_cluster"]

pytest.importorskip("ray")

SPEC = """
name = "ray-study"
task = "synthetic"
seeds = 2

[data]
shard_sizes = [64, 256, 1024]

[model]
sizes = [2, 4, 8]

[train]
epochs = 2
sleep_s = {sleep_s}

[search]
method = "grid"

[execution]
max_attempts = 2
heartbeat_s = 0.2
stale_after_s = 2.0
cpus_per_run = 1
"""
N_RUNS = 3 * 3 * 2


def write_spec(tmp_path: Path, sleep_s: float) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(SPEC.format(sleep_s=sleep_s))
    return path


def reference_curves(spec_path: Path, tmp_path: Path) -> object:
    """The same study run in-process on SQLite: what every executor must reproduce."""
    summary = run_study(StudySpec.from_toml(spec_path), storage=tmp_path / "ref.db", workers=0,
                        progress=False)
    assert summary.complete
    return study_curves("ray-study", open_storage(tmp_path / "ref.db"))


def assert_same_curves(got: object, want: object) -> None:
    for name in ("shard_size", "best_model_size", "median_min_val_error"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def node_of(worker: str) -> str:
    """The Ray node id prefix stored in a worker id ``host:pid:ray-<node>-<session>-<n>``."""
    token = worker.rsplit(":", 1)[1]
    assert token.startswith("ray-"), worker
    return token.split("-")[1]


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scalinglab", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ray_is_imported_only_by_the_executor():
    code = ("import sys, scalinglab.execution, scalinglab.study, scalinglab.cli; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_local_ray_instance_matches_local_executor(tmp_path):
    """Without an address the executor starts (and shuts down) a private local instance."""
    import ray

    from scalinglab.execution import RayExecutor

    spec_path = write_spec(tmp_path, 0.0)
    executor = RayExecutor(num_cpus=2)
    summary = run_study(StudySpec.from_toml(spec_path), storage=tmp_path / "ray.db",
                        progress=False, executor=executor)
    assert summary.complete and summary.n_complete == N_RUNS
    assert not ray.is_initialized()  # the instance it started is gone
    assert sum(f["runs"] for f in executor.finished) == N_RUNS
    store = open_storage(tmp_path / "ray.db")
    runs = store.get_runs(store.get_study("ray-study").id)
    assert all(r.state is RunState.COMPLETE and r.attempts == 1 for r in runs)
    assert_same_curves(study_curves("ray-study", store), reference_curves(spec_path, tmp_path))


@pytest.mark.slow
def test_two_node_cluster_with_postgres(ray_cluster: RayCluster, postgres_url, tmp_path):
    """Acceptance 1: both nodes execute runs, every run COMPLETE once, same curve as local."""
    spec_path = write_spec(tmp_path, 0.1)
    proc = cli("run", str(spec_path), "--executor", "ray", "--ray-address", ray_cluster.address,
               "--storage", postgres_url, "--no-progress", env=ray_env(), cwd=tmp_path)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr[-3000:]
    password = postgres_url.split(":")[2].split("@")[0]
    assert password not in stdout + stderr and "***" in stdout
    store = open_storage(postgres_url)
    runs = store.get_runs(store.get_study("ray-study").id)
    assert len(runs) == N_RUNS
    assert all(r.state is RunState.COMPLETE and r.attempts == 1 and r.failures == 0
               for r in runs)
    nodes = {node_of(r.worker or "") for r in runs}
    assert len(nodes) == 2, nodes  # executed on both nodes
    assert_same_curves(study_curves("ray-study", store), reference_curves(spec_path, tmp_path))


@pytest.mark.slow
def test_killed_node_runs_are_retried_elsewhere(ray_cluster: RayCluster, postgres_url,
                                                tmp_path):
    """Acceptance 2: kill a worker node mid-study; its run moves to the head, all complete.

    No race with the run's end: once both nodes are busy the worker node is frozen (SIGSTOP),
    the runs it holds are read from the database while it cannot finish them, and only then
    is it killed; a frozen node holding nothing is thawed and the wait goes on.
    """
    import signal

    spec_path = write_spec(tmp_path, 0.4)
    head = ray_cluster.node_id_prefix(0)
    proc = cli("run", str(spec_path), "--executor", "ray", "--ray-address", ray_cluster.address,
               "--storage", postgres_url, "--no-progress", env=ray_env(), cwd=tmp_path)
    store = open_storage(postgres_url)

    def running_by_node() -> dict[str, list[int]]:
        study = store.get_study("ray-study")
        by_node: dict[str, list[int]] = {}
        for run in store.get_runs(study.id, [RunState.RUNNING]) if study else []:
            by_node.setdefault(node_of(run.worker or ""), []).append(run.id)
        return by_node

    victim: dict[int, str] = {}
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if len(running_by_node()) == 2:  # both nodes are busy: freeze the worker node
                ray_cluster.signal_node(ray_cluster.nodes[1], signal.SIGSTOP)
                held = {rid: node for node, ids in running_by_node().items() if node != head
                        for rid in ids}
                if held:
                    ray_cluster.kill_node(ray_cluster.nodes[1])
                    victim = held
                    break
                ray_cluster.signal_node(ray_cluster.nodes[1], signal.SIGCONT)
            time.sleep(0.05)  # polling the database for a state, not waiting for a time
        assert victim, "the two nodes never ran at the same time"
        _, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    runs = store.get_runs(store.get_study("ray-study").id)
    assert len(runs) == N_RUNS and all(r.state is RunState.COMPLETE for r in runs)
    # Every run the node held when it died was executed again, on the head.
    retried = [r for r in runs if r.id in victim]
    assert retried and len(retried) == len(victim), victim
    for run in retried:
        assert node_of(run.worker or "") == head and run.attempts >= 2, run
    assert {node_of(r.worker or "") for r in runs} <= {head, *victim.values()}
    assert_same_curves(study_curves("ray-study", store), reference_curves(spec_path, tmp_path))


def test_ray_address_needs_ray_executor(tmp_path):
    spec_path = write_spec(tmp_path, 0.0)
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORAGE"}
    out = subprocess.run([sys.executable, "-m", "scalinglab", "run", str(spec_path),
                          "--ray-address", "127.0.0.2:1"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "--executor ray" in out.stderr
