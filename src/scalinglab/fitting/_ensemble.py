"""A law that is the geometric mean of fitted laws, with an extrapolation-aware band.

``law="auto"`` returns a :class:`~scalinglab.fitting.FitResult` whose law is an
:class:`Ensemble`: its parameters are the members' parameters one after another (named
``"<member>.<param>"``), and ``predict`` is the weighted mean of the members' log
predictions. Averaging in log space is what the benchmark's RMSLE rewards, and it keeps
every prediction positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from scalinglab.laws._base import FloatArray, Law, Param, as_params

__all__ = ["Band", "Ensemble"]


class Band:
    """Log-scale standard deviation of a prediction as a function of x.

    ``sd(x)^2 = s^2 + spread(x)^2 + (kappa * max(ln(x / x_max), 0))^2`` where ``s`` is the
    scatter of the fitted points around the ensemble, ``spread(x)`` the standard deviation
    of the members' log predictions (model uncertainty) and ``kappa`` the growth of the
    extrapolation error per unit of ``ln x`` beyond the largest fitted x, estimated on the
    curve's own rolling-origin forecasts (see :func:`scalinglab.fitting.fit_auto`).
    """

    def __init__(self, scatter: float, kappa: float, x_max: float) -> None:
        self.scatter = float(scatter)
        self.kappa = float(kappa)
        self.x_max = float(x_max)

    def to_dict(self) -> dict[str, float]:
        return {"scatter": self.scatter, "kappa": self.kappa, "x_max": self.x_max}


class Ensemble(Law):
    """Weighted geometric mean of fitted 1-input laws.

    Parameters
    ----------
    members : sequence of (label, Law)
        The member laws and a label each (unique; used to name parameters).
    weights : sequence of float
        Non-negative weights, normalised to sum to 1.
    band : Band, optional
        The calibrated band used by :meth:`log_band_halfwidth`.
    """

    name = "ensemble"
    formula = "ln y = sum_i w_i ln f_i(x; p_i)"
    reference = (
        "geometric mean of M4 (Alabdulmohsin et al. 2022), Rosenfeld's envelope (Rosenfeld "
        "et al. 2020) and power laws with a floor (Hestness et al. 2017)"
    )

    def __init__(
        self,
        members: Sequence[tuple[str, Law]],
        weights: Sequence[float],
        band: Band | None = None,
        upper: float | None = None,
    ) -> None:
        if not members:
            raise ValueError("The 'members' parameter of Ensemble must not be empty.")
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(members),) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError("The 'weights' parameter of Ensemble must be >= 0, one per member.")
        self.members = tuple(members)
        self.weights = w / w.sum()
        self.band = band
        # A known bound of the loss (eps0, the random-guess error): no member's extrapolation
        # to the left of its data may put the error above it.
        self.upper = upper
        params: list[Param] = []
        for label, law in self.members:
            params += [
                Param(f"{label}.{p.name}", p.lower, p.upper, p.log, p.description) for p in law.params
            ]
        self.params = tuple(params)
        self._slices = []
        start = 0
        for _, law in self.members:
            self._slices.append(slice(start, start + law.n_params))
            start += law.n_params

    @property
    def constants(self) -> dict[str, Any]:
        return {
            "members": tuple((label, law.name, tuple(sorted(law.constants.items()))) for label, law in self.members),
            "weights": tuple(float(v) for v in self.weights),
            "upper": self.upper,
        }

    def split(self, params: ArrayLike) -> list[FloatArray]:
        """The parameter vector of each member."""
        p = as_params(params, self.n_params, self.name)
        return [p[s] for s in self._slices]

    def member_log_predictions(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        """``ln f_i(x)`` of every member, shape ``(n_members, n)``."""
        x_arr = self.check_x(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.array(
                [np.log(law.predict(x_arr, p)) for (_, law), p in zip(self.members, self.split(params), strict=True)]
            )

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        logs = self.member_log_predictions(x, params)
        value = np.exp(self.weights @ logs)
        if self.upper is not None:
            value = np.minimum(value, self.upper)
        return np.asarray(value, dtype=float)

    def floor(self, params: ArrayLike) -> float:
        floors = [law.floor(p) for (_, law), p in zip(self.members, self.split(params), strict=True)]
        if any(f <= 0 for f in floors):
            return 0.0
        return float(math.exp(float(self.weights @ np.log(floors))))

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        return [np.concatenate([law.starts(x, y)[0] for _, law in self.members])]

    def log_band_sd(self, x: ArrayLike, params: ArrayLike, interval: str = "prediction") -> FloatArray:
        """Standard deviation of ``ln y`` at ``x`` (see :class:`Band`)."""
        x_arr = self.check_x(x)
        logs = self.member_log_predictions(x_arr, params)
        mean = self.weights @ logs
        spread2 = self.weights @ (logs - mean) ** 2
        band = self.band or Band(0.0, 0.0, float(np.max(x_arr)))
        dist = np.maximum(np.log(x_arr / band.x_max), 0.0)
        var = spread2 + (band.kappa * dist) ** 2
        if interval == "prediction":
            var = var + band.scatter**2
        return np.asarray(np.sqrt(np.nan_to_num(var, nan=np.inf)), dtype=float)

    def log_band_halfwidth(self, x: ArrayLike, params: ArrayLike, level: float, interval: str) -> FloatArray:
        """Half-width of the band in ``ln y`` at probability ``level`` (normal quantile)."""
        z = float(ndtri(0.5 + level / 2))  # the normal quantile; scipy.stats costs ~1 s to import
        return z * self.log_band_sd(x, params, interval)
