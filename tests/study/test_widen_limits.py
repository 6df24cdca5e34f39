"""A stored study resumed with wider limits (model.max_size, model.min_size,
budget.max_factor) adds the runs they allow, keeps every stored run, and ends where a study
run with those limits from the start ends; narrowing a limit is refused and stores nothing."""

from __future__ import annotations

import pytest

from scalinglab import InputError
from scalinglab.storage import open_storage
from scalinglab.study import StudySpec, run_study, shard_checks, study_curves
from scalinglab.study._run import current_runs


def _spec(model: dict | None = None, budget: dict | None = None, **over: object) -> StudySpec:
    return StudySpec.from_dict({
        "name": "s", "task": "synthetic", "seeds": 2,
        "data": {"shard_sizes": [100, 200, 400, 800]},
        # c = 0.05: the best size grows past the initial grid [2, 8] (tasks/synthetic.py);
        # converge_step 10 n / 100 against 20 steps: the large shards need 4x and 8x.
        "model": {"sizes": [2, 4, 8], **(model or {})},
        "train": {"c": 0.05, "noise": 0.0, "converge_step": 10, "steps": 20},
        "search": {"method": "grid"}, "budget": budget or {"max_factor": 2}, **over,
    })


def _runs(db) -> set[tuple]:
    store = open_storage(db)
    try:
        frame = current_runs(store, store.get_study("s"))
        return {(int(r.shard_size), float(r.model_size), int(r.seed), str(r.params_json), str(r.state))
                for r in frame.itertuples()}
    finally:
        store.close()


def _checks(db):
    store = open_storage(db)
    try:
        record = store.get_study("s")
        return StudySpec.from_dict(dict(record.spec)), shard_checks(
            StudySpec.from_dict(dict(record.spec)), current_runs(store, record))
    finally:
        store.close()


def test_raised_limits_add_the_runs_and_end_where_a_fresh_study_ends(tmp_path):
    narrow = _spec({"max_size": 16}, {"max_factor": 2})
    wide = _spec({"max_size": 1024}, {"max_factor": 8})
    db = tmp_path / "s.db"
    run_study(narrow, storage=db, workers=0, progress=False)
    before = _runs(db)
    _, checks = _checks(db)
    assert set(checks["size_status"]) >= {"max_size"}  # the limit was in the way
    assert set(checks["budget_status"]) >= {"max_factor"}

    summary = run_study(wide, storage=db, workers=0, progress=False)
    after = _runs(db)
    assert before <= after and len(after) > len(before)  # every stored run kept, runs added
    assert summary.n_failed == 0
    spec, checks = _checks(db)
    assert spec.model.max_size == 1024 and spec.budget.max_factor == 8  # the study follows the new spec
    assert "max_size" not in set(checks["size_status"])
    assert "max_factor" not in set(checks["budget_status"])

    # The same cells, best sizes and scores as a study run with the wide limits from the start.
    fresh = tmp_path / "fresh.db"
    run_study(wide, storage=fresh, workers=0, progress=False)
    curves = {}
    for path in (db, fresh):
        store = open_storage(path)
        try:
            c = study_curves("s", store)
            curves[path] = (list(c.best_model_size), [round(float(e), 12) for e in c.learning_curve[1]])
        finally:
            store.close()
    assert curves[db] == curves[fresh]


def test_a_lowered_min_size_is_a_widening_too(tmp_path):
    db = tmp_path / "s.db"
    run_study(_spec({"sizes": [4, 8, 16], "min_size": 4}), storage=db, workers=0, progress=False)
    run_study(_spec({"sizes": [4, 8, 16], "min_size": 1}), storage=db, workers=0, progress=False)
    spec, _ = _checks(db)
    assert spec.model.min_size == 1


@pytest.mark.parametrize(("model", "budget", "limit"), [
    ({"max_size": 8}, {"max_factor": 2}, "model.max_size = 16"),
    ({"max_size": 16}, {"max_factor": 1}, "budget.max_factor = 2"),
])
def test_a_narrowed_limit_is_refused_and_changes_nothing(tmp_path, model, budget, limit):
    db = tmp_path / "s.db"
    run_study(_spec({"max_size": 16}, {"max_factor": 2}), storage=db, workers=0, progress=False)
    before = _runs(db)
    spec_before, _ = _checks(db)
    with pytest.raises(InputError, match=f"was run with {limit}; a resumed study may widen its limits"):
        run_study(_spec(model, budget), storage=db, workers=0, progress=False)
    assert _runs(db) == before
    assert _checks(db)[0] == spec_before


def test_a_widened_limit_with_another_change_is_still_a_different_study(tmp_path):
    db = tmp_path / "s.db"
    run_study(_spec({"max_size": 16}), storage=db, workers=0, progress=False)
    other = _spec({"max_size": 64}, data={"shard_sizes": [100, 200, 400, 800, 1600]})
    with pytest.raises(InputError, match=r"with a different 'data\.shard_sizes'"):
        run_study(other, storage=db, workers=0, progress=False)


def test_a_raised_margin_extends_every_limited_cell_as_the_joint_law_needs(tmp_path):
    def limited(db) -> int:
        store = open_storage(db)
        try:
            return int(study_curves("s", store).cell_budget_limited.sum())
        finally:
            store.close()

    db = tmp_path / "s.db"
    run_study(_spec({"max_size": 1024}, {"max_factor": 8}), storage=db, workers=0, progress=False)
    before = limited(db)
    assert before > 0  # cells far from their shard's best were left budget-limited
    run_study(_spec({"max_size": 1024}, {"max_factor": 8, "margin": 1000}), storage=db, workers=0,
              progress=False)
    assert limited(db) == 0
