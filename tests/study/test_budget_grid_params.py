"""Issue 15: runs that measure data, not the training budget, the grid edge or one learning rate.

Synthetic tasks with known answers (tasks/synthetic.py): an error that keeps falling until a
step growing with the shard (``converge_step``), a best model size beyond the initial grid
(small ``c``), and a best learning rate per shard (``lr_best``).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.execution import budget_facts
from scalinglab.storage import CurvePoint, open_storage
from scalinglab.study import (
    StudySpec,
    plan_runs,
    run_study,
    shard_checks,
    study_checks,
    study_curves,
)
from scalinglab.tasks.synthetic import best_lr, best_model_size, converge_step, expected_error


def _spec(**over: object) -> StudySpec:
    raw: dict[str, object] = {
        "name": "s", "task": "synthetic", "seeds": 2,
        "data": {"shard_sizes": [100, 200, 400, 800]},
        "model": {"sizes": [4, 8, 16]},
        "train": {"noise": 0.0},
        "search": {"method": "grid"},
    }
    for key, value in over.items():
        raw[key] = {**raw[key], **value} if isinstance(value, dict) and key in raw else value
    return StudySpec.from_dict(raw)


def _run(spec: StudySpec, tmp_path, name: str = "x.db"):
    summary = run_study(spec, storage=tmp_path / name, workers=0, progress=False)
    store = open_storage(tmp_path / name)
    return summary, store


# ------------------------------------------------------------------ budget facts from a curve
def _points(errors: list[float]) -> list[CurvePoint]:
    return [CurvePoint(i + 1, e) for i, e in enumerate(errors)]


def test_budget_facts_tell_an_early_stop_from_the_end_of_the_budget() -> None:
    falling = _points([0.9, 0.5, 0.4, 0.3, 0.2])
    facts = budget_facts(falling, {"max_steps": 5}, "val_error", 1.0, True, 0.2)
    assert facts["best_step"] == 5 and facts["budget_steps"] == 5 and facts["budget_limited"]
    # Stopped by patience before its budget: the minimum is real.
    early = _points([0.9, 0.5, 0.4, 0.45, 0.5])
    facts = budget_facts(early, {"max_steps": 10}, "val_error", 2.0, True, 0.2)
    assert facts["best_step"] == 3 and not facts["budget_limited"] and facts["budget"] == 2.0
    # Ran to the end, best well before it.
    assert not budget_facts(early, {}, "val_error", 1.0, False, 0.2)["budget_limited"]
    # Without max_steps the last reported step is the budget.
    assert budget_facts(falling, {}, "val_error", 1.0, False, 0.2)["budget_limited"]


# ------------------------------------------------------------------ done when 1: budgets
BUDGET_TRAIN = {"noise": 0.0, "converge_step": 10, "steps": 20}
BUDGET_SIZES = {"sizes": [2, 4, 8, 16]}  # best sizes 4 .. 8: interior


def test_budgets_are_extended_until_no_best_fit_is_budget_limited(tmp_path) -> None:
    spec = _spec(train=BUDGET_TRAIN, model=BUDGET_SIZES)
    summary, store = _run(spec, tmp_path)
    assert summary.complete and summary.n_failed == 0 and summary.limits == ()
    curves = study_curves("s", store)
    assert not curves.best_budget_limited.any()
    # t*(n) = 10 n / 100 against 20 steps: the two largest shards need 2x and 4x (t* = 40, 80).
    needed = [2 ** max(0, math.ceil(math.log2(converge_step(n, BUDGET_TRAIN) / 0.8 / 20)))
              for n in spec.shard_sizes]
    assert list(curves.best_budget) == needed
    assert summary.n_extended > 0
    # The scores are the converged errors: the minimum of eps(n, s) over the sizes.
    for n, score, size in zip(curves.shard_size, curves.median_min_val_error,
                              curves.best_model_size, strict=True):
        assert size == best_model_size(n, spec.model_sizes, BUDGET_TRAIN)
        assert score == pytest.approx(expected_error(n, size, BUDGET_TRAIN), rel=1e-12)
    checks = study_checks("s", store)
    assert (checks["budget_status"] == "converged").all() and checks["settled"].all()


def test_a_low_budget_limit_finishes_and_says_which_cells_hit_it(tmp_path) -> None:
    spec = _spec(train=BUDGET_TRAIN, model=BUDGET_SIZES, budget={"max_factor": 2})
    summary, store = _run(spec, tmp_path)
    assert summary.complete
    curves = study_curves("s", store)
    # Shard 800 needs 4x (t* = 80 steps); shard 400 converges at 2x... (t* = 40 > 0.8 * 40).
    limited = {int(n) for n, lim in zip(curves.shard_size, curves.best_budget_limited,
                                        strict=True) if lim}
    assert limited == {400, 800}
    assert max(curves.best_budget) == 2
    checks = study_checks("s", store)
    assert set(checks.loc[checks["budget_status"] == "max_factor", "shard_size"]) == limited
    assert [line.split(":")[0] for line in summary.limits] == ["shard 400", "shard 800"]
    assert all("budget.max_factor = 2" in line for line in summary.limits)
    frame = curves.to_frame()
    assert list(frame.loc[frame["budget_limited"], "shard_size"]) == [400, 800]
    # The CLI says it too.
    out = subprocess.run([sys.executable, "-m", "scalinglab", "status", "s", "--storage",
                          str(tmp_path / "x.db")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "shard 800: best width" in out.stdout and "budget.max_factor" in out.stdout


def test_a_task_that_ignores_trial_budget_is_not_rerun_and_is_reported(tmp_path) -> None:
    # The plain synthetic task decays to its last epoch and never reads trial.budget.
    spec = _spec(train={"noise": 0.0, "epochs": 4})
    summary, store = _run(spec, tmp_path)
    assert summary.complete and summary.n_extended == 0
    assert summary.n_runs == len(spec.shard_sizes) * 3 * 2
    ignored = [line for line in summary.limits if "does not read trial.budget" in line]
    assert len(ignored) == len(spec.shard_sizes)
    assert (study_checks("s", store)["budget_status"] == "ignored").all()


# ------------------------------------------------------------------ done when 2: the grid
GRID_TRAIN = {"noise": 0.0, "c": 0.05, "epochs": 3}


def test_the_grid_grows_until_every_best_fit_is_interior(tmp_path) -> None:
    spec = _spec(train=GRID_TRAIN, model={"sizes": [2, 4, 8], "max_size": 1024})
    ladder = spec.model.ladder()
    assert ladder == (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    truth = [best_model_size(n, ladder, GRID_TRAIN) for n in spec.shard_sizes]
    assert min(truth) > 8  # every best size lies beyond the initial grid
    summary, store = _run(spec, tmp_path)
    assert summary.complete and summary.n_grown > 0
    curves = study_curves("s", store)
    assert list(curves.best_model_size) == truth
    assert set(curves.best_size_status) == {"interior"}
    assert not [line for line in summary.limits if "_size" in line]


def test_max_size_in_the_way_finishes_and_says_so(tmp_path) -> None:
    spec = _spec(train=GRID_TRAIN, model={"sizes": [2, 4, 8], "max_size": 16})
    summary, store = _run(spec, tmp_path)
    assert summary.complete
    curves = study_curves("s", store)
    assert set(curves.best_model_size) == {16}
    assert set(curves.best_size_status) == {"max_size"}
    sizes = [line for line in summary.limits if "_size" in line]
    assert len(sizes) == len(spec.shard_sizes)
    assert all("is the largest allowed (model.max_size = 16)" in line for line in sizes)


def test_the_grid_grows_downwards_to_min_size(tmp_path) -> None:
    # Large c: small models win on small shards.
    train = {"noise": 0.0, "c": 200.0, "epochs": 3}
    spec = _spec(train=train, model={"sizes": [8, 16, 32], "min_size": 1})
    ladder = spec.model.ladder()
    assert ladder[:4] == (1, 2, 4, 8)
    summary, store = _run(spec, tmp_path)
    assert summary.complete and summary.n_grown > 0
    curves = study_curves("s", store)
    assert list(curves.best_model_size) == [best_model_size(n, ladder, train)
                                            for n in spec.shard_sizes]
    assert min(curves.best_model_size) < 8


def test_hestness_search_grows_the_grid_on_endpoints_and_between(tmp_path) -> None:
    train = {"noise": 0.0, "c": 0.05, "epochs": 3}
    spec = _spec(train=train, data={"shard_sizes": [100, 200, 400, 800, 1600, 3200]},
                 model={"sizes": [2, 4, 8], "max_size": 1024},
                 search={"method": "hestness", "samples": 2})
    summary, store = _run(spec, tmp_path)
    assert summary.complete
    curves = study_curves("s", store)
    ladder = spec.model.ladder()
    assert list(curves.best_model_size) == [best_model_size(n, ladder, train)
                                            for n in spec.shard_sizes]
    assert set(curves.best_size_status) == {"interior"}


# Bigger is better, with diminishing returns (c = 0: eps = floor + a n^-alpha + b s^-beta),
# as for an MLP under early stopping: the lowest score is always the largest size tried.
SATURATING_TRAIN = {"noise": 0.0, "c": 0.0, "epochs": 3}


def _smallest_within(scores: dict[float, float], tolerance: float) -> float:
    lowest = min(scores.values())
    return min(s for s, e in scores.items() if e <= lowest * (1 + tolerance))


def test_size_tolerance_in_the_spec_stops_the_grid_where_returns_fall_inside_it(tmp_path) -> None:
    model = {"sizes": [2, 4, 8], "max_size": 1024}
    strict, strict_store = _run(_spec(train=SATURATING_TRAIN, model=model), tmp_path, "strict.db")
    # Without a tolerance the grid runs to max_size on every shard, and says so.
    assert set(study_curves("s", strict_store).best_size_status) == {"max_size"}
    spec = _spec(train=SATURATING_TRAIN, model={**model, "size_tolerance": 0.05})
    assert spec.model.size_tolerance == 0.05 and spec.to_dict()["model"]["size_tolerance"] == 0.05
    summary, store = _run(spec, tmp_path)
    assert summary.complete and summary.n_grown > 0 and summary.n_grown < strict.n_grown
    assert not [line for line in summary.limits if "_size" in line]
    curves = study_curves("s", store)  # the spec's tolerance by default
    assert curves.size_tolerance == 0.05
    assert set(curves.best_size_status) == {"interior"}
    cells = curves.cells_frame()
    for n, best in zip(curves.shard_size, curves.best_model_size, strict=True):
        tried = cells[cells["shard_size"] == n]
        scores = dict(zip(tried["model_size"], tried["median_min_val_error"], strict=True))
        assert max(scores) < 1024  # growth stopped before the limit
        # The best fit is the smallest size within 5% of the lowest, and the next size up
        # was tried (so it is interior), computed here from the task's known errors.
        truth = {s: expected_error(n, s, SATURATING_TRAIN) for s in scores}
        assert best == _smallest_within(truth, 0.05) == _smallest_within(scores, 0.05)
        assert max(scores) > best
    # status (shard_checks) and an explicit tolerance agree with the spec's rule.
    checks = study_checks("s", store)
    assert checks["best_model_size"].tolist() == list(curves.best_model_size)
    assert list(study_curves("s", store, size_tolerance=0.0).best_model_size) != \
        list(curves.best_model_size)


# ------------------------------------------------------------------ done when 3: params
LR_TRAIN = {"noise": 0.0, "epochs": 3, "lr_best": 0.01, "lr_power": -0.5, "lr_width": 0.3}


def test_the_search_finds_the_best_learning_rate_of_every_shard(tmp_path) -> None:
    spec = _spec(train=LR_TRAIN, data={"shard_sizes": [100, 400, 1600, 6400]},
                 search={"params": {"lr": {"log": [1e-4, 1e-1]}}, "param_samples": 8})
    points = sorted(p["lr"] for p in spec.search.points())
    assert len(points) == 8
    step = max(np.diff(np.log(points)))  # the widest gap between sampled values
    summary, store = _run(spec, tmp_path)
    assert summary.complete
    assert summary.n_runs == 4 * 3 * 8 * 2 + summary.n_grown * 1  # every cell x 8 points
    curves = study_curves("s", store)
    truth = [best_lr(n, LR_TRAIN) for n in spec.shard_sizes]
    chosen = [p["lr"] for p in curves.best_params]
    assert len(set(chosen)) == 4  # a different learning rate for each shard
    for lr, lr_star in zip(chosen, truth, strict=True):
        assert abs(math.log(lr / lr_star)) <= step
        # ... and it is the sampled value nearest the truth.
        assert lr == min(points, key=lambda p: abs(math.log(p / lr_star)))
    frame = curves.to_frame()
    assert list(frame["lr"]) == chosen
    assert "lr" in curves.cells_frame().columns
    assert curves.to_dict()["shards"][0]["lr"] == chosen[0]
    # curve (CLI) shows the chosen value.
    out = subprocess.run([sys.executable, "-m", "scalinglab", "curve", "s", "--storage",
                          str(tmp_path / "x.db"), "--format", "csv"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "lr" in out.stdout.splitlines()[0]


@pytest.mark.parametrize("sampler", ["halton", "sobol", "random"])
def test_param_points_are_seeded_and_cover_every_kind(sampler: str) -> None:
    spec = _spec(search={"params": {"lr": {"log": [1e-4, 1e-1]}, "wd": {"uniform": [0, 0.1]},
                                    "depth": {"int": [1, 3]},
                                    "opt": {"choice": ["adam", "sgd"]}},
                         "param_samples": 16, "sampler": sampler, "seed": 3})
    points = spec.search.points()
    assert points == spec.search.points()  # seeded: the same every time
    assert all(1e-4 <= p["lr"] <= 1e-1 and 0 <= p["wd"] <= 0.1 for p in points)
    assert {p["depth"] for p in points} <= {1, 2, 3} and {p["opt"] for p in points} <= {"adam",
                                                                                         "sgd"}
    assert len({p["opt"] for p in points}) == 2
    other = _spec(search={**spec.search.to_dict(), "seed": 4, "params": {
        k: v for k, v in spec.search.to_dict()["params"].items()}})
    assert other.search.points() != points
    assert StudySpec.from_dict(spec.to_dict()) == spec


def test_plans_are_a_function_of_the_stored_runs() -> None:
    spec = _spec(train=BUDGET_TRAIN, model=BUDGET_SIZES,
                 search={"params": {"lr": {"log": [1e-3, 1e-1]}}, "param_samples": 2})
    first = plan_runs(spec)
    assert plan_runs(spec) == first and len(first) == 4 * 4 * 2 * 2
    assert len({p.key for p in first}) == len(first)
    assert shard_checks(spec, None).empty


# ------------------------------------------------------------------ spec errors
BAD = [
    ({"model": {"sizes": [4, 8], "max_size": 2}}, "model.max_size"),
    ({"model": {"sizes": [4, 8], "min_size": 0}}, "model.min_size"),
    ({"model": {"sizes": [4, 8], "min_size": 8}}, "model.min_size"),
    ({"model": {"sizes": [4, 8], "size_tolerance": 1.0}}, "model.size_tolerance"),
    ({"model": {"sizes": [4, 8], "size_tolerance": -0.01}}, "model.size_tolerance"),
    ({"budget": {"max_factor": 0.5}}, "budget.max_factor"),
    ({"budget": {"tail": 1.0}}, "budget.tail"),
    ({"budget": {"maxfactor": 4}}, "budget.maxfactor"),
    ({"search": {"params": {"lr": {"log": [0, 1]}}}}, "search.params.lr.log"),
    ({"search": {"params": {"lr": {"loguniform": [1e-3, 1]}}}}, "search.params.lr"),
    ({"search": {"params": {"lr": [1e-3, 1]}}}, "search.params.lr"),
    ({"search": {"params": {"d": {"int": [1.5, 3]}}}}, "search.params.d.int"),
    ({"search": {"params": {"o": {"choice": []}}}}, "search.params.o.choice"),
    ({"search": {"params": {"w": {"uniform": [1, 1]}}}}, "search.params.w.uniform"),
    ({"search": {"params": {"lr": {"log": [1e-3, 1]}}}, "train": {"lr": 0.1}},
     "search.params.lr"),
    ({"search": {"param_samples": 0}}, "search.param_samples"),
    ({"search": {"sampler": "grid"}}, "search.sampler"),
    ({"train": {"_budget": 2}}, "train._budget"),
]


@pytest.mark.parametrize(("over", "field"), BAD)
def test_new_spec_fields_fail_in_one_line(over: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        _spec(**over)
    message = str(info.value)
    assert "\n" not in message and f"'{field}'" in message, message


def test_cli_rejects_a_bad_new_field_with_exit_2_and_writes_nothing(tmp_path) -> None:
    spec_path = tmp_path / "bad.toml"
    spec_path.write_text('name = "b"\ntask = "synthetic"\n[data]\nshard_sizes = [10, 20]\n'
                         '[model]\nsizes = [1, 2]\n[search.params]\nlr = { log = [1, 0.1] }\n')
    out = subprocess.run([sys.executable, "-m", "scalinglab", "run", str(spec_path),
                          "--workers", "0", "--no-progress"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "search.params.lr.log" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


@pytest.mark.parametrize(("margin", "extended"), [(0.05, False), (1000.0, True)])
def test_only_cells_near_the_best_are_extended(tmp_path, margin: float, extended: bool) -> None:
    # Width 1 is far worse than the best on every shard (b / s = 1): not worth more budget.
    spec = _spec(train=BUDGET_TRAIN, model={"sizes": [1, 4, 8, 16]},
                 data={"shard_sizes": [400, 800]}, budget={"margin": margin})
    summary, store = _run(spec, tmp_path)
    assert summary.complete
    cells = study_curves("s", store).cells_frame()
    width1 = cells[cells["model_size"] == 1]
    assert list(width1["budget"]) == ([4, 8] if extended else [1, 1])  # as the best cells
    assert list(width1["budget_limited"]) == [not extended] * 2
    assert not study_curves("s", store).best_budget_limited.any()
