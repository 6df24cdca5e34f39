"""The method's own preconditions, checked before any number is reported.

Each check has a status (``ok``, ``warning``, ``fail``) and a reason in words. A number
whose check fails is reported as not estimable, with that reason, instead of an interval
(docs/analysis.md, "Checks before numbers"):

=====================  ===============================================  ======================
check                  passes when                                       guards
=====================  ===============================================  ======================
converged              no run of a best-fit cell was budget-limited      beta_g, beta_p
model_interior         every shard's best-fit size is inside the grid    edge shards leave s(m)
power_law_window       4+ shards inside the detected power-law region    beta_g
beta_p_identifiable    4+ distinct interior best-fit sizes               beta_p
fits_identified        no headline fit at a bound or singular            that fit's numbers
=====================  ===============================================  ======================
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from scalinglab.fitting import FitResult

__all__ = [
    "BUDGET_TAIL",
    "Check",
    "budget_limited",
    "check_beta_p_identifiable",
    "check_converged",
    "check_fits_identified",
    "check_model_interior",
    "check_model_interior_status",
    "check_power_law_window",
    "interior_mask",
]

Status = Literal["ok", "warning", "fail"]

#: A run whose best evaluation is in the last 20% of its steps was still improving.
BUDGET_TAIL = 0.2
#: Shards needed inside the power-law region to fit beta_g, and distinct interior
#: best-fit sizes needed to fit beta_p.
MIN_WINDOW = 4
MIN_INTERIOR_SIZES = 4
#: A fitted start of the irreducible-error region more than this many times the largest shard
#: is not a located boundary: the data do not reach the floor.
FLOOR_IN_SIGHT = 10.0


@dataclass(frozen=True)
class Check:
    """One precondition of the method: its name, status and the reason in words."""

    name: str
    status: Status
    reason: str

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "reason": self.reason}


def budget_limited(
    final_metrics: Mapping[str, Any] | None,
    steps: Sequence[float] | None = None,
    errors: Sequence[float] | None = None,
) -> bool | None:
    """Whether a run stopped because its budget ran out rather than because it converged.

    In order: the run's own ``budget_limited`` flag; else its ``best_step``, ``steps`` and
    ``max_steps`` (the torch tasks): limited when it ran to ``max_steps`` or its best step
    is in the last :data:`BUDGET_TAIL` of its steps; else the stored training curve
    (``steps``, ``errors``): limited when its lowest error is in the last
    :data:`BUDGET_TAIL` of its steps. ``None`` when nothing says.
    """
    metrics = dict(final_metrics or {})
    flag = metrics.get("budget_limited")
    if isinstance(flag, bool | int | float) and not (isinstance(flag, float) and math.isnan(flag)):
        return bool(flag)
    best, done, cap = (metrics.get(k) for k in ("best_step", "steps", "max_steps"))
    if isinstance(best, int | float) and isinstance(done, int | float) and done > 0:
        at_cap = isinstance(cap, int | float) and done >= cap
        return bool(at_cap or best > (1 - BUDGET_TAIL) * done)
    if steps is not None and errors is not None and len(steps) >= 2 and len(steps) == len(errors):
        s = np.asarray(steps, dtype=float)
        e = np.asarray(errors, dtype=float)
        if not np.any(np.isfinite(e)):
            return None
        best_step = float(s[int(np.nanargmin(e))])
        first, last = float(s[0]), float(s[-1])
        if last <= first:
            return None
        return bool(best_step > first + (1 - BUDGET_TAIL) * (last - first))
    return None


def check_converged(best_cells: pd.DataFrame, runs: pd.DataFrame | None) -> Check:
    """``converged``: no run of a best-fit cell was budget-limited.

    ``best_cells`` has ``shard_size`` and ``model_size`` per shard; ``runs`` has
    ``shard_size``, ``model_size``, ``seed`` and ``budget_limited`` (1, 0 or NaN).
    """
    if runs is None or runs.empty or "budget_limited" not in runs:
        return Check("converged", "warning",
                     "the runs do not record whether their step budget ran out (no "
                     "budget_limited, best_step/steps or stored curve): convergence not checked")
    merged = best_cells[["shard_size", "model_size"]].merge(runs, on=["shard_size", "model_size"], how="left")
    known = merged["budget_limited"].notna()
    if not known.any():
        return Check("converged", "warning",
                     "no best-fit run records whether its step budget ran out: convergence not checked")
    limited = merged[known & (merged["budget_limited"] > 0.5)]
    n_known = int(known.sum())
    # One row per run, or one per shard's best-fit cell (seed -1: the engine's verdict on
    # the cell at its final budget); the message counts what the rows are.
    per_cell = "seed" in merged and bool((merged["seed"] < 0).all())
    unit = ("best-fit cells (one per shard, at its final budget)" if per_cell
            else "runs of the best-fit models")
    if limited.empty:
        extra = "" if known.all() else f" ({int((~known).sum())} unknown)"
        return Check("converged", "ok",
                     f"none of the {n_known} {unit} was budget-limited{extra}")
    shards = sorted({int(v) for v in limited["shard_size"]})
    shown = ", ".join(str(s) for s in shards[:6]) + (", ..." if len(shards) > 6 else "")
    return Check(
        "converged", "fail",
        f"{len(limited)} of {n_known} {unit} were budget-limited (best "
        f"evaluation in the last {int(100 * BUDGET_TAIL)}% of the steps, or stopped at the step "
        f"cap) on shards {shown}: their errors are upper bounds; raise [budget] max_factor and "
        "resume the study (only the limited cells are rerun, with 2x, 4x... the steps), or give "
        "every run more steps ([train] epochs, step_cap: new runs of the whole study)",
    )


def interior_mask(best_model_size: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """True where a shard's best-fit model size is strictly inside the study's size grid."""
    best = np.asarray(best_model_size, dtype=float)
    sizes = np.unique(np.asarray(grid, dtype=float))
    if len(sizes) < 3:
        return np.zeros(best.shape, dtype=bool)
    return np.asarray((best > sizes[0]) & (best < sizes[-1]))


def check_model_interior(shard_size: np.ndarray, best_model_size: np.ndarray, grid: np.ndarray) -> Check:
    """``model_interior``: each shard's best-fit model is neither the smallest nor the largest size."""
    sizes = np.unique(np.asarray(grid, dtype=float))
    inside = interior_mask(best_model_size, sizes)
    n_edge = int((~inside).sum())
    if n_edge == 0:
        return Check("model_interior", "ok",
                     f"every shard's best-fit model is inside the size grid ({sizes[0]:g}..{sizes[-1]:g})")
    best = np.asarray(best_model_size, dtype=float)
    top = int(np.sum(best >= sizes[-1]))
    bottom = n_edge - top
    where = []
    if top:
        where.append(f"the largest size ({sizes[-1]:g}) on {top}")
    if bottom:
        where.append(f"the smallest size ({sizes[0]:g}) on {bottom}")
    status: Status = "warning" if n_edge == 1 else "fail"
    return Check(
        "model_interior", status,
        f"the best-fit model is at the edge of the size grid on {n_edge} of {len(best)} shards "
        f"({' and '.join(where)}): the best size there is censored; extend [model] sizes "
        + ("upwards" if top else "downwards"),
    )


