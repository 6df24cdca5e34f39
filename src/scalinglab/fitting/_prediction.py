"""What a fit predicts: a value with a band (:class:`Prediction`) and the input needed to
reach a target (:class:`Inversion`). Read-only records; no fitting happens here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab._json import jsonable as _jsonable
from scalinglab.laws import FloatArray

__all__ = ["CalibratedBand", "Inversion", "Prediction"]


@runtime_checkable
class CalibratedBand(Protocol):
    """A law that carries its own calibrated band (the ensemble of ``law="auto"``).

    :meth:`FitResult.predict <scalinglab.fitting.FitResult.predict>` uses it instead of the
    delta method: the half-width of the band in ``ln y`` at ``x`` for probability ``level``,
    and ``upper``, the known bound of the loss (eps0) that neither the prediction nor the
    band passes, or None.
    """

    upper: float | None

    def log_halfwidth(self, x: ArrayLike, params: ArrayLike, level: float, interval: str) -> FloatArray: ...


def _readonly(a: ArrayLike) -> FloatArray:
    arr = np.array(a, dtype=float)
    arr.setflags(write=False)
    return arr


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise InputError(f"The 'level' parameter must be in (0, 1). Got {level!r} instead.")
    return float(level)


def _fields_jsonable(record: Any) -> dict[str, Any]:
    """The fields of a dataclass instance, in order, through :func:`_jsonable`."""
    out: dict[str, Any] = _jsonable({f.name: getattr(record, f.name) for f in dataclasses.fields(record)})
    return out


def _first_crossing(
    f: Callable[[FloatArray], FloatArray], target: FloatArray, log_x_range: tuple[float, float]
) -> FloatArray:
    """The smallest x in the range with ``f(x) = target``, per target.

    ``f`` is scanned on a log grid and the first sign change is refined by bisection, so a
    band edge that turns back (bands widen far from the data) gives its first crossing.
    ``inf`` where ``f`` never reaches the target in the range, the range's start where it
    is already past it there.
    """
    grid = np.linspace(log_x_range[0], log_x_range[1], 600)
    values = f(np.exp(grid))
    out = np.empty(target.shape)
    for i, t in enumerate(target):
        g = values - t
        start_sign = np.sign(g[0])
        if start_sign == 0:
            out[i] = np.exp(grid[0])
            continue
        changed = np.flatnonzero(np.sign(g) != start_sign)
        if len(changed) == 0:
            out[i] = np.inf
            continue
        hi_i = int(changed[0])
        if hi_i == 0:
            out[i] = np.exp(grid[0])
            continue
        lo, hi = grid[hi_i - 1], grid[hi_i]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if np.sign(f(np.array([np.exp(mid)]))[0] - t) == start_sign:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-10:
                break
        out[i] = np.exp(0.5 * (lo + hi))
    return out


@dataclass(frozen=True)
class Prediction:
    """A predicted value with a band at a stated level.

    Attributes
    ----------
    x : array
        Where the law was evaluated.
    value : array
        The point prediction (the fitted law).
    lower, upper : arrays
        The band. With ``interval="prediction"`` it is meant to contain a new measurement
        with probability ``level``; with ``"confidence"`` it contains the law itself.
    level : float
    method : str
        ``"delta"`` (linearised parameter covariance), ``"bootstrap"`` or ``"ensemble"``.
    """

    x: FloatArray
    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float
    method: str
    interval: str = "prediction"

    @classmethod
    def of(
        cls, x: ArrayLike, value: ArrayLike, lower: ArrayLike, upper: ArrayLike, level: float, method: str,
        interval: str = "prediction",
    ) -> Prediction:
        """A prediction whose arrays are copied and made read-only."""
        return cls(_readonly(x), _readonly(value), _readonly(lower), _readonly(upper), level, method, interval)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (non-finite numbers as null)."""
        return _fields_jsonable(self)


@dataclass(frozen=True)
class Inversion:
    """The input needed to reach a target output, with a band.

    ``value`` is ``nan`` where the target cannot be reached (below the fitted floor);
    ``reason`` then says why. ``upper`` is ``inf`` where some plausible parameters put
    the floor above the target: the band is honest about it.
    """

    target: FloatArray
    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float
    feasible: np.ndarray
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (non-finite numbers as null, ``feasible`` as booleans)."""
        return _fields_jsonable(self)
