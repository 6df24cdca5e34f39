"""What a fit promises beyond point estimates: convergence, bands, inverses, bootstrap."""

from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import pytest

from scalinglab import ConvergenceWarning, InputError
from scalinglab.fitting import compute_optimal, fit_law
from scalinglab.laws import get_law


@pytest.fixture
def noisy_curve():
    rng = np.random.default_rng(7)
    x = np.logspace(2, 6, 14)
    y = (3.0 * x**-0.35 + 0.05) * np.exp(0.02 * rng.standard_normal(len(x)))
    return x, y


def test_result_is_read_only(noisy_curve):
    fit = fit_law("power_floor", *noisy_curve)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.converged = False  # type: ignore[misc]
    with pytest.raises(ValueError):
        fit.values[0] = 1.0


def test_to_dict_is_json_and_complete(noisy_curve):
    d = fit_law("power_floor", *noisy_curve).to_dict()
    json.dumps(d, allow_nan=False)
    for key in ("law", "params", "stderr", "intervals", "converged", "message", "n_points", "rmsle",
                "divergence_mean", "divergence_std"):
        assert key in d


def test_non_convergence_is_reported(noisy_curve):
    with pytest.warns(ConvergenceWarning, match="m4 fit: not converged"):
        fit = fit_law("m4", *noisy_curve, max_nfev=2, n_starts=1)
    assert not fit.converged
    assert "not converged" in fit.message


def test_a_converged_fit_does_not_warn(noisy_curve):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert fit_law("power_floor", *noisy_curve).converged


def test_fixed_parameter_is_held(noisy_curve):
    fit = fit_law("power_floor", *noisy_curve, fixed={"c": 0.0})
    assert fit.params["c"] == 0.0 and fit.stderr[2] == 0.0
    assert fit.dof == len(noisy_curve[0]) - 2


def test_losses_agree_on_clean_data():
    x = np.logspace(2, 6, 12)
    y = 3.0 * x**-0.35 + 0.05
    for loss in ("log", "huber", "relative"):
        fit = fit_law("power_floor", x, y, loss=loss)
        assert fit.params["b"] == pytest.approx(0.35, rel=1e-3), loss


def test_huber_resists_an_outlier():
    x = np.logspace(2, 6, 16)
    y = 3.0 * x**-0.35 + 0.05
    y_bad = y.copy()
    y_bad[5] *= 2.0
    plain = fit_law("power_floor", x, y_bad, loss="log")
    robust = fit_law("power_floor", x, y_bad, loss="huber", huber_delta=1e-2)
    assert abs(robust.params["b"] - 0.35) < abs(plain.params["b"] - 0.35)
    assert robust.params["b"] == pytest.approx(0.35, rel=0.02)


def test_inverse_inverts_predict_with_a_band(noisy_curve):
    fit = fit_law("power_floor", *noisy_curve)
    target = float(fit.predict([3e6]).value[0])
    inv = fit.inverse([target], level=0.9)
    assert inv.value[0] == pytest.approx(3e6, rel=1e-6)
    assert inv.lower[0] < 3e6 < inv.upper[0]
    assert inv.reason is None


def test_inverse_below_floor_says_why(noisy_curve):
    fit = fit_law("power_floor", *noisy_curve)
    inv = fit.inverse([fit.floor * 0.5])
    assert not inv.feasible[0] and np.isnan(inv.value[0])
    assert "floor" in inv.reason


def test_confidence_band_narrower_than_prediction_band(noisy_curve):
    fit = fit_law("power_floor", *noisy_curve)
    conf = fit.predict([1e7], interval="confidence")
    pred = fit.predict([1e7], interval="prediction")
    assert pred.lower[0] < conf.lower[0] < conf.value[0] < conf.upper[0] < pred.upper[0]


def test_bootstrap_is_repeatable_and_close_to_delta_method(noisy_curve):
    fit = fit_law("power_floor", *noisy_curve)
    a = fit.bootstrap(200, seed=3)
    b = fit.bootstrap(200, seed=3)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.n_failed == 0
    # Case-resampling and the Jacobian agree on the exponent's uncertainty within 2x.
    ratio = a.standard_errors["b"] / fit.stderr[1]
    assert 0.5 < ratio < 2.0
    band = a.predict([1e7], level=0.9)
    assert band.lower[0] < band.value[0] < band.upper[0]


def test_bootstrap_parallel_equals_serial(noisy_curve):
    fit = fit_law("power", *noisy_curve)
    serial = fit.bootstrap(60, seed=1)
    parallel = fit.bootstrap(60, seed=1, n_jobs=2)
    np.testing.assert_allclose(serial.samples, parallel.samples)


