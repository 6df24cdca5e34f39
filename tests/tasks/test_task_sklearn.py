"""The sklearn workload: bundled data, a size knob from the estimator's parameters."""

from __future__ import annotations

import pytest

from scalinglab import InputError
from scalinglab.tasks import Trial

pytest.importorskip("sklearn")
sk = pytest.importorskip("scalinglab.tasks.sklearn")


def stable(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.endswith("_time_s")}


def test_mlp_is_deterministic_and_seeds_differ() -> None:
    def run(seed: int) -> dict[str, float]:
        return stable(sk.train(Trial.standalone(shard_size=128, model_size=16, seed=seed)))

    first, again, other = run(0), run(0), run(1)
    assert first == again
    assert first != other
    assert first["n_params"] == 64 * 16 + 16 + 16 * 10 + 10


def test_error_decreases_with_data() -> None:
    errors = [
        sk.train(Trial.standalone(shard_size=n, model_size=32,
                                  params={"estimator": "random_forest"}))["min_val_error"]
        for n in (32, 1024)
    ]
    assert errors[1] < errors[0] - 0.1


def test_size_knob_sets_the_named_parameter() -> None:
    small = sk.train(Trial.standalone(shard_size=512, model_size=2,
                                      params={"estimator": "random_forest"}))
    large = sk.train(Trial.standalone(shard_size=512, model_size=20,
                                      params={"estimator": "random_forest"}))
    assert large["n_params"] > 5 * small["n_params"]


def test_any_classifier_by_import_path_and_validation_size() -> None:
    params = {"estimator": "sklearn.tree:DecisionTreeClassifier", "size_param": "max_depth",
              "dataset": "wine", "validation_size": 50}
    metrics = sk.train(Trial.standalone(shard_size=100, model_size=3, params=params))
    # Wine has 3 classes, the largest 40% of the rows: always guessing it errs 60% of the time.
    # A depth-3 tree on 100 rows errs about 10% (0.10-0.12 over seeds): well below chance.
    assert 0.0 <= metrics["val_error"] < 0.3, metrics
    assert 3 <= metrics["n_params"] <= 15  # nodes of a tree of depth <= 3


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(InputError, match="'estimator'"):
        sk.train(Trial.standalone(shard_size=64, model_size=2, params={"estimator": "nope"}))
    with pytest.raises(InputError, match="'shard_size'"):
        sk.train(Trial.standalone(shard_size=5000, model_size=2))
    with pytest.raises(InputError, match="'dataset'"):
        sk.train(Trial.standalone(shard_size=64, model_size=2, params={"dataset": "mnist"}))


def test_partial_fit_epochs_follow_trial_budget() -> None:
    # patience larger than any epoch count: the run trains its whole epoch budget.
    params = {"patience": 1000, "epochs_budget": 20.0}
    runs = {b: Trial.standalone(shard_size=64, model_size=4, params=params, budget=b)
            for b in (1.0, 2.0)}
    out = {b: sk.train(t) for b, t in runs.items()}
    assert all(t.budget_aware for t in runs.values())
    # clip(ceil(20 / 1), 20, 200) = 20 epochs at budget 1, twice that at budget 2.
    assert out[1.0]["max_steps"] == out[1.0]["epochs"] == 20
    assert out[2.0]["max_steps"] == out[2.0]["epochs"] == 40
    assert len(runs[2.0].reports) == 40


def test_iteration_limit_follows_trial_budget_for_a_fit_once_estimator() -> None:
    params = {"estimator": "logistic", "size_param": "C", "estimator_params": {"max_iter": 2}}
    short = Trial.standalone(shard_size=512, model_size=1.0, params=params, budget=1.0)
    longer = Trial.standalone(shard_size=512, model_size=1.0, params=params, budget=4.0)
    a, b = sk.train(short), sk.train(longer)
    assert short.budget_aware and longer.budget_aware
    assert a["max_steps"] == 2 and b["max_steps"] == 8
    # The single point sits at the iterations used: at the limit for 2 iterations.
    assert short.reports[-1].step == 2
    assert 2 < longer.reports[-1].step <= 8


def test_an_estimator_without_an_iteration_budget_does_not_read_it() -> None:
    trial = Trial.standalone(shard_size=128, model_size=4, params={"estimator": "random_forest"})
    out = sk.train(trial)
    assert not trial.budget_aware and "max_steps" not in out
