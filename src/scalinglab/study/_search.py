"""Which (shard, model size) cells a study runs: ``grid`` and ``hestness``.

The planner is a pure function of the spec and the runs stored so far: it returns every run
that should exist now. The study loop inserts what is absent (the storage's unique key makes
that safe with several processes) whenever runs finish, so the search advances in phases and
resumes correctly: the same stored scores always give the same plan.

Hestness et al. 2017 (METHOD.md section 1, step 4): find the best-fit model of the smallest and
the largest shard by trying every model size, then run a stochastic (Monte Carlo) grid search
between those two sizes for the shards in between.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scalinglab.storage import PlannedRun
from scalinglab.study._spec import StudySpec

__all__ = ["PHASE_ENDPOINTS", "PHASE_REFINE", "PHASE_SAMPLE", "plan_runs"]

PHASE_ENDPOINTS = 0
PHASE_SAMPLE = 1
PHASE_REFINE = 2

_FINISHED = ("COMPLETE", "FAILED", "PRUNED")


def _cells(spec: StudySpec, shard: int, size_indices: list[int], phase: int) -> list[PlannedRun]:
    params, key = spec.params, spec.config_key
    return [
        PlannedRun(shard_index=shard, shard_size=spec.shard_sizes[shard],
                   model_size=spec.model_sizes[i], seed=seed, config_key=key, params=params,
                   phase=phase)
        for i in size_indices for seed in spec.seeds
    ]


def _cell_scores(runs: pd.DataFrame, shard: int, sizes: tuple[float, ...]) -> dict[int, float]:
    """Median-over-seeds score of each model-size index with a completed run on ``shard``."""
    done = runs[(runs["shard_index"] == shard) & (runs["state"] == "COMPLETE")
                & runs["score"].notna()]
    if done.empty:
        return {}
    medians = done.groupby("model_size")["score"].median()
    index = {float(s): i for i, s in enumerate(sizes)}
    return {index[float(s)]: float(v) for s, v in zip(medians.index, medians.to_numpy(),
                                                      strict=True) if float(s) in index}


def _best(scores: dict[int, float]) -> int | None:
    # Lowest score; on a tie the smaller model (Hestness: the smallest model that fits best).
    if not scores:
        return None
    return min(scores, key=lambda i: (scores[i], i))


def _shard_finished(runs: pd.DataFrame, shard: int) -> bool:
    mine = runs[runs["shard_index"] == shard]
    return bool(len(mine)) and bool(mine["state"].isin(_FINISHED).all())


def plan_runs(spec: StudySpec, runs: pd.DataFrame | None = None) -> list[PlannedRun]:
    """Every run the study should have, given the runs stored so far.

    Parameters
    ----------
    spec : StudySpec
        The study.
    runs : pandas.DataFrame, optional
        Stored runs with at least the columns shard_index, model_size, state, score
        (:meth:`Storage.runs_frame`). ``None`` or empty: nothing run yet.

    Returns
    -------
    list of PlannedRun
        Runs to insert if absent (already stored ones may be included).
    """
    n_shards, sizes = len(spec.shard_sizes), spec.model_sizes
    all_sizes = list(range(len(sizes)))
    if spec.search.method == "grid" or n_shards <= 2:
        return [r for shard in range(n_shards) for r in _cells(spec, shard, all_sizes, 0)]

    first, last = 0, n_shards - 1
    planned = _cells(spec, first, all_sizes, PHASE_ENDPOINTS)
    planned += _cells(spec, last, all_sizes, PHASE_ENDPOINTS)
    if runs is None or runs.empty:
        return planned
    if not (_shard_finished(runs, first) and _shard_finished(runs, last)):
        return planned

    best_small = _best(_cell_scores(runs, first, sizes))
    best_large = _best(_cell_scores(runs, last, sizes))
    if best_small is None:
        best_small = 0
    if best_large is None:
        best_large = len(sizes) - 1
    lo = max(0, min(best_small, best_large) - spec.search.margin)
    hi = min(len(sizes) - 1, max(best_small, best_large) + spec.search.margin)
    band = list(range(lo, hi + 1))
    log_first = math.log(spec.shard_sizes[first])
    log_span = math.log(spec.shard_sizes[last]) - log_first

    for shard in range(1, last):
        # The sample: the size interpolated on log-log axes between the two endpoint
        # optima, plus seeded random draws from the band (the Monte Carlo grid search).
        t = (math.log(spec.shard_sizes[shard]) - log_first) / log_span
        centre = round(best_small + t * (best_large - best_small))
        centre = min(max(centre, lo), hi)
        rng = np.random.default_rng([spec.search.seed, shard])
        others = [i for i in band if i != centre]
        n_draw = min(len(others), spec.search.samples - 1)
        drawn = [int(i) for i in rng.choice(others, size=n_draw, replace=False)] if n_draw else []
        chosen = sorted({centre, *drawn})
        planned += _cells(spec, shard, chosen, PHASE_SAMPLE)
        if not spec.search.refine or not _shard_finished(runs, shard):
            continue
        # Refinement: walk to the neighbours of the best size until it is a local minimum
        # inside the band. Deterministic given the stored scores, so resumes agree.
        stored = {i for i, s in enumerate(sizes)
                  if ((runs["shard_index"] == shard) & (runs["model_size"] == float(s))).any()}
        best = _best(_cell_scores(runs, shard, sizes))
        if best is None:
            continue
        extra = [i for i in (best - 1, best + 1) if lo <= i <= hi and i not in stored]
        planned += _cells(spec, shard, extra, PHASE_REFINE)
        # Refinement cells already stored (from earlier steps) stay planned.
        earlier = sorted(stored - set(chosen) - set(extra))
        planned += _cells(spec, shard, earlier, PHASE_REFINE)
    return planned