def test_auto_reports_its_choice(noisy_curve):
    x, y = noisy_curve
    fit = fit_law("auto", x, y)
    sel = fit.selection
    assert fit.converged and sel is not None and sel["method"] == "ensemble"
    # No eps0 given: the bound assumed is 2 max(y), and the selection says it was assumed.
    assert sel["eps0_assumed"] is True and sel["eps0"] == pytest.approx(2 * float(np.max(y)))
    kept = [m for m in sel["members"] if m["weight"] > 0]
    assert [label for label, _ in fit.law.members] == [m["label"] for m in kept]
    np.testing.assert_allclose(fit.law.weights, [m["weight"] for m in kept])
    assert sum(m["weight"] for m in sel["members"]) == pytest.approx(1.0)
    assert sel["reason"].startswith("geometric mean with equal weights of " + ", ".join(m["label"] for m in kept))
    assert sel["band"] == fit.law.band.to_dict() and sel["band"]["x_max"] == pytest.approx(float(np.max(x)))
    assert set(sel["scores"]) == {m["label"] for m in sel["members"]}


def test_auto_prefers_a_floor_when_there_is_one():
    x = np.logspace(2, 7, 16)
    y = 2.0 * x**-0.5 + 0.08
    fit = fit_law("auto", x, y)
    assert fit.floor == pytest.approx(0.08, rel=0.1)


@pytest.mark.parametrize("law", ["m4", "envelope", "auto"])
def test_an_eps0_below_the_data_is_named(noisy_curve, law):
    """A given bound the points pass cannot be the random-guess error: the fit says so."""
    x, y = noisy_curve
    low = 0.5 * float(np.max(y))
    fit = fit_law(law, x, y, eps0=low)
    assert any(f"eps0 {low:.4g} is not above the largest y" in note for note in fit.notes), fit.notes
    assert not any("is not above" in note for note in fit_law(law, x, y, eps0=1.0).notes)
    if law == "auto":
        # Its saturating members are left out, and nothing is capped at the contradicted bound.
        assert {m["law"] for m in fit.selection["members"]} == {"power_floor"}
        first = fit.predict(x[:1])
        assert first.value[0] > low * 1.05 and first.upper[0] > first.value[0]


def test_compute_optimal_band_contains_point():
    law = get_law("chinchilla")
    rng = np.random.default_rng(0)
    n = np.repeat(np.logspace(7, 10, 6), 6)
    d = np.tile(np.logspace(9, 12, 6), 6)
    truth = [400.0, 410.0, 1.7, 0.34, 0.28]
    x = np.column_stack([n, d])
    y = law.predict(x, truth) * np.exp(0.005 * rng.standard_normal(len(n)))
    fit = fit_law(law, x, y)
    plan = compute_optimal(fit, [1e21, 1e23])
    assert np.all(plan.model_size_lower <= plan.model_size)
    assert np.all(plan.model_size <= plan.model_size_upper)
    assert np.all(plan.data_size_lower <= plan.data_size) and np.all(plan.data_size <= plan.data_size_upper)
    for i, budget in enumerate([1e21, 1e23]):
        # The plan is the fitted law's minimum along C = 6 N D (brute force) ...
        n_grid = np.logspace(-2, 2, 40001) * np.sqrt(budget / 6)
        errors = law.predict(np.column_stack([n_grid, budget / 6 / n_grid]), fit.values)
        best = int(np.argmin(errors))
        assert 0 < best < len(n_grid) - 1
        assert plan.model_size[i] == pytest.approx(n_grid[best], rel=1e-3)
        assert plan.data_size[i] == pytest.approx(budget / 6 / n_grid[best], rel=1e-3)
        assert plan.predicted_error[i] == pytest.approx(errors[best], rel=1e-9)
        # ... and its band holds the true optimum (Hoffmann et al. 2022, eq. 4).
        n_true, d_true = law.compute_optimal(budget, truth)
        assert plan.model_size_lower[i] <= float(n_true) <= plan.model_size_upper[i]
        assert plan.data_size_lower[i] <= float(d_true) <= plan.data_size_upper[i]
    assert plan.law == "chinchilla" and plan.level == 0.9
    with pytest.raises(InputError):
        compute_optimal(fit_law("power", n, y), [1e21])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"law": "nope"}, "must be one of"),
        ({"loss": "l1"}, "'loss' parameter"),
        ({"fixed": {"zz": 1.0}}, "'fixed' parameter"),
    ],
)
def test_bad_arguments_raise_input_error(noisy_curve, kwargs, needle):
    args = {"law": "power_floor", **kwargs}
    with pytest.raises(InputError, match=needle):
        fit_law(args.pop("law"), *noisy_curve, **args)


def test_two_input_law_given_one_column():
    with pytest.raises(InputError, match="2 columns"):
        fit_law("joint", np.arange(1.0, 10.0), np.ones(9))
