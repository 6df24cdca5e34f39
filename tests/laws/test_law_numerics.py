"""The laws' numerics against independent arithmetic: M4's solver and its derivatives, BNSL
with every number of breaks, the error texts a user reads, and clipped targets at the plateau.

Written for the mutants that survived the laws' contract tests (docs/testing.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.laws import BNSL, LAWS, M4, Envelope, Joint, get_law, m4_solve

EPS0 = 0.9
# ln b + c ln x from deep in the power-law region (s ~ 1e-6) to near the plateau (s > 0.99).
LIN = np.linspace(-14.0, 3.0, 24)
A = np.array([0.4, 1.0, 1.3, 2.5])[:, None]
EPS_INF = np.array([0.0, 0.05, 0.3, 0.6])[:, None]


def _implicit(y, lin, a, eps_inf, eps0=EPS0):
    """M4's defining equation, ln((y - eps_inf) / (eps0 - y)^a) - lin (zero at the solution)."""
    return np.log(y - eps_inf) - a * np.log(eps0 - y) - lin


def test_m4_solve_solves_the_law_and_reports_its_fraction():
    sol = m4_solve(LIN, A, EPS_INF, EPS0)
    assert sol.y.shape == (4, LIN.size) and sol.y.dtype == np.float64
    np.testing.assert_allclose(_implicit(sol.y, LIN, A, EPS_INF), 0.0, atol=1e-9)
    assert np.all((sol.y > EPS_INF) & (sol.y < EPS0))
    # s is the fraction of the way from the floor to the plateau.
    np.testing.assert_allclose(sol.s, (sol.y - EPS_INF) / (EPS0 - EPS_INF), rtol=1e-8, atol=1e-15)
    assert sol.s.min() < 1e-5 and sol.s.max() > 0.999


def test_m4_solve_derivatives_are_the_finite_differences():
    """d ln y / d(lin, a, eps_inf) against central differences of the solved y (s from 5e-5
    to 0.99, where a difference step of 1e-7 is small against y - eps_inf)."""
    lin, a, eps_inf = np.linspace(-8.0, 3.0, 12), A, EPS_INF + 0.01
    sol = m4_solve(lin, a, eps_inf, EPS0)
    assert sol.s.min() > 5e-5 and sol.s.max() > 0.99
    h = 1e-7

    def ln_y(dlin=0.0, da=0.0, de=0.0):
        return np.log(m4_solve(lin + dlin, a + da, eps_inf + de, EPS0).y)

    numeric = {
        "dlny_dlin": (ln_y(dlin=h) - ln_y(dlin=-h)) / (2 * h),
        "dlny_da": (ln_y(da=h) - ln_y(da=-h)) / (2 * h),
        "dlny_deps_inf": (ln_y(de=h) - ln_y(de=-h)) / (2 * h),
    }
    for name, expected in numeric.items():
        got = getattr(sol, name)
        assert got.shape == sol.y.shape, name
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7, err_msg=name)
    # The derivative in lin is the fraction's share of the curve's log-slope: between 0 and 1.
    assert np.all((sol.dlny_dlin > 0) & (sol.dlny_dlin <= 1 + 1e-12))


def test_m4_solve_from_a_warm_start_finds_the_same_root():
    cold = m4_solve(LIN, A, EPS_INF, EPS0)
    z_true = np.log(cold.s) - np.log1p(-cold.s)
    rng = np.random.default_rng(3)
    for z0 in (z_true + 0.3 * rng.standard_normal(z_true.shape),  # nearby, as inside LM
               np.where(rng.random(z_true.shape) < 0.5, np.nan, z_true - 5.0),  # nan: no start
               np.full(z_true.shape, 700.0), np.full(z_true.shape, -700.0)):  # far off, both sides
        warm = m4_solve(LIN, A, EPS_INF, EPS0, z0=z0)
        np.testing.assert_allclose(warm.y, cold.y, rtol=1e-12)
        np.testing.assert_allclose(warm.dlny_da, cold.dlny_da, rtol=1e-9)


def test_m4_solve_gives_each_element_what_it_gets_alone():
    batch = m4_solve(LIN, A, EPS_INF, EPS0).y
    for i in range(A.shape[0]):
        for j in (0, 7, 23):
            alone = m4_solve(LIN[j], A[i, 0], EPS_INF[i, 0], EPS0).y
            assert alone.shape == () and float(alone) == batch[i, j]


def test_m4_with_its_floor_on_the_plateau_is_not_a_curve():
    law = M4(eps0=EPS0)
    x = np.logspace(1, 6, 5)
    assert np.all(np.isnan(law.predict(x, [40.0, -0.4, 1.3, EPS0])))
    assert np.all(np.isnan(law.predict(x, [40.0, -0.4, 1.3, EPS0 + 0.1])))
    assert np.all(np.isfinite(law.predict(x, [40.0, -0.4, 1.3, EPS0 - 1e-3])))


def _bnsl_by_hand(x, a, b, c0, breaks):
    """Caballero et al. 2022, eq. 1: a + b x^-c0 prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)."""
    out = b * x ** (-c0)
    for c, d, f in breaks:
        out = out * (1 + (x / d) ** (1 / f)) ** (-c * f)
    return a + out


@pytest.mark.parametrize("n_breaks", [1, 2, 3, 4])
def test_bnsl_with_every_number_of_breaks_is_its_formula(n_breaks):
    breaks = [(0.3 + 0.1 * i, 10.0 ** (3 + i), 0.5 + 0.25 * i) for i in range(n_breaks)]
    law = BNSL(n_breaks=n_breaks)
    assert law.n_params == 3 + 3 * n_breaks
    x = np.logspace(1, 8, 15)
    params = [0.05, 3.0, 0.2, *[v for brk in breaks for v in brk]]
    np.testing.assert_allclose(law.predict(x, params), _bnsl_by_hand(x, 0.05, 3.0, 0.2, breaks), rtol=1e-12)


