"""The region rule (analysis/_regions.py) on envelope fits with known parameters: boundaries by
hand, the slope at each boundary, which regions the shards reach, and what the notes say."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from scalinglab.analysis import regions_from_envelope
from scalinglab.fitting import fit_law
from scalinglab.laws import Envelope

EPS0 = 0.9
TRUTH = np.array([0.6, 0.002, 0.05])  # alpha, c_inf, eta
SMALL_END = (0.05 - 0.002) ** (-1 / 0.6)  # 157.6
FLOOR_START = 0.002 ** (-1 / 0.6)  # 31498


@pytest.fixture(scope="module")
def wide_fit():
    law = Envelope(eps0=EPS0)
    x = np.round(2.0 ** np.arange(0, 22))
    rng = np.random.default_rng(0)
    y = law.predict(x, TRUTH) * np.exp(0.005 * rng.standard_normal(len(x)))
    return fit_law(law, x, y)


def _at(fit, values, x=None):
    """The fit with its parameters set to ``values`` (and its shards to ``x``)."""
    changes = {"values": np.asarray(values, dtype=float)}
    log = np.array([p.log for p in fit.law.params])
    theta = changes["values"].copy()
    theta[log] = np.log(theta[log])
    changes["theta"] = theta
    if x is not None:
        changes["x"] = np.asarray(x, dtype=float)
    return dataclasses.replace(fit, **changes)


def _slope_factors(m, alpha, c_inf, eta):
    e = m**-alpha + c_inf
    return eta**2 / (e**2 + eta**2), m**-alpha / (m**-alpha + c_inf)


def test_boundaries_by_hand_and_the_slope_rule(wide_fit):
    r = regions_from_envelope(_at(wide_fit, TRUTH))
    assert r.small_data_end == pytest.approx(SMALL_END, rel=1e-12)
    assert r.irreducible_start == pytest.approx(FLOOR_START, rel=1e-12)
    assert r.exponent == -0.6
    # At each boundary the corresponding factor of the log-log slope is exactly 1/2.
    plateau, _ = _slope_factors(r.small_data_end, *TRUTH)
    _, floor = _slope_factors(r.irreducible_start, *TRUTH)
    assert plateau == pytest.approx(0.5, rel=1e-9) and floor == pytest.approx(0.5, rel=1e-9)
    assert r.observed == {"small_data": True, "power_law": True, "irreducible": True}
    assert r.notes == ()
    assert "eps_tilde = eta" in r.rule and "m^-alpha = c_inf" in r.rule


def test_intervals_hold_the_point_and_widen_with_the_level(wide_fit):
    fit = _at(wide_fit, TRUTH)
    r90, r50 = regions_from_envelope(fit, 0.9), regions_from_envelope(fit, 0.5)
    for name in ("small_data_end", "irreducible_start"):
        point = getattr(r90, name)
        lo90, hi90 = getattr(r90, f"{name}_interval")
        lo50, hi50 = getattr(r50, f"{name}_interval")
        assert lo90 < lo50 < point < hi50 < hi90, (name, lo90, lo50, point, hi50, hi90)
    # From the fit's own parameters the boundaries move to the fitted values, intervals with them.
    r = regions_from_envelope(wide_fit)
    alpha, c_inf, eta = wide_fit.values
    assert r.irreducible_start == pytest.approx(c_inf ** (-1 / alpha), rel=1e-12)
    assert r.small_data_end == pytest.approx((eta - c_inf) ** (-1 / alpha), rel=1e-12)
    assert r.irreducible_start_interval[0] < r.irreducible_start < r.irreducible_start_interval[1]


def test_shards_past_the_plateau_and_short_of_the_floor(wide_fit):
    x = np.round(2.0 ** np.arange(9, 14))  # 512 .. 8192
    r = regions_from_envelope(_at(wide_fit, TRUTH, x))
    assert r.observed == {"small_data": False, "power_law": True, "irreducible": False}
    assert r.notes == (
        "no shard lies in the small-data region: the smallest shard (512) is already past its "
        "end (157.7); add smaller shards to see the plateau",
        "no shard reaches the irreducible-error region (predicted to begin at 3.15e+04; the "
        "largest shard is 8192)",
    )


def test_no_floor_and_no_plateau(wide_fit):
    # c_inf = 0: no irreducible region at all; eta <= c_inf: no small-data region.
    r = regions_from_envelope(_at(wide_fit, [0.6, 0.0, 0.05]))
    assert math.isinf(r.irreducible_start) and r.irreducible_start > 0
    assert not r.observed["irreducible"]
    assert r.notes[-1] == ("no shard reaches the irreducible-error region (no floor was fitted; "
                           "the largest shard is 2.097e+06)")
    r = regions_from_envelope(_at(wide_fit, [0.6, 0.06, 0.05]))
    assert math.isnan(r.small_data_end) and not r.observed["small_data"]
    assert r.notes[0] == ("no shard lies in the small-data region: the smallest shard (1) is "
                          "already past its end; add smaller shards to see the plateau")
    assert r.irreducible_start == pytest.approx(0.06 ** (-1 / 0.6))


def test_all_shards_on_the_floor_see_no_power_law(wide_fit):
    x = np.round(2.0 ** np.arange(16, 20))  # 65536 .. 524288, past the floor's start
    r = regions_from_envelope(_at(wide_fit, TRUTH, x))
    assert r.observed == {"small_data": False, "power_law": False, "irreducible": True}
    assert "no shard lies in the power-law region" in r.notes
    x = np.round(2.0 ** np.arange(0, 6))  # 1 .. 32: plateau and power law, no floor
    r = regions_from_envelope(_at(wide_fit, TRUTH, x))
    assert r.observed == {"small_data": True, "power_law": False, "irreducible": False}


def test_zero_exponent_has_no_boundaries(wide_fit):
    # Draws around alpha = 0 include tiny exponents whose boundaries overflow: inf, not a crash.
    r = regions_from_envelope(_at(wide_fit, [0.0, 0.002, 0.05]))
    assert math.isnan(r.small_data_end) and math.isnan(r.irreducible_start)
    assert r.irreducible_start_interval[1] == math.inf


def test_to_dict_and_refusal(wide_fit):
    r = regions_from_envelope(_at(wide_fit, TRUTH))
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["small_data_end"] == pytest.approx(SMALL_END)
    assert d["irreducible_start"] == pytest.approx(FLOOR_START)
    assert d["small_data_end_interval"] == list(r.small_data_end_interval)
    assert d["irreducible_start_interval"] == list(r.irreducible_start_interval)
    assert d["power_law_exponent"] == -0.6 and d["notes"] == [] and d["rule"] == r.rule
    assert d["observed"] == r.observed
    with pytest.raises(ValueError, match="regions need an envelope fit; got 'power_floor'"):
        regions_from_envelope(fit_law("power_floor", wide_fit.x, wide_fit.y))


@pytest.mark.parametrize("level", [0.9, 0.5])
def test_boundary_intervals_hold_their_level_of_the_parameter_distribution(wide_fit, level):
    """Each interval's ends are the (1 - level)/2 and (1 + level)/2 quantiles of the boundary
    over parameter draws: checked on 20000 independent draws from N(theta, C) in fitted units.
    The window is 4 sd of the rule's own 2000-draw quantile plus 3 sd of ours; a wrong quantile
    such as 0.5 - level/3 is 0.15 (level 0.9) or 0.083 (level 0.5) away, outside it."""
    r = regions_from_envelope(wide_fit, level=level)
    log = np.array([p.log for p in wide_fit.law.params])
    theta = np.random.default_rng(12345).multivariate_normal(
        wide_fit.theta, np.nan_to_num(wide_fit.cov_theta), size=20000, method="svd")
    alpha, c_inf, eta = np.where(log, np.exp(theta), theta).T
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        small = np.where(eta > c_inf, (eta - c_inf) ** (-1 / alpha), np.inf)
        floor = np.where(c_inf > 0, c_inf ** (-1 / alpha), np.inf)
    tail = (1 - level) / 2
    window = 4 * math.sqrt(tail * (1 - tail) / 2000) + 3 * math.sqrt(tail * (1 - tail) / 20000)
    for values, (lo, hi) in ((small, r.small_data_end_interval), (floor, r.irreducible_start_interval)):
        assert lo < hi
        assert np.mean(values < lo) == pytest.approx(tail, abs=window)
        assert np.mean(values > hi) == pytest.approx(tail, abs=window)