def check_model_interior_status(shard_size: np.ndarray, best_model_size: np.ndarray,
                                size_status: np.ndarray) -> Check:
    """``model_interior`` from the engine's per-shard size status (a grid that follows the best).

    ``size_status`` is the study's verdict per shard (:func:`scalinglab.study.shard_checks`):
    ``"interior"`` (sizes on both sides were tried and are worse), ``"max_size"`` /
    ``"min_size"`` (the best is at a limit of ``[model]``), ``"edge"`` (at the edge of the sizes
    tried while growth is pending or turned off).
    """
    status = np.asarray(size_status, dtype=object)
    best = np.asarray(best_model_size, dtype=float)
    edge = status != "interior"
    n_edge = int(edge.sum())
    if n_edge == 0:
        return Check("model_interior", "ok",
                     f"every shard's best-fit model ({len(best)} shards) has a worse size tried "
                     "on both sides")
    counts = {k: int(np.sum(status == k)) for k in ("max_size", "min_size", "edge")}
    where = []
    if counts["max_size"]:
        where.append(f"at [model] max_size on {counts['max_size']}")
    if counts["min_size"]:
        where.append(f"at [model] min_size on {counts['min_size']}")
    if counts["edge"]:
        where.append(f"at the edge of the sizes tried on {counts['edge']} (grid growth pending "
                     "or turned off)")
    fix = ("raise [model] max_size" if counts["max_size"] else
           "lower [model] min_size" if counts["min_size"] else "let the study finish its grid growth")
    shards = ", ".join(f"{float(v):g}" for v in np.asarray(shard_size, dtype=float)[edge][:6])
    state: Status = "warning" if n_edge == 1 else "fail"
    return Check(
        "model_interior", state,
        f"the best-fit model is not interior on {n_edge} of {len(best)} shards "
        f"({'; '.join(where)}; shards {shards}): the best size there is censored; {fix}",
    )


