"""Aggregation of stored runs into the learning curve eps(m) and the model-size curve s(m).

Hestness et al. 2017 (their methodology; docs/engine.md 'What the analysis reads'): the score of a (shard, model size)
cell is the median over seeds of the minimum validation error reached during training; the
best-fit model of a shard is the cell with the lowest score (the smaller model on a tie);
eps(m_i) is the best score of shard i and s(m_i) the parameter count of that model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalinglab._errors import InputError, invalid_parameter
from scalinglab._json import records
from scalinglab.storage import Storage
from scalinglab.study._cells import (
    best_cell,
    by_shard,
    cell_table,
    effective_runs,
    plain_params,
    run_details,
)

if TYPE_CHECKING:
    from scalinglab.study._spec import ModelAxis

__all__ = ["StudyCurves", "aggregate_runs", "study_checks", "study_curves"]


@dataclass(frozen=True, eq=False)
class StudyCurves:
    """The aggregated curves of a study, as plain arrays for the fitting engine.

    Per shard (arrays of length n_shards, smallest shard first; shards without a completed
    run are left out):

    Attributes
    ----------
    study : str
        Study name.
    metric : str
        The minimised metric.
    seeds : numpy.ndarray
        The seeds (columns of ``cell_seed_scores``).
    shard_index, shard_size : numpy.ndarray
        The shards (data size m, or n in Rosenfeld's notation).
    best_model_size : numpy.ndarray
        The best-fit model size of each shard.
    best_n_params : numpy.ndarray
        Its parameter count: the model-size curve s(m).
    median_min_val_error : numpy.ndarray
        Its score: the learning curve eps(m).
    cell_shard_index, cell_shard_size, cell_model_size, cell_n_params : numpy.ndarray
        Every (shard, model size) cell with a completed run (for joint-law fits).
    cell_median_min_val_error : numpy.ndarray
        Score of each cell (median over completed seeds of the min of the metric).
    cell_n_seeds : numpy.ndarray
        Number of completed seeds of each cell.
    cell_seed_scores : numpy.ndarray
        (n_cells, n_seeds) per-seed scores, NaN where a seed has no completed run.
    best_params : tuple of dict
        Per shard, the tuned hyperparameters (``[search.params]``) of the best-fit cell.
    best_budget : numpy.ndarray
        Per shard, the budget factor of the best-fit cell's runs (1 unless extended).
    best_budget_limited : numpy.ndarray
        Per shard (bool), whether the best-fit cell is still budget-limited.
    best_size_status : numpy.ndarray
        Per shard (str): ``"interior"``, ``"max_size"``, ``"min_size"``, ``"edge"``
        (see :func:`scalinglab.study.shard_checks`); ``""`` when the grid is unknown.
    cell_params : tuple of dict
        Per cell, the tuned hyperparameters of its best point (a (shard, model size) cell's
        score is the lowest over the sampled points).
    cell_budget, cell_budget_limited : numpy.ndarray
        Per cell, the budget factor and whether it is budget-limited.
    size_tolerance : float
        The rule that chose the best-fit sizes (:func:`aggregate_runs`); the analysis's
        bootstrap redoes the selection with it.
    """

    study: str
    metric: str
    seeds: np.ndarray
    shard_index: np.ndarray
    shard_size: np.ndarray
    best_model_size: np.ndarray
    best_n_params: np.ndarray
    median_min_val_error: np.ndarray
    cell_shard_index: np.ndarray
    cell_shard_size: np.ndarray
    cell_model_size: np.ndarray
    cell_n_params: np.ndarray
    cell_median_min_val_error: np.ndarray
    cell_n_seeds: np.ndarray
    cell_seed_scores: np.ndarray
    best_params: tuple[dict[str, Any], ...] = field(default=())
    best_budget: np.ndarray | None = None
    best_budget_limited: np.ndarray | None = None
    best_size_status: np.ndarray | None = None
    cell_params: tuple[dict[str, Any], ...] = field(default=())
    cell_budget: np.ndarray | None = None
    cell_budget_limited: np.ndarray | None = None
    size_tolerance: float = 0.0

    def __post_init__(self) -> None:
        n, k = len(self.shard_index), len(self.cell_shard_index)
        if len(self.best_params) != n:
            object.__setattr__(self, "best_params", tuple({} for _ in range(n)))
        if len(self.cell_params) != k:
            object.__setattr__(self, "cell_params", tuple({} for _ in range(k)))
        defaults = {"best_budget": np.ones(n), "best_budget_limited": np.zeros(n, dtype=bool),
                    "best_size_status": np.full(n, "", dtype=object),
                    "cell_budget": np.ones(k), "cell_budget_limited": np.zeros(k, dtype=bool)}
        for name, default in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
                object.__setattr__(self, name, value)

    @property
    def learning_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(shard_size, median_min_val_error): eps(m), ready for ``fit_law``."""
        return self.shard_size, self.median_min_val_error

    @property
    def model_size_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(shard_size, best_n_params): s(m)."""
        return self.shard_size, self.best_n_params

    def to_frame(self) -> pd.DataFrame:
        """One row per shard: shard_index, shard_size, best_model_size, best_n_params,
        median_min_val_error, budget, budget_limited, size_status, and one column per tuned
        hyperparameter (its chosen value)."""
        frame = pd.DataFrame({
            "shard_index": self.shard_index, "shard_size": self.shard_size,
            "best_model_size": self.best_model_size, "best_n_params": self.best_n_params,
            "median_min_val_error": self.median_min_val_error,
            "budget": self.best_budget, "budget_limited": self.best_budget_limited,
            "size_status": self.best_size_status,
        })
        for name in _param_names(self.best_params):
            frame[name] = [p.get(name) for p in self.best_params]
        return frame

    def cells_frame(self) -> pd.DataFrame:
        """One row per (shard, model size) cell, with a ``seed_<s>`` column per seed."""
        frame = pd.DataFrame({
            "shard_index": self.cell_shard_index, "shard_size": self.cell_shard_size,
            "model_size": self.cell_model_size, "n_params": self.cell_n_params,
            "median_min_val_error": self.cell_median_min_val_error,
            "n_seeds": self.cell_n_seeds, "budget": self.cell_budget,
            "budget_limited": self.cell_budget_limited,
        })
        for name in _param_names(self.cell_params):
            frame[name] = [p.get(name) for p in self.cell_params]
        for j, seed in enumerate(self.seeds):
            frame[f"seed_{int(seed)}"] = self.cell_seed_scores[:, j]
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"study", "metric", "seeds", "shards": [...], "cells": [...]}``."""
        return {"study": self.study, "metric": self.metric,
                "seeds": [int(s) for s in self.seeds],
                "shards": records(self.to_frame(), whole_floats_as_int=True),
                "cells": records(self.cells_frame(), whole_floats_as_int=True)}


def _param_names(params: tuple[dict[str, Any], ...]) -> list[str]:
    names: list[str] = []
    for p in params:
        names += [k for k in p if k not in names]
    return names


def aggregate_runs(
    runs: pd.DataFrame,
    *,
    study: str = "",
    metric: str = "val_error",
    seeds: np.ndarray | list[int] | tuple[int, ...] | None = None,
    size_tolerance: float | None = None,
    model: ModelAxis | None = None,
    tuned: tuple[str, ...] | list[str] | None = None,
) -> StudyCurves:
    """Aggregate runs (one frame, e.g. :meth:`Storage.runs_frame`) into :class:`StudyCurves`.

    Only COMPLETE runs with a score count; of a cell rerun with more budget, each seed's run
    with the largest budget counts. A (shard, model size) cell trained with several sampled
    hyperparameter points scores the lowest median-over-seeds over its points. Vectorised
    (pandas groupby), so 100,000 runs take well under a second.

    Parameters
    ----------
    runs : pandas.DataFrame
        Columns shard_index, shard_size, model_size, seed, state, score, n_params (and
        config_key, params_json, final_metrics_json for budgets and tuned params).
    study, metric : str
        Labels carried into the result.
    seeds : sequence of int, optional
        Seed columns of ``cell_seed_scores`` (default: the seeds present).
    size_tolerance : float, optional
        Hestness et al. take "the smallest model that fits the shard best". With
        ``size_tolerance = t > 0`` the best-fit model of a shard is the smallest one whose
        score is within a factor ``1 + t`` of the lowest (differences inside seed noise do
        not make a model better), and eps(m) is its score; 0 takes the lowest score.
        Default: ``model.size_tolerance`` (the spec's ``[model] size_tolerance``), else 0.
    model : ModelAxis, optional
        The study's model axis; gives ``best_size_status`` (else ``""``).
    tuned : sequence of str, optional
        Names of the tuned hyperparameters reported in ``best_params``/``cell_params``
        (default: none).
    """
    if size_tolerance is None:
        size_tolerance = 0.0 if model is None else model.size_tolerance
    details = run_details(runs)
    names = tuple(tuned or ())
    all_cells = cell_table(details)
    # A (shard, size) cell's score: its best hyperparameter point.
    cells = all_cells.sort_values(["shard_index", "model_size", "score", "cell_key"],
                                  kind="stable").drop_duplicates(["shard_index", "model_size"])
    cells = cells.reset_index(drop=True)
    eff = effective_runs(details)
    seed_values = (np.sort(eff["seed"].unique()) if seeds is None
                   else np.asarray(list(seeds), dtype=int))
    keys = ["shard_index", "model_size", "cell_key"]
    # No cell (no COMPLETE run yet): nothing to merge (the empty cell table has object columns).
    chosen = eff.merge(cells[keys], on=keys, how="inner") if len(cells) else eff.iloc[:0]
    seed_scores = chosen.groupby(["shard_index", "model_size", "seed"], sort=True)["score"].min()
    wide = seed_scores.unstack("seed") if len(seed_scores) else pd.DataFrame()
    index = pd.MultiIndex.from_frame(cells[["shard_index", "model_size"]]) if len(cells) \
        else pd.MultiIndex.from_arrays([[], []], names=["shard_index", "model_size"])
    per_seed = wide.reindex(index=index, columns=seed_values)
    best = best_cell(cells, size_tolerance)
    if model is not None and len(best):
        ladder = model.ladder()
        position = {float(s): i for i, s in enumerate(ladder)}
        tried = {k: sorted(position[float(s)] for s in g["model_size"].unique()
                           if float(s) in position) for k, g in by_shard(details).items()}
        from scalinglab.study._search import size_position

        status = np.array([
            size_position(position.get(float(s), -1), tried.get(int(k), []), len(ladder))
            if float(s) in position else "edge"
            for k, s in zip(best["shard_index"], best["model_size"], strict=True)], dtype=object)
    else:
        status = np.full(len(best), "", dtype=object)

    def arr(frame: pd.DataFrame, col: str, dtype: Any = float) -> np.ndarray:
        return frame[col].to_numpy(dtype=dtype, copy=True)

    return StudyCurves(
        study=study, metric=metric, seeds=np.asarray(seed_values, dtype=int),
        shard_index=arr(best, "shard_index", int), shard_size=arr(best, "shard_size", int),
        best_model_size=arr(best, "model_size"), best_n_params=arr(best, "n_params"),
        median_min_val_error=arr(best, "score"),
        cell_shard_index=arr(cells, "shard_index", int),
        cell_shard_size=arr(cells, "shard_size", int),
        cell_model_size=arr(cells, "model_size"), cell_n_params=arr(cells, "n_params"),
        cell_median_min_val_error=arr(cells, "score"),
        cell_n_seeds=arr(cells, "n_seeds", int),
        cell_seed_scores=per_seed.to_numpy(dtype=float, copy=True).reshape(len(cells),
                                                                          len(seed_values)),
        best_params=tuple(plain_params(p, names) for p in best["cell_params"]),
        best_budget=arr(best, "budget"), best_budget_limited=arr(best, "budget_limited", bool),
        best_size_status=status,
        cell_params=tuple(plain_params(p, names) for p in cells["cell_params"]),
        cell_budget=arr(cells, "budget"),
        cell_budget_limited=arr(cells, "budget_limited", bool),
        size_tolerance=float(size_tolerance),
    )


def study_curves(name: str, storage: Storage, size_tolerance: float | None = None) -> StudyCurves:
    """Aggregate a stored study (one query + a pandas groupby); see :func:`aggregate_runs`.

    ``size_tolerance`` defaults to the stored spec's ``[model] size_tolerance``.
    """
    record = storage.get_study(name)
    if record is None:
        raise _unknown_study(name, storage)
    from scalinglab.study._run import current_runs
    from scalinglab.study._spec import StudySpec

    # Every state: which sizes were tried (size status) counts runs that did not complete.
    # Only the runs of the current [train] (changing it makes new runs of the same study).
    frame = current_runs(storage, record)
    try:
        spec = StudySpec.from_dict(dict(record.spec))
    except InputError:  # a study stored through the storage API with a partial spec
        raw = record.spec
        return aggregate_runs(frame, study=name, metric=str(raw.get("metric", "val_error")),
                              seeds=raw.get("seeds"), size_tolerance=size_tolerance or 0.0)
    return aggregate_runs(frame, study=name, metric=spec.metric, seeds=spec.seeds,
                          size_tolerance=size_tolerance, model=spec.model,
                          tuned=tuple(p.name for p in spec.search.params))


def study_checks(name: str, storage: Storage, size_tolerance: float | None = None) -> pd.DataFrame:
    """Per shard of a stored study: best fit, budget and size status (:func:`shard_checks`).

    The validity checks of the analysis read this: a shard whose ``budget_limited`` is true
    measured its training budget, one whose ``size_status`` is not ``"interior"`` measured
    the edge of the model grid.
    """
    from scalinglab.study._search import shard_checks
    from scalinglab.study._spec import StudySpec

    record = storage.get_study(name)
    if record is None:
        raise _unknown_study(name, storage)
    from scalinglab.study._run import current_runs

    spec = StudySpec.from_dict(dict(record.spec))
    return shard_checks(spec, current_runs(storage, record), size_tolerance)


def _unknown_study(name: str, storage: Storage) -> InputError:
    import difflib

    names = [s.name for s in storage.list_studies()]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else (
        f" (stored: {', '.join(names[:10])})" if names else " (it holds no study)")
    return invalid_parameter("study", "", f"a study stored in {storage.url}{hint}", name,
                             verb="name")
