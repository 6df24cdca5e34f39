"""Storage conformance and Alembic migrations, run against every backend.

Every test taking ``url`` or ``storage`` runs on SQLite and on a real PostgreSQL server that
the fixtures start (tests/_services.py); the Postgres cases skip, with the reason, where no
server can be had.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

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
    metadata,
    open_storage,
    upgrade,
    utcnow,
)

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    """The URL of an empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 's.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def storage(url) -> Storage:
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
def test_upgrade_from_empty_and_down(url):
    store = RDBStorage(url, migrate=False)
    assert current_revision(store.engine) is None
    upgrade(store.engine)
    assert current_revision(store.engine) == HEAD_REVISION
    downgrade(store.engine, "base")
    assert current_revision(store.engine) is None
    assert sa.inspect(store.engine).get_table_names() == ["alembic_version"]
    upgrade(store.engine)
    assert current_revision(store.engine) == HEAD_REVISION


def test_models_match_head(url):
    store = open_storage(url)
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        stored = {c["name"] for c in inspector.get_columns(table.name)}
        assert stored == {c.name for c in table.columns}, table.name


def test_database_of_previous_version_opens(url):
    """A database written by schema 0001 is migrated on open and keeps its data."""
    old = RDBStorage(url, migrate=False)
    upgrade(old.engine, "0001")
    now = utcnow()
    with old.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO studies (name, task, spec_json, created_at) "
            "VALUES ('old', 'synthetic', '{}', :now)"), {"now": now})
        conn.execute(sa.text(
            "INSERT INTO runs (study_id, shard_index, shard_size, model_size, seed, config_key,"
            " params_json, state, created_at, attempts, score, n_params) "
            "VALUES (1, 0, 10, 2.0, 0, 'k', '{}', 'COMPLETE', :now, 1, 0.25, 12)"),
            {"now": now})
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
    from scalinglab import InputError

    with pytest.raises(InputError, match="Cannot open the storage"):
        open_storage("nosuchdialect://x")
    with pytest.raises(InputError, match="not a directory"):
        open_storage("/no/such/dir/x.db")


def test_no_pickle_columns(url):
    open_storage(url)
    for table in metadata.sorted_tables:
        for column in table.columns:
            assert not isinstance(column.type, sa.PickleType | sa.LargeBinary)


def test_timestamps_round_trip_as_naive_utc(storage):
    study = storage.create_study("a", "synthetic", {})
    storage.add_runs(study.id, planned(1))
    before = utcnow()
    run = storage.claim_run(study.id, "w1")
    after = utcnow()
    for stamp in (run.started_at, run.heartbeat_at, run.created_at, study.created_at):
        assert stamp.tzinfo is None
    assert before <= run.started_at <= after


def test_claims_are_atomic_across_processes(url):
    """Four processes claim from one study: every run is claimed exactly once."""
    import multiprocessing as mp

    store = open_storage(url)
    study = store.create_study("a", "synthetic", {})
    store.add_runs(study.id, planned(300))
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(url, study.id, f"p{i}", barrier, results))
             for i in range(4)]
    for proc in procs:
        proc.start()
    claimed = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    flat = [run_id for ids in claimed for run_id in ids]
    assert len(flat) == 300 and len(set(flat)) == 300
    assert sum(1 for ids in claimed if ids) >= 2  # they really competed
    assert store.count_runs(study.id)[RunState.RUNNING] == 300


def _claim_all(url: str, study_id: int, worker: str, barrier: Any, results: Any) -> None:
    store = open_storage(url, migrate=False)
    store.count_runs(study_id)  # connected before the race starts
    barrier.wait()
    ids = []
    while (run := store.claim_run(study_id, worker)) is not None:
        ids.append(run.id)
    results.put(ids)


def test_concurrent_first_opens_migrate_once(url):
    """Several processes opening a fresh shared database at once: one migrates, none fails."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(4) as pool:
        revisions = pool.map(_open_revision, [url] * 4)
    assert revisions == [HEAD_REVISION] * 4


def _open_revision(url: str) -> str | None:
    store = open_storage(url)
    store.create_study("same", "synthetic", {})
    return current_revision(store.engine)


def test_url_password_is_masked(url):
    from scalinglab.storage import mask_url

    store = open_storage(url)
    password = store.engine.url.password
    assert "***" in store.url if password else store.url == url
    if password:
        assert password not in repr(store) and password not in store.url
    assert mask_url("postgresql+psycopg://u:s3cr3t@h:1/db") == "postgresql+psycopg://u:***@h:1/db"
    assert "s3cr3t" not in mask_url("not a url://u:s3cr3t@h")


def test_unreachable_server_error_hides_password():
    from scalinglab import InputError
    from tests._services import free_port

    url = f"postgresql+psycopg://u:s3cr3t-pw@127.0.0.1:{free_port()}/db"
    with pytest.raises(InputError, match="Cannot open the storage") as info:
        open_storage(url)
    assert "s3cr3t-pw" not in str(info.value) and "***" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