def check_power_law_window(shard_size: np.ndarray, window: tuple[float, float] | None,
                           why_none: str | None = None) -> Check:
    """``power_law_window``: beta_g is fitted on 4 or more shards inside the power-law region."""
    if window is None:
        return Check("power_law_window", "fail",
                     f"the power-law region could not be located ({why_none or 'no envelope fit'}): "
                     "beta_g not estimable")
    x = np.asarray(shard_size, dtype=float)
    inside = (x > window[0]) & (x < window[1])
    k = int(inside.sum())
    largest = float(np.max(x)) if len(x) else math.nan
    if math.isfinite(window[1]) and not window[1] > largest:
        span = f"({_fmt(window[0])} < n < {_fmt(window[1])} examples)"
    elif math.isfinite(window[1]) and window[1] <= FLOOR_IN_SIGHT * largest:
        span = (f"(n > {_fmt(window[0])} examples; the irreducible-error region would begin "
                f"beyond the largest shard, near {_fmt(window[1])})")
    else:
        span = f"(n > {_fmt(window[0])} examples; the data do not reach the floor)"
    if k >= MIN_WINDOW:
        return Check("power_law_window", "ok",
                     f"beta_g is fitted on the {k} shards inside the power-law region {span}")
    return Check(
        "power_law_window", "fail",
        f"only {k} shard(s) lie inside the power-law region {span}; beta_g needs "
        f"{MIN_WINDOW}: add shards between the plateau and the floor",
    )


def check_beta_p_identifiable(best_model_size: np.ndarray, interior: np.ndarray) -> Check:
    """``beta_p_identifiable``: 4 or more distinct best-fit sizes strictly inside the grid."""
    sizes = np.unique(np.asarray(best_model_size, dtype=float)[np.asarray(interior, dtype=bool)])
    if len(sizes) >= MIN_INTERIOR_SIZES:
        return Check("beta_p_identifiable", "ok",
                     f"{len(sizes)} distinct interior best-fit sizes carry the model-size law")
    return Check(
        "beta_p_identifiable", "fail",
        f"only {len(sizes)} distinct best-fit model size(s) inside the grid (need "
        f"{MIN_INTERIOR_SIZES}): s(n) is a step function here and beta_p is not estimable; "
        "use a finer or wider [model] sizes grid",
    )


#: Floor parameters: one at its lower bound 0 says "no floor in reach of the data", a
#: boundary estimate of a real quantity, not a degenerate fit.
FLOOR_PARAMS = frozenset({"c", "c_inf", "eps_inf", "gamma", "E"})
_AT_BOUND = "parameter(s) at a bound: "


def _degenerate(fit: FitResult) -> tuple[str | None, str | None]:
    """(reason the fit is degenerate, or None; a warning about a floor at 0, or None)."""
    reasons, warning = [], None
    for note in fit.notes:
        if "singular" in note:
            reasons.append(note)
        elif note.startswith(_AT_BOUND):
            names = [n.strip() for n in note[len(_AT_BOUND):].split(",")]
            floors = [n for n in names if n in FLOOR_PARAMS and fit.params.get(n, 1.0) <= 1e-9]
            others = [n for n in names if n not in floors]
            if others:
                reasons.append(_AT_BOUND + ", ".join(others))
            if floors:
                warning = f"the floor ({', '.join(floors)}) sits at 0: no floor in reach of the data"
    if not fit.converged:
        reasons.insert(0, "the fit did not converge")
    return ("; ".join(reasons) if reasons else None), warning


def check_fits_identified(fits: Mapping[str, FitResult | None]) -> tuple[Check, dict[str, str]]:
    """``fits_identified``: no headline fit at a parameter bound or with a singular Jacobian.

    A floor parameter at 0 is a warning, not a failure (:data:`FLOOR_PARAMS`). Returns the
    check and, per degenerate fit, the reason (its numbers are not estimable).
    """
    bad, warnings = {}, {}
    for name, fit in fits.items():
        if fit is None:
            continue
        reason, warning = _degenerate(fit)
        if reason:
            bad[name] = reason
        if warning:
            warnings[name] = warning
    names = ", ".join(k for k, v in fits.items() if v is not None)
    if bad:
        text = "; ".join(f"{k}: {v}" for k, v in bad.items())
        return Check("fits_identified", "fail", f"{text}: those numbers are not estimable"), bad
    if warnings:
        text = "; ".join(f"{k}: {v}" for k, v in warnings.items())
        return Check("fits_identified", "warning", f"{text}; no headline fit ({names}) is otherwise at a bound or singular"), bad
    return Check("fits_identified", "ok", f"no headline fit ({names}) is at a bound or singular"), bad


def _fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else "unbounded"
