"""The real-curves suite's own rules (``benchmarks/extrapolation_real.py``): halves and token sweeps.

Skips without ``../shared`` (the token sweeps are read from it).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import extrapolation_real as suite  # noqa: E402

CSV = ROOT / suite.CHINCHILLA


def _curve(family: str, key: str) -> suite.RealCurve:
    return suite.RealCurve(family, key, np.arange(1.0, 4.0), np.ones(3), None)


def test_halves_are_stratified_deterministic_and_stable_when_curves_are_added() -> None:
    curves = [_curve(f, str(i)) for f in ("a", "b") for i in range(7)]
    halves = suite.half_of(curves)
    assert halves == suite.half_of(list(reversed(curves)))  # order of the input does not matter
    per_family = Counter((cid.split(":")[0], h) for cid, h in halves.items())
    assert all(abs(per_family[(f, "design")] - per_family[(f, "check")]) <= 1 for f in ("a", "b"))
    # adding a family leaves every other curve in its half
    more = suite.half_of([*curves, *(_curve("c", str(i)) for i in range(5))])
    assert all(more[cid] == h for cid, h in halves.items())


@pytest.mark.skipif(not CSV.exists(), reason=f"shared benchmark data not found at {CSV}")
def test_token_sweeps_keep_one_model_size_with_six_token_counts_falling() -> None:
    sweeps, counts = suite.token_sweeps(CSV)
    assert counts["points"] == 245 and counts["kept"] == len(sweeps) > 0
    assert counts["model_sizes"] == counts["too_few"] + counts["not_monotone"] + counts["kept"]
    for c in sweeps:
        assert c.family == "token_sweep" and c.eps0 is None
        assert len(np.unique(np.round(np.log10(c.x), 3))) >= suite.SWEEP_MIN_POINTS
        assert np.all(np.diff(c.x) >= 0) and np.max(np.diff(np.log(c.y))) <= suite.SWEEP_MAX_RISE
        assert c.y[-1] < c.y[0]
