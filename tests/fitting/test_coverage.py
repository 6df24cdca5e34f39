"""Coverage of intervals and bands, with enough repetitions that a band at the wrong level fails.

Acceptance windows are nominal +- 3 binomial standard deviations, sqrt(p (1 - p) / n), with n
chosen so that the nearest wrong level lies a further 3 of its own standard deviations beyond
the window's edge (docs/testing.md has the arithmetic):

* 95% with n = 2000: sd 0.0049, window [0.935, 0.965]; a 90% band (sd 0.0067) sits 5.3 sd below.
* 90% with n = 2000: sd 0.0067, window [0.880, 0.920]; 85% (sd 0.0080) is 3.8 sd below, 95%
  (sd 0.0049) 6.1 sd above.

A pure power law fitted in log space is linear least squares, so its Student-t intervals and
prediction bands are exact: the fit is checked once against ordinary least squares, and the
2000 repetitions are then solved in closed form (vectorised) and fed to the fit result's own
interval and band code. The ensemble band of ``law="auto"`` is a normal band in ln y with a
stated standard deviation; its coverage is checked on 100000 normal draws of that deviation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from scalinglab.fitting import Band, Ensemble, fit_law
from scalinglab.laws import Power, PowerFloor

REPS = 2000
X = np.logspace(2, 5, 8)  # 8 points, 2 parameters: 6 degrees of freedom, where t and z differ
TRUTH = np.array([3.0, -0.3])  # a, b of y = a x^b
NOISE = 0.05  # sd of ln y
X_NEW = 10**5.5  # a new measurement beyond the data


def window(level: float, n: int) -> tuple[float, float]:
    """``level`` +- 3 binomial standard deviations of a coverage estimated from n trials."""
    sd = np.sqrt(level * (1 - level) / n)
    return level - 3 * sd, level + 3 * sd


def test_windows_exclude_the_wrong_levels():
    lo, hi = window(0.95, REPS)
    assert hi < 1 and lo - 3 * np.sqrt(0.9 * 0.1 / REPS) > 0.90
    lo, hi = window(0.90, REPS)
    assert lo - 3 * np.sqrt(0.85 * 0.15 / REPS) > 0.85
    assert hi + 3 * np.sqrt(0.95 * 0.05 / REPS) < 0.95


def _ols(x: np.ndarray, log_y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form least squares of ln y = ln a + b ln x for each row of ``log_y``."""
    design = np.column_stack([np.ones_like(x), np.log(x)])
    xtx_inv = np.linalg.inv(design.T @ design)
    theta = log_y @ design @ xtx_inv  # (reps, 2): ln a, b
    resid = log_y - theta @ design.T
    scale = np.sqrt(np.sum(resid**2, axis=1) / (len(x) - 2))
    return theta, xtx_inv, scale


@pytest.fixture(scope="module")
def base_fit():
    rng = np.random.default_rng(0)
    y = Power().predict(X, TRUTH) * np.exp(NOISE * rng.standard_normal(len(X)))
    return fit_law(Power(), X, y)


def test_a_power_fit_is_ordinary_least_squares(base_fit):
    theta, xtx_inv, scale = _ols(X, np.log(base_fit.y)[None, :])
    np.testing.assert_allclose(base_fit.theta, theta[0], rtol=1e-6)
    np.testing.assert_allclose(base_fit.cov_theta, xtx_inv * scale[0] ** 2, rtol=1e-4)
    assert base_fit.residual_scale == pytest.approx(scale[0], rel=1e-6)
    assert base_fit.dof == len(X) - 2


def _replicates(base_fit, seed: int):
    """REPS fit results of fresh noisy curves, solved in closed form, and the random state."""
    rng = np.random.default_rng(seed)
    log_clean = np.log(Power().predict(X, TRUTH))
    theta, xtx_inv, scale = _ols(X, log_clean + NOISE * rng.standard_normal((REPS, len(X))))
    fits = [
        dataclasses.replace(
            base_fit, theta=t, values=np.array([np.exp(t[0]), t[1]]), cov_theta=xtx_inv * s**2,
            residual_scale=float(s),
        )
        for t, s in zip(theta, scale, strict=True)
    ]
    return fits, rng


