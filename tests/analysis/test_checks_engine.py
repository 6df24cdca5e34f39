"""The analysis's checks read what the engine stores: budgets that follow the shard and a grid
that follows the best model (the two sides of issues 15 and 16 meeting)."""

from __future__ import annotations

from scalinglab.storage import open_storage
from scalinglab.study import StudySpec, analyze_study, run_study


def _analysis(db):
    store = open_storage(db)
    try:
        return analyze_study("s", store, level=0.9)
    finally:
        store.close()


def _spec(train: dict, model: dict, **over: object) -> StudySpec:
    return StudySpec.from_dict({
        "name": "s", "task": "synthetic", "seeds": 2,
        "data": {"shard_sizes": [100, 200, 400, 800]},
        "model": model, "train": {"noise": 0.0, **train}, "search": {"method": "grid"}, **over,
    })


def _checks(spec: StudySpec, tmp_path) -> dict[str, tuple[str, str]]:
    db = tmp_path / "s.db"
    run_study(spec, storage=db, workers=0, progress=False)
    analysis = _analysis(db)
    return {c["name"]: (c["status"], c["reason"]) for c in analysis.to_dict()["checks"]}


# Error falls until step 10 n / 100 against a 20-step budget: the two largest shards need 2x
# and 4x; the best width (4 .. 8) is inside [2, 16].
BUDGET_TRAIN = {"converge_step": 10, "steps": 20}


def test_extended_budgets_and_an_interior_best_pass_both_checks(tmp_path):
    checks = _checks(_spec(BUDGET_TRAIN, {"sizes": [2, 4, 8, 16]}), tmp_path)
    # The 1x runs of the extended cells were budget-limited; only the largest budget counts.
    assert checks["converged"][0] == "ok", checks["converged"]
    assert checks["model_interior"] == (
        "ok", "every shard's best-fit model (4 shards) has a worse size tried on both sides")


def test_a_budget_limit_fails_converged_and_names_the_shards(tmp_path):
    spec = _spec(BUDGET_TRAIN, {"sizes": [2, 4, 8, 16]}, budget={"max_factor": 2})
    status, reason = _checks(spec, tmp_path)["converged"]
    # Shards 400 and 800 need 4x against the limit of 2x; 100 and 200 converge.
    assert status == "fail" and "on shards 400, 800:" in reason and "100" not in reason
    # The report's check card says the same, in words.
    from scalinglab.report import render_report

    analysis = _analysis(tmp_path / "s.db")
    page = render_report(analysis)
    assert "check: converged" in page and "on shards 400, 800:" in page


def test_max_size_in_the_way_fails_model_interior_and_says_which_limit(tmp_path):
    spec = _spec({"c": 0.05, "epochs": 3}, {"sizes": [2, 4, 8], "max_size": 16})
    status, reason = _checks(spec, tmp_path)["model_interior"]
    assert status == "fail"
    assert "at [model] max_size on 4" in reason and "raise [model] max_size" in reason


def test_a_grown_grid_passes_model_interior(tmp_path):
    # Every best size lies beyond the initial grid [2, 8]: the grid grows until each is inside
    # the sizes tried on its shard.
    spec = _spec({"c": 0.05, "epochs": 3}, {"sizes": [2, 4, 8], "max_size": 1024})
    checks = _checks(spec, tmp_path)
    assert checks["model_interior"][0] == "ok", checks["model_interior"]
