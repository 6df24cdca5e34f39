"""Shared training rules: hyperparameter checks, step budget, early stopping, divergence."""

from __future__ import annotations

import math
from typing import Any

import pytest

from scalinglab import InputError
from scalinglab.tasks import TRAIN_KEYS, ParamReader, RunConfig, TrainSettings, Trial, fit, model_width

torch = pytest.importorskip("torch")


def test_reader_rejects_unknown_and_out_of_range_values() -> None:
    with pytest.raises(InputError, match="'learning_rate'"):
        ParamReader({"learning_rate": 0.1}, "t", TRAIN_KEYS)
    reader = ParamReader({"lr": -1.0, "optimizer": "rmsprop", "batch_size": 2.5}, "t", TRAIN_KEYS)
    with pytest.raises(InputError, match=r"'lr'.*Got -1\.0"):
        reader.number("lr", 1e-3, minimum=0.0, exclusive_minimum=True)
    with pytest.raises(InputError, match="'optimizer'"):
        reader.choice("optimizer", "adam", ("adam", "sgd"))
    with pytest.raises(InputError, match="'batch_size'"):
        reader.integer("batch_size", 64, minimum=1)


def test_settings_defaults_and_overrides() -> None:
    reader = ParamReader({"optimizer": "SGD", "lr": 0.1}, "t", TRAIN_KEYS)
    settings = TrainSettings.read(reader, batch_size=32)
    assert settings.optimizer == "sgd"
    assert settings.lr == 0.1
    assert settings.batch_size == 32
    with pytest.raises(InputError, match="'min_steps'"):
        TrainSettings.read(ParamReader({"min_steps": 10, "step_cap": 5}, "t", TRAIN_KEYS))


def test_step_budget_is_tied_to_shard_size() -> None:
    s = TrainSettings(batch_size=100, epochs=10, min_steps=50, step_cap=1000)
    assert s.max_steps(100) == 50  # 10 epochs of 1 step, raised to min_steps
    assert s.max_steps(1000) == 100  # 10 epochs of 10 steps
    assert s.max_steps(50_000) == 1000  # capped
    assert s.max_steps(30) == 50  # a shard smaller than a batch is one full batch
    budgets = [s.max_steps(n) for n in (100, 200, 400, 800, 1600, 3200, 6400)]
    assert budgets == sorted(budgets)


def _linear_problem() -> tuple[Any, Any, Any]:
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    return torch.nn.Linear(3, 1), x, y


def test_early_stopping_after_patience_evaluations() -> None:
    model, x, y = _linear_problem()
    errors = iter([0.5, 0.4, 0.45, 0.46, 0.47, 0.1, 0.1])
    trial = Trial.standalone(shard_size=64, model_size=1)
    out = fit(
        model,
        n_train=64,
        batch_loss=lambda i: torch.nn.functional.mse_loss(model(x[i]), y[i]),
        evaluate=lambda: {"val_error": next(errors)},
        trial=trial,
        settings=TrainSettings(batch_size=16, min_steps=100, step_cap=100, n_evals=10,
                               patience=3),
        fallback_error=1.0,
    )
    assert [r.val_error for r in trial.reports] == [0.5, 0.4, 0.45, 0.46, 0.47]
    assert out["min_val_error"] == 0.4
    assert out["best_step"] == 20
    assert out["steps"] == 50
    assert out["n_params"] == 4


def test_engine_stop_request_ends_training() -> None:
    model, x, y = _linear_problem()
    trial = Trial(Trial.standalone(shard_size=64, model_size=1).config, on_report=lambda r: True)
    out = fit(
        model,
        n_train=64,
        batch_loss=lambda i: torch.nn.functional.mse_loss(model(x[i]), y[i]),
        evaluate=lambda: {"val_error": 0.3},
        trial=trial,
        settings=TrainSettings(min_steps=100, step_cap=100, n_evals=10),
        fallback_error=1.0,
    )
    assert len(trial.reports) == 1
    assert out["steps"] == 10


def test_divergence_is_scored_as_a_random_guess() -> None:
    model, x, _ = _linear_problem()
    trial = Trial.standalone(shard_size=64, model_size=1)
    out = fit(
        model,
        n_train=64,
        batch_loss=lambda i: model(x[i]).sum() * math.nan,
        evaluate=lambda: {"val_error": 0.3},
        trial=trial,
        settings=TrainSettings(min_steps=10, step_cap=10),
        fallback_error=0.9,
    )
    assert out["diverged"] == 1.0
    assert out["min_val_error"] == 0.9
    assert trial.min_val_error == 0.9


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_every_optimizer_reduces_the_loss(optimizer: str) -> None:
    model, x, y = _linear_problem()
    trial = Trial.standalone(shard_size=64, model_size=1)

    def evaluate() -> dict[str, float]:
        with torch.no_grad():
            return {"val_error": float(torch.nn.functional.mse_loss(model(x), y))}

    start = evaluate()["val_error"]
    fit(
        model,
        n_train=64,
        batch_loss=lambda i: torch.nn.functional.mse_loss(model(x[i]), y[i]),
        evaluate=evaluate,
        trial=trial,
        settings=TrainSettings(optimizer=optimizer, lr=0.05, batch_size=16, min_steps=200,
                               step_cap=200, patience=50),
        fallback_error=1.0,
    )
    assert trial.min_val_error < 0.1 * start


@pytest.mark.parametrize("size", [8, 8.0])
def test_model_width_is_the_integer_size(size) -> None:
    trial = Trial(RunConfig(0, 64, size, 0, 0, {}), lambda report: False)
    width = model_width(trial, "the mnist1d task")
    assert width == 8 and type(width) is int


@pytest.mark.parametrize("size", [2.5, 0, -4])
def test_model_width_refuses_what_is_not_a_positive_integer(size) -> None:
    trial = Trial(RunConfig(0, 64, size, 0, 0, {}), lambda report: False)
    with pytest.raises(InputError, match=r"^The 'model_size' parameter of the mnist1d task must "
                                         rf"be a positive integer\. Got {size!r} instead\.$"):
        model_width(trial, "the mnist1d task")