@pytest.mark.parametrize("n_breaks", [0, 5, 2.0])
def test_bnsl_refuses_other_break_counts(n_breaks):
    with pytest.raises(ValueError, match=r"The 'n_breaks' parameter of BNSL must be an int in \[1, 4\]"):
        BNSL(n_breaks=n_breaks)


def test_an_unknown_law_names_every_law_and_the_closest():
    with pytest.raises(InputError) as info:
        get_law("power_flor")
    names = ", ".join(LAWS)
    assert str(info.value) == (f"The 'law' parameter must be one of {names} (or 'auto' when fitting). "
                               "Got 'power_flor' instead. Did you mean 'power_floor'?")
    with pytest.raises(InputError) as info:
        get_law("zzzz")
    assert str(info.value) == (f"The 'law' parameter must be one of {names} (or 'auto' when fitting). "
                               "Got 'zzzz' instead.")


def test_joint_eps_tilde_with_the_wrong_parameters_names_the_law():
    with pytest.raises(ValueError, match="law 'joint' has 5 parameters; got 4"):
        Joint(eps0=EPS0).eps_tilde(np.array([[1e4, 1e5]]), [0.5, 3.0, 0.6, 0.01])


@pytest.mark.parametrize("law", [Envelope(eps0=EPS0), Joint(eps0=EPS0)], ids=["envelope", "joint"])
def test_starts_on_a_curve_that_touches_the_plateau(law):
    """Targets at eps0 (the random-guess error of the smallest shards) are clipped just below
    it, so every linearised candidate stays finite (not only the stated fallback start)."""
    if law.n_inputs == 1:
        truth = np.array([0.5, 0.01, 0.1])
        x = np.logspace(1, 8, 30)
    else:
        truth = np.array([0.5, 3.0, 0.6, 0.01, 0.2])
        n, m = np.meshgrid(np.logspace(1, 6, 8), np.logspace(1, 4, 5))
        x = np.column_stack([n.ravel(), m.ravel()])
    y = law.predict(x, truth)
    smallest = np.argsort(y)[-3:]
    y[smallest] = EPS0  # the three worst points read exactly the plateau
    starts = law.starts(x, y)
    assert len(starts) == {"envelope": 8, "joint": 25}[law.name]  # one per candidate exponent
    assert all(np.all(np.isfinite(s)) and np.all(np.isfinite(law.predict(x, s))) for s in starts)


def test_joint_start_on_a_rising_surface_falls_back_to_a_default():
    # Every candidate's 1/eta is <= 0 when the error grows with n and m: the fallback is stated.
    n, m = np.meshgrid(np.logspace(1, 6, 8), np.logspace(1, 4, 5))
    x = np.column_stack([n.ravel(), m.ravel()])
    y = 0.1 + 0.3 * x[:, 0] / (x[:, 0] + 1e3) + 0.2 * x[:, 1] / (x[:, 1] + 1e2)
    starts = Joint(eps0=EPS0).starts(x, y)
    assert len(starts) == 1
    np.testing.assert_array_equal(starts[0], [0.5, 1.0, 0.5, 0.0, 1.0])


def test_starts_recover_a_transition_scale_above_one():
    """eta > 1 (a slow approach to the plateau) gives 1/eta < 1: still a candidate."""
    x = np.logspace(1, 8, 30)
    envelope = Envelope(eps0=EPS0)
    truth = np.array([0.5, 0.01, 5.0])
    starts = envelope.starts(x, envelope.predict(x, truth))
    assert len(starts) == 8
    np.testing.assert_allclose(starts[0], truth, rtol=1e-9)  # alpha = 0.5 is on the grid: exact
    joint = Joint(eps0=EPS0)
    n, m = np.meshgrid(np.logspace(1, 6, 8), np.logspace(1, 4, 5))
    x2 = np.column_stack([n.ravel(), m.ravel()])
    y = joint.predict(x2, [0.5, 3.0, 0.6, 0.01, 5.0])
    starts = joint.starts(x2, y)
    assert len(starts) == 25 and starts[0][4] > 1.0
    assert np.max(np.abs(np.log(joint.predict(x2, starts[0]) / y))) < 0.35


def test_extreme_parameters_overflow_quietly():
    """The fitter probes extreme parameters: Kaplan's and Pruning's overflows give inf or nan
    without a RuntimeWarning (their errstate), as the other laws' do."""
    import warnings

    from scalinglab.laws import Kaplan, Pruning

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (n_c / n)^(alpha_n / alpha_d) = (6.4e15)^30 overflows.
        kaplan = Kaplan().predict(np.array([[1.0, 1e9], [1e9, 1e9]]), [6.4e15, 1.8e13, 3.0, 0.1])
        # (eps_up / eps_np)^(1 / gamma) = 10^1000 overflows; times p = 0 it is 0 * inf.
        pruning = Pruning().predict(np.array([0.5, 1.0]), [0.08, 0.8, 1e-3, 0.0])
        pruning_inf = Pruning().predict(np.array([0.5, 1.0]), [0.08, 0.8, 1e-3, 0.5])
    assert np.isinf(kaplan[0]) and np.isfinite(kaplan[1])
    assert np.all(np.isnan(pruning)) and np.all(np.isinf(pruning_inf))
