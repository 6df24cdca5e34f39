"""The teacher_student workload: noiseless nested data, determinism, error falls towards 0."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab.tasks import Trial

pytest.importorskip("torch")
ts = pytest.importorskip("scalinglab.tasks.teacher_student")

FAST = {"min_steps": 100, "step_cap": 300, "n_evals": 5}


def stable(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.endswith("_time_s")}


def test_data_is_nested_scaled_and_noiseless() -> None:
    x1, y1, xv1, yv1 = ts.make_data(100)
    x2, y2, xv2, _ = ts.make_data(1000)
    np.testing.assert_array_equal(x2[:100], x1)
    np.testing.assert_array_equal(y2[:100], y1)
    np.testing.assert_array_equal(xv1, xv2)
    assert 0.8 < float(yv1.std()) < 1.2
    # Another data seed draws other inputs; another teacher labels them differently.
    x3 = ts.make_data(100, data_seed=1)[0]
    assert not np.array_equal(x3, x1)
    other_teacher = ts.make_data(100, teacher_seed=1)[1]
    assert not np.array_equal(other_teacher, y1)


def test_same_seed_same_metrics_and_seeds_differ() -> None:
    def run(seed: int) -> dict[str, float]:
        return stable(ts.train(Trial.standalone(shard_size=128, model_size=8, seed=seed,
                                                params=FAST)))

    first, again, other = run(0), run(0), run(1)
    assert first == again
    assert first != other
    assert first["n_params"] == 16 * 8 + 8 + 8 + 1


def test_error_falls_far_below_its_small_data_value() -> None:
    params = {"min_steps": 1500, "step_cap": 1500, "n_evals": 10}
    small = ts.train(Trial.standalone(shard_size=32, model_size=16, params=params))
    large = ts.train(Trial.standalone(shard_size=2048, model_size=16, params=params))
    assert large["min_val_error"] < 0.1 * small["min_val_error"]
    assert large["min_val_error"] < 0.01
