"""Do the 90% intervals of the bootstrap over runs mean 90%?

300 seeded synthetic studies with a known truth: a power-law learning curve
eps(n) = A n^beta_g over 9 doubling shards, a 7-size model grid whose best size grows
every other shard (so every replicate redoes a real best-fit selection), 2 seeds a cell
with log-normal seed noise of sd 0.025 (the demo study's: 0.013-0.026 measured on its
2-seed cells). For each study the bootstrap over runs gives 90% intervals of beta_g, of
the data needed for the error truth reaches at 4x the largest shard, and of the error at
8x the largest shard; each must cover the truth in 85-95% of the studies.
"""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab.analysis import bootstrap_runs

N_STUDIES = 300
LEVEL = 0.9
A, BETA_G = 5.0, -0.35
SHARDS = 128 * 2.0 ** np.arange(9)
GRID = 2.0 ** np.arange(7)
SEEDS = 2
NOISE = 0.025


def _cells() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = np.repeat(SHARDS, len(GRID))
    s = np.tile(GRID, len(SHARDS))
    best_index = 1 + np.arange(len(SHARDS)) // 2  # inside the grid: 1..5 of 0..6
    j = np.tile(np.arange(len(GRID)), len(SHARDS))
    penalty = 1.0 + 0.5 * (j - np.repeat(best_index, len(GRID))) ** 2
    return n, s, A * n**BETA_G * penalty


def _coverage(resample: str, n_studies: int = N_STUDIES) -> dict[str, float]:
    n, s, clean = _cells()
    rng = np.random.default_rng(20261202)
    largest = SHARDS[-1]
    target = A * (4 * largest) ** BETA_G
    hits = {"beta_g": 0, "data_for_target": 0, "error_at_8x": 0}
    for study in range(n_studies):
        scores = clean[:, None] * np.exp(NOISE * rng.standard_normal((len(clean), SEEDS)))
        boot = bootstrap_runs(n, s, s, scores, None, n_boot=400, seed=study, resample=resample)
        lo, hi = boot.interval("beta_g", LEVEL)
        hits["beta_g"] += lo <= BETA_G <= hi
        lo_d, hi_d = boot.inverse([target], LEVEL)
        hits["data_for_target"] += lo_d[0] <= 4 * largest <= hi_d[0]
        lo_e, hi_e = boot.predict([8 * largest], LEVEL)
        hits["error_at_8x"] += lo_e[0] <= A * (8 * largest) ** BETA_G <= hi_e[0]
    return {k: v / n_studies for k, v in hits.items()}


def test_pooled_bootstrap_intervals_cover_the_truth_85_to_95_percent():
    coverage = _coverage("pooled")
    for name, value in coverage.items():
        assert 0.85 <= value <= 0.95, (name, coverage)


def test_within_cell_bootstrap_of_two_seeds_undercovers():
    # The textbook bootstrap of a cell's own 2 seeds halves the variance: it must show.
    coverage = _coverage("seeds", n_studies=100)
    assert max(coverage.values()) < 0.85, coverage


def test_bootstrap_repeats_for_a_seed_and_refuses_one_seed_studies():
    n, s, clean = _cells()
    scores = clean[:, None] * np.exp(NOISE * np.random.default_rng(1).standard_normal((len(clean), SEEDS)))
    a = bootstrap_runs(n, s, s, scores, None, n_boot=100, seed=3)
    b = bootstrap_runs(n, s, s, scores, None, n_boot=100, seed=3)
    assert np.array_equal(a.beta_g, b.beta_g)
    from scalinglab import InputError

    with pytest.raises(InputError, match="2 or more seeds"):
        bootstrap_runs(n, s, s, scores[:, :1], None, n_boot=100)
