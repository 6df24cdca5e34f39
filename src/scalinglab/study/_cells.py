"""Runs into cells: which stored run counts for a (shard, size, hyperparameters) cell.

Shared by the planner (:mod:`scalinglab.study._search`) and the aggregation
(:mod:`scalinglab.study._aggregate`), so that both read the stored runs the same way:

- A run's *cell* is (shard, model size, hyperparameters without the engine's ``_budget``);
  ``cell_key`` is the hash of those hyperparameters (it equals the run's ``config_key`` for a
  first run, whose params carry no ``_budget``).
- A cell rerun with more budget keeps its earlier runs; for each seed the COMPLETE run with
  the largest budget counts (the *effective* run).
- A cell is budget-limited when any of its effective runs is (docs/engine.md, "Budgets").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

from scalinglab.study._spec import params_key

__all__ = ["BUDGET_PARAM", "best_cell", "by_shard", "cell_table", "effective_runs", "finished", "plain_params",
           "run_details"]

#: The key of a run's params that carries its budget factor (absent for 1x).
BUDGET_PARAM = "_budget"

_FINISHED = ("COMPLETE", "FAILED", "PRUNED")


def _parse_params(text: Any) -> tuple[str, float, dict[str, Any]]:
    params = json.loads(text) if isinstance(text, str) else {}
    budget = float(params.pop(BUDGET_PARAM, 1.0))
    return params_key(params), budget, params


def run_details(runs: pd.DataFrame | None) -> pd.DataFrame:
    """The runs frame with ``cell_key``, ``budget``, ``budget_limited`` and ``budget_aware``.

    Parameters
    ----------
    runs : pandas.DataFrame or None
        :meth:`Storage.runs_frame` (with ``params_json`` and ``final_metrics_json``); a frame
        without them counts every run as a 1x run that is not budget-limited.

    Returns
    -------
    pandas.DataFrame
        A copy with the added columns (``cell_params``: the cell's hyperparameters as dicts).
    """
    if runs is None:
        runs = pd.DataFrame(columns=["shard_index", "shard_size", "model_size", "seed",
                                     "config_key", "state", "score", "n_params"])
    frame = runs.copy()
    if "cell_key" in frame.columns:
        return frame
    n = len(frame)
    if "params_json" in frame.columns and n:
        # Few distinct params strings (points x budgets): parse each once.
        codes, texts = pd.factorize(frame["params_json"], use_na_sentinel=False)
        parsed = [_parse_params(t) for t in texts]
        keys = np.array([p[0] for p in parsed], dtype=object)
        budgets = np.array([p[1] for p in parsed], dtype=float)
        dicts = np.empty(len(parsed), dtype=object)
        dicts[:] = [p[2] for p in parsed]
        frame["cell_key"] = keys[codes]
        frame["budget"] = budgets[codes]
        frame["cell_params"] = pd.Series(dicts[codes], index=frame.index, dtype=object)
    else:
        frame["cell_key"] = frame["config_key"] if "config_key" in frame.columns else ""
        frame["budget"] = np.ones(n)
        frame["cell_params"] = pd.Series([{} for _ in range(n)], index=frame.index,
                                         dtype=object)
    if "final_metrics_json" in frame.columns and n:
        text = frame["final_metrics_json"].fillna("").astype(str)
        frame["budget_limited"] = text.str.contains('"budget_limited":true', regex=False)
        frame["budget_aware"] = text.str.contains('"budget_aware":true', regex=False)
    else:
        frame["budget_limited"] = np.zeros(n, dtype=bool)
        frame["budget_aware"] = np.zeros(n, dtype=bool)
    return frame


def effective_runs(details: pd.DataFrame) -> pd.DataFrame:
    """For each (shard, size, cell, seed): the COMPLETE run with a score and the largest budget."""
    done = details[(details["state"] == "COMPLETE") & details["score"].notna()]
    if done.empty:
        return done
    done = done.sort_values("budget", kind="stable")
    return done.drop_duplicates(["shard_index", "model_size", "cell_key", "seed"], keep="last")


def cell_table(details: pd.DataFrame) -> pd.DataFrame:
    """One row per (shard, size, cell) with an effective run.

    Columns: shard_index, model_size, cell_key, shard_size, score (median over seeds),
    n_seeds, n_params (median), budget (largest stored for the cell, any state),
    budget_limited (any effective run is), budget_aware (every effective run is),
    cell_params. ``budget`` is the largest budget among the cell's effective runs.
    """
    eff = effective_runs(details)
    keys = ["shard_index", "model_size", "cell_key"]
    if eff.empty:
        return pd.DataFrame(columns=[*keys, "shard_size", "score", "n_seeds", "n_params",
                                     "budget", "budget_limited", "budget_aware", "cell_params"])
    grouped = eff.groupby(keys, sort=True)
    cells = pd.DataFrame({
        "shard_size": grouped["shard_size"].first(), "score": grouped["score"].median(),
        "n_seeds": grouped["score"].size(), "n_params": grouped["n_params"].median(),
        "budget": grouped["budget"].max(),
        "budget_limited": grouped["budget_limited"].max().astype(bool),
        "budget_aware": grouped["budget_aware"].min().astype(bool),
    }).reset_index()
    # A cell key is the hash of the cell's params, so one params dict per key.
    params = dict(zip(eff["cell_key"], eff["cell_params"], strict=True))
    cells["cell_params"] = [params[k] for k in cells["cell_key"]]
    return cells


def best_cell(cells: pd.DataFrame, size_tolerance: float = 0.0) -> pd.DataFrame:
    """Per shard, the best cell: the lowest score (smaller size, then key, on a tie).

    With ``size_tolerance = t > 0``, the smallest size whose best score is within a factor
    ``1 + t`` of the lowest wins (see :func:`scalinglab.study.aggregate_runs`).
    """
    if cells.empty:
        return cells
    lowest = cells.groupby("shard_index")["score"].transform("min")
    good = cells[cells["score"] <= lowest * (1.0 + max(size_tolerance, 0.0))]
    order = ["shard_index", "model_size", "score", "cell_key"] if size_tolerance > 0 else \
        ["shard_index", "score", "model_size", "cell_key"]
    ranked = good.sort_values(order, kind="stable")
    return ranked.drop_duplicates("shard_index", keep="first").sort_values("shard_index")


def by_shard(frame: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """``frame`` split by ``shard_index``."""
    out: dict[int, pd.DataFrame] = {}
    if len(frame):
        for key, group in frame.groupby("shard_index"):
            out[int(cast(Any, key))] = group
    return out


def plain_params(params: Mapping[str, Any], tuned: tuple[str, ...]) -> dict[str, Any]:
    """The tuned hyperparameters of a cell (``tuned`` names), as plain JSON values."""
    return {k: params[k] for k in tuned if k in params}


def finished(details: pd.DataFrame) -> bool:
    """Whether every run of ``details`` is finished (and there is at least one)."""
    return bool(len(details)) and bool(details["state"].isin(_FINISHED).all())
