"""``law="auto"`` beyond the benchmark's curves: short curves, long trajectories, odd data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab._errors import InputError
from scalinglab.fitting import _ensemble_fit, fit_law
from scalinglab.fitting._binning import LONG_CURVE_BINS, LONG_CURVE_POINTS, bin_curve


def _trajectory(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A training trajectory: evaluations every k steps, a power law to a floor, AR(1) noise."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1) * 10.0
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.8 * noise[i - 1] + 0.01 * rng.standard_normal()
    return x, (2.0 + 8.0 * x**-0.4) * np.exp(noise)


def test_bin_curve_keeps_the_last_point_and_the_total_weight() -> None:
    x, y = _trajectory(3000)
    w = np.ones_like(x)
    bx, by, bw = bin_curve(x, y, w, 50)
    assert len(bx) <= 51 and bx[-1] == x[-1] and by[-1] == pytest.approx(y[-1], rel=1e-12)
    assert bw.sum() == pytest.approx(len(x))
    assert np.all(np.diff(bx) > 0) and bx[0] >= x[0]
    # each bin's y is the geometric mean of its points: it lies within their range
    assert np.all((by >= y.min()) & (by <= y.max()))


def test_a_long_trajectory_is_fitted_on_bins_and_keeps_the_points_scatter() -> None:
    x, y = _trajectory(4 * LONG_CURVE_POINTS)
    fit = fit_law("auto", x, y)
    assert any("long curve" in n and str(LONG_CURVE_BINS) in n for n in fit.notes)
    assert len(fit.x) == len(x)  # the result holds every point, not the bins
    assert fit.selection is not None and fit.selection["eps0"] == pytest.approx(2 * y.max())  # of the points
    band = fit.law.band
    resid = np.log(fit.predict(x).value) - np.log(y)
    assert band.scatter == pytest.approx(float(np.sqrt(np.mean(resid**2))), rel=1e-6)
    # the truth (without noise) 4x beyond the data is predicted within a few percent
    x_new = np.array([4 * x[-1]])
    pred = fit.predict(x_new, level=0.9)
    truth = 2.0 + 8.0 * x_new**-0.4
    assert abs(math.log(pred.value[0] / truth[0])) < 0.05
    assert pred.lower[0] < truth[0] < pred.upper[0]


def test_a_long_trajectorys_bootstrap_refits_bins_as_the_fit_did() -> None:
    """Each resample is binned like the fit's points: the identity resample gives the fit back.

    Before, a resample refitted every point (not the bins), so even the identity resample gave
    other parameters, and 100 resamples of a 5,000-point trajectory took minutes.
    """
    from scalinglab.fitting._bootstrap import _refit_ensemble_chunk

    x, y = _trajectory(3 * LONG_CURVE_POINTS)
    fit = fit_law("auto", x, y)
    (identity,) = _refit_ensemble_chunk(fit.law, fit.x, fit.y, [np.ones(len(x))])
    assert identity is not None
    np.testing.assert_allclose(identity, fit.values, rtol=1e-6, atol=1e-12)
    boot = fit.bootstrap(20, seed=0)
    x_new = np.array([2 * x[-1]])
    band = boot.predict(x_new, level=0.9)
    assert band.lower[0] < fit.predict(x_new).value[0] < band.upper[0]


def test_a_five_point_curve_gets_a_validated_ensemble_of_three_parameter_members() -> None:
    x = 1e3 * 2.0 ** np.arange(5)
    y = 0.1 + 0.8 * (x / 1e3) ** -0.5
    fit = fit_law("auto", x, y, eps0=1.0)
    sel = fit.selection
    assert sel is not None and sel["method"] == "ensemble"
    kept = {m["label"] for m in sel["members"] if m["weight"] > 0}
    assert kept and all(m["law"] != "m4" for m in sel["members"] if m["weight"] > 0)
    assert sel["origins"] == [x[3]]  # a prefix of 4 points (k + 1), forecasting the fifth
    assert fit.law.band.validated
    pred = fit.predict(np.array([8 * x[-1]])).value[0]
    assert abs(math.log(pred / (0.1 + 0.8 * 128.0**-0.5))) < 0.1


def _short_members(fit: object) -> dict[str, float]:
    sel = fit.selection  # type: ignore[attr-defined]
    assert sel is not None and sel["method"] == "ensemble"
    return {m["label"]: m["weight"] for m in sel["members"]}


def test_a_four_point_curve_that_levels_off_hedges_between_a_power_law_and_its_floor() -> None:
    # Truth: a power law with a floor, seen at 4 doubling sizes, predicted 8x beyond.
    x = 1e3 * 2.0 ** np.arange(4)
    truth = lambda v: 0.3 + 0.5 * (v / 1e3) ** -0.5  # noqa: E731
    fit = fit_law("auto", x, truth(x), eps0=1.0)
    assert _short_members(fit) == {"power": 0.5, "power_floor": 0.5}
    x_new = np.array([8 * x[-1]])
    pure = fit_law("power", x, truth(x)).predict(x_new).value[0]  # what the old fallback chose
    pred = fit.predict(x_new, level=0.9)
    # The pure power law keeps falling (too low); the floored member recovers the truth: the
    # geometric mean lies between them, nearer the truth than the pure power law.
    assert pure < pred.value[0] < truth(x_new)[0]
    assert abs(math.log(pred.value[0] / truth(x_new)[0])) < 0.5 * abs(math.log(pure / truth(x_new)[0]))
    # One origin (the first 3 points) and one forecast error: validated, t quantile on 1 error.
    band = fit.law.band
    assert fit.selection["origins"] == [x[2]] and band.validated and band.n_errors == 1
    assert pred.lower[0] < truth(x_new)[0] < pred.upper[0]


# The floored member's floor runs to zero on a pure power law and does not settle; it says so.
@pytest.mark.filterwarnings("ignore::scalinglab._errors.ConvergenceWarning")
def test_a_four_point_power_law_is_predicted_by_both_members() -> None:
    x = 1e3 * 2.0 ** np.arange(4)
    y = 2.0 * x**-0.3
    fit = fit_law("auto", x, y)
    x_new = np.array([16 * x[-1]])
    assert fit.predict(x_new).value[0] == pytest.approx(2.0 * x_new[0] ** -0.3, rel=0.02)


def test_a_three_point_curve_without_the_prior_has_an_open_band(monkeypatch: pytest.MonkeyPatch) -> None:
    # The rule before the prior (KAPPA_PRIOR None), kept as a variant of the benchmarks.
    monkeypatch.setattr(_ensemble_fit, "KAPPA_PRIOR", None)
    x = np.array([10.0, 20.0, 40.0])
    y = 0.2 + 0.6 * x**-0.5
    fit = fit_law("auto", x, y, eps0=0.9)
    assert set(_short_members(fit)) == {"power", "power_floor"}
    band = fit.law.band
    assert not band.validated and band.kappa is None and not band.bounded
    inside = fit.predict(x, level=0.9)
    assert np.all(np.isfinite(inside.upper)) and np.all(inside.lower > 0)
    beyond = fit.predict(np.array([160.0]), level=0.9)
    # No origin can measure the extrapolation error: the band stops only at the known bound.
    assert beyond.upper[0] == pytest.approx(0.9) and beyond.lower[0] == 0


# A member may not settle on a flat curve (its exponent is not identified); the fit says so.
@pytest.mark.filterwarnings("ignore::scalinglab._errors.ConvergenceWarning")
@pytest.mark.parametrize(
    "y",
    [
        np.full(12, 0.3),  # flat
        0.3 + 0.1 * (np.arange(12) - 6.0) ** 2 / 36,  # down then up (an upturn)
    ],
)
def test_flat_and_upturning_curves_get_an_answer(y: np.ndarray) -> None:
    x = np.geomspace(10, 1e4, 12)
    fit = fit_law("auto", x, y, eps0=1.0)
    pred = fit.predict(np.array([4e4]))
    assert np.isfinite(pred.value).all() and 0 < pred.value[0] <= 1.0


def test_repeated_x_and_non_positive_y() -> None:
    x = np.repeat(np.geomspace(10, 1e4, 8), 3)
    y = (0.2 + x**-0.3) * np.exp(0.01 * np.random.default_rng(1).standard_normal(len(x)))
    fit = fit_law("auto", x, y, eps0=1.0)
    assert fit.selection is not None and fit.selection["method"] == "ensemble"
    with pytest.raises(InputError, match="must be > 0"):
        fit_law("auto", x, np.where(np.arange(len(x)) == 3, 0.0, y), eps0=1.0)
