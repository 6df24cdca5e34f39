"""Bands from parameter draws (compute_optimal's) are drawn around the fit in natural units."""

from __future__ import annotations

import numpy as np

from scalinglab.fitting import compute_optimal, fit_law
from scalinglab.laws import Joint


def test_the_joint_laws_compute_optimal_band_surrounds_its_point():
    """b = 3 is fitted in log units (ln 3 = 1.1): a draw left in fitted units would move the
    whole band of the optimal split away from the point."""
    law = Joint(eps0=0.9)
    truth = [0.5, 3.0, 0.6, 0.01, 0.2]
    n, m = (v.ravel() for v in np.meshgrid(np.logspace(2, 6, 7), np.logspace(1, 4, 6)))
    x = np.column_stack([n, m])
    rng = np.random.default_rng(4)
    fit = fit_law(law, x, law.predict(x, truth) * np.exp(0.01 * rng.standard_normal(len(n))))
    budgets = [1e6, 1e8]
    wide, narrow = compute_optimal(fit, budgets, level=0.9), compute_optimal(fit, budgets, level=0.5)
    for plan in (wide, narrow):
        assert np.all(plan.model_size_lower < plan.model_size) and np.all(plan.model_size < plan.model_size_upper)
        assert np.all(plan.data_size_lower < plan.data_size) and np.all(plan.data_size < plan.data_size_upper)
        # A tight fit gives a tight band: within a factor 1.5 of the point.
        assert np.all(plan.model_size_upper / plan.model_size_lower < 1.5)
    assert np.all(wide.model_size_lower < narrow.model_size_lower)
    assert np.all(narrow.model_size_upper < wide.model_size_upper)
    m_true, n_true = law.compute_optimal(np.array(budgets), truth)
    assert np.all((wide.model_size_lower <= m_true) & (m_true <= wide.model_size_upper))
    assert np.all((wide.data_size_lower <= n_true) & (n_true <= wide.data_size_upper))
