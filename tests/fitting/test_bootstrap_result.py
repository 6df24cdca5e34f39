"""What a BootstrapResult reports from its resampled parameters, against numpy by hand.

The samples are stated, not refitted (the refits are tested in test_fit_behaviour.py and
test_auto.py), so every number can be checked exactly and the file runs in a second.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.fitting import BootstrapResult, bootstrap, fit_law

X = np.array([100, 200, 400, 800, 1600, 3200, 6400.0])
Y = (0.5 * X**-0.3 + 0.1) * np.exp(0.01 * np.sin(np.arange(7)))


@pytest.fixture(scope="module")
def result() -> BootstrapResult:
    fit = fit_law("power_floor", X, Y)
    rng = np.random.default_rng(5)
    # Skewed draws around the fit, so the percentiles are not symmetric about the centre.
    samples = fit.values * np.exp(np.column_stack([0.05 * rng.standard_normal(400),
                                                   0.1 * rng.gamma(2.0, 1.0, 400) - 0.2,
                                                   0.03 * rng.standard_normal(400)]))
    return BootstrapResult(fit=fit, samples=samples, n_requested=410, n_failed=10)


def test_standard_errors_are_the_sample_sd(result):
    sd = np.std(result.samples, axis=0, ddof=1)
    assert result.standard_errors == dict(zip(("a", "b", "c"), sd.tolist(), strict=True))
    assert all(isinstance(v, float) for v in result.standard_errors.values())


@pytest.mark.parametrize("level", [0.5, 0.8, 0.95])
def test_intervals_are_the_percentiles(result, level):
    lo = np.quantile(result.samples, 0.5 - level / 2, axis=0)
    hi = np.quantile(result.samples, 0.5 + level / 2, axis=0)
    assert result.intervals(level) == {n: (float(a), float(b))
                                       for n, a, b in zip(("a", "b", "c"), lo, hi, strict=True)}
    assert result.intervals() == result.intervals(0.95)  # the default level
    # A wider level gives a wider interval.
    assert all(result.intervals(0.99)[n][0] < lo_ for n, lo_ in zip("abc", lo, strict=True))


def test_predict_is_the_percentile_band_of_the_curves(result):
    x = np.array([50.0, 1000.0, 1e5])
    law = result.fit.law
    curves = np.array([law.predict(x, p) for p in result.samples])
    band = result.predict(x, level=0.8)
    np.testing.assert_array_equal(band.lower, np.nanquantile(curves, 0.1, axis=0))
    np.testing.assert_array_equal(band.upper, np.nanquantile(curves, 0.9, axis=0))
    np.testing.assert_array_equal(band.value, law.predict(x, result.fit.values))
    np.testing.assert_array_equal(band.x, x)
    assert (band.level, band.method, band.interval) == (0.8, "bootstrap", "confidence")
    assert np.all(band.lower < band.value) and np.all(band.value < band.upper)
    default = result.predict(x)
    assert default.level == 0.9
    np.testing.assert_array_equal(default.lower, np.nanquantile(curves, 0.05, axis=0))


def test_to_dict_holds_counts_errors_and_intervals(result):
    d = result.to_dict(level=0.8)
    json.dumps(d, allow_nan=False)
    assert d == {
        "n_requested": 410, "n_failed": 10, "stderr": result.standard_errors,
        "intervals": {k: list(v) for k, v in result.intervals(0.8).items()}, "interval_level": 0.8,
    }
    assert result.to_dict()["interval_level"] == 0.95
    assert result.to_dict()["intervals"] == {k: list(v) for k, v in result.intervals(0.95).items()}


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1])
def test_levels_outside_zero_one_are_refused(result, level):
    message = f"The 'level' parameter must be in (0, 1). Got {level!r} instead."
    with pytest.raises(InputError) as info:
        result.intervals(level)
    assert str(info.value) == message
    with pytest.raises(InputError):
        result.predict([100.0], level=level)


@pytest.mark.parametrize("n", [1, 0, 2.0, "10"])
def test_bootstrap_needs_at_least_two_resamples(result, n):
    with pytest.raises(InputError) as info:
        bootstrap(result.fit, n=n)
    assert str(info.value) == f"The 'n' parameter of bootstrap must be an int >= 2. Got {n!r} instead."
    with pytest.raises(InputError):
        result.fit.bootstrap(n=n)


def test_two_resamples_are_enough_and_refits_keep_fixed_parameters():
    fit = fit_law("power_floor", X, Y, fixed={"c": 0.1})
    boot = bootstrap(fit, n=2, seed=3)
    assert boot.n_requested == 2 and boot.samples.shape[1] == 3
    assert np.all(boot.samples[:, 2] == 0.1)  # the held parameter stays held in every refit
    same = fit.bootstrap(n=2, seed=3)
    np.testing.assert_array_equal(same.samples, boot.samples)
    assert not np.array_equal(fit.bootstrap(n=2, seed=4).samples, boot.samples)


def test_the_bootstrap_refits_under_the_fits_own_loss_and_huber_delta() -> None:
    # A power law with one outlier (x 1.6): the Huber fit with delta 0.02 (log units) shrugs
    # it off, the log loss does not, and a Huber delta of 1.0 is the log loss here.
    from scalinglab import fit_law

    rng = np.random.default_rng(0)
    x = np.geomspace(1e2, 1e5, 14)
    y = 2.0 * x**-0.3 * np.exp(0.01 * rng.standard_normal(14))
    y[5] *= 1.6
    robust = fit_law("power", x, y, loss="huber", huber_delta=0.02)
    plain = fit_law("power", x, y, loss="log")
    wide = fit_law("power", x, y, loss="huber", huber_delta=1.0)
    assert abs(robust.params["a"] - 2.0) < 0.06 < abs(plain.params["a"] - 2.0)
    b_robust, b_plain, b_wide = (f.bootstrap(60, seed=0) for f in (robust, plain, wide))
    # Refitted under the Huber loss, the resamples stay near the robust fit...
    assert abs(np.median(b_robust.samples[:, 0]) - robust.params["a"]) < 0.02
    assert abs(np.median(b_plain.samples[:, 0]) - plain.params["a"]) < 0.05
    # ... and with delta 1.0 (every residual inside it) they are the log loss's refits.
    np.testing.assert_allclose(b_wide.samples, b_plain.samples, rtol=1e-5, atol=1e-7)
