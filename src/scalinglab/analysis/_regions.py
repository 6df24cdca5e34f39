"""The three regions of a learning curve (Hestness et al. 2017, figure 1), by a stated rule.

Hestness et al. draw the small-data, power-law and irreducible-error regions by eye. Here
they come from Rosenfeld's saturating envelope fitted to the curve:
``y = eps0 e / sqrt(e^2 + eta^2)``, ``e = m^-alpha + c_inf``. Its local log-log slope is

    d ln y / d ln m = -alpha * [eta^2 / (e^2 + eta^2)] * [m^-alpha / (m^-alpha + c_inf)]

The first factor is the pull of the random-guess plateau, the second that of the floor; in
the power-law region both are near 1. **Rule:** the small-data region ends where the first
factor is 1/2 (``e = eta``: ``m_sd = (eta - c_inf)^(-1/alpha)``), and the irreducible-error
region begins where the second is 1/2 (``m^-alpha = c_inf``: ``m_irr = c_inf^(-1/alpha)``).
Between them, the slope is within a factor 2 of its power-law value ``-alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from scalinglab._json import jsonable as _jsonable
from scalinglab.fitting import FitResult

__all__ = ["Regions", "regions_from_envelope"]


@dataclass(frozen=True)
class Regions:
    """Boundaries of the three regions, in data-set size, with intervals.

    ``small_data_end`` is where the small-data region ends, ``irreducible_start`` where the
    irreducible-error region begins (``inf`` with no floor). ``observed`` says which regions
    the measured shards reach; ``notes`` says which are missing from the data and why.
    """

    small_data_end: float
    small_data_end_interval: tuple[float, float]
    irreducible_start: float
    irreducible_start_interval: tuple[float, float]
    exponent: float
    observed: dict[str, bool]
    notes: tuple[str, ...]
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "small_data_end": self.small_data_end,
                "small_data_end_interval": list(self.small_data_end_interval),
                "irreducible_start": self.irreducible_start,
                "irreducible_start_interval": list(self.irreducible_start_interval),
                "power_law_exponent": self.exponent,
                "observed": self.observed,
                "notes": list(self.notes),
                "rule": self.rule,
            }
        )


RULE = (
    "from the fitted envelope: the small-data region ends where eps_tilde = eta and the "
    "irreducible region begins where m^-alpha = c_inf (each pulls the log-log slope to half "
    "its power-law value); Hestness et al. draw them by eye"
)


def _boundaries(values: np.ndarray) -> tuple[float, float]:
    alpha, c_inf, eta = (float(v) for v in values)
    if alpha <= 0:
        return math.nan, math.nan
    # numpy powers: a draw with a tiny alpha gives inf (a region beyond any data), where
    # Python's float power would raise OverflowError.
    with np.errstate(over="ignore"):
        small_end = float(np.float64(eta - c_inf) ** (-1 / alpha)) if eta > c_inf else math.nan
        floor_start = float(np.float64(c_inf) ** (-1 / alpha)) if c_inf > 0 else math.inf
    return small_end, floor_start


def regions_from_envelope(fit: FitResult, level: float = 0.9) -> Regions:
    """The region boundaries of an ``envelope`` fit, with intervals from parameter draws.

    Parameters
    ----------
    fit : FitResult
        A fit of the ``envelope`` law to a learning curve.
    level : float
        Level of the intervals.
    """
    if fit.law.name != "envelope":
        raise ValueError(f"regions need an envelope fit; got {fit.law.name!r}")
    small_end, floor_start = _boundaries(fit.values)
    draws = fit._parameter_draws(np.random.default_rng(0), 2000)
    bounds = np.array([_boundaries(v) for v in draws])
    q = (0.5 - level / 2, 0.5 + level / 2)

    def interval(column: np.ndarray) -> tuple[float, float]:
        finite = np.where(np.isnan(column), np.inf, column)
        # "nearest" avoids interpolating between infinite draws (inf - inf).
        lo, hi = np.quantile(finite, q, method="nearest")
        return float(lo), float(hi)

    x_min, x_max = float(np.min(fit.x)), float(np.max(fit.x))
    notes = []
    observed = {
        "small_data": bool(math.isfinite(small_end) and x_min < small_end),
        "power_law": bool(
            (not math.isfinite(small_end) or small_end < x_max) and floor_start > x_min
        ),
        "irreducible": bool(floor_start < x_max),
    }
    if not observed["small_data"]:
        notes.append(
            "no shard lies in the small-data region: the smallest shard "
            f"({x_min:.4g}) is already past its end"
            + (f" ({small_end:.4g})" if math.isfinite(small_end) else "")
            + "; add smaller shards to see the plateau"
        )
    if not observed["power_law"]:
        notes.append("no shard lies in the power-law region")
    if not observed["irreducible"]:
        where = f"predicted to begin at {floor_start:.4g}" if math.isfinite(floor_start) else "no floor was fitted"
        notes.append(
            f"no shard reaches the irreducible-error region ({where}; the largest shard is "
            f"{x_max:.4g})"
        )
    return Regions(
        small_data_end=small_end,
        small_data_end_interval=interval(bounds[:, 0]),
        irreducible_start=floor_start,
        irreducible_start_interval=interval(bounds[:, 1]),
        exponent=-float(fit.params["alpha"]),
        observed=observed,
        notes=tuple(notes),
        rule=RULE,
    )
