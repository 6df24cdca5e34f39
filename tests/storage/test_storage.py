"""Storage conformance (run against every backend) and Alembic migrations."""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest
import sqlalchemy as sa

from scalinglab.storage import (
    HEAD_REVISION,
    CurvePoint,
    PlannedRun,
    RDBStorage,
    RunState,
    Storage,
    current_revision,
    downgrade,
    open_storage,
    upgrade,
    utcnow,
)
from scalinglab.storage._models import metadata

BACKENDS = ["sqlite"]
if os.environ.get("SCALINGLAB_TEST_POSTGRES_URL"):
    BACKENDS.append("postgres")


@pytest.fixture(params=BACKENDS)
def storage(request, tmp_path) -> Storage:
    if request.param == "sqlite":
        store = open_storage(tmp_path / "s.db")
    else:  # pragma: no cover - needs a server
        url = os.environ["SCALINGLAB_TEST_POSTGRES_URL"]
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for table in ("run_points", "runs", "studies", "alembic_version"):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table} CASCADE")
        store = open_storage(url)
    yield store
    store.close()


def planned(n: int, key: str = "k") -> list[PlannedRun]:
    return [PlannedRun(shard_index=i % 3, shard_size=10 * (i % 3 + 1), model_size=float(i),
                       seed=0, config_key=key, params={"lr": 0.1}) for i in range(n)]


def test_studies(storage):
    a = storage.create_study("a", "synthetic", {"x": [1, 2]})
    again = storage.create_study("a", "other", {"y": 1})
    assert again.id == a.id and dict(again.spec) == {"x": [1, 2]}
    assert storage.get_study("nope") is None
    assert [s.name for s in storage.list_studies()] == ["a"]


def test_add_runs_is_insert_if_absent(storage):
    study = storage.create_study("a", "synthetic", {})
    assert storage.add_runs(study.id, planned(5)) == 5
    assert storage.add_runs(study.id, planned(7)) == 2
    assert storage.count_runs(study.id)[RunState.WAITING] == 7
    assert storage.add_runs(study.id, planned(2, key="other")) == 2


def test_lifecycle(storage):
    study = storage.create_study("a", "synthetic", {})
    storage.add_runs(study.id, planned(2))
    run = storage.claim_run(study.id, "w1")
    assert run is not None and run.state is RunState.RUNNING and run.attempts == 1
    assert dict(run.params) == {"lr": 0.1}
    assert storage.heartbeat(run.id, "w1") and not storage.heartbeat(run.id, "w2")
    points = [CurvePoint(0, 0.9), CurvePoint(1, 0.5, {"loss": 1.5})]
    assert not storage.finish_run(run.id, "w2", state=RunState.COMPLETE, points=points,
                                  score=0.5, n_params=10, final_metrics={}, duration_s=1.0)
    assert storage.finish_run(run.id, "w1", state=RunState.COMPLETE, points=points, score=0.5,
                              n_params=10, final_metrics={"val_error": 0.5}, duration_s=1.0)
    assert storage.get_curve(run.id) == points
    # Finished runs are never modified.
    assert storage.fail_run(run.id, None, "boom", 1) is RunState.COMPLETE
    assert storage.release_runs(study.id, workers=["w1"]) == 0
    done = storage.get_runs(study.id, [RunState.COMPLETE])[0]
    assert done.score == 0.5 and done.n_params == 10 and done.final_metrics == {"val_error": 0.5}
    assert done.finished_at is not None and done.finished_at <= utcnow()


def test_fail_retries_then_failed(storage):
    study = storage.create_study("a", "synthetic", {})
    storage.add_runs(study.id, planned(1))
    run = storage.claim_run(study.id, "w1")
    assert storage.fail_run(run.id, "w1", "err 1", max_attempts=2) is RunState.WAITING
    run = storage.claim_run(study.id, "w1")
    assert run.attempts == 2 and run.error == "err 1"
    assert storage.fail_run(run.id, "w1", "err 2", max_attempts=2) is RunState.FAILED
    failed = storage.get_runs(study.id)[0]
    assert failed.state is RunState.FAILED and failed.error == "err 2" and failed.failures == 2
    assert storage.claim_run(study.id, "w1") is None


