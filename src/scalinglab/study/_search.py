"""Which runs a study has: sizes (``grid``, ``hestness``), tuned params, budgets, grid growth.

The planner is a pure function of the spec and the runs stored so far: it returns every run
that should exist now. The study loop inserts what is absent (the storage's unique key makes
that safe with several processes) whenever runs finish, so the search advances in phases and
resumes correctly: the same stored runs always give the same plan.

Hestness et al. 2017, "Deep learning scaling is predictable, empirically" (their
methodology, as docs/engine.md 'Search' describes it): find the best-fit model of the smallest
and the largest shard by trying every model size, then run a stochastic (Monte Carlo) grid
search between those two sizes for the shards in between; tune the scale-dependent
hyperparameters per shard; and make sure a best fit is a real minimum:

- **Hyperparameters** (``[search.params]``): every planned (shard, size) cell is trained with
  each of ``param_samples`` seeded quasi-random points (:meth:`SearchSpec.points`).
- **Budgets** (``[budget]``): once every run of a shard is finished, each cell whose effective
  runs are budget-limited (and whose task reads ``trial.budget``) and whose score is within
  ``1 + margin`` of the shard's best is rerun, every seed, with twice its budget while that
  stays <= ``max_factor``.
- **Grid growth** (``[model] min_size``/``max_size``): once every run of a shard is finished,
  when its best-fit size is the largest (smallest) size tried on it, the next size of the
  ladder (:meth:`ModelAxis.ladder`) is run there, with the best cell's budget. The best-fit
  size is the smallest within ``[model] size_tolerance`` of the shard's lowest score, the
  same rule the analysis reports.

Decisions about a shard are taken only when all its runs are finished, and the shards between
the endpoints wait until both endpoints are *settled* (finished, nothing more to add), so the
sequence of decisions does not depend on timing: a study killed at any point and resumed plans
exactly the runs an uninterrupted one does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.storage import PlannedRun
from scalinglab.study._cells import (
    BUDGET_PARAM,
    best_cell,
    by_shard,
    cell_table,
    finished,
    plain_params,
    run_details,
)
from scalinglab.study._spec import StudySpec, params_key

__all__ = ["PHASE_BUDGET", "PHASE_ENDPOINTS", "PHASE_GROW", "PHASE_REFINE", "PHASE_SAMPLE",
           "limit_notes", "plan_runs", "shard_checks", "size_position"]

PHASE_ENDPOINTS = 0
PHASE_SAMPLE = 1
PHASE_REFINE = 2
PHASE_BUDGET = 3
PHASE_GROW = 4


def _budget_value(budget: float) -> float | int:
    return int(budget) if float(budget).is_integer() else float(budget)


class _Planner:
    def __init__(self, spec: StudySpec, runs: pd.DataFrame | None) -> None:
        self.spec = spec
        self.ladder = spec.model.ladder()
        self.index = {float(s): i for i, s in enumerate(self.ladder)}
        self.base = [self.index[float(s)] for s in spec.model_sizes]
        self.points = spec.search.points()
        self.details = run_details(runs)
        empty = self.details.iloc[0:0]
        self.by_shard = by_shard(self.details)
        self._empty = empty
        all_cells = cell_table(self.details)
        all_cells = all_cells[all_cells["model_size"].astype(float).isin(self.index)]
        self._cells_empty = all_cells.iloc[0:0]
        self.cells_by_shard = by_shard(all_cells)
        self.stored = set(zip(self.details["shard_index"].astype(int),
                              self.details["model_size"].astype(float),
                              self.details["seed"].astype(int),
                              self.details["config_key"], strict=True)) if len(self.details) \
            else set()

    def runs(self, shard: int) -> pd.DataFrame:
        return self.by_shard.get(shard, self._empty)

    def cells(self, shard: int, size_indices: list[int], phase: int,
              budget: float = 1.0) -> list[PlannedRun]:
        out = []
        for i in size_indices:
            for point in self.points:
                params = {**self.spec.params, **point}
                if budget != 1.0:
                    params[BUDGET_PARAM] = _budget_value(budget)
                key = params_key(params)
                out += [PlannedRun(shard_index=shard, shard_size=self.spec.shard_sizes[shard],
                                   model_size=self.ladder[i], seed=seed, config_key=key,
                                   params=params, phase=phase)
                        for seed in self.spec.seeds]
        return out

    def tried(self, shard: int) -> list[int]:
        sizes = self.runs(shard)["model_size"].astype(float).unique()
        return sorted(self.index[s] for s in sizes if s in self.index)

    def shard_cells(self, shard: int) -> pd.DataFrame:
        return self.cells_by_shard.get(shard, self._cells_empty)

    def best(self, shard: int) -> dict[str, Any] | None:
        cells = self.shard_cells(shard)
        if cells.empty:
            return None
        tolerance = self.spec.model.size_tolerance
        return {str(k): v for k, v in best_cell(cells, tolerance).iloc[0].to_dict().items()}

    def follow(self, shard: int, grow: bool = True) -> list[PlannedRun]:
        """Budget extensions and grid growth of a finished shard (nothing while it runs)."""
        runs = self.runs(shard)
        if not finished(runs):
            return []
        cells = self.shard_cells(shard)
        if cells.empty:
            return []
        out: list[PlannedRun] = []
        limit = self.spec.budget.max_factor * (1 + 1e-9)
        # Only cells that could be the best fit: within the margin of the shard's best score.
        near = float(cells["score"].min()) * (1 + self.spec.budget.margin)
        for row in cells.to_dict("records"):
            budget = float(row["budget"])
            if (bool(row["budget_limited"]) and bool(row["budget_aware"])
                    and 2 * budget <= limit and float(row["score"]) <= near):
                params = {**row["cell_params"], BUDGET_PARAM: _budget_value(2 * budget)}
                key = params_key(params)
                out += [PlannedRun(shard_index=shard, shard_size=self.spec.shard_sizes[shard],
                                   model_size=float(row["model_size"]), seed=seed,
                                   config_key=key, params=params, phase=PHASE_BUDGET)
                        for seed in self.spec.seeds]
        best = self.best(shard)
        if grow and best is not None:
            tried = self.tried(shard)
            i = self.index[float(best["model_size"])]
            budget = float(best["budget"])
            if i == tried[-1] and i + 1 < len(self.ladder):
                out += self.cells(shard, [i + 1], PHASE_GROW, budget)
            if i == tried[0] and i > 0:
                out += self.cells(shard, [i - 1], PHASE_GROW, budget)
        return out

    def settled(self, shard: int, follow: list[PlannedRun]) -> bool:
        return finished(self.runs(shard)) and all(p.key in self.stored for p in follow)


def _dedupe(planned: list[PlannedRun]) -> list[PlannedRun]:
    seen: dict[tuple[int, float, int, str], PlannedRun] = {}
    for run in planned:
        seen.setdefault(run.key, run)
    return list(seen.values())


def plan_runs(spec: StudySpec, runs: pd.DataFrame | None = None) -> list[PlannedRun]:
    """Every run the study should have, given the runs stored so far.

    Parameters
    ----------
    spec : StudySpec
        The study.
    runs : pandas.DataFrame, optional
        Stored runs (:meth:`Storage.runs_frame`; its ``params_json`` and
        ``final_metrics_json`` columns carry budgets). ``None`` or empty: nothing run yet.

    Returns
    -------
    list of PlannedRun
        Runs to insert if absent (already stored ones may be included), without duplicates.
    """
    plan = _Planner(spec, runs)
    n_shards = len(spec.shard_sizes)
    if spec.search.method == "grid" or n_shards <= 2:
        planned = []
        for shard in range(n_shards):
            planned += plan.cells(shard, plan.base, PHASE_ENDPOINTS)
            planned += plan.follow(shard)
        return _dedupe(planned)

    first, last = 0, n_shards - 1
    planned = plan.cells(first, plan.base, PHASE_ENDPOINTS)
    planned += plan.cells(last, plan.base, PHASE_ENDPOINTS)
    if plan.details.empty:
        return planned
    follow_first, follow_last = plan.follow(first), plan.follow(last)
    planned += follow_first + follow_last
    if not (plan.settled(first, follow_first) and plan.settled(last, follow_last)):
        return _dedupe(planned)

    best_first, best_last = plan.best(first), plan.best(last)
    best_small = plan.base[0] if best_first is None else plan.index[float(best_first["model_size"])]
    best_large = plan.base[-1] if best_last is None else plan.index[float(best_last["model_size"])]
    top = len(plan.ladder) - 1
    lo = max(0, min(best_small, best_large) - spec.search.margin)
    hi = min(top, max(best_small, best_large) + spec.search.margin)
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
        planned += plan.cells(shard, chosen, PHASE_SAMPLE)
        if not finished(plan.runs(shard)):
            continue
        planned += plan.follow(shard, grow=spec.search.refine)
        if not spec.search.refine:
            continue
        # Refinement: walk to the neighbours of the best size until it is a local minimum
        # inside the band. Deterministic given the stored runs, so resumes agree.
        best = plan.best(shard)
        if best is None:
            continue
        i = plan.index[float(best["model_size"])]
        stored = set(plan.tried(shard))
        extra = [j for j in (i - 1, i + 1) if lo <= j <= hi and j not in stored]
        planned += plan.cells(shard, extra, PHASE_REFINE, float(best["budget"]))
    return _dedupe(planned)


def size_position(i: int, tried: list[int], n_ladder: int) -> str:
    """Where ladder index ``i`` lies among the ``tried`` indices (sorted) of a shard.

    ``"interior"``, ``"max_size"`` / ``"min_size"`` (an end of the ladder: the limit was
    hit) or ``"edge"`` (an edge of the sizes tried that the ladder could pass).
    """
    if tried and tried[0] < i < tried[-1]:
        return "interior"
    if (not tried or i == tried[-1]) and i == n_ladder - 1:
        return "max_size"
    if (not tried or i == tried[0]) and i == 0:
        return "min_size"
    return "edge"


def shard_checks(spec: StudySpec, runs: pd.DataFrame | None,
                 size_tolerance: float | None = None) -> pd.DataFrame:
    """Per shard: the best-fit cell and whether it measured data or a limit of the study.

    Parameters
    ----------
    spec : StudySpec
        The study.
    runs : pandas.DataFrame or None
        :meth:`Storage.runs_frame` of the study.
    size_tolerance : float, optional
        As in :func:`scalinglab.study.aggregate_runs` (which best fit is reported); default
        the spec's ``[model] size_tolerance``, the rule the search itself followed.

    Returns
    -------
    pandas.DataFrame
        One row per shard with a completed run: ``shard_index``, ``shard_size``,
        ``best_model_size``, ``best_params`` (dict of the tuned hyperparameters),
        ``budget`` (factor of the best cell's runs), ``budget_limited`` (bool),
        ``budget_status`` (``"converged"``; ``"max_factor"``: limited at
        ``[budget] max_factor``; ``"ignored"``: limited, and the task does not read
        ``trial.budget``; ``"pending"``: an extension is planned or running),
        ``size_status`` (``"interior"``: sizes on both sides were tried and are worse;
        ``"max_size"`` / ``"min_size"``: at the end of the ladder, the limit was hit;
        ``"edge"``: at the edge of the sizes tried, growth pending or turned off),
        ``n_sizes`` (sizes tried) and ``settled`` (all runs finished, nothing left to add).
    """
    plan = _Planner(spec, runs)
    if size_tolerance is None:
        size_tolerance = spec.model.size_tolerance
    tuned = tuple(p.name for p in spec.search.params)
    planned = {p.key for p in plan_runs(spec, runs)} if len(plan.details) else set()
    missing = planned - plan.stored
    rows: list[dict[str, Any]] = []
    limit = spec.budget.max_factor * (1 + 1e-9)
    for shard in sorted(plan.by_shard):
        cells = plan.shard_cells(shard)
        if cells.empty:
            continue
        best = {str(k): v for k, v in best_cell(cells, size_tolerance).iloc[0].to_dict().items()}
        tried = plan.tried(shard)
        size_status = size_position(plan.index[float(best["model_size"])], tried,
                                    len(plan.ladder))
        budget = float(best["budget"])
        limited = bool(best["budget_limited"])
        shard_done = finished(plan.runs(shard))
        if not limited:
            budget_status = "converged"
        elif not bool(best["budget_aware"]):
            budget_status = "ignored"
        elif 2 * budget > limit:
            budget_status = "max_factor"
        else:
            budget_status = "pending"
        rows.append({
            "shard_index": shard, "shard_size": int(best["shard_size"]),
            "best_model_size": float(best["model_size"]),
            "best_params": plain_params(best["cell_params"], tuned),
            "budget": budget, "budget_limited": limited, "budget_status": budget_status,
            "size_status": size_status, "n_sizes": len(tried),
            "settled": shard_done and not any(k[0] == shard for k in missing),
        })
    columns = ["shard_index", "shard_size", "best_model_size", "best_params", "budget",
               "budget_limited", "budget_status", "size_status", "n_sizes", "settled"]
    return pd.DataFrame(rows, columns=columns)


def limit_notes(spec: StudySpec, checks: pd.DataFrame) -> list[str]:
    """One line per shard whose best fit hit a limit of the study (from :func:`shard_checks`).

    Only settled shards are named; an empty list means every best fit is interior and
    converged (or nothing is settled yet).
    """
    knob = spec.model.knob
    notes = []
    for row in checks.to_dict("records"):
        if not row["settled"]:
            continue
        size = f"{float(row['best_model_size']):g}"
        where = f"shard {row['shard_size']}: best {knob} {size}"
        if row["size_status"] == "max_size":
            notes.append(f"{where} is the largest allowed (model.max_size = "
                         f"{spec.model.upper_limit:g}); raise it to look further")
        elif row["size_status"] == "min_size":
            notes.append(f"{where} is the smallest allowed (model.min_size = "
                         f"{spec.model.lower_limit:g}); lower it to look further")
        elif row["size_status"] == "edge":
            notes.append(f"{where} is at the edge of the sizes tried (search.refine = false)")
        if row["budget_status"] == "max_factor":
            notes.append(f"{where} is still budget-limited at {float(row['budget']):g}x "
                         f"(budget.max_factor = {spec.budget.max_factor:g}); raise it to train "
                         f"longer")
        elif row["budget_status"] == "ignored":
            notes.append(f"{where} is budget-limited and the task does not read trial.budget, "
                         f"so it cannot be extended")
    return notes
