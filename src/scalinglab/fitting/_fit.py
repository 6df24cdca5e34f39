"""``fit_law``: multi-start, bounded least squares with honest convergence reporting."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab.fitting._eps0 import resolve_eps0
from scalinglab.fitting._losses import check_loss
from scalinglab.fitting._numdiff import central_jacobian
from scalinglab.fitting._problem import Problem
from scalinglab.fitting._result import FitResult, _readonly
from scalinglab.laws import Law, get_law
from scalinglab.laws._base import FloatArray

__all__ = ["fit_law", "validate_data"]

# Two optima whose costs differ by less than this (relative) are the same optimum.
_SAME_COST = 1e-6
# Data a curve can be fitted to: this many distinct inputs (a line through fewer says nothing of
# the shape) and magnitudes whose squares stay finite in double precision.
_MIN_DISTINCT_X = 3
_MAX_VALUE = 1e150


def validate_data(law: Law, x: ArrayLike, y: ArrayLike, where: str = "fit_law") -> tuple[FloatArray, FloatArray]:
    """Check and convert data for ``law``: shapes, finiteness, positivity.

    Raises
    ------
    InputError
        Naming the problem and the fix.
    """
    try:
        x_arr = np.asarray(x, dtype=float)
        y_arr = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"The 'x' and 'y' parameters of {where} must be numeric arrays ({exc}).") from exc
    if law.n_inputs == 1 and x_arr.ndim == 2 and x_arr.shape[1] != 1:
        raise InputError(
            f"The 'x' parameter of {where} must have one column for law {law.name!r}. "
            f"Got {x_arr.shape[1]} columns instead."
        )
    if law.n_inputs > 1 and (x_arr.ndim != 2 or x_arr.shape[1] != law.n_inputs):
        got = 1 if x_arr.ndim == 1 else x_arr.shape[-1]
        raise InputError(
            f"The 'x' parameter of {where} must have {law.n_inputs} columns "
            f"({', '.join(law.inputs)}) for law {law.name!r}. Got {got} instead."
        )
    x_arr = law.check_x(x_arr)
    if len(x_arr) != len(y_arr):
        raise InputError(
            f"The 'x' and 'y' parameters of {where} must have the same length. "
            f"Got {len(x_arr)} and {len(y_arr)} instead."
        )
    for name, arr in (("x", x_arr), ("y", y_arr)):
        if not np.all(np.isfinite(arr)):
            raise InputError(
                f"The {name!r} parameter of {where} must be finite. Got NaN or inf instead; "
                "drop or fix those rows."
            )
        if np.any(arr <= 0):
            raise InputError(
                f"The {name!r} parameter of {where} must be > 0 (scaling laws are fitted on log "
                f"axes). Got {float(np.min(arr))!r} instead; drop or fix those rows."
            )
        if float(np.max(arr)) > _MAX_VALUE or float(np.min(arr)) < 1 / _MAX_VALUE:
            bad = float(np.max(arr)) if float(np.max(arr)) > _MAX_VALUE else float(np.min(arr))
            raise InputError(
                f"The {name!r} parameter of {where} must be in [{1 / _MAX_VALUE:g}, {_MAX_VALUE:g}] (the "
                f"laws square and exponentiate it, which over- or underflows). Got {bad!r} instead; "
                "rescale the column (e.g. multiply or divide it by a power of 10)."
            )
    rows = x_arr.reshape(len(x_arr), -1)
    distinct = len(np.unique(rows, axis=0))
    # (Fewer points than the law has parameters gets its own message in fit_law.)
    if distinct < _MIN_DISTINCT_X and len(y_arr) >= law.n_params:
        raise InputError(
            f"The 'x' parameter of {where} must have at least {_MIN_DISTINCT_X} distinct values to fit "
            f"a curve. Got {distinct} distinct value(s) in {len(y_arr)} rows instead; add runs at other "
            "sizes (or group the rows by the column that tells the curves apart)."
        )
    eps0 = law.constants.get("eps0")
    # Measured errors at tiny shards scatter around the random-guess error, some above it;
    # but an eps0 at or below every point cannot be the random-guess error of these data.
    if eps0 is not None and len(y_arr) and float(np.min(y_arr)) >= float(eps0):
        raise InputError(
            f"The 'eps0' parameter of {where} must be above the data (it is the random-guess error, "
            f"the worst the {law.name} law allows). Got eps0={float(eps0):g} with y from "
            f"{float(np.min(y_arr)):g} to {float(np.max(y_arr)):g} instead; give the metric's real "
            "random-guess error or drop the rows above it."
        )
    return x_arr, y_arr


def fit_law(
    law: str | Law,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "log",
    eps0: float | None = None,
    n_breaks: int = 1,
    fixed: Mapping[str, float] | None = None,
    weights: ArrayLike | None = None,
    n_starts: int = 8,
    huber_delta: float = 1e-3,
    starts: list[ArrayLike] | None = None,
    max_nfev: int | None = None,
) -> FitResult:
    """Fit a scaling law to data.

    Parameters
    ----------
    law : str or Law
        A law name (``scalinglab laws`` lists them), a law object, or ``"auto"`` to
        choose among the 1-input laws (see :func:`scalinglab.fitting.fit_auto`).
    x : array-like
        Inputs, shape ``(n,)``, or ``(n, k)`` for a k-input law (e.g. ``(N, D)``).
    y : array-like
        Observed errors or losses, shape ``(n,)``, all > 0.
    loss : {"log", "huber", "relative"}
        Least squares of log residuals (default), Huber on log residuals (Hoffmann et al.
        2022; threshold ``huber_delta``), or least squares of relative divergence
        (Rosenfeld et al. 2020).
    eps0 : float, optional
        Random-guess error for laws that need it (m4, envelope, joint). Without it, the one
        eps0 rule of :func:`scalinglab.fitting.resolve_eps0` applies: ``2 max(y)``.
    n_breaks : int
        Number of breaks for ``bnsl``.
    fixed : mapping, optional
        Parameters to hold at a value, e.g. ``{"c": 0.0}`` to force a zero floor.
    weights : array-like, optional
        Per-point weights of the squared residuals.
    n_starts : int
        Number of optimiser runs: from the law's data-driven starts and a Latin-hypercube
        grid around the best of them, ranked by their initial cost; the best optimum is
        kept, and whether the runs agree is reported.
    starts : list of array-like, optional
        Starting points to use instead of the law's own (natural units).
    max_nfev : int, optional
        Cap on function evaluations per optimiser run.

    Returns
    -------
    FitResult
        Check ``result.converged``; ``result.notes`` says what else to look at.
    """
    if isinstance(law, str) and law == "auto":
        from scalinglab.fitting._select import fit_auto

        return fit_auto(x, y, loss=loss, eps0=eps0, weights=weights)
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
    return _multistart(problem, candidates, n_starts, max_nfev)


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
    return build_result(problem, best_theta, best, n_starts=len(runs), agreeing=agreeing)


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


def build_result(
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

    # Natural units by the delta method: d value / d theta = value for log parameters.
    scale = np.where(problem.log_mask, values, 1.0)
    cov = cov_theta * np.outer(scale, scale)
    stderr = np.sqrt(np.clip(np.diag(cov), 0, None))
    stderr = np.where(np.isnan(np.diag(cov)), np.nan, stderr)

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

    prediction = law.predict(problem.x, values)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_err = np.log(prediction) - np.log(problem.y)
        divergence = (prediction - problem.y) / problem.y
    return FitResult(
        law=law,
        loss=problem.loss,
        values=_readonly(values),
        stderr=_readonly(stderr),
        cov=_readonly(cov),
        theta=_readonly(theta),
        cov_theta=_readonly(cov_theta),
        free=free,
        converged=converged,
        message=message,
        notes=tuple(notes),
        n_points=n,
        dof=dof,
        residual_scale=residual_scale,
        cost=problem.cost(theta),
        rmsle=float(np.sqrt(np.mean(log_err**2))),
        divergence_mean=float(np.mean(divergence)),
        divergence_std=float(np.std(divergence)),
        x=_readonly(problem.x),
        y=_readonly(problem.y),
        huber_delta=problem.huber_delta,
        n_starts=n_starts,
        fixed=dict(problem.fixed or {}),
    )