def test_parameter_intervals_cover_at_their_level(base_fit):
    fits, _ = _replicates(base_fit, 1)
    covered = np.zeros(2)
    for fit in fits:
        intervals = fit.intervals(0.95)
        covered += [intervals["a"][0] <= TRUTH[0] <= intervals["a"][1],
                    intervals["b"][0] <= TRUTH[1] <= intervals["b"][1]]
    lo, hi = window(0.95, REPS)
    coverage = covered / REPS
    assert np.all((lo <= coverage) & (coverage <= hi)), (coverage, lo, hi)


def test_prediction_band_covers_new_measurements_at_its_level(base_fit):
    fits, rng = _replicates(base_fit, 2)
    y_new = Power().predict([X_NEW], TRUTH)[0] * np.exp(NOISE * rng.standard_normal(REPS))
    bands = [fit.predict([X_NEW], level=0.9) for fit in fits]
    lower = np.array([b.lower[0] for b in bands])
    upper = np.array([b.upper[0] for b in bands])
    coverage = float(np.mean((lower <= y_new) & (y_new <= upper)))
    lo, hi = window(0.90, REPS)
    assert lo <= coverage <= hi, (coverage, lo, hi)
    # The confidence band holds the law itself at its level.
    truth_new = Power().predict([X_NEW], TRUTH)[0]
    conf = [fit.predict([X_NEW], level=0.9, interval="confidence") for fit in fits]
    inside = np.mean([c.lower[0] <= truth_new <= c.upper[0] for c in conf])
    assert lo <= inside <= hi, (inside, lo, hi)


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_ensemble_band_covers_at_its_level(level):
    """The band of ``law="auto"`` at ``level`` holds ``level`` of ln y ~ N(mean, sd(x)^2).

    sd(x)^2 = scatter^2 + spread^2 + (kappa ln(x / x_max))^2 (the Band's definition), with
    the spread of two members that disagree beyond the data.
    """
    members = [("pf", PowerFloor()), ("p", Power())]
    params = np.array([3.0, 0.35, 0.05, 2.5, -0.25])
    band = Band(scatter=0.04, kappa=0.08, x_max=1e4)
    ens = Ensemble(members, [0.6, 0.4], band=band)
    x = np.array([3e3, 1e5, 1e6])
    logs = np.log([PowerFloor().predict(x, params[:3]), Power().predict(x, params[3:])])
    mean = 0.6 * logs[0] + 0.4 * logs[1]
    spread2 = 0.6 * (logs[0] - mean) ** 2 + 0.4 * (logs[1] - mean) ** 2
    sd = np.sqrt(0.04**2 + spread2 + (0.08 * np.maximum(np.log(x / 1e4), 0)) ** 2)
    np.testing.assert_allclose(ens.log_band_sd(x, params), sd, rtol=1e-12)
    np.testing.assert_allclose(ens.log_band_sd(x, params, "confidence"), np.sqrt(sd**2 - 0.04**2), rtol=1e-12)

    n = 100_000
    draws = np.exp(mean + sd * np.random.default_rng(3).standard_normal((n, len(x))))
    half = ens.log_halfwidth(x, params, level, "prediction")
    value = ens.predict(x, params)
    np.testing.assert_allclose(value, np.exp(mean), rtol=1e-12)
    coverage = np.mean((value * np.exp(-half) <= draws) & (draws <= value * np.exp(half)), axis=0)
    lo, hi = window(level, n)
    assert np.all((lo <= coverage) & (coverage <= hi)), (coverage, lo, hi)


def test_ensemble_through_a_fit_result_uses_its_band(base_fit):
    ens = Ensemble([("p", Power())], [1.0], band=Band(scatter=0.1, kappa=0.0, x_max=1e5))
    fit = dataclasses.replace(base_fit, law=ens)
    pred = fit.predict([1e3], level=0.95)
    assert pred.method == "ensemble"
    half = float(np.log(pred.upper[0] / pred.value[0]))
    assert half == pytest.approx(1.959964 * 0.1, rel=1e-5)
    assert float(np.log(pred.value[0] / pred.lower[0])) == pytest.approx(half, rel=1e-9)
