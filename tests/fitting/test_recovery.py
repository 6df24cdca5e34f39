"""Seeded synthetic data with known parameters are recovered within their standard errors."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab.fitting import fit_law
from scalinglab.laws import get_law

X_1D = np.logspace(2, 7, 24)
_n = np.repeat(np.logspace(2, 6, 6), 6)
_m = np.tile(np.logspace(2, 6, 6), 6)
X_2D = np.column_stack([_n, _m])

CASES = [
    ("power", {}, X_1D, [3.0, -0.3], 0.02),
    ("power_floor", {}, X_1D, [3.0, 0.35, 0.05], 0.02),
    ("m3", {}, X_1D, [2.0, 1e-6, -0.3], 0.02),
    ("m4", {"eps0": 1.0}, X_1D, [40.0, -0.45, 1.3, 0.05], 0.01),
    ("envelope", {"eps0": 0.9}, X_1D, [0.5, 0.01, 0.1], 0.01),
    ("bnsl", {}, np.logspace(1, 8, 40), [0.02, 3.0, 0.1, 0.3, 1e4, 0.5], 0.005),
    ("joint", {"eps0": 0.9}, X_2D, [0.6, 3.0, 0.5, 0.005, 0.2], 0.01),
    ("chinchilla", {}, np.column_stack([_n * 1e3, _m * 1e4]), [400.0, 410.0, 1.7, 0.34, 0.28], 0.01),
    ("kaplan", {}, np.column_stack([_n * 1e3, _m * 1e4]), [6.4e13, 1.8e13, 0.076, 0.103], 0.005),
    ("pruning", {}, 0.8 ** np.arange(0, 45), [0.08, 0.9, 2.0, 0.01], 0.01),
]


@pytest.mark.parametrize(("name", "constants", "x", "truth", "noise"), CASES, ids=[c[0] for c in CASES])
def test_parameters_recovered_within_three_standard_errors(name, constants, x, truth, noise):
    law = get_law(name, **constants)
    rng = np.random.default_rng(123)
    y = law.predict(x, truth) * np.exp(noise * rng.standard_normal(len(x)))
    fit = fit_law(law, x, y)
    assert fit.converged, fit.message
    assert np.all(np.isfinite(fit.stderr))
    z = np.abs(fit.values - np.asarray(truth)) / fit.stderr
    assert np.all(z < 3), dict(zip(fit.param_names, z.round(2), strict=True))
    # The residual scale estimates the injected noise.
    assert fit.residual_scale == pytest.approx(noise, rel=0.5)


def test_power_floor_intervals_are_calibrated():
    """95% intervals cover the truth in 90-99% of 200 seeded repetitions, per parameter."""
    law = get_law("power_floor")
    truth = np.array([3.0, 0.35, 0.05])
    x = np.logspace(2, 6, 12)
    clean = law.predict(x, truth)
    covered = np.zeros(3)
    reps = 200
    for seed in range(reps):
        rng = np.random.default_rng(seed)
        fit = fit_law(law, x, clean * np.exp(0.03 * rng.standard_normal(len(x))))
        intervals = fit.intervals(0.95)
        for i, name in enumerate(fit.param_names):
            lo, hi = intervals[name]
            covered[i] += lo <= truth[i] <= hi
    coverage = covered / reps
    assert np.all((coverage >= 0.90) & (coverage <= 0.99)), coverage


def test_prediction_band_covers_new_measurements():
    """The 90% prediction band holds about 90% of fresh noisy points at larger scale."""
    law = get_law("power_floor")
    truth = np.array([3.0, 0.35, 0.05])
    x = np.logspace(2, 5, 12)
    x_new = np.logspace(5.3, 6, 4)
    hits = total = 0
    for seed in range(150):
        rng = np.random.default_rng(1000 + seed)
        fit = fit_law(law, x, law.predict(x, truth) * np.exp(0.03 * rng.standard_normal(len(x))))
        band = fit.predict(x_new, level=0.9)
        y_new = law.predict(x_new, truth) * np.exp(0.03 * rng.standard_normal(len(x_new)))
        hits += int(np.sum((band.lower <= y_new) & (y_new <= band.upper)))
        total += len(x_new)
    assert 0.84 <= hits / total <= 0.96, hits / total
