"""What a fit result writes out (to_dict, repr, Prediction/Inversion.to_dict) and the
ensemble's band formula, through the public API only (scalinglab.fitting, scalinglab.laws).

Each value is checked against the fit's own attributes, so a dropped or renamed key, a wrong
level, or a non-finite number written as anything but ``null`` fails.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scalinglab.fitting import fit_law

X = np.array([100, 200, 400, 800, 1600, 3200, 6400.0])
Y = (0.5 * X**-0.3 + 0.1) * np.exp(0.01 * np.sin(np.arange(7)))


@pytest.fixture(scope="module")
def fit():
    return fit_law("power_floor", X, Y)


def test_to_dict_holds_every_field_of_the_fit(fit):
    d = fit.to_dict(level=0.8)
    json.dumps(d, allow_nan=False)  # strict JSON
    assert list(d) == ["law", "constants", "loss", "params", "stderr", "intervals", "interval_level",
                       "fixed", "converged", "message", "notes", "n_points", "dof", "rmsle",
                       "divergence_mean", "divergence_std", "floor", "selection"]
    assert d["law"] == "power_floor" and d["constants"] == {} and d["loss"] == "log"
    assert d["params"] == fit.params and list(d["params"]) == ["a", "b", "c"]
    assert d["stderr"] == dict(zip(fit.param_names, fit.stderr.tolist(), strict=True))
    assert d["intervals"] == {k: list(v) for k, v in fit.intervals(0.8).items()}
    assert d["intervals"] != {k: list(v) for k, v in fit.intervals(0.95).items()}
    assert d["interval_level"] == 0.8 and fit.to_dict()["interval_level"] == 0.95
    assert d["fixed"] == {} and d["converged"] is True and d["message"] == fit.message
    assert d["notes"] == list(fit.notes) and d["n_points"] == 7 and d["dof"] == 4
    assert d["rmsle"] == fit.rmsle and d["floor"] == fit.floor == fit.params["c"]
    assert d["divergence_mean"] == fit.divergence_mean and d["divergence_std"] == fit.divergence_std
    assert d["selection"] is None
    held = fit_law("power_floor", X, Y, fixed={"c": 0.1}).to_dict()
    assert held["fixed"] == {"c": 0.1} and held["params"]["c"] == 0.1
    assert held["stderr"]["c"] is None or held["stderr"]["c"] == 0.0  # nan is written as null
    json.dumps(held, allow_nan=False)


def test_to_dict_of_a_law_with_constants_and_of_a_selection():
    eps0 = fit_law("m4", X, Y, eps0=0.9).to_dict()
    assert eps0["constants"] == {"eps0": 0.9} and eps0["law"] == "m4"
    auto = fit_law("auto", X, Y).to_dict()
    assert auto["law"] == "ensemble" and isinstance(auto["selection"], dict)
    json.dumps(auto, allow_nan=False)


def test_repr_names_law_parameters_state_size_and_error(fit):
    p = fit.params
    assert repr(fit) == (f"FitResult(power_floor: a={p['a']:.4g}, b={p['b']:.4g}, c={p['c']:.4g}; "
                         f"converged, n=7, rmsle={fit.rmsle:.3g})")
    stuck = fit_law("power_floor", X, Y, max_nfev=1, n_starts=1)
    assert not stuck.converged and "; NOT converged, n=7, rmsle=" in repr(stuck)


def test_prediction_to_dict(fit):
    band = fit.predict([1000.0, 1e9], level=0.8, interval="confidence")
    d = band.to_dict()
    assert list(d) == ["x", "value", "lower", "upper", "level", "method", "interval"]
    assert d["x"] == [1000.0, 1e9] and d["value"] == band.value.tolist()
    assert d["lower"] == band.lower.tolist() and d["upper"] == band.upper.tolist()
    assert d["lower"][0] < d["value"][0] < d["upper"][0]
    assert d["level"] == 0.8 and d["method"] == "delta" and d["interval"] == "confidence"
    assert fit.predict([1000.0]).to_dict()["interval"] == "prediction"
    assert fit_law("auto", X, Y).predict([1000.0]).to_dict()["method"] == "ensemble"


def test_inversion_to_dict_writes_unreachable_targets_as_null(fit):
    inv = fit.inverse([0.2, 0.05], level=0.8)
    d = inv.to_dict()
    json.dumps(d, allow_nan=False)
    assert list(d) == ["target", "value", "lower", "upper", "level", "feasible", "reason"]
    assert d["target"] == [0.2, 0.05] and d["level"] == 0.8
    assert d["value"][0] == pytest.approx(float(inv.value[0])) and d["value"][1] is None
    assert d["lower"][0] < d["value"][0] < d["upper"][0] and d["lower"][1] is None is d["upper"][1]
    assert d["feasible"] == [True, False] and all(type(v) is bool for v in d["feasible"])
    assert d["reason"] == inv.reason and "[0.05] is not reachable" in d["reason"]
    assert fit.inverse([0.2]).to_dict()["reason"] is None


def test_ensemble_band_sd_is_member_spread_plus_extrapolation_plus_scatter():
    auto = fit_law("auto", X, Y)
    law, params = auto.law, auto.values
    band = law.band
    assert band.x_max == pytest.approx(X.max())
    inside, beyond = np.array([200.0, 3000.0]), np.array([X.max() * 100])
    conf_in = law.log_band_sd(inside, params, interval="confidence")
    pred_in = law.log_band_sd(inside, params, interval="prediction")
    np.testing.assert_allclose(pred_in**2 - conf_in**2, band.scatter**2, rtol=1e-9, atol=1e-15)
    # Inside the data the confidence band is the members' weighted spread alone.
    logs = law.member_log_predictions(inside, params)
    mean = law.weights @ logs
    np.testing.assert_allclose(conf_in**2, law.weights @ (logs - mean) ** 2, rtol=1e-9, atol=1e-15)
    assert np.all(conf_in > 0)
    assert band.scatter > 0
    conf_out = law.log_band_sd(beyond, params, interval="confidence")
    logs = law.member_log_predictions(beyond, params)
    spread2 = law.weights @ (logs - law.weights @ logs) ** 2
    np.testing.assert_allclose(conf_out**2, spread2 + (band.kappa * math.log(100)) ** 2, rtol=1e-9)
    assert band.kappa > 0
    # The default interval is the prediction band.
    np.testing.assert_array_equal(law.log_band_sd(inside, params), pred_in)
    # The half-width is Student's t quantile at 0.5 + level/2, with as many degrees of freedom
    # as the rolling-origin forecast errors behind kappa, times the sd.
    from scipy.stats import t

    half = law.log_halfwidth(inside, params, 0.9, "prediction")
    assert band.n_errors is not None and band.n_errors >= 1
    np.testing.assert_allclose(half, t.ppf(0.95, band.n_errors) * pred_in, rtol=1e-10)
    half = law.log_halfwidth(beyond, params, 0.8, "confidence")
    np.testing.assert_allclose(half, t.ppf(0.9, band.n_errors) * conf_out, rtol=1e-10)


def test_a_hand_made_ensemble_without_a_band_is_its_members_spread():
    from scalinglab.fitting import Ensemble
    from scalinglab.laws import Power

    law = Ensemble([("p", Power()), ("q", Power())], [1.0, 3.0])
    params = [2.0, -0.3, 1.0, -0.2]
    x = np.array([10.0, 1e3, 1e6])
    logs = np.log(np.array([2.0 * x**-0.3, 1.0 * x**-0.2]))
    spread = np.sqrt(np.array([0.25, 0.75]) @ (logs - np.array([0.25, 0.75]) @ logs) ** 2)
    for interval in ("prediction", "confidence"):  # no scatter and no extrapolation term
        np.testing.assert_allclose(law.log_band_sd(x, params, interval=interval), spread, rtol=1e-12)
    # A member that cannot be logged (a negative prediction) makes the band infinite, not zero.
    assert np.all(law.log_band_sd(x, [2.0, -0.3, -1.0, -0.2]) == np.inf)
    # A member without a floor (a pure power law's is 0) gives the ensemble none, quietly.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert law.floor(params) == 0.0


def test_bad_level_and_interval_are_refused_with_the_fix(fit):
    from scalinglab import InputError

    for level in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(InputError) as info:
            fit.predict([1000.0], level=level)
        assert str(info.value) == f"The 'level' parameter must be in (0, 1). Got {level!r} instead."
        with pytest.raises(InputError):
            fit.intervals(level)
        with pytest.raises(InputError):
            fit.inverse([0.2], level=level)
    with pytest.raises(InputError) as info:
        fit.predict([1000.0], interval="band")
    assert str(info.value) == ("The 'interval' parameter of FitResult.predict must be 'prediction' "
                               "or 'confidence'. Got 'band' instead.")
    assert fit.inverse([0.05]).reason == (
        f"target [0.05] is not reachable: the fitted power_floor law approaches a floor of "
        f"{fit.floor:.4g}; ask for a target above the floor")


def test_ensemble_checks_members_and_weights_and_keeps_member_bounds():
    from scalinglab.laws import Power, PowerFloor

    ensemble = type(fit_law("auto", X, Y).law)  # the law="auto" ensemble's class
    members = [("p", Power()), ("f", PowerFloor())]
    with pytest.raises(ValueError, match=r"^The 'members' parameter of Ensemble must not be empty\.$"):
        ensemble([], [])
    for weights in ([1.0, -0.5], [0.0, 0.0], [1.0]):
        with pytest.raises(ValueError, match=r"^The 'weights' parameter of Ensemble must be >= 0, one per member\.$"):
            ensemble(members, weights)
    law = ensemble(members, [1.0, 3.0])
    assert law.weights.tolist() == [0.25, 0.75]
    expected = [(f"{label}.{p.name}", p.lower, p.upper, p.log) for label, m in members for p in m.params]
    assert [(p.name, p.lower, p.upper, p.log) for p in law.params] == expected
    # A member without a floor (a pure power law) makes the ensemble's floor 0; with floors
    # everywhere it is their weighted geometric mean.
    pure = np.array([1.0, 0.5])
    assert law.floor(np.concatenate([pure, [1.0, 0.5, 0.1]])) == 0.0
    both = ensemble([("f", PowerFloor()), ("g", PowerFloor())], [1.0, 3.0])
    assert both.floor([1.0, 0.5, 0.1, 1.0, 0.5, 0.4]) == pytest.approx(0.1**0.25 * 0.4**0.75)


def test_ensemble_without_a_band_has_the_member_spread_alone_and_starts_from_its_members():
    from scalinglab.laws import PowerFloor

    ensemble = type(fit_law("auto", X, Y).law)
    members = [("f", PowerFloor()), ("g", PowerFloor())]
    law = ensemble(members, [1.0, 1.0])  # no band
    params = [1.0, 0.5, 0.1, 2.0, 0.4, 0.1]
    x = np.array([100.0, 1e6])
    logs = law.member_log_predictions(x, params)
    spread = np.sqrt(law.weights @ (logs - law.weights @ logs) ** 2)
    for interval in ("prediction", "confidence"):  # no scatter, no extrapolation term
        np.testing.assert_allclose(law.log_band_sd(x, params, interval=interval), spread, rtol=1e-12)
    # The starting point is every member's best start, in member order.
    start = law.starts(X, Y)
    assert len(start) == 1
    np.testing.assert_array_equal(start[0], np.concatenate([m.starts(X, Y)[0] for _, m in members]))



def test_the_selection_of_auto_records_every_member_and_the_band():
    auto = fit_law("auto", X, Y)
    law, sel = auto.law, auto.selection
    assert list(sel) == ["method", "winner", "members", "scores", "origins", "eps0", "eps0_assumed",
                         "band", "user_weights", "reason"]
    assert sel["method"] == "ensemble" and sel["winner"] == "ensemble"
    band = law.band
    assert sel["band"] == {"scatter": band.scatter, "kappa": band.kappa, "x_max": band.x_max,
                           "validated": band.validated, "n_errors": band.n_errors,
                           "kappa_source": "own", "dof": None}
    assert sel["user_weights"] is None and sel["reason"] == law.record.reason
    assert len(sel["members"]) == len(law.record.members) >= 2
    for entry, member in zip(sel["members"], law.record.members, strict=True):
        assert list(entry) == ["label", "law", "recency", "weight", "score", "dropped", "params"]
        assert (entry["label"], entry["law"], entry["recency"], entry["weight"], entry["dropped"]) == (
            member.label, member.form, member.recency, member.weight, member.dropped)
        assert entry["score"] == (member.score if math.isfinite(member.score) else None)
        assert entry["params"] == {k: (v if math.isfinite(v) else None) for k, v in member.params.items()}
    weights = np.linspace(1.0, 2.0, len(X))
    weighted = fit_law("auto", X, Y, weights=weights).selection
    np.testing.assert_allclose(weighted["user_weights"], weights)


def test_a_hand_made_ensemble_keeps_descriptions_zero_weights_and_its_name():
    from scalinglab.fitting import Ensemble, Prediction
    from scalinglab.laws import Power, PowerFloor

    law = Ensemble([("p", Power()), ("f", PowerFloor())], [1.0, 0.0])  # a dropped member weighs 0
    assert law.weights.tolist() == [1.0, 0.0]
    assert [p.description for p in law.params] == [p.description for p in (*Power().params, *PowerFloor().params)]
    with pytest.raises(ValueError, match="law 'ensemble' has 5 parameters; got 4"):
        law.split([1.0, -0.3, 1.0, -0.3])
    # Members whose prediction is 0 or negative have no logarithm: -inf and nan, quietly.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logs = law.member_log_predictions(np.array([10.0, 100.0]), [0.0, -0.3, -1.0, 0.3, 0.0])
    assert np.all(logs[0] == -np.inf) and np.all(np.isnan(logs[1]))
    p = Prediction.of([1.0], [2.0], [1.5], [2.5], 0.9, "delta")
    assert p.interval == "prediction" and not p.value.flags.writeable


def test_default_interval_level_and_one_degree_of_freedom():
    from scipy.stats import t as student_t

    fit = fit_law("power_floor", X, Y)
    assert fit.intervals() == fit.intervals(0.95)
    three = fit_law("power", X[:3], 0.5 * X[:3] ** -0.3 * np.array([1.01, 0.99, 1.0]))
    assert three.dof == 1
    b = three.param_names.index("b")
    lo, hi = three.intervals(0.95)["b"]
    q = student_t.ppf(0.975, 1)  # 12.7: with one degree of freedom the t quantile is wide
    assert (hi - lo) / 2 == pytest.approx(q * three.stderr[b], rel=1e-9)


def test_the_quality_figures_and_covariance_are_recomputed_from_the_data(fit):
    """RMSLE and Rosenfeld's divergence from the law at the data by hand, the covariance in
    natural units by the delta method (d value / d theta = value for a log parameter)."""
    pred = fit.law.predict(fit.x, fit.values)
    assert fit.rmsle == pytest.approx(float(np.sqrt(np.mean(np.log(pred / Y) ** 2))), rel=1e-12)
    divergence = (pred - Y) / Y
    assert fit.divergence_mean == pytest.approx(float(np.mean(divergence)), rel=1e-12, abs=1e-15)
    assert fit.divergence_std == pytest.approx(float(np.std(divergence)), rel=1e-12)
    scale = np.array([v if p.log else 1.0 for p, v in zip(fit.law.params, fit.values, strict=True)])
    assert any(p.log for p in fit.law.params) and not all(p.log for p in fit.law.params)
    np.testing.assert_allclose(fit.cov, fit.cov_theta * np.outer(scale, scale), rtol=1e-12)
    np.testing.assert_allclose(fit.stderr, np.sqrt(np.diag(fit.cov)), rtol=1e-12)
    assert fit.cost > 0 and isinstance(fit.cost, float)
    tuned = fit_law("power_floor", X, Y, loss="huber", huber_delta=0.02, n_starts=3)
    assert (tuned.huber_delta, tuned.n_starts, tuned.loss) == (0.02, 3, "huber")
