"""compare: the shift and the slope difference of two studies, each with a bootstrap
interval and a verdict (Hestness et al. 2017: better optimizers shift the curve, same slope)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalinglab.analysis import analyze, compare_exponents
from tests.analysis.stored import store_study

SHARDS = np.round(128 * 2.0 ** np.arange(9))


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")

    def study(name: str, a: float, beta_g: float):
        curves = store_study(root / f"{name}.db", name, SHARDS, np.array([1.0]),
                             lambda n, s: a * n**beta_g, noise=0.01)
        return analyze(curves, eps0=0.9, n_boot=400)

    return study("base", 3.0, -0.3), study("shifted", 2.4, -0.3), study("steeper", 3.0, -0.4)


def test_same_slope_shifted_curve(studies):
    base, shifted, _ = studies
    out = compare_exponents(base, shifted)
    json.dumps(out, allow_nan=False)
    assert out["method"] == "bootstrap over runs"
    lo, hi = out["difference_interval"]
    assert lo <= 0 <= hi and not out["differ"]
    # eps_b / eps_a - 1 = 2.4 / 3 - 1 = -20% at every size.
    assert out["shift"] == pytest.approx(-0.2, abs=0.01)
    s_lo, s_hi = out["shift_interval"]
    assert s_lo <= -0.2 <= s_hi and s_hi < 0
    assert out["shifted"] and "shifted curve" in out["verdict"]


def test_different_slopes(studies):
    base, _, steeper = studies
    out = compare_exponents(base, steeper)
    lo, hi = out["difference_interval"]
    assert lo <= 0.1 <= hi and lo > 0
    assert out["differ"] and "slopes differ" in out["verdict"]
