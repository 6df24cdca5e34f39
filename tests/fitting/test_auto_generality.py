"""``law="auto"`` beyond the benchmark's curves: short curves, long trajectories, odd data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab._errors import InputError
from scalinglab.fitting import fit_law
from scalinglab.fitting._ensemble_fit import LONG_CURVE_BINS, LONG_CURVE_POINTS, bin_curve


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
