"""What every law promises, checked against the maths rather than against itself.

The floor is the limit of ``predict`` (the M3 floor once read ``g**c`` for ``g**(-c)`` and no
test noticed), starts recover the truth on clean curves, closed-form inverses agree with the
numeric one, the compute-optimal splits are the true minimum on the budget, and the
description a user sees names the right bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.laws import (
    BNSL,
    LAWS,
    M3,
    M4,
    Chinchilla,
    Envelope,
    Joint,
    Kaplan,
    Power,
    PowerFloor,
    Pruning,
    get_law,
    law_names,
)
from scalinglab.laws._base import Law, _numeric_inverse, as_params, linear_fit, log_grid

X = np.logspace(1, 8, 30)

# (law, parameters) on curves that fall towards a floor; eps0 = 0.9 where a law takes it.
ONE_INPUT = [
    (Power(), [3.0, -0.3]),
    (PowerFloor(), [3.0, 0.3, 0.05]),
    (M3(), [2.0, 1e-5, -0.3]),
    (M4(eps0=0.9), [40.0, -0.4, 1.3, 0.05]),
    (Envelope(eps0=0.9), [0.5, 0.01, 0.1]),
    (BNSL(), [0.05, 3.0, 0.2, 0.3, 1e5, 1.0]),
    (BNSL(n_breaks=2), [0.05, 3.0, 0.2, 0.3, 1e4, 1.0, 0.2, 1e6, 0.5]),
    (Pruning(), [0.08, 0.9, 2.0, 0.01]),
]
IDS = [f"{law.name}{getattr(law, 'n_breaks', '')}" for law, _ in ONE_INPUT]


@pytest.mark.parametrize(("law", "params"), ONE_INPUT, ids=IDS)
def test_floor_is_the_limit_of_predict(law, params):
    far = law.predict(np.array([1e200 if law.name != "pruning" else 1e30]), params)[0]
    assert law.floor(params) == pytest.approx(float(far), rel=1e-6)


def test_m3_floor_by_hand():
    # b (1/x + g)^(-c) -> b g^(-c) = 2 * (1e-5)^0.3 as x -> inf.
    assert M3().floor([2.0, 1e-5, -0.3]) == pytest.approx(2.0 * 1e-5**0.3, rel=1e-12)
    assert M3().floor([2.0, 1e-5, 0.3]) == 0.0  # rising form: no floor
    assert M3().floor([2.0, 1e-5, 0.0]) == 0.0


def test_joint_and_chinchilla_floors_are_their_limits():
    big = np.array([[1e200, 1e200]])
    joint = Joint(eps0=0.9)
    p = [0.5, 3.0, 0.6, 0.01, 0.2]
    assert joint.floor(p) == pytest.approx(float(joint.predict(big, p)[0]), rel=1e-9)
    assert joint.floor(p) == pytest.approx(0.9 * 0.01 / math.hypot(0.01, 0.2), rel=1e-12)
    chin = Chinchilla()
    q = [400.0, 410.0, 1.7, 0.34, 0.28]
    assert chin.floor(q) == pytest.approx(float(chin.predict(big, q)[0]), rel=1e-9)
    assert Kaplan().floor([6.4e13, 1.8e13, 0.076, 0.103]) == 0.0


@pytest.mark.parametrize(
    ("law", "params", "expected"),
    [
        # Values by hand from each formula at x = 100.
        (Power(), [3.0, -0.3], 3.0 * 100**-0.3),
        (PowerFloor(), [3.0, 0.3, 0.05], 3.0 * 100**-0.3 + 0.05),
        (M3(), [2.0, 1e-3, -0.3], 2.0 * (0.01 + 1e-3) ** 0.3),
        (Envelope(eps0=0.9), [0.5, 0.01, 0.1], 0.9 * 0.11 / math.hypot(0.11, 0.1)),
        (BNSL(), [0.05, 3.0, 0.2, 0.3, 1e3, 2.0], 0.05 + 3.0 * 100**-0.2 * (1 + 0.1**0.5) ** (-0.6)),
        (Pruning(), [0.08, 0.9, 2.0, 0.01],
         0.08 * ((1e4 + 1e-4 * (0.9 / 0.08)) / (1e4 + 1e-4)) ** 1.0),
    ],
    ids=["power", "power_floor", "m3", "envelope", "bnsl", "pruning"],
)
def test_predict_by_hand(law, params, expected):
    assert float(law.predict([100.0], params)[0]) == pytest.approx(expected, rel=1e-12)


def test_m4_satisfies_its_implicit_equation():
    law = M4(eps0=0.9)
    b, c, a, eps_inf = 40.0, -0.4, 1.3, 0.05
    y = law.predict(X, [b, c, a, eps_inf])
    assert np.all((eps_inf < y) & (y < 0.9))
    np.testing.assert_allclose((y - eps_inf) / (0.9 - y) ** a, b * X**c, rtol=1e-9)
    # a = 0: y = eps_inf + b x^c exactly (until it would pass eps0).
    y0 = law.predict(X, [0.5, -0.5, 0.0, 0.01])
    np.testing.assert_allclose(y0, 0.01 + 0.5 * X**-0.5, rtol=1e-9)
    assert np.all(np.isnan(law.predict(X, [1.0, -0.5, 1.0, 0.95])))  # floor above eps0
    assert law.floor([b, c, a, eps_inf]) == eps_inf


def test_joint_chinchilla_kaplan_by_hand():
    x = np.array([[1e4, 1e3], [1e6, 1e5]])
    joint = Joint(eps0=0.9).predict(x, [0.5, 3.0, 0.6, 0.01, 0.2])
    e = x[:, 0] ** -0.5 + 3.0 * x[:, 1] ** -0.6 + 0.01
    np.testing.assert_allclose(joint, 0.9 * e / np.hypot(e, 0.2), rtol=1e-12)
    chin = Chinchilla().predict(x, [400.0, 410.0, 1.7, 0.34, 0.28])
    np.testing.assert_allclose(chin, 1.7 + 400.0 * x[:, 0] ** -0.34 + 410.0 * x[:, 1] ** -0.28, rtol=1e-12)
    kap = Kaplan().predict(x, [6.4e13, 1.8e13, 0.076, 0.103])
    np.testing.assert_allclose(kap, ((6.4e13 / x[:, 0]) ** (0.076 / 0.103) + 1.8e13 / x[:, 1]) ** 0.103,
                               rtol=1e-12)


@pytest.mark.parametrize(("law", "params"), ONE_INPUT, ids=IDS)
def test_best_start_is_near_the_truth_on_a_clean_curve(law, params):
    y = law.predict(X, params)
    starts = law.starts(X, y)
    best = starts[0]
    assert np.all(np.isfinite(best))
    err = np.log(law.predict(X, best)) - np.log(y)
    # A start is a guess: within 35% of the curve everywhere (a factor 2 for the broken power
    # law, whose breaks sit on a coarse grid), and the first is the best.
    assert np.max(np.abs(err)) < (0.7 if law.name == "bnsl" else 0.35), err
    assert np.array_equal(law.guess(X, y), best)
    sse = [float(np.sum((np.log(law.predict(X, s)) - np.log(y)) ** 2)) for s in starts]
    assert sse[0] == pytest.approx(min(sse))


def test_power_start_is_the_exact_log_log_fit():
    y = 3.0 * X**-0.3
    np.testing.assert_allclose(Power().starts(X, y)[0], [3.0, -0.3], rtol=1e-9)
    np.testing.assert_allclose(PowerFloor().starts(X, 3.0 * X**-0.3)[0], [3.0, 0.3, 0.0], rtol=1e-9)
    np.testing.assert_allclose(M3().starts(X, 2.0 * X**-0.3)[0], [2.0, 0.0, -0.3], rtol=1e-9)


def test_starts_on_two_input_laws_rank_and_recover():
    n = np.repeat(np.logspace(2, 6, 5), 5)
    m = np.tile(np.logspace(2, 6, 5), 5)
    x = np.column_stack([n, m])
    joint = Joint(eps0=0.9)
    truth = [0.6, 3.0, 0.4, 0.005, 0.2]
    y = joint.predict(x, truth)
    best = joint.starts(x, y)[0]
    np.testing.assert_allclose(best, truth, rtol=1e-6)  # the grid holds the truth's exponents
    kaplan = Kaplan()
    y = kaplan.predict(x * 1e4, [6.4e13, 1.8e13, 0.076, 0.103])
    np.testing.assert_allclose(kaplan.starts(x * 1e4, y)[0], [6.4e13, 1.8e13, 0.076, 0.103])
    grid = Chinchilla.hoffmann_grid()
    assert len(grid) == 4500
    starts = Chinchilla().starts(x, y)
    assert len(starts) == 4500 and min(float(np.min(s[3:])) for s in starts) == 0.05
    logs = np.log(np.array([s[:3] for s in grid]))
    assert sorted(set(np.round(logs[:, 0], 9))) == [0, 5, 10, 15, 20, 25]
    assert sorted(set(np.round(logs[:, 2], 9))) == [-1, -0.5, 0, 0.5, 1]
    assert sorted({float(s[3]) for s in grid}) == [0, 0.5, 1, 1.5, 2]


@pytest.mark.parametrize(("law", "params"), ONE_INPUT, ids=IDS)
def test_closed_form_inverse_agrees_with_the_numeric_one(law, params):
    x = np.logspace(-3.5, 0, 7) if law.name == "pruning" else np.logspace(1.5, 6, 7)
    y = law.predict(x, params)
    np.testing.assert_allclose(_numeric_inverse(law, y, np.asarray(params, float)), x, rtol=1e-6)
    np.testing.assert_allclose(law.inverse(y, params), x, rtol=1e-6)
    # Out of reach (above the plateau or below the floor): nan, not a number.
    unreachable = [law.floor(params) * 0.5 if law.floor(params) > 0 else -1.0]
    assert np.isnan(law.inverse(unreachable, params)[0])


def test_numeric_inverse_of_a_rising_law_and_a_scalar():
    law = Power()
    scalar = _numeric_inverse(law, np.array(8.0), np.array([2.0, 0.5]))
    assert scalar.shape == (1,) and float(scalar[0]) == pytest.approx(16.0, rel=1e-9)
    grid = _numeric_inverse(law, np.array([[8.0, 2.0]]), np.array([2.0, 0.5]))
    assert grid.shape == (1, 2)
    np.testing.assert_allclose(grid, [[16.0, 1.0]], rtol=1e-9)
    assert np.isnan(_numeric_inverse(law, np.array([1e-300]), np.array([2.0, 0.5]))[0])
    # Kaplan has two inputs: no inverse, said plainly.
    with pytest.raises(NotImplementedError, match="2 inputs"):
        Kaplan().inverse([1.0], [6.4e13, 1.8e13, 0.076, 0.103])
    assert not Kaplan().has_inverse and Power().has_inverse


def test_inverses_at_the_edges():
    m3 = M3()
    assert np.isnan(m3.inverse([2.0 * 1e-3**0.3 * 0.9], [2.0, 1e-3, -0.3])[0])  # below its floor
    env = Envelope(eps0=0.9)
    assert np.isnan(env.inverse([0.95], [0.5, 0.01, 0.1])[0])  # above eps0
    m4 = M4(eps0=0.9)
    assert np.isnan(m4.inverse([0.9], [40.0, -0.4, 1.3, 0.05])[0])
    assert np.isnan(m4.inverse([0.05], [40.0, -0.4, 1.3, 0.05])[0])
    pf = PowerFloor()
    assert float(pf.inverse([0.05 + 3.0 * 1e4**-0.3], [3.0, 0.3, 0.05])[0]) == pytest.approx(1e4, rel=1e-9)


def _grid_optimum(law, budget, params, product):
    """Brute-force minimum of the law along the budget: (first input, second input)."""
    first = np.logspace(-2, 2, 40001) * math.sqrt(budget / product)
    second = budget / product / first
    errors = law.predict(np.column_stack([first, second]), params)
    i = int(np.argmin(errors))
    assert 0 < i < len(first) - 1, "optimum at the edge of the search"
    return first[i], second[i]


def test_joint_compute_optimal_is_the_true_minimum():
    law = Joint(eps0=0.9)
    params = [0.5, 3.0, 0.6, 0.01, 0.2]
    m_opt, n_opt = law.compute_optimal(1e10, params)  # (model, data), as Chinchilla's (N, D)
    n_grid, m_grid = _grid_optimum(law, 1e10, params, 1.0)
    assert float(n_opt) == pytest.approx(n_grid, rel=1e-3)
    assert float(m_opt) == pytest.approx(m_grid, rel=1e-3)
    # By hand (Rosenfeld et al. 2020, section 7): m* = (beta b / alpha)^(1/(alpha+beta)) K^(alpha/(alpha+beta)).
    assert float(m_opt) == pytest.approx((0.6 * 3.0 / 0.5) ** (1 / 1.1) * 1e10 ** (0.5 / 1.1), rel=1e-12)


def test_chinchilla_compute_optimal_is_the_true_minimum():
    law = Chinchilla()
    params = [400.0, 410.0, 1.7, 0.34, 0.28]
    n_opt, d_opt = law.compute_optimal(1e21, params)
    n_grid, d_grid = _grid_optimum(law, 1e21, params, 6.0)
    assert float(n_opt) == pytest.approx(n_grid, rel=1e-3)
    assert float(d_opt) == pytest.approx(d_grid, rel=1e-3)


def test_description_names_bounds_and_constants():
    law = Envelope(eps0=0.9)
    d = law.describe()
    assert d["name"] == "envelope" and d["formula"] == law.formula and d["reference"] == law.reference
    assert d["inputs"] == ["x"] and d["constants"] == {"eps0": 0.9}
    assert [p["name"] for p in d["params"]] == ["alpha", "c_inf", "eta"]
    assert d["params"][0] == {"name": "alpha", "lower": 0.0, "upper": 10.0, "description": "power-law exponent"}
    lo, hi = law.bounds()
    np.testing.assert_array_equal(lo, [0.0, 0.0, 1e-300])
    np.testing.assert_array_equal(hi, [10.0, np.inf, 1e300])
    assert law.param_names == ("alpha", "c_inf", "eta") and law.n_params == 3 and law.n_inputs == 1
    assert Joint().n_inputs == 2 and Joint().inputs == ("n", "m")
    assert repr(law) == "Envelope(eps0=0.9)" and repr(Power()) == "Power()"
    assert BNSL(n_breaks=2).param_names == ("a", "b", "c0", "c1", "d1", "f1", "c2", "d2", "f2")
    assert BNSL(n_breaks=2).constants == {"n_breaks": 2}


def test_equality_and_hash_follow_the_constants():
    assert Envelope(eps0=0.9) == Envelope(eps0=0.9)
    assert Envelope(eps0=0.9) != Envelope(eps0=0.8)
    assert Envelope(eps0=0.9) != M4(eps0=0.9)
    assert hash(Envelope(eps0=0.9)) == hash(Envelope(eps0=0.9))
    assert len({M4(eps0=1.0), M4(eps0=1.0), M4(eps0=0.5)}) == 2


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: M4(eps0=0.0), "'eps0' parameter of M4"),
        (lambda: Envelope(eps0=-1.0), "'eps0' parameter of Envelope"),
        (lambda: Joint(eps0=0.0), "'eps0' parameter of Joint"),
        (lambda: BNSL(n_breaks=0), "'n_breaks' parameter of BNSL"),
        (lambda: BNSL(n_breaks=5), "'n_breaks' parameter of BNSL"),
        (lambda: BNSL(n_breaks=1.5), "'n_breaks' parameter of BNSL"),
    ],
)
def test_bad_constants_are_refused(make, needle):
    with pytest.raises(ValueError, match=needle):
        make()


def test_get_law_and_names():
    assert law_names() == list(LAWS)
    assert law_names(2) == ["joint", "chinchilla", "kaplan"]
    assert "power_floor" in law_names(1) and "joint" not in law_names(1)
    law = get_law("m4", eps0=0.7, n_breaks=3)  # constants a law does not take are ignored
    assert law == M4(eps0=0.7)
    assert get_law("bnsl", n_breaks=2, eps0=None).n_breaks == 2
    assert get_law("envelope", eps0=None).eps0 == 1.0  # None means "the default"
    same = Power()
    assert get_law(same) is same
    with pytest.raises(InputError, match="Did you mean 'power_floor'"):
        get_law("power_flor")
    with pytest.raises(InputError, match="must be one of") as info:
        get_law("zzzz")
    assert "Did you mean" not in str(info.value)
    with pytest.raises(InputError, match="'eps0' parameter of M4"):
        get_law("m4", eps0=-1.0)


def test_shape_checks_and_helpers():
    law = Power()
    np.testing.assert_array_equal(law.check_x([[1.0], [2.0]]), [1.0, 2.0])
    with pytest.raises(ValueError, match="takes one input"):
        law.check_x(np.ones((3, 2)))
    with pytest.raises(ValueError, match="takes 2 inputs"):
        Joint().check_x(np.ones((3, 3)))
    assert Joint().check_x([1.0, 2.0]).shape == (1, 2)
    with pytest.raises(ValueError, match="has 3 parameters; got 2"):
        as_params([1.0, 2.0], 3, "x")
    np.testing.assert_allclose(log_grid(np.array([1.0, 10.0, 100.0]), 3), [1.0, 10.0, 100.0])
    np.testing.assert_allclose(linear_fit([np.ones(3), np.arange(3.0)], 1 + 2 * np.arange(3.0)), [1.0, 2.0])


def _catalogue_entry(law) -> dict:
    d = law.describe()
    d["params"] = [{**p, "lower": repr(p["lower"]), "upper": repr(p["upper"]), "log": q.log}
                   for p, q in zip(d["params"], law.params, strict=True)]
    return d


def test_the_law_catalogue_is_unchanged():
    """What ``scalinglab laws`` shows and the fitter obeys: names, formulas, references,
    parameter bounds, log scales and descriptions (tests/laws/data/catalogue.json). A change
    to any of them is a change to the user-facing contract: update the file on purpose."""
    import json
    from pathlib import Path

    expected = json.loads((Path(__file__).parent / "data" / "catalogue.json").read_text())
    got = {}
    for name in LAWS:
        if name == "bnsl":
            got["bnsl1"] = _catalogue_entry(BNSL(n_breaks=1))
            got["bnsl2"] = _catalogue_entry(BNSL(n_breaks=2))
        else:
            got[name] = _catalogue_entry(get_law(name))
    assert json.loads(json.dumps(got, sort_keys=True)) == expected


ALL_LAWS = [*ONE_INPUT, (Joint(eps0=0.9), [0.5, 3.0, 0.6, 0.01, 0.2]),
            (Chinchilla(), [400.0, 410.0, 1.7, 0.34, 0.28]), (Kaplan(), [6.4e13, 1.8e13, 0.076, 0.103])]


@pytest.mark.parametrize(("law", "params"), ALL_LAWS, ids=[*IDS, "joint", "chinchilla", "kaplan"])
def test_wrong_parameter_count_names_the_law(law, params):
    short = list(params)[:-1]
    needle = f"law '{law.name}' has {len(params)} parameters; got {len(short)}"
    x = np.array([[1e4, 1e5]]) if law.n_inputs == 2 else np.array([1e4])
    with pytest.raises(ValueError, match=needle):
        law.predict(x, short)
    if type(law).floor is not Law.floor:  # the default floor (0.0) reads no parameters
        with pytest.raises(ValueError, match=needle):
            law.floor(short)
    if law.n_inputs == 1 and type(law).inverse is not Law.inverse:
        with pytest.raises(ValueError, match=needle):
            law.inverse([0.5], short)
        if hasattr(law, "eps_tilde"):
            with pytest.raises(ValueError, match=needle):
                law.eps_tilde(x, short)
    if hasattr(law, "compute_optimal"):
        with pytest.raises(ValueError, match=needle):
            law.compute_optimal(1e10, short)


@pytest.mark.parametrize(("law", "params"), ONE_INPUT, ids=IDS)
def test_unreachable_targets_give_nan_without_warnings(law, params):
    """The inverse at, below and far above the reachable range: nan and no RuntimeWarning
    (the laws silence the divide and invalid operations they expect)."""
    import warnings

    floor = law.floor(params)
    targets = np.array([floor - 1.0, -1.0, floor, 0.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = law.inverse(targets, params)
    assert out.shape == targets.shape and out.dtype == np.float64
    assert np.all(np.isnan(out[:2]))  # below the floor, and a negative error


def test_integer_inputs_are_floats():
    # Integer budgets and targets work as floats (no integer powers of negative exponents).
    m_opt, n_opt = Joint(eps0=0.9).compute_optimal([10**10], [0.5, 3.0, 0.6, 0.01, 0.2])
    assert n_opt.dtype == np.float64 and m_opt.dtype == np.float64
    n_opt, d_opt = Chinchilla().compute_optimal(np.array([6 * 10**20]), [400.0, 410.0, 1.7, 0.34, 0.28])
    assert n_opt.dtype == np.float64 and d_opt.dtype == np.float64
    assert PowerFloor().inverse([1], [3, 1, 0]).dtype == np.float64
    assert float(PowerFloor().inverse([1], [3, 1, 0])[0]) == pytest.approx(3.0)
    lo, hi = PowerFloor().bounds()
    assert lo.dtype == np.float64 and hi.dtype == np.float64


def test_pruning_starts_from_the_densest_networks_error():
    d = 0.8 ** np.arange(0, 45)
    y = Pruning().predict(d, [0.08, 0.9, 2.0, 0.01])
    starts = Pruning().starts(d[::-1], y[::-1])  # any order: eps_np is the error at the largest d
    assert starts[0][0] == pytest.approx(0.0801, abs=1e-4)
    assert all(s[1] == pytest.approx(float(np.max(y)) * 1.02) for s in starts)
    assert len(starts) == 16


def test_envelope_start_on_a_rising_curve_falls_back_to_a_default():
    # Every candidate slope is <= 0 on a rising curve: the fallback start is stated, finite.
    x = np.logspace(1, 5, 12)
    y = 0.1 + 0.5 * x / (x + 1e3)
    starts = Envelope(eps0=0.9).starts(x, y)
    assert len(starts) == 1
    np.testing.assert_allclose(starts[0], [0.3, 0.0, 1e5**-0.3])


def test_hash_separates_laws_and_constants():
    assert hash(Envelope(eps0=0.9)) != hash(Envelope(eps0=0.8))
    assert hash(Envelope(eps0=0.9)) != hash(M4(eps0=0.9))
    assert hash(Power()) != hash(PowerFloor())


@pytest.mark.parametrize("slope", [-14.0, 14.0])
@pytest.mark.parametrize(("law", "params"), ONE_INPUT, ids=IDS)
def test_starts_stay_inside_the_bounds_on_extreme_curves(law, params, slope):
    """A start outside the bounds would be refused by the optimiser: exponents are clipped."""
    x = np.logspace(0, 2, 12)
    y = np.exp(slope * np.log(x) / 10) * 0.5  # falls (or rises) 14 decades per decade / 10
    y = y * 0.5 / np.max(y) if law.name in ("m4", "envelope") else y
    lo, hi = law.bounds()
    for start in law.starts(x, y)[:5]:
        assert np.all(start >= lo) and np.all(start <= hi), (start, lo, hi)


def test_steep_curves_clip_the_exponent_at_its_bound():
    x = np.logspace(0, 2, 12)
    assert Power().starts(x, x**-12.0)[0][1] == -10.0
    assert Power().starts(x, x**12.0)[0][1] == 10.0
    assert M3().starts(x, x**-12.0)[0][2] == -10.0
    assert M3().starts(x, x**12.0)[0][2] == 10.0
    assert BNSL().starts(x, x**-12.0)[0][2] == 10.0  # c0 is the decay rate: -slope
    assert BNSL().starts(x, x**12.0)[0][2] == -10.0
    assert PowerFloor().starts(x, x**-12.0)[0][1] == 10.0
    assert PowerFloor().starts(x, x**1.0)[0][1] == 1e-3


def test_envelope_inverse_at_the_plateau_is_nan():
    env = Envelope(eps0=0.9)
    assert np.isnan(env.inverse([0.9], [0.5, 0.01, 0.1])[0])  # y = eps0: reached only at x = 0
