"""Storage.restore_runs (what `scalinglab import` writes) on every backend."""

from __future__ import annotations

import datetime as dt

import pytest

from scalinglab.storage import CurvePoint, PlannedRun, RunState, Storage, open_storage


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request, tmp_path) -> Storage:
    url = (f"sqlite:///{tmp_path / 's.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    store = open_storage(url)
    yield store
    store.close()


def _finished_copy(source: Storage) -> tuple[int, list]:
    study = source.create_study("src", "synthetic", {})
    source.add_runs(study.id, [PlannedRun(i, 10 * (i + 1), float(2 ** i), 0, "k", {"lr": 0.1})
                               for i in range(3)])
    first = source.claim_run(study.id, "w")
    assert first is not None
    source.finish_run(first.id, "w", state=RunState.COMPLETE,
                      points=[CurvePoint(1, 0.5, {"loss": 1.0}), CurvePoint(2, 0.25)],
                      score=0.25, n_params=100.0, final_metrics={"acc": 0.75}, duration_s=1.5)
    second = source.claim_run(study.id, "w")
    assert second is not None  # left RUNNING, as in an export taken mid-study
    runs = source.get_runs(study.id)
    return study.id, [(r, source.get_curve(r.id)) for r in runs]


def test_restore_keeps_finished_runs_and_resets_unfinished(storage, tmp_path):
    source = open_storage(tmp_path / "source.db")
    _, copied = _finished_copy(source)
    target = storage.create_study("dst", "synthetic", {})
    assert storage.restore_runs(target.id, copied) == 3
    restored = {r.shard_index: r for r in storage.get_runs(target.id)}
    done = restored[0]
    assert done.state is RunState.COMPLETE and done.score == 0.25 and done.n_params == 100.0
    assert dict(done.final_metrics) == {"acc": 0.75} and done.duration_s == 1.5
    assert isinstance(done.finished_at, dt.datetime)
    assert storage.get_curve(done.id) == [CurvePoint(1, 0.5, {"loss": 1.0}), CurvePoint(2, 0.25)]
    assert restored[1].state is RunState.WAITING and restored[1].worker is None
    assert restored[1].attempts == 0 and storage.get_curve(restored[1].id) == []
    assert restored[2].state is RunState.WAITING
    # Idempotent: the same runs again insert nothing and change nothing.
    before = [(r.to_dict(), storage.get_curve(r.id)) for r in storage.get_runs(target.id)]
    assert storage.restore_runs(target.id, copied) == 0
    assert [(r.to_dict(), storage.get_curve(r.id)) for r in storage.get_runs(target.id)] == before
    # A restored WAITING run is claimable like any other.
    claimed = storage.claim_run(target.id, "w2")
    assert claimed is not None and claimed.shard_index == 1
