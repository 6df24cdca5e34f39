"""Fault tolerance of the local executor: raising tasks, dying workers, retries."""

from __future__ import annotations

from scalinglab.storage import RunState, open_storage
from scalinglab.study import StudySpec, run_study


def spec(tmp_path, **train) -> StudySpec:
    return StudySpec.from_dict({
        "name": "faults", "task": "synthetic", "seeds": 1,
        "data": {"shard_sizes": [64, 256]},
        "model": {"sizes": [2, 4, 8]},
        "train": {"epochs": 2, **train},
        "search": {"method": "grid"},
        "execution": {"max_attempts": 2, "heartbeat_s": 0.1, "stale_after_s": 5.0},
    })


def test_failing_and_dying_runs_end_failed_others_complete(tmp_path):
    s = spec(tmp_path, fail_when=[{"model_size": 4}],
             exit_when=[{"model_size": 8, "shard_index": 1}])
    db = tmp_path / "f.db"
    summary = run_study(s, storage=db, workers=2, progress=False)
    assert summary.complete and summary.n_complete == 3 and summary.n_failed == 3
    store = open_storage(db)
    runs = store.get_runs(store.get_study("faults").id)
    for run in runs:
        if run.model_size == 4:
            assert run.state is RunState.FAILED and "synthetic failure" in run.error
            assert run.failures == 2 and run.attempts == 2
        elif run.model_size == 8 and run.shard_index == 1:
            assert run.state is RunState.FAILED and "worker process" in run.error
            assert run.failures == 2
        else:
            assert run.state is RunState.COMPLETE and run.error is None


def test_flaky_run_is_retried_and_completes(tmp_path):
    flaky = tmp_path / "markers"
    flaky.mkdir()
    s = spec(tmp_path, flaky_dir=str(flaky))
    summary = run_study(s, storage=tmp_path / "f.db", workers=0, progress=False)
    assert summary.n_complete == 6 and summary.n_failed == 0
    store = open_storage(tmp_path / "f.db")
    runs = store.get_runs(store.get_study("faults").id)
    assert all(r.attempts == 2 and r.failures == 1 for r in runs)
    assert all(len(store.get_curve(r.id)) == 2 for r in runs)


def test_in_process_failure_keeps_traceback(tmp_path):
    s = spec(tmp_path, fail_when=[{"model_size": 2, "shard_index": 0}])
    run_study(s, storage=tmp_path / "f.db", workers=0, progress=False)
    store = open_storage(tmp_path / "f.db")
    failed = store.get_runs(store.get_study("faults").id, [RunState.FAILED])
    assert len(failed) == 1 and "Traceback" in failed[0].error
