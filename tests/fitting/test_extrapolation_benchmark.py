"""Pins the default method's extrapolation score on the Alabdulmohsin et al. 2022 benchmark.

Runs ``law="auto"`` on the 92 curves with the protocol of ``benchmarks/_rnsl.py`` (fit the
``Training == 1`` rows, RMSLE on the rest) and fails when the IC mean or another domain's
mean drifts, or the 90% band's calibration leaves 80-97%. Skips without ``../shared``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "benchmarks"))

from _rnsl import ic_half, load_curves, rmsle  # noqa: E402

from scalinglab.fitting import fit_law  # noqa: E402

# Values measured when the method was frozen (docs/extrapolation.md); tolerance 3%.
EXPECTED = {"IC": 0.03053, "IC first half": 0.02626, "IC second half": 0.03481, "NMT": 0.02112,
            "LM": 0.00093, "BB": 0.00867}
RTOL = 0.03


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    if not (SHARED / "benchmarks" / "revisiting-neural-scaling-laws").is_dir():
        pytest.skip(f"shared benchmark data not found under {SHARED}")
    curves = load_curves(SHARED)
    scores: dict[str, list[float]] = {}
    inside: list[np.ndarray] = []
    for c in curves:
        fit = fit_law("auto", c.x_train, c.y_train, eps0=c.eps0)
        band = fit.predict(c.x_test, level=0.9)
        score = rmsle(np.asarray(band.value), c.y_test)
        groups = [c.domain]
        if c.domain == "IC":
            groups.append(f"IC {ic_half(curves, c.task)} half")
        for g in groups:
            scores.setdefault(g, []).append(score)
        inside.append((c.y_test >= band.lower) & (c.y_test <= band.upper))
    return {"scores": scores, "coverage": float(np.mean(np.concatenate(inside)))}


@pytest.mark.parametrize("group", sorted(EXPECTED))
def test_mean_rmsle_is_pinned(results: dict[str, object], group: str) -> None:
    mean = float(np.mean(results["scores"][group]))  # type: ignore[index]
    assert mean == pytest.approx(EXPECTED[group], rel=RTOL), f"{group}: mean RMSLE {mean:.5f}"


def test_band_is_calibrated(results: dict[str, object]) -> None:
    assert 0.80 <= results["coverage"] <= 0.97  # type: ignore[operator]
