"""Aggregation of stored runs into the learning curve eps(m) and the model-size curve s(m).

Hestness et al. 2017 (METHOD.md section 1, steps 5-6): the score of a (shard, model size)
cell is the median over seeds of the minimum validation error reached during training; the
best-fit model of a shard is the cell with the lowest score (the smaller model on a tie);
eps(m_i) is the best score of shard i and s(m_i) the parameter count of that model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalinglab.storage import RunState, Storage

__all__ = ["StudyCurves", "aggregate_runs", "study_curves"]


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

    def __post_init__(self) -> None:
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
        median_min_val_error."""
        return pd.DataFrame({
            "shard_index": self.shard_index, "shard_size": self.shard_size,
            "best_model_size": self.best_model_size, "best_n_params": self.best_n_params,
            "median_min_val_error": self.median_min_val_error,
        })

    def cells_frame(self) -> pd.DataFrame:
        """One row per (shard, model size) cell, with a ``seed_<s>`` column per seed."""
        frame = pd.DataFrame({
            "shard_index": self.cell_shard_index, "shard_size": self.cell_shard_size,
            "model_size": self.cell_model_size, "n_params": self.cell_n_params,
            "median_min_val_error": self.cell_median_min_val_error,
            "n_seeds": self.cell_n_seeds,
        })
        for j, seed in enumerate(self.seeds):
            frame[f"seed_{int(seed)}"] = self.cell_seed_scores[:, j]
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"study", "metric", "seeds", "shards": [...], "cells": [...]}``."""
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for row in frame.to_dict(orient="records"):
                out.append({str(k): _plain(v) for k, v in row.items()})
            return out

        return {"study": self.study, "metric": self.metric,
                "seeds": [int(s) for s in self.seeds],
                "shards": records(self.to_frame()), "cells": records(self.cells_frame())}


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        if np.isnan(number):
            return None
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return value


def aggregate_runs(
    runs: pd.DataFrame,
    *,
    study: str = "",
    metric: str = "val_error",
    seeds: np.ndarray | list[int] | tuple[int, ...] | None = None,
    size_tolerance: float = 0.0,
) -> StudyCurves:
    """Aggregate runs (one frame, e.g. :meth:`Storage.runs_frame`) into :class:`StudyCurves`.

    Only COMPLETE runs with a score count. Vectorised (pandas groupby), so 100,000 runs take
    well under a second.

    Parameters
    ----------
    runs : pandas.DataFrame
        Columns shard_index, shard_size, model_size, seed, state, score, n_params.
    study, metric : str
        Labels carried into the result.
    seeds : sequence of int, optional
        Seed columns of ``cell_seed_scores`` (default: the seeds present).
    size_tolerance : float
        Hestness et al. take "the smallest model that fits the shard best". With
        ``size_tolerance = t > 0`` the best-fit model of a shard is the smallest one whose
        score is within a factor ``1 + t`` of the lowest (differences inside seed noise do
        not make a model better), and eps(m) is its score; 0 takes the lowest score.
    """
    done = runs.loc[(runs["state"] == RunState.COMPLETE.value) & runs["score"].notna(),
                    ["shard_index", "shard_size", "model_size", "seed", "score", "n_params"]]
    seed_values = (np.sort(done["seed"].unique()) if seeds is None
                   else np.asarray(list(seeds), dtype=int))
    keys = ["shard_index", "model_size"]
    grouped = done.groupby(keys, sort=True)
    cells = grouped.agg(shard_size=("shard_size", "first"), n_params=("n_params", "median"),
                        score=("score", "median"), n_seeds=("score", "size"))
    per_seed = done.groupby([*keys, "seed"], sort=True)["score"].min().unstack("seed")
    per_seed = per_seed.reindex(index=cells.index, columns=seed_values)
    cells = cells.reset_index()
    lowest = cells.groupby("shard_index")["score"].transform("min")
    good = cells[cells["score"] <= lowest * (1.0 + max(size_tolerance, 0.0))]
    # Smallest model among the good ones (all of them have a score within the tolerance).
    order = good.sort_values(["shard_index", "model_size", "score"] if size_tolerance > 0
                             else ["shard_index", "score", "model_size"], kind="stable")
    best = order.drop_duplicates("shard_index", keep="first").sort_values("shard_index")

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
    )


def study_curves(name: str, storage: Storage, size_tolerance: float = 0.0) -> StudyCurves:
    """Aggregate a stored study (one query + a pandas groupby); see :func:`aggregate_runs`."""
    from scalinglab._errors import InputError

    record = storage.get_study(name)
    if record is None:
        raise InputError(_unknown_study(name, storage))
    from scalinglab.study._run import current_runs

    frame = current_runs(storage, record, [RunState.COMPLETE])  # of the current [train]
    spec = record.spec
    return aggregate_runs(frame, study=name, metric=str(spec.get("metric", "val_error")),
                          seeds=spec.get("seeds"), size_tolerance=size_tolerance)


def _unknown_study(name: str, storage: Storage) -> str:
    import difflib

    names = [s.name for s in storage.list_studies()]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else (
        f" (stored: {', '.join(names[:10])})" if names else " (it holds no study)")
    where = getattr(storage, "display_url", None) or "the storage"
    return (f"The 'study' parameter must name a study stored in {where}{hint}. "
            f"Got {name!r} instead.")
