"""Built-in workloads follow the engine's budget (issue 15): trial.budget scales the steps."""

from __future__ import annotations

import tomllib

import pytest

from scalinglab.tasks import TrainSettings, Trial, task_module

torch = pytest.importorskip("torch")
from scalinglab.study import StudySpec  # noqa: E402
from scalinglab.tasks import fit  # noqa: E402


def test_the_step_budget_grows_with_the_shard_and_the_budget_factor() -> None:
    s = TrainSettings(batch_size=10, epochs=10, min_steps=50, step_cap=1000)
    assert [s.max_steps(n) for n in (100, 1000, 50_000)] == [100, 1000, 1000]
    assert [s.max_steps(n, 2.0) for n in (100, 1000, 50_000)] == [200, 2000, 2000]
    assert s.max_steps(30, 4.0) == 200  # min_steps scales too


def _run(budget: float, errors: list[float]) -> tuple[Trial, dict[str, float]]:
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    model = torch.nn.Linear(3, 1)
    values = iter(errors)
    trial = Trial.standalone(shard_size=64, model_size=1, budget=budget)
    out = fit(model, n_train=64,
              batch_loss=lambda i: torch.nn.functional.mse_loss(model(x[i]), y[i]),
              evaluate=lambda: {"val_error": next(values)}, trial=trial,
              settings=TrainSettings(batch_size=16, min_steps=40, step_cap=40, n_evals=4,
                                     patience=3),
              fallback_error=1.0)
    return trial, out


def test_fit_reads_trial_budget_and_trains_that_much_longer() -> None:
    trial, out = _run(1.0, [0.5, 0.4, 0.3, 0.2])
    assert trial.budget_aware and out["max_steps"] == 40 and out["steps"] == 40
    # 4 evaluations over 80 steps: every 20 steps.
    trial, out = _run(2.0, [0.5, 0.3, 0.25, 0.26])
    assert out["max_steps"] == 80 and out["steps"] == 80 and out["best_step"] == 60
    assert [r.step for r in trial.reports] == [20, 40, 60, 80]


@pytest.mark.parametrize("task", ["mnist1d", "charlm", "teacher_student"])
def test_init_specs_tune_the_learning_rate(task: str) -> None:
    spec = StudySpec.from_dict(tomllib.loads(task_module(task).INIT_SPEC))
    assert [p.name for p in spec.search.params] == ["lr"]
    assert spec.search.params[0].kind == "log" and "lr" not in spec.train
    lrs = [p["lr"] for p in spec.search.points()]
    assert len(set(lrs)) == spec.search.param_samples >= 3