def test_release_and_reclaim_drops_partial_curve(storage):
    study = storage.create_study("a", "synthetic", {})
    storage.add_runs(study.id, planned(2))
    first = storage.claim_run(study.id, "w1")
    second = storage.claim_run(study.id, "w2")
    assert storage.release_runs(study.id, workers=["w1"]) == 1
    future = utcnow() + dt.timedelta(seconds=1)
    assert storage.release_runs(study.id, stale_before=future) == 1
    again = storage.claim_run(study.id, "w3")
    assert again.id == first.id and again.attempts == 2 and again.failures == 0
    assert second.id != first.id


def test_claims_are_atomic(storage):
    study = storage.create_study("a", "synthetic", {})
    storage.add_runs(study.id, planned(60))
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while (run := storage.claim_run(study.id, name)) is not None:
            with lock:
                claimed.append(run.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 60


def test_runs_frame(storage):
    study = storage.create_study("a", "synthetic", {})
    storage.add_runs(study.id, planned(4))
    frame = storage.runs_frame(study.id)
    assert list(frame["state"].unique()) == ["WAITING"]
    assert {"shard_size", "model_size", "seed", "score", "n_params"} <= set(frame.columns)


# -- migrations -----------------------------------------------------------------------------
def test_upgrade_from_empty_and_down(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    store = RDBStorage(url, migrate=False)
    assert current_revision(store.engine) is None
    upgrade(store.engine)
    assert current_revision(store.engine) == HEAD_REVISION
    downgrade(store.engine, "base")
    assert current_revision(store.engine) is None
    assert sa.inspect(store.engine).get_table_names() == ["alembic_version"]
    upgrade(store.engine)
    assert current_revision(store.engine) == HEAD_REVISION


def test_models_match_head(tmp_path):
    store = open_storage(tmp_path / "m.db")
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        stored = {c["name"] for c in inspector.get_columns(table.name)}
        assert stored == {c.name for c in table.columns}, table.name


def test_database_of_previous_version_opens(tmp_path):
    """A database written by schema 0001 is migrated on open and keeps its data."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = RDBStorage(url, migrate=False)
    upgrade(old.engine, "0001")
    now = utcnow()
    with old.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO studies (name, task, spec_json, created_at) VALUES (?, ?, ?, ?)",
            ("old", "synthetic", "{}", now))
        conn.exec_driver_sql(
            "INSERT INTO runs (study_id, shard_index, shard_size, model_size, seed, config_key,"
            " params_json, state, created_at, attempts, score, n_params) "
            "VALUES (1, 0, 10, 2.0, 0, 'k', '{}', 'COMPLETE', ?, 1, 0.25, 12)", (now,))
    old.close()
    store = open_storage(url)
    assert current_revision(store.engine) == HEAD_REVISION
    study = store.get_study("old")
    runs = store.get_runs(study.id)
    assert len(runs) == 1 and runs[0].score == 0.25 and runs[0].failures == 0
    assert runs[0].phase == 0
    store.add_runs(study.id, planned(2))
    assert store.count_runs(study.id)[RunState.WAITING] == 2


def test_bad_url_is_one_line():
    from scalinglab._errors import InputError

    with pytest.raises(InputError, match="Cannot open the storage"):
        open_storage("nosuchdialect://x")
    with pytest.raises(InputError, match="not a directory"):
        open_storage("/no/such/dir/x.db")


def test_no_pickle_columns(tmp_path):
    open_storage(tmp_path / "m.db")
    for table in metadata.sorted_tables:
        for column in table.columns:
            assert not isinstance(column.type, sa.PickleType | sa.LargeBinary)
