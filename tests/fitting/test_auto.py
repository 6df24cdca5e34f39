"""``law="auto"``: the validated geometric-mean ensemble and its band."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from scalinglab.fitting import Ensemble, fit_law
from scalinglab.fitting._batched_lm import batch_fit


def _bending_curve(n: int = 12, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An M4-like curve: leaves the plateau at 1, approaches a floor of 0.1."""
    rng = np.random.default_rng(seed)
    x = np.logspace(3, 6, n)
    y = 0.1 + 0.9 / (1 + (x / 2e4) ** 0.6)
    return x, y * np.exp(noise * rng.standard_normal(n))


def test_auto_returns_an_ensemble_with_reasons() -> None:
    x, y = _bending_curve()
    fit = fit_law("auto", x, y, eps0=1.0)
    assert isinstance(fit.law, Ensemble)
    sel = fit.selection
    assert sel is not None and sel["method"] == "ensemble" and sel["reason"]
    kept = [m for m in sel["members"] if m["weight"] > 0]
    assert kept and sum(m["weight"] for m in kept) == pytest.approx(1.0)
    json.dumps(fit.to_dict())  # JSON-able
    assert fit.rmsle < 0.02


def test_auto_extrapolates_a_clean_saturating_curve() -> None:
    x, y = _bending_curve(n=16)
    fit = fit_law("auto", x[:10], y[:10], eps0=1.0)
    pred = fit.predict(x[10:], level=0.9)
    err = np.abs(np.log(pred.value) - np.log(y[10:]))
    assert np.max(err) < 0.05
    assert pred.method == "ensemble"
    assert np.all(pred.lower < pred.value) and np.all(pred.value < pred.upper)
    # The band widens with every step of extrapolation distance (kappa > 0 beyond x_max).
    width = np.log(pred.upper / pred.lower)
    assert np.all(np.diff(width) > 0), width
    assert fit.law.band.kappa > 0


def test_ensemble_predict_matches_geometric_mean_of_members() -> None:
    x, y = _bending_curve(noise=0.01)
    fit = fit_law("auto", x, y, eps0=1.0)
    law = fit.law
    assert isinstance(law, Ensemble)
    logs = [np.log(m.predict(x, p)) for (_, m), p in zip(law.members, law.split(fit.values), strict=True)]
    expected = np.exp(np.average(logs, axis=0, weights=law.weights))
    # A known bound caps the prediction: no error above random guessing.
    np.testing.assert_allclose(fit.predict(x).value, np.minimum(expected, 1.0), rtol=1e-10)
    assert np.all(fit.predict(np.logspace(0, 9, 50)).value <= 1.0)


def test_unknown_bound_is_stated() -> None:
    x = np.logspace(5, 9, 10)
    y = 3.0 * x**-0.1 + 0.3  # a log-perplexity-like loss, not bounded by 1
    fit = fit_law("auto", x, y)
    assert fit.selection is not None and fit.selection["eps0_assumed"] is True
    assert any("no eps0 given" in n for n in fit.notes)


@pytest.mark.filterwarnings("ignore::scalinglab._errors.ConvergenceWarning")  # the floor of a pure power law
def test_other_losses_fall_back_to_one_law() -> None:
    x = np.array([1e3, 1e4, 1e5, 1e6])
    y = 2.0 * x**-0.2
    fit = fit_law("auto", x, y, loss="huber")
    assert fit.selection is not None and fit.selection["method"] == "rolling_origin"
    # the same 4 points under the log loss get the short-curve ensemble
    fit = fit_law("auto", x, y)
    assert fit.selection is not None and fit.selection["method"] == "ensemble"


def test_batched_fit_recovers_m4() -> None:
    x = np.logspace(3, 7, 20)
    from scalinglab.laws import M4

    law = M4(eps0=1.0)
    truth = np.array([5.0, -0.5, 1.5, 0.05])
    y = law.predict(x, truth)
    bf = batch_fit("m4", x, y, np.ones((1, len(x))), 1.0)
    np.testing.assert_allclose(law.predict(x, bf.law_values(0)), y, rtol=1e-6)


