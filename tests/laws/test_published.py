"""Published numbers from METHOD.md, reproduced by the laws' maths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab.laws import Chinchilla, Envelope, Joint, Kaplan, Pruning, envelope_transition, get_law


def test_envelope_check_value():
    # METHOD.md: eps0 = 0.9, eps_tilde = 0.5, eta = 0.1 gives 0.8825.
    assert envelope_transition(0.5, 0.9, 0.1) == pytest.approx(0.8825, abs=5e-5)


def test_pruning_five_values():
    law = Pruning()
    d = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    got = law.predict(d, [0.08, 0.9, 2.0, 0.01])
    np.testing.assert_allclose(got, [0.8999, 0.8919, 0.490, 0.0881, 0.0801], atol=6e-5)


def test_chinchilla_frontier():
    # METHOD.md: unrounded Hoffmann constants give N_opt = 4.04e10 at C = 5.76e23.
    params = [math.exp(6.0073404), math.exp(6.0179186), math.exp(0.5267228), 0.33917084, 0.2849083]
    law = Chinchilla()
    n_opt, d_opt = law.compute_optimal(5.76e23, params)
    assert float(n_opt) == pytest.approx(4.04e10, rel=2e-3)
    # D_opt = C / (6 N_opt) = 2.38e12 tokens, and no other split of the budget has lower loss.
    assert float(d_opt) == pytest.approx(5.76e23 / (6 * 4.04e10), rel=2e-3)
    n = float(n_opt) * np.logspace(-0.5, 0.5, 1001)
    loss = law.predict(np.column_stack([n, 5.76e23 / 6 / n]), params)
    assert abs(int(np.argmin(loss)) - 500) <= 1


def test_joint_compute_optimal_minimises_error_on_the_budget():
    law = Joint(eps0=0.9)
    params = np.array([0.7, 2.0, 0.5, 0.01, 0.3])
    budget = 1e12
    m_opt, n_opt = law.compute_optimal(budget, params)  # (model, data)
    # Any other split of the same budget has higher error (a fine grid around the split,
    # with the model size m = budget / n, so a swap of n and m would be off the minimum).
    shares = np.logspace(-1, 1, 2001)
    n = float(n_opt) * shares
    errors = law.predict(np.column_stack([n, budget / n]), params)
    assert abs(int(np.argmin(errors)) - 1000) <= 1
    assert float(m_opt) == pytest.approx(budget / float(n_opt), rel=1e-9)
    assert float(m_opt) != pytest.approx(float(n_opt), rel=0.1)  # the split is not symmetric


def test_kaplan_published_constants_give_a_falling_loss():
    law = Kaplan()
    params = [6.4e13, 1.8e13, 0.076, 0.103]
    loss = law.predict(np.array([[1e8, 1e10], [1e9, 1e11], [1e10, 1e12]]), params)
    assert np.all(np.diff(loss) < 0)
    # Data-unlimited limit: L(N) = (N_c / N)^alpha_N (Kaplan et al. 2020, eq. 1.1).
    limit = law.predict(np.array([[1e9, 1e30]]), params)[0]
    assert limit == pytest.approx((6.4e13 / 1e9) ** 0.076, rel=1e-9)


@pytest.mark.parametrize(
    ("name", "params", "kwargs"),
    [
        ("power", [3.0, -0.3], {}),
        ("power_floor", [3.0, 0.3, 0.05], {}),
        ("m3", [2.0, 1e-5, -0.3], {}),
        ("m4", [40.0, -0.4, 1.3, 0.05], {"eps0": 1.0}),
        ("envelope", [0.5, 0.01, 0.1], {"eps0": 0.9}),
        ("bnsl", [0.05, 3.0, 0.2, 0.3, 1e5, 1.0], {}),
    ],
)
def test_inverse_undoes_predict(name, params, kwargs):
    law = get_law(name, **kwargs)
    x = np.logspace(2, 7, 11)
    y = law.predict(x, params)
    np.testing.assert_allclose(law.inverse(y, params), x, rtol=1e-6)


def test_inverse_below_floor_is_nan():
    law = get_law("power_floor")
    assert np.isnan(law.inverse([0.04], [3.0, 0.3, 0.05])[0])
    env = Envelope(eps0=0.9)
    assert np.isnan(env.inverse([0.001], [0.5, 0.01, 0.1])[0])
