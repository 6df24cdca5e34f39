"""The mnist1d workload: nested shards, fixed validation, determinism, learning."""

from __future__ import annotations

import random

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.tasks import Trial, load_task

pytest.importorskip("torch")
mnist1d = pytest.importorskip("scalinglab.tasks.mnist1d")

# Short runs: the behaviour under test does not need converged models.
FAST = {"min_steps": 40, "step_cap": 120, "n_evals": 6, "validation_size": 1000}


def stable(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.endswith("_time_s")}


def test_registry_resolves_the_task() -> None:
    assert load_task("mnist1d") is mnist1d.train


def test_shards_are_nested_and_seeded() -> None:
    small = mnist1d.shard_order(100, data_seed=0)
    large = mnist1d.shard_order(20_000, data_seed=0)  # crosses a chunk boundary
    np.testing.assert_array_equal(large[:100], small)
    assert len(np.unique(large)) == 20_000
    assert not np.array_equal(mnist1d.shard_order(100, data_seed=1), small)
    with pytest.raises(InputError, match="'shard_size'"):
        mnist1d.shard_order(mnist1d.MAX_POOL_SIZE + 1, data_seed=0)


def test_split_has_fixed_validation_and_nested_training_data() -> None:
    x_small, y_small, xv1, yv1 = mnist1d.load_split(128, validation_size=1000)
    x_big, y_big, xv2, yv2 = mnist1d.load_split(1024, validation_size=1000)
    assert x_small.shape == (128, 40) and x_small.dtype == np.float32
    np.testing.assert_array_equal(x_big[:128], x_small)
    np.testing.assert_array_equal(y_big[:128], y_small)
    np.testing.assert_array_equal(xv1, xv2)
    np.testing.assert_array_equal(yv1, yv2)
    assert set(np.unique(yv1)) == set(range(10))
    # The validation examples are not training examples.
    assert not (xv1[:, None, :] == x_big[None, :, :]).all(-1).any()


def test_generation_leaves_global_random_state_alone() -> None:
    np.random.seed(123)
    random.seed(123)
    mnist1d._generate(20, seed=5)
    assert np.random.random() == np.random.RandomState(123).random_sample()
    assert random.random() == random.Random(123).random()


def test_same_seed_same_metrics_and_seeds_differ() -> None:
    def run(seed: int) -> dict[str, float]:
        trial = Trial.standalone(shard_size=256, model_size=16, seed=seed, params=FAST)
        return stable(mnist1d.train(trial))

    first, again, other = run(0), run(0), run(1)
    assert first == again
    assert first != other


def test_metrics_report_parameter_count_and_curve() -> None:
    trial = Trial.standalone(shard_size=256, model_size=16, params=FAST)
    metrics = mnist1d.train(trial)
    assert metrics["n_params"] == 40 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10
    assert metrics["min_val_error"] == trial.min_val_error
    assert len(trial.reports) >= 1
    assert all("val_loss" in r.metrics for r in trial.reports)


def test_cnn_and_sgd_train() -> None:
    params = {**FAST, "model": "cnn", "optimizer": "sgd", "lr": 0.05}
    trial = Trial.standalone(shard_size=256, model_size=8, params=params)
    metrics = mnist1d.train(trial)
    assert metrics["n_params"] == (8 * 1 * 5 + 8) + 2 * (8 * 8 * 3 + 8) + (8 * 5 * 10 + 10)
    # Chance is 0.9 (10 classes); 3 binomial sd below it on 1000 validation points is 0.87.
    # The CNN reaches about 0.68 in these 120 steps: require 0.8, far below chance.
    assert 0.0 <= metrics["min_val_error"] < 0.8, metrics


def test_error_decreases_with_more_data() -> None:
    params = {**FAST, "step_cap": 400, "min_steps": 400}
    errors = [
        mnist1d.train(Trial.standalone(shard_size=n, model_size=64, params=params))[
            "min_val_error"
        ]
        for n in (128, 4096)
    ]
    assert errors[1] < errors[0] - 0.1


def test_bad_hyperparameters_are_input_errors() -> None:
    with pytest.raises(InputError, match="'model'"):
        mnist1d.train(Trial.standalone(shard_size=64, model_size=8, params={"model": "rnn"}))
    with pytest.raises(InputError, match="'learning_rate'"):
        mnist1d.train(Trial.standalone(shard_size=64, model_size=8, params={"learning_rate": 1}))
    with pytest.raises(InputError, match="'model_size'"):
        mnist1d.train(Trial.standalone(shard_size=64, model_size=2.5))
