"""``law="auto"``: choose a 1-input law by how well it extrapolates its own curve.

The criterion is rolling-origin validation on the largest points (the forecasting
literature's evaluation on a rolling forecasting origin): for each candidate law and each
origin k among the last few points, fit the points before k and score the log error on
the points from k on. The law with the lowest mean score wins and is refitted on all
points. This asks each law the question a user asks (how well does it predict larger
scales than it has seen?) rather than how well it fits, which favours the most flexible.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab.fitting._fit import fit_law, validate_data
from scalinglab.fitting._result import FitResult
from scalinglab.laws import get_law
from scalinglab.laws._base import FloatArray

__all__ = ["AUTO_CANDIDATES", "fit_auto"]

#: Laws ``auto`` considers, simplest first (ties go to the simpler law).
AUTO_CANDIDATES: tuple[str, ...] = ("power", "power_floor", "m3", "m4", "envelope")


def _rolling_origin_score(
    name: str, x: FloatArray, y: FloatArray, loss: str, eps0: float, n_origins: int
) -> float:
    n_params = get_law(name, eps0=eps0).n_params
    errors = []
    for k in range(len(x) - n_origins, len(x)):
        if k < n_params + 1:
            continue
        try:
            fit = fit_law(name, x[:k], y[:k], loss=loss, eps0=eps0, n_starts=2)
        except InputError:
            return math.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            pred = fit.law.predict(x[k:], fit.values)
            err = np.log(pred) - np.log(y[k:])
        if not np.all(np.isfinite(err)):
            return math.inf
        errors.append(float(np.sqrt(np.mean(err**2))))
    return float(np.mean(errors)) if errors else math.inf


def fit_auto(
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "log",
    eps0: float | None = None,
    weights: ArrayLike | None = None,
    candidates: tuple[str, ...] = AUTO_CANDIDATES,
    n_origins: int = 3,
) -> FitResult:
    """Fit the 1-input law that best predicts the largest points of its own curve.

    Parameters
    ----------
    x, y : array-like
        A learning curve (1-D ``x``).
    loss : str
        Loss used for every fit.
    eps0 : float, optional
        Random-guess error for m4 and envelope. If not given and every y is below 1,
        1.0 is used (error rates are <= 1); otherwise those laws are skipped.
    candidates : tuple of str
        Law names to consider.
    n_origins : int
        How many of the largest points serve as validation origins.

    Returns
    -------
    FitResult
        The winner refitted on all points; ``result.selection`` holds every candidate's
        score, the winner and the reason.
    """
    x_arr, y_arr = validate_data(get_law("power"), x, y, where="fit_law(law='auto')")
    order = np.argsort(x_arr, kind="stable")
    x_arr, y_arr = x_arr[order], y_arr[order]
    if eps0 is None and np.all(y_arr < 1.0):
        eps0 = 1.0
    usable = [c for c in candidates if eps0 is not None or c not in ("m4", "envelope")]
    usable = [c for c in usable if get_law(c, eps0=eps0 or 1.0).n_params < len(x_arr)]
    if not usable:
        raise InputError(
            f"law='auto' needs at least 3 points to choose a law. Got {len(x_arr)} instead."
        )
    scores = {
        name: _rolling_origin_score(name, x_arr, y_arr, loss, eps0 or 1.0, n_origins)
        for name in usable
    }
    finite = {k: v for k, v in scores.items() if math.isfinite(v)}
    winner = min(finite, key=lambda k: finite[k]) if finite else "power"
    reason = (
        f"lowest mean RMSLE when predicting the last {n_origins} points from the points "
        f"before them (rolling origin): {finite[winner]:.4g}"
        if finite
        else "no candidate could be validated (too few points); fell back to power"
    )
    weights_arr = None if weights is None else np.asarray(weights, dtype=float)[order]
    fit = fit_law(winner, x_arr, y_arr, loss=loss, eps0=eps0 or 1.0, weights=weights_arr)
    selection: dict[str, Any] = {
        "method": "rolling_origin",
        "winner": winner,
        "scores": scores,
        "reason": reason,
    }
    return _with_selection(fit, selection)


def _with_selection(fit: FitResult, selection: dict[str, Any]) -> FitResult:
    import dataclasses

    return dataclasses.replace(fit, selection=selection)
