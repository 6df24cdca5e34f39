"""Rolling-origin validation of ``law="auto"``: distinct origins, common scoring, honest bands."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scalinglab.fitting import Band, Ensemble, _ensemble_fit, fit_law
from scalinglab.fitting._ensemble_fit import ORIGIN_RATIOS
from scalinglab.fitting._rolling_origin import last_origins, ratio_origins, select_law


def _doubling_curve(n: int, noise: float = 0.01, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A saturating curve measured at sizes doubling from 1,000 (``n`` points)."""
    rng = np.random.default_rng(seed)
    x = 1e3 * 2.0 ** np.arange(n)
    y = 0.1 + 0.9 / (1 + (x / 2e4) ** 0.6)
    return x, y * np.exp(noise * rng.standard_normal(n))


def _strict(fit) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(fit.to_dict(), allow_nan=False)


def test_ratios_that_fall_between_the_same_points_give_distinct_prefixes() -> None:
    x, _ = _doubling_curve(10)
    # x_max / 1.25 and x_max / 2 both keep the first 9 points of a doubling curve.
    assert np.sum(x <= x.max() / 1.25) == np.sum(x <= x.max() / 2) == 9
    assert ratio_origins(x, (1.25, 2.0), need=6) == [x[8]]  # one origin, not the same one twice
    assert ratio_origins(x, (1.25, 4.0), need=6) == [x[8], x[7]]
    # Too short a prefix takes the points the most demanding member needs, if still distinct.
    assert ratio_origins(x, (1.25, 16.0), need=8) == [x[8], x[7]]
    assert ratio_origins(x, (1.25, 16.0), need=9) == [x[8]]
    assert ratio_origins(x, (1.25, 2.0), need=10) == []


def test_origins_count_distinct_x_so_repeated_seeds_stay_together() -> None:
    x = np.repeat(1e3 * 2.0 ** np.arange(8), 3)  # 3 seeds per size
    cuts = ratio_origins(x, (1.25, 4.0), need=5)
    assert len(set(cuts)) == len(cuts) == 2
    for cut in cuts:  # no size is split between a prefix and its forecast
        assert not np.any(np.isin(x[x <= cut], x[x > cut]))
    assert last_origins(x, 3, need=5) == [x[-4], x[-7], x[-10]]


def test_auto_scores_every_member_on_the_same_distinct_origins_of_a_doubling_curve() -> None:
    x, y = _doubling_curve(10)
    fit = fit_law("auto", x, y, eps0=1.0)
    assert isinstance(fit.law, Ensemble) and fit.law.record is not None
    origins = fit.law.record.origins
    # Both ratios keep the first 9 points: one origin; on a curve spaced by 1.5x, two.
    assert [int(np.sum(x <= c)) for c in origins] == [9]
    x15 = 1e3 * 1.5 ** np.arange(12)
    fit15 = fit_law("auto", x15, 0.1 + 0.9 / (1 + (x15 / 2e4) ** 0.6), eps0=1.0)
    assert [int(np.sum(x15 <= c)) for c in fit15.law.record.origins] == [11, 10]  # type: ignore[union-attr]
    assert len(ORIGIN_RATIOS) == 2
    sel = fit.selection
    assert sel is not None and sel["origins"] == list(origins)
    # Every member, M4 (4 parameters) included, has a score from those origins.
    assert all(m["score"] is not None and m["dropped"] is None for m in sel["members"] if m["weight"] > 0)
    assert fit.law.band.validated and fit.law.band.n_errors == 1
    _strict(fit)


def test_a_member_that_cannot_be_scored_is_dropped_and_named() -> None:
    # 6 points: a prefix leaves at most 5 to fit, M4 needs 4 + 2 = 6.
    x, y = _doubling_curve(6)
    fit = fit_law("auto", x, y, eps0=1.0)
    assert isinstance(fit.law, Ensemble) and fit.law.record is not None
    m4 = fit.law.record.member("m4")
    assert m4.weight == 0 and math.isnan(m4.score)
    assert m4.dropped is not None and "not scored" in m4.dropped and "6 points" in m4.dropped
    assert "m4" not in [label for label, _ in fit.law.members]
    sel = fit.selection
    assert sel is not None and "dropped m4 (not scored" in sel["reason"]
    assert next(m for m in sel["members"] if m["label"] == "m4")["score"] is None
    # The members that were scored were scored on the same origin; the band comes from it.
    kept = [m for m in fit.law.record.members if m.weight > 0]
    assert kept and all(math.isfinite(m.score) for m in kept)
    assert fit.law.band.validated and fit.law.band.kappa is not None
    assert '"score": NaN' not in _strict(fit)


