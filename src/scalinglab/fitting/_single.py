"""The fit of one named law: multi-start, bounded least squares with honest convergence reporting.

:func:`fit_single` is what :func:`scalinglab.fitting.fit_law` runs for a named law (``"auto"``
goes to :mod:`scalinglab.fitting._ensemble_fit`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab.fitting._data import validate_data
from scalinglab.fitting._eps0 import resolve_eps0
from scalinglab.fitting._losses import check_loss
from scalinglab.fitting._numdiff import central_jacobian
from scalinglab.fitting._problem import Problem
from scalinglab.fitting._result import FitResult, build_fit_result
from scalinglab.laws import FloatArray, Law, get_law

__all__ = ["fit_single"]

# Two optima whose costs differ by less than this (relative) are the same optimum.
_SAME_COST = 1e-6


def fit_single(
    law: str | Law, x: ArrayLike, y: ArrayLike, *, loss: str = "log", eps0: float | None = None,
    n_breaks: int = 1, fixed: Mapping[str, float] | None = None, weights: ArrayLike | None = None,
    n_starts: int = 8, huber_delta: float = 1e-3, starts: list[ArrayLike] | None = None,
    max_nfev: int | None = None,
) -> FitResult:
    """Fit one named law (or law object): what :func:`scalinglab.fitting.fit_law` runs for it.

    Parameters and result are :func:`~scalinglab.fitting.fit_law`'s (without ``"auto"``);
    unlike it, this function does not warn when the fit does not converge (the fits of
    rolling-origin validation use it and report through their scores).
    """
    try:
        y_for_bound = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        y_for_bound = np.ones(1)  # validate_data below names the problem
    bound = resolve_eps0(eps0, y_for_bound if np.any(np.isfinite(y_for_bound) & (y_for_bound > 0)) else [1.0])
    law_obj = get_law(law, eps0=bound.value, n_breaks=n_breaks)
    check_loss(loss)
    x_arr, y_arr = validate_data(law_obj, x, y)
    fixed = dict(fixed or {})
    unknown = sorted(set(fixed) - set(law_obj.param_names))
    if unknown:
        raise InputError(
            f"The 'fixed' parameter of fit_law must name parameters of {law_obj.name!r} "
            f"({', '.join(law_obj.param_names)}). Got {unknown!r} instead."
        )
    n_free = law_obj.n_params - len(fixed)
    if len(y_arr) < n_free:
        raise InputError(
            f"The data given to fit_law must have at least as many points as law "
            f"{law_obj.name!r} has free parameters ({n_free}). Got {len(y_arr)} instead; "
            "add points or choose a law with fewer parameters."
        )
    sqrt_w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != y_arr.shape or np.any(~np.isfinite(w)) or np.any(w < 0):
            raise InputError(
                "The 'weights' parameter of fit_law must be finite, >= 0 and one per point."
            )
        sqrt_w = np.sqrt(w)
    problem = Problem(law_obj, x_arr, y_arr, loss, huber_delta, fixed or None, sqrt_w)
    candidates = [np.asarray(s, dtype=float) for s in starts] if starts else law_obj.starts(x_arr, y_arr)
    result = _multistart(problem, candidates, n_starts, max_nfev)
    contradiction = bound.contradiction(
        float(np.max(y_arr)), f"the {law_obj.name} curve stays below eps0 and cannot pass through those points"
    ) if "eps0" in law_obj.constants else None
    if contradiction is not None:
        result = dataclasses.replace(result, notes=(*result.notes, contradiction))
    return result


def _start_thetas(problem: Problem, candidates: list[FloatArray], n_starts: int) -> list[FloatArray]:
    """Rank candidate starts (and a grid around the best) by initial cost."""
    fixed_theta = problem.fixed_theta()
    free = problem.free_mask
    lo, hi = problem.theta_bounds()
    thetas = []
    for values in candidates:
        theta = problem.to_theta(values)
        theta[~free] = fixed_theta[~free]
        thetas.append(np.clip(theta, lo, hi))
    if not thetas:
        thetas = [np.clip(fixed_theta, lo, hi)]
    costs = [problem.cost(t) for t in thetas]
    best = thetas[int(np.nanargmin(np.nan_to_num(costs, nan=np.inf)))]
    # A seeded Latin hypercube around the best start: +-1.5 in ln units for log
    # parameters, +-50% (or +-0.5 near zero) for the others.
    k = int(free.sum())
    if k and n_starts > 1:
        unit = _latin_hypercube(max(2 * n_starts, 8), k) * 2 - 1
        log = problem.log_mask[free]
        width = np.where(log, 1.5, np.maximum(0.5 * np.abs(best[free]), 0.5))
        for u in unit:
            theta = best.copy()
            theta[free] = np.clip(best[free] + u * width, lo[free], hi[free])
            thetas.append(theta)
            costs.append(problem.cost(theta))
    order = np.argsort(np.nan_to_num(costs, nan=np.inf), kind="stable")
    return [thetas[i] for i in order[: max(n_starts, 1)]]


def _latin_hypercube(n: int, d: int, seed: int = 0) -> FloatArray:
    """``n`` seeded points in [0, 1)^d, one per row and column stratum (McKay et al. 1979)."""
    rng = np.random.default_rng(seed)
    strata = np.column_stack([rng.permutation(n) for _ in range(d)])
    return np.asarray((strata + rng.random((n, d))) / n, dtype=float)


def _multistart(
    problem: Problem, candidates: list[FloatArray], n_starts: int, max_nfev: int | None
) -> FitResult:
    runs: list[tuple[float, FloatArray, Any]] = []
    for theta0 in _start_thetas(problem, candidates, n_starts):
        try:
            result = problem.solve(theta0, max_nfev=max_nfev)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        theta = problem.full_theta(result.x, theta0)
        runs.append((problem.cost(theta), theta, result))
        # Starts are ranked by initial cost; once two converged runs agree on the best
        # optimum, the remaining (worse-ranked) starts are very unlikely to beat it.
        if len(runs) >= 3 and _n_agreeing(runs) >= 2:
            break
    if not runs:
        raise InputError(
            f"Every start of the {problem.law.name!r} fit failed to evaluate; check that the "
            "data are in the law's domain (positive, finite) and enough in number."
        )
    runs.sort(key=lambda item: item[0] if math.isfinite(item[0]) else math.inf)
    _, best_theta, best = runs[0]
    agreeing = _n_agreeing(runs)
    return _result_at_optimum(problem, best_theta, best, n_starts=len(runs), agreeing=agreeing)


def _n_agreeing(runs: list[tuple[float, FloatArray, Any]]) -> int:
    """How many runs reached (within tolerance) the lowest cost among them."""
    costs = [c for c, _, r in runs if math.isfinite(c) and r.status > 0]
    if not costs:
        return 0
    best = min(costs)
    return sum(1 for c in costs if c - best <= _SAME_COST * max(abs(best), 1e-12) + 1e-15)


def numeric_jacobian(problem: Problem, theta: FloatArray) -> FloatArray:
    """d residual / d theta for the free parameters, by central differences."""
    free_idx = np.flatnonzero(problem.free_mask)
    jac = central_jacobian(problem.residual_vector, theta, free_idx, 1e-6).reshape(len(problem.y), len(free_idx))
    if problem.sqrt_weights is not None:
        jac = jac * problem.sqrt_weights[:, None]
    return jac


def _result_at_optimum(
    problem: Problem,
    theta: FloatArray,
    opt: Any,
    *,
    n_starts: int = 1,
    agreeing: int = 1,
) -> FitResult:
    """Assemble a :class:`FitResult` at ``theta``: covariance, quality, convergence."""
    law = problem.law
    n = len(problem.y)
    free = problem.free_mask
    k = int(free.sum())
    dof = n - k
    values = problem.to_values(theta)
    r = problem.residual_vector(theta)
    r_w = r * problem.sqrt_weights if problem.sqrt_weights is not None else r
    notes: list[str] = []

    converged = bool(opt.status > 0) and math.isfinite(problem.cost(theta))
    message = str(opt.message)
    if not converged:
        message = f"not converged: {message} (raise max_nfev or check the starting points)"

    cov_theta = np.full((law.n_params, law.n_params), np.nan)
    cov_theta[~free, :] = 0.0
    cov_theta[:, ~free] = 0.0
    residual_scale = float(np.sqrt(np.sum(r_w**2) / dof)) if dof > 0 else math.nan
    if dof > 0:
        jac = numeric_jacobian(problem, theta)
        jtj = jac.T @ jac
        try:
            cond = np.linalg.cond(jtj)
        except np.linalg.LinAlgError:
            cond = math.inf
        if not math.isfinite(cond) or cond > 1e14:
            # pinv would give (near) zero variance along the directions the data do not
            # constrain: intervals of zero width presented as certain. Say so instead.
            rank = int(np.linalg.matrix_rank(jac, tol=1e-7 * float(np.max(np.abs(jac)) or 1.0))) \
                if np.all(np.isfinite(jac)) else 0
            notes.append(
                f"the covariance is singular (the Jacobian has numerical rank {rank} for {k} free "
                "parameters): these data do not determine every parameter, so there are no "
                "intervals; fix a parameter, use a law with fewer, or add points that vary more"
            )
            cov_free = np.full((k, k), np.nan)
        else:
            cov_free = np.linalg.pinv(jtj) * residual_scale**2
        cov_theta[np.ix_(free, free)] = cov_free
    else:
        notes.append("as many parameters as points: no standard errors")

    lo, hi = problem.theta_bounds()
    tol = 1e-6 * np.maximum(1.0, np.abs(theta))
    at_bound = [
        p.name for p, t, a, b, f, e in zip(law.params, theta, lo, hi, free, tol, strict=True)
        if f and (abs(t - a) < e or abs(t - b) < e)
    ]
    if at_bound:
        notes.append(f"parameter(s) at a bound: {', '.join(at_bound)}")
    if n_starts > 1 and agreeing < 2:
        notes.append(
            f"only 1 of {n_starts} starts reached the best optimum; it may be a narrow one"
        )

    return build_fit_result(
        law=law, loss=problem.loss, x=problem.x, y=problem.y, values=values, theta=theta, cov_theta=cov_theta,
        free=free, converged=converged, message=message, notes=tuple(notes), dof=dof,
        residual_scale=residual_scale, cost=problem.cost(theta), huber_delta=problem.huber_delta,
        n_starts=n_starts, fixed=problem.fixed,
    )