def test_bootstrap_of_an_ensemble_refits_its_members() -> None:
    x, y = _bending_curve(n=12, noise=0.01)
    fit = fit_law("auto", x, y, eps0=1.0)
    boot = fit.bootstrap(n=200, seed=1)
    assert boot.samples.shape == (200 - boot.n_failed, fit.law.n_params)
    assert boot.n_failed <= 10
    assert all(np.isfinite(v) for v in boot.standard_errors.values())
    band = boot.predict(x, level=0.9)
    assert band.method == "bootstrap"
    # The percentile band holds the ensemble's own curve and is a narrow one: 12 clean points.
    assert np.all(band.lower <= band.value * (1 + 1e-9)) and np.all(band.value <= band.upper * (1 + 1e-9))
    assert np.max(np.log(band.upper / band.lower)) < 0.2
    # Repeatable for a given seed.
    np.testing.assert_array_equal(fit.bootstrap(n=200, seed=1).samples, boot.samples)


def test_bootstrap_of_an_ensemble_honours_n_jobs() -> None:
    x, y = _bending_curve(n=12, noise=0.01)
    fit = fit_law("auto", x, y, eps0=1.0)
    serial = fit.bootstrap(n=60, seed=2)
    parallel = fit.bootstrap(n=60, seed=2, n_jobs=2)
    np.testing.assert_array_equal(parallel.samples, serial.samples)
    assert parallel.n_failed == serial.n_failed


def test_bootstrap_of_a_hand_made_ensemble_says_it_cannot_refit() -> None:
    from scalinglab import InputError
    from scalinglab.fitting import bootstrap
    from scalinglab.laws import PowerFloor

    x, y = _bending_curve(n=12, noise=0.01)
    fit = fit_law("auto", x, y, eps0=1.0)
    bare = Ensemble([("p", PowerFloor())], [1.0])
    fake = dataclasses.replace(fit, law=bare, values=fit.values[:3], theta=fit.theta[:3])
    with pytest.raises(InputError, match="assembled by hand"):
        bootstrap(fake, n=10)


def test_the_ensemble_record_is_typed_and_matches_selection() -> None:
    x, y = _bending_curve(n=12, noise=0.01)
    fit = fit_law("auto", x, y, eps0=1.0)
    assert isinstance(fit.law, Ensemble) and fit.law.record is not None
    record = fit.law.record
    kept = [m.label for m in record.members if m.weight > 0]
    assert kept == [label for label, _ in fit.law.members]
    assert fit.selection == record.selection(fit.law.band)
    assert record.eps0 == 1.0 and record.eps0_assumed is False


def test_bootstrap_of_an_ensemble_rejects_a_bad_n() -> None:
    from scalinglab import InputError

    x, y = _bending_curve(n=12, noise=0.01)
    fit = fit_law("auto", x, y, eps0=1.0)
    with pytest.raises(InputError, match="'n' parameter"):
        fit.bootstrap(n=1)


def test_inverse_of_an_ensemble_undoes_predict() -> None:
    x, y = _bending_curve(n=12, noise=0.01)
    fit = fit_law("auto", x, y, eps0=1.0)
    assert isinstance(fit.law, Ensemble)
    for x0 in (3e4, 5e5, 2e6):  # inside the data and beyond it
        target = fit.predict([x0]).value
        inv = fit.inverse(target, level=0.9)
        assert bool(inv.feasible[0])
        assert inv.value[0] == pytest.approx(x0, rel=1e-4)
        # The band of the inverse contains x0 and comes from the confidence band's crossings.
        assert inv.lower[0] <= x0 <= inv.upper[0]
        band = fit.predict([inv.lower[0], inv.upper[0]], level=0.9, interval="confidence")
        if np.isfinite(inv.upper[0]):
            assert band.upper[1] == pytest.approx(target[0], rel=1e-3)
        assert band.lower[0] == pytest.approx(target[0], rel=1e-3)


def test_a_steep_member_reports_the_curve_it_fitted() -> None:
    # A narrow range of x (0.14 in ln x) with a steep fall: the exponent runs into its cap
    # (MAX_EXPONENT). The law each member reports must be the curve it fitted; before the
    # cap applied inside the fit too, the prefactor was rescaled with the uncapped exponent
    # and the ensemble predicted millions where the points are 0.7.
    x = np.geomspace(1557.0, 2137.0, 25)
    y = 0.677 + 0.09 * (x / 1557.0) ** -25.0
    fit = fit_law("auto", x, y, eps0=None)
    assert fit.selection is not None and fit.selection["method"] == "ensemble"
    pred = fit.predict(np.array([x[-1], 4 * x[-1]])).value
    assert abs(math.log(pred[0] / y[-1])) < 0.02
    assert 0.5 < pred[1] < 0.75