def test_without_a_usable_origin_the_band_is_unvalidated_and_open_beyond_the_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every curve of 5 or more usable sizes now has an origin (a prefix of k + 1 points at
    # worst), so the case is made by giving the ensemble no origin at all.
    monkeypatch.setattr(_ensemble_fit, "ratio_origins", lambda *args, **kwargs: [])
    x, y = _doubling_curve(7)
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    fit = fit_law("auto", x, y, eps0=1.0, weights=weights)
    assert isinstance(fit.law, Ensemble) and fit.law.record is not None
    band = fit.law.band
    assert band is not None and not band.validated and band.kappa is None
    assert fit.law.record.origins == ()
    # Nothing was dropped for want of a score: every member that fits is kept, unvalidated.
    kept = [m for m in fit.law.record.members if m.weight > 0]
    assert kept and all(m.dropped is None and math.isnan(m.score) for m in kept)
    assert "dropped" not in fit.selection["reason"]  # type: ignore[index]
    assert any("not validated" in n for n in fit.notes)
    assert "not validated" in fit.selection["reason"]  # type: ignore[index]
    inside = fit.predict(x[:3], level=0.9)
    assert np.all(np.isfinite(inside.upper)) and np.all(inside.lower > 0)
    beyond = fit.predict([x[-1] * 4], level=0.9)
    # Open beyond the data: down to 0, and up to the known bound eps0 = 1 (no further).
    assert beyond.upper[0] == 1.0 and beyond.lower[0] == 0
    doc = _strict(fit)
    assert '"kappa": null' in doc and '"validated": false' in doc


def test_the_band_quantile_follows_the_number_of_forecast_errors() -> None:
    assert Band(0.1, 0.1, 1.0).quantile(0.9) == pytest.approx(1.6449, abs=1e-4)
    assert Band(0.1, 0.1, 1.0, n_errors=1).quantile(0.9) == pytest.approx(6.3138, abs=1e-4)
    assert Band(0.1, 0.1, 1.0, n_errors=3).quantile(0.9) == pytest.approx(2.3534, abs=1e-4)
    with pytest.raises(ValueError, match="'kappa' parameter"):
        Band(0.1, math.nan, 1.0)


def test_the_short_curve_fallback_scores_every_law_on_the_same_origins() -> None:
    # The fallback of curves of fewer than 5 points and of other losses, called directly.
    x = 1e3 * 2.0 ** np.arange(5)
    y = 2.0 * x**-0.2 * (1 + 0.01 * np.array([1, -1, 1, -1, 1]))
    fit = select_law(x, y, None, loss="log", eps0=None)
    sel = fit.selection
    assert sel is not None and sel["method"] == "rolling_origin"
    # power (2 parameters) could use 3 prefixes, power_floor (3) only those of >= 4 points:
    # both are scored on the one prefix of 4 points, so that their scores compare.
    assert sel["origins"] == [x[3]]
    assert all(math.isfinite(v) for v in sel["scores"].values())
    _strict(fit)


def test_a_wide_extrapolation_band_stops_at_the_known_bound_and_says_why() -> None:
    from types import SimpleNamespace

    from scalinglab.cli._analysis import band_evidence

    x, y = _doubling_curve(6, noise=0.02, seed=3)
    fit = fit_law("auto", x, y, eps0=1.0)
    band = fit.law.band
    # One origin (x <= x_max / 2) forecasting one point: kappa rests on one error.
    assert band.n_errors == 1 and band.kappa is not None
    far = fit.predict([64 * x.max()], level=0.9)
    # The t_1 quantile (6.31) makes the band wide: ln(value / lower) > 2 here; its upper
    # edge, which would be above 2, stops at the known bound eps0 = 1.
    assert math.log(far.value[0] / far.lower[0]) > 2.0
    assert far.upper[0] == 1.0 and far.value[0] < 1.0
    # The same curve without eps0 (no known bound): the upper edge is not capped.
    free = fit_law("auto", x, y)
    assert free.law.upper is None and free.predict([64 * x.max()], level=0.9).upper[0] > 2.0
    note = band_evidence(SimpleNamespace(learning_curve=SimpleNamespace(fit=fit)))
    assert note is not None and "rests on 1 rolling-origin forecast error(s)" in note
    # A long curve's rate rests on many errors: no note.
    xl = np.geomspace(1e3, 1e6, 40)
    yl = 0.1 + 0.9 / (1 + (xl / 2e4) ** 0.6)
    long_fit = fit_law("auto", xl, yl, eps0=1.0)
    assert band_evidence(SimpleNamespace(learning_curve=SimpleNamespace(fit=long_fit))) is None


def test_band_rejects_a_bad_rate_or_error_count_in_words() -> None:
    for kappa in (-0.1, math.inf, math.nan):
        with pytest.raises(ValueError) as info:
            Band(0.0, kappa, 1.0)
        assert str(info.value) == ("The 'kappa' parameter of Band must be finite and >= 0, or None "
                                   "(not validated).")
    with pytest.raises(ValueError) as info:
        Band(0.0, 0.1, 1.0, n_errors=0)
    assert str(info.value) == "The 'n_errors' parameter of Band must be >= 1, or None."


def test_an_unvalidated_band_is_open_just_beyond_the_data_and_unchanged_inside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import copy

    monkeypatch.setattr(_ensemble_fit, "ratio_origins", lambda *args, **kwargs: [])  # no origin
    x, y = _doubling_curve(7)
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    fit = fit_law("auto", x, y, eps0=1.0, weights=weights)
    assert fit.law.band.kappa is None
    # Open from the largest x on, not from an e-fold beyond it.
    assert fit.predict([x[-1] * 1.5], level=0.9).lower[0] == 0
    # Inside the data the band is the scatter and the spread alone, as for a validated one.
    validated = copy.copy(fit.law)
    validated.band = Band(fit.law.band.scatter, 0.3, fit.law.band.x_max)
    np.testing.assert_allclose(fit.law.log_band_sd(x[:5], fit.values),
                               validated.log_band_sd(x[:5], fit.values), rtol=1e-12)
