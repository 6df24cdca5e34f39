"""FitResult.inverse: the band's ends are where the confidence band at the asked level crosses
the target; targets past the data and laws with a plateau; what it says when it cannot.
"""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.fitting import fit_law

X = np.array([100, 200, 400, 800, 1600, 3200, 6400.0])
Y = (0.5 * X**-0.3 + 0.1) * np.exp(0.01 * np.sin(np.arange(7)))


@pytest.fixture(scope="module")
def fit():
    return fit_law("power_floor", X, Y)


@pytest.mark.parametrize("level", [0.5, 0.8, 0.95])
def test_the_ends_are_the_crossings_of_the_confidence_band_at_that_level(fit, level):
    target = 0.16
    inv = fit.inverse([target], level=level)
    lower, upper = float(inv.lower[0]), float(inv.upper[0])
    assert lower < float(inv.value[0]) < upper and inv.level == level
    # The optimistic edge reaches the target at the lower end, the pessimistic at the upper.
    at_lower = fit.predict([lower], level=level, interval="confidence")
    at_upper = fit.predict([upper], level=level, interval="confidence")
    assert float(at_lower.lower[0]) == pytest.approx(target, rel=1e-8)
    assert float(at_upper.upper[0]) == pytest.approx(target, rel=1e-8)


def test_a_wider_level_gives_a_wider_inverse_band(fit):
    narrow, wide = fit.inverse([0.16], level=0.5), fit.inverse([0.16], level=0.95)
    assert wide.lower[0] < narrow.lower[0] < narrow.upper[0] < wide.upper[0]
    assert narrow.value[0] == wide.value[0]


def test_a_target_reached_before_one_example_is_still_reachable():
    # Error above the curve at x = 1: the inverse is below 1 (a small but valid input).
    power = fit_law("power", X, 0.5 * X**-0.3)
    inv = power.inverse([0.6])
    assert 0 < inv.value[0] < 1 and inv.feasible.tolist() == [True] and inv.reason is None
    assert inv.value[0] == pytest.approx((0.6 / 0.5) ** (-1 / 0.3), rel=1e-6)


def test_a_target_off_a_plateaued_law_names_its_floor_and_start():
    x = np.logspace(2, 5, 12)
    m4 = fit_law("m4", x, 0.05 + 0.8 * x**-0.3 / (1 + x**-0.3), eps0=0.9)
    inv = m4.inverse([0.01, 0.95])
    assert inv.feasible.tolist() == [False, False] and np.all(np.isnan(inv.value))
    assert inv.reason == (
        f"target [0.01, 0.95] is not reachable: the fitted m4 law approaches a floor of "
        f"{m4.floor:.4g} and starts at 0.9; ask for a target above the floor")


def test_a_two_input_law_has_no_inverse():
    n = np.repeat(np.logspace(2, 5, 4), 4)
    m = np.tile(np.logspace(1, 4, 4), 4)
    joint = fit_law("joint", np.column_stack([n, m]), 0.1 + 3 * n**-0.5 + 2 * m**-0.4, eps0=0.9)
    with pytest.raises(InputError) as info:
        joint.inverse([0.2])
    assert str(info.value) == ("The law 'joint' has 2 inputs, so 'inverse' needs one of them fixed; "
                               "use a 1-input law or the planning helpers.")


def test_a_target_the_pessimistic_edge_never_reaches_beside_others(fit):
    """Several targets at once, each on its own: one just above the fitted floor, which the
    pessimistic edge never reaches (it levels off above it: inf), then ordinary ones."""
    near_floor = fit.floor * 1.0005
    inv = fit.inverse([near_floor, 0.16, 0.2], level=0.9)
    assert inv.feasible.tolist() == [True, True, True]
    assert np.isfinite(inv.lower[0]) and inv.upper[0] == np.inf
    edge = fit.predict([inv.lower[0]], level=0.9, interval="confidence").lower[0]
    assert edge == pytest.approx(near_floor, rel=1e-8)
    for i, target in ((1, 0.16), (2, 0.2)):
        alone = fit.inverse([target], level=0.9)
        assert (inv.lower[i], inv.upper[i]) == (alone.lower[0], alone.upper[0])
        assert np.isfinite(alone.upper[0])
