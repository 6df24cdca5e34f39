"""Rolling-origin validation (Hyndman & Athanasopoulos, "Forecasting: Principles and
Practice", section 5.10): fit a curve's first points, score the forecast of the rest.

:func:`forecast_score` is the one scorer; ``law="auto"`` uses it for its ensemble's members
(:mod:`scalinglab.fitting._ensemble_fit`) and for :func:`select_law`, its fallback for short
curves and other losses, which picks the single law that forecasts best.

An origin is a *prefix* of the curve: every point with ``x <= cut``, ``cut`` one of the
curve's distinct x values. :func:`ratio_origins` (the ensemble's) and
:func:`last_origins` (the fallback's) both return distinct prefixes, each with at least the
points the most demanding candidate needs, so that every candidate is scored on the same
origins and the scores compare.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from scalinglab._errors import InputError
from scalinglab.fitting._result import FitResult
from scalinglab.fitting._single import fit_single
from scalinglab.laws import FloatArray, get_law

__all__ = ["AUTO_CANDIDATES", "forecast_score", "last_origins", "ratio_origins", "select_law"]

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


def ratio_origins(
    x: FloatArray, ratios: Sequence[float], need: int, usable: npt.NDArray[np.bool_] | None = None
) -> list[float]:
    """Distinct rolling origins near ``x_max / r`` for each ``r`` in ``ratios``.

    Parameters
    ----------
    x : array
        The curve's inputs (any order; repeated values allowed).
    ratios : sequence of float
        Origin ratios ``r > 1``; the origin for ``r`` is the prefix ``x <= x_max / r``.
    need : int
        Fewest distinct x values a prefix must hold (what the most demanding candidate
        needs to be fitted on it).
    usable : array of bool, optional
        The points that count (e.g. those of positive weight); all by default.

    Returns
    -------
    list of float
        The cut of each origin (the largest x of its prefix), largest first, each prefix
        distinct. The ratios are taken in increasing order. A prefix shorter than ``need``
        takes ``need`` points (the shortest prefix every candidate can be fitted on). A
        prefix that is then no shorter than the previous origin's is left out: the ratios
        fall between the same two points (r = 1.25 and 2 on a curve measured at doubling
        sizes), and that one prefix already forecasts from within the ratios' range;
        dropping a further point would forecast from beyond it (4x on such a curve), which
        scored worse (``docs/extrapolation.md``, "Rolling origins"). A prefix that leaves
        no point to forecast is left out too. Empty when no prefix has ``need`` points and
        leaves one to forecast.
    """
    mask = np.ones(len(x), dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    grid = np.unique(x[mask])  # the distinct usable x, ascending
    x_max = float(np.max(x))
    sizes: list[int] = []
    for r in sorted(ratios):
        size = int(np.searchsorted(grid, x_max / r, side="right"))
        size = max(size, need)
        if size > len(grid) - 1 or (sizes and size >= sizes[-1]):
            continue
        sizes.append(size)
    return [float(grid[s - 1]) for s in sizes]


def last_origins(x: FloatArray, n_origins: int, need: int) -> list[float]:
    """The cuts of the prefixes that leave out the 1, 2, ... ``n_origins`` largest distinct x.

    Only prefixes of at least ``need`` distinct x values are returned (largest first).
    """
    grid = np.unique(x)
    sizes = range(len(grid) - 1, max(len(grid) - 1 - n_origins, 0), -1)
    return [float(grid[s - 1]) for s in sizes if s >= need]


def _law_score(
    name: str, x: FloatArray, y: FloatArray, loss: str, eps0: float | None, cuts: Sequence[float]
) -> float:
    """Forecast score of law ``name`` from the origins ``x <= cut`` (``inf``: a fit failed)."""
    errors = []
    for cut in cuts:
        m = x <= cut
        try:
            fit = fit_single(name, x[m], y[m], loss=loss, eps0=eps0, n_starts=2)
        except InputError:
            return math.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            errors.append(np.log(fit.law.predict(x[~m], fit.values)) - np.log(y[~m]))
    return forecast_score(errors)


def select_law(
    x: FloatArray, y: FloatArray, weights: FloatArray | None, *, loss: str, eps0: float | None,
    candidates: tuple[str, ...] = AUTO_CANDIDATES, n_origins: int = 3,
) -> FitResult:
    """Fit the 1-input law that best forecasts the largest points of its own curve.

    The fallback of :func:`scalinglab.fitting.fit_auto` (which has checked the data and
    sorted them by x) for curves of fewer than 3 distinct x and losses other than ``"log"``.

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
        How many of the largest distinct x serve as validation origins.

    Returns
    -------
    FitResult
        The winner refitted on all points; ``result.selection`` holds every candidate's
        score (``nan``: it could not be scored), the origins, the winner and the reason.

    Notes
    -----
    Every candidate is scored on the same origins: the prefixes that leave out the 1 to
    ``n_origins`` largest distinct x and still hold ``p + 1`` distinct x for the most
    demanding candidate that can be scored at all (``p`` its parameters). A candidate
    that needs more points than any prefix holds is not scored and cannot win.
    """
    usable = [c for c in candidates if eps0 is not None or c not in ("m4", "envelope")]
    usable = [c for c in usable if get_law(c, eps0=eps0).n_params < len(x)]
    if not usable:
        raise InputError(
            f"law='auto' needs at least 3 points to choose a law. Got {len(x)} instead."
        )
    n_distinct = len(np.unique(x))
    need = {c: get_law(c, eps0=eps0).n_params + 1 for c in usable}
    scorable = [c for c in usable if need[c] <= n_distinct - 1]
    cuts = last_origins(x, n_origins, max((need[c] for c in scorable), default=n_distinct))
    scores = {c: _law_score(c, x, y, loss, eps0, cuts) if c in scorable and cuts else math.nan for c in usable}
    finite = {k: v for k, v in scores.items() if math.isfinite(v)}
    winner = min(finite, key=lambda k: finite[k]) if finite else "power"
    unscored = [c for c in usable if c not in scorable]
    reason = (
        (
            f"lowest mean RMSLE when predicting the points beyond x <= {', '.join(f'{c:.4g}' for c in cuts)} "
            f"from the points up to it (rolling origin, every candidate on the same origins): "
            f"{finite[winner]:.4g}"
        )
        if finite
        else "no candidate could be validated (too few points, or no fit on a prefix succeeded); fell back to power"
    ) + (f"; not scored (too few points before any origin): {', '.join(unscored)}" if unscored and finite else "")
    fit = fit_single(winner, x, y, loss=loss, eps0=eps0, weights=weights)
    selection: dict[str, Any] = {
        "method": "rolling_origin",
        "winner": winner,
        "scores": scores,
        "origins": cuts,
        "reason": reason,
    }
    return dataclasses.replace(fit, selection=selection)
