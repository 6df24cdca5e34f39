"""Shared fixtures: where the shared benchmark data sit, skipping cleanly without them."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BENCHMARKS = SHARED / "benchmarks"


@pytest.fixture
def shared_benchmarks() -> Path:
    """``../shared/benchmarks`` beside the checkout; skip if this clone has none."""
    if not BENCHMARKS.is_dir():
        pytest.skip(f"shared benchmark data not found at {BENCHMARKS}")
    return BENCHMARKS
