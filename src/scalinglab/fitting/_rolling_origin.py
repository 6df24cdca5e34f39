"""Rolling-origin validation (Hyndman & Athanasopoulos, "Forecasting: Principles and
Practice", section 5.10): fit a curve's first points, score the forecast of the rest.

:func:`forecast_score` is the one scorer; ``law="auto"`` uses it for its ensemble's members
(:mod:`scalinglab.fitting._ensemble_fit`) and for :func:`select_law`, its fallback for short
curves and other losses, which picks the single law that forecasts best.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from scalinglab._errors import InputError
from scalinglab.fitting._result import FitResult
from scalinglab.fitting._single import fit_single
from scalinglab.laws import FloatArray, get_law

__all__ = ["AUTO_CANDIDATES", "forecast_score", "select_law"]

#: Laws the fallback selector considers, simplest first (ties go to the simpler law).
AUTO_CANDIDATES: tuple[str, ...] = ("power", "power_floor", "m3", "m4", "envelope")


def forecast_score(log_errors: Iterable[FloatArray]) -> float:
    """Mean over origins of the RMSLE of each origin's forecast of the later points.

    Parameters
    ----------
    log_errors : iterable of arrays
        Per origin, ``ln y_hat - ln y`` on the points beyond it.

    Returns
    -------
    float
        ``inf`` if any forecast is not finite; ``nan`` if there is no origin.
    """
    scores = []
    for e in log_errors:
        if not np.all(np.isfinite(e)):
            return math.inf
        scores.append(float(np.sqrt(np.mean(e**2))))
    return float(np.mean(scores)) if scores else math.nan


def _law_score(
    name: str, x: FloatArray, y: FloatArray, loss: str, eps0: float | None, n_origins: int
) -> float:
    """Forecast score of law ``name`` from the last ``n_origins`` origins of the curve."""
    n_params = get_law(name, eps0=eps0).n_params
    errors = []
    for k in range(len(x) - n_origins, len(x)):
        if k < n_params + 1:
            continue
        try:
            fit = fit_single(name, x[:k], y[:k], loss=loss, eps0=eps0, n_starts=2)
        except InputError:
            return math.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            errors.append(np.log(fit.law.predict(x[k:], fit.values)) - np.log(y[k:]))
    score = forecast_score(errors)
    return math.inf if math.isnan(score) else score


def select_law(
    x: FloatArray, y: FloatArray, weights: FloatArray | None, *, loss: str, eps0: float | None,
    candidates: tuple[str, ...] = AUTO_CANDIDATES, n_origins: int = 3,
) -> FitResult:
    """Fit the 1-input law that best forecasts the largest points of its own curve.

    The fallback of :func:`scalinglab.fitting.fit_auto` (which has checked the data and
    sorted them by x) for short curves and losses other than ``"log"``.

    Parameters
    ----------
    x, y : arrays
        The curve, sorted by x.
    weights : array or None
        Per-point weights of the final fit (in the same order).
    loss : str
        Loss used for every fit.
    eps0 : float or None
        Random-guess error for m4 and envelope; without it those laws are skipped.
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
    usable = [c for c in candidates if eps0 is not None or c not in ("m4", "envelope")]
    usable = [c for c in usable if get_law(c, eps0=eps0).n_params < len(x)]
    if not usable:
        raise InputError(
            f"law='auto' needs at least 3 points to choose a law. Got {len(x)} instead."
        )
    scores = {name: _law_score(name, x, y, loss, eps0, n_origins) for name in usable}
    finite = {k: v for k, v in scores.items() if math.isfinite(v)}
    winner = min(finite, key=lambda k: finite[k]) if finite else "power"
    reason = (
        f"lowest mean RMSLE when predicting the last {n_origins} points from the points "
        f"before them (rolling origin): {finite[winner]:.4g}"
        if finite
        else "no candidate could be validated (too few points); fell back to power"
    )
    fit = fit_single(winner, x, y, loss=loss, eps0=eps0, weights=weights)
    selection: dict[str, Any] = {
        "method": "rolling_origin",
        "winner": winner,
        "scores": scores,
        "reason": reason,
    }
    return dataclasses.replace(fit, selection=selection)
