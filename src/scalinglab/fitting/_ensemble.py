"""A law that is the geometric mean of fitted laws, with an extrapolation-aware band.

``law="auto"`` returns a :class:`~scalinglab.fitting.FitResult` whose law is an
:class:`Ensemble`: its parameters are the members' parameters one after another (named
``"<member>.<param>"``), and ``predict`` is the weighted mean of the members' log
predictions. Averaging in log space is what the benchmark's RMSLE rewards, and it keeps
every prediction positive.

How ``law="auto"`` built an ensemble (every candidate member, its form, recency weights,
validation score and weight; the bound ``eps0``; the user's weights) is a typed
:class:`EnsembleRecord` on the law (``Ensemble.record``): the bootstrap refits from it, and
``FitResult.selection`` is its JSON summary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri, stdtrit

from scalinglab.laws import FloatArray, Law, Param
from scalinglab.laws._base import as_params

__all__ = ["Band", "Ensemble", "EnsembleMember", "EnsembleRecord"]

#: The form name of the learned extrapolator's member (no parameters to refit).
LEARNED_FORM = "learned"


@dataclass(frozen=True)
class EnsembleMember:
    """One candidate member of ``law="auto"``, kept or dropped.

    Attributes
    ----------
    label : str
        Its name in the ensemble (parameters are ``"<label>.<param>"``).
    form : str
        The form fitted (a form of :mod:`scalinglab.fitting._batched_lm`, or ``"learned"``).
    recency : float
        Exponent ``p`` of its extra weights ``(x / x_max)^p``.
    weight : float
        Its weight in the geometric mean; 0 for a dropped member.
    score : float
        Rolling-origin RMSLE on the common origins (``nan``: not scored, it needs more
        points before an origin than the curve has; ``inf``: a fit or a forecast failed).
    params : dict
        Its fitted parameters on the full curve, by name (empty for the learned member).
    dropped : str or None
        Why it was dropped (None: kept).
    """

    label: str
    form: str
    recency: float
    weight: float
    score: float
    params: dict[str, float]
    dropped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a score that is not finite is None; ``dropped`` says why)."""
        return {
            "label": self.label,
            "law": self.form,
            "recency": self.recency,
            "weight": self.weight,
            "score": _finite_or_none(self.score),
            "dropped": self.dropped,
            "params": {k: _finite_or_none(v) for k, v in self.params.items()},
        }


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class EnsembleRecord:
    """How ``law="auto"`` built an :class:`Ensemble`: what a refit of it needs and reports.

    Attributes
    ----------
    members : tuple of EnsembleMember
        Every candidate, in the order tried; the kept ones have ``weight > 0``.
    eps0 : float
        The bound the saturating members used.
    eps0_assumed : bool
        Whether it was assumed (``2 max(y)``) rather than given.
    user_weights : array or None
        The per-point weights the user gave (in the fit's sorted order), if any.
    reason : str
        One sentence: what was combined, what was dropped and why, and the origins.
    origins : tuple of float
        The rolling origins every member was scored on: the largest x of each prefix
        (empty: no origin could be formed, the ensemble is not validated).
    """

    members: tuple[EnsembleMember, ...]
    eps0: float
    eps0_assumed: bool
    user_weights: FloatArray | None
    reason: str
    origins: tuple[float, ...] = ()

    def member(self, label: str) -> EnsembleMember:
        """The member called ``label``."""
        return next(m for m in self.members if m.label == label)

    def selection(self, band: Band | None) -> dict[str, Any]:
        """The JSON summary a fit reports as ``selection``."""
        return {
            "method": "ensemble",
            "winner": "ensemble",
            "members": [m.to_dict() for m in self.members],
            "scores": {m.label: _finite_or_none(m.score) for m in self.members},
            "origins": list(self.origins),
            "eps0": self.eps0,
            "eps0_assumed": self.eps0_assumed,
            "band": band.to_dict() if band else None,
            "user_weights": None if self.user_weights is None else self.user_weights.tolist(),
            "reason": self.reason,
        }


class Band:
    """Log-scale standard deviation of a prediction as a function of x.

    ``sd(x)^2 = s^2 + spread(x)^2 + (kappa * max(ln(x / x_max), 0))^2`` where ``s`` is the
    scatter of the fitted points around the ensemble, ``spread(x)`` the standard deviation
    of the members' log predictions (model uncertainty) and ``kappa`` the growth of the
    extrapolation error per unit of ``ln x`` beyond the largest fitted x, estimated on the
    curve's own rolling-origin forecasts (see :func:`scalinglab.fitting.fit_auto`).

    ``kappa=None`` is a band whose extrapolation error could not be estimated (no rolling
    origin scored the ensemble): it is unbounded beyond ``x_max`` (``validated`` is False).

    ``n_errors`` is the number of rolling-origin forecast errors ``kappa`` was estimated
    from. An error scale estimated from ``m`` errors calls for Student's t quantile with
    ``m`` degrees of freedom rather than the normal one (a short curve may give only one
    or two forecast errors); None uses the normal quantile.

    ``source`` says where ``kappa`` came from: ``"own"`` (the curve's rolling-origin
    forecasts), ``"prior"`` (a curve with no origin: the rate measured on other curves,
    ``KAPPA_PRIOR`` of :mod:`scalinglab.fitting._ensemble_fit`) or ``"pooled"`` (the curve's
    few errors pooled with the prior's). ``dof`` is then the t quantile's degrees of freedom
    (the prior's, plus the curve's errors when pooled) in place of ``n_errors``.
    """

    def __init__(
        self, scatter: float, kappa: float | None, x_max: float, n_errors: int | None = None,
        *, dof: float | None = None, source: str = "own",
    ) -> None:
        if kappa is not None and not (math.isfinite(kappa) and kappa >= 0):
            raise ValueError("The 'kappa' parameter of Band must be finite and >= 0, or None (not validated).")
        if n_errors is not None and n_errors < 1:
            raise ValueError("The 'n_errors' parameter of Band must be >= 1, or None.")
        if dof is not None and not (math.isfinite(dof) and dof > 0):
            raise ValueError("The 'dof' parameter of Band must be finite and > 0, or None.")
        if source not in ("own", "prior", "pooled"):
            raise ValueError("The 'source' parameter of Band must be 'own', 'prior' or 'pooled'.")
        if source != "own" and (kappa is None or dof is None):
            raise ValueError("A Band whose kappa comes from the prior needs kappa and dof.")
        self.scatter = float(scatter)
        self.kappa = None if kappa is None else float(kappa)
        self.x_max = float(x_max)
        self.n_errors = n_errors
        self.dof = None if dof is None else float(dof)
        self.source = source

    def quantile(self, level: float) -> float:
        """The two-sided quantile of the band at probability ``level``."""
        p = 0.5 + level / 2
        dof = self.dof if self.dof is not None else self.n_errors
        # ndtri and stdtrit: scipy.stats costs ~1 s to import.
        return float(ndtri(p) if dof is None else stdtrit(dof, p))

    @property
    def validated(self) -> bool:
        """Whether the extrapolation rate was estimated from the curve's own rolling-origin forecasts
        (alone or pooled with the prior's); a band from the prior alone is not validated."""
        return self.kappa is not None and self.source != "prior"

    @property
    def bounded(self) -> bool:
        """Whether the band beyond ``x_max`` is finite (an extrapolation rate is known)."""
        return self.kappa is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``kappa`` is None when no rate is known (the band is open beyond ``x_max``)."""
        return {
            "scatter": self.scatter, "kappa": self.kappa, "x_max": self.x_max,
            "validated": self.validated, "n_errors": self.n_errors,
            "kappa_source": self.source if self.kappa is not None else None, "dof": self.dof,
        }


class Ensemble(Law):
    """Weighted geometric mean of fitted 1-input laws.

    Parameters
    ----------
    members : sequence of (label, Law)
        The member laws and a label each (unique; used to name parameters).
    weights : sequence of float
        Non-negative weights, normalised to sum to 1.
    band : Band, optional
        The calibrated band used by :meth:`log_halfwidth`.
    upper : float, optional
        A known bound of the loss: no prediction goes above it.
    record : EnsembleRecord, optional
        How ``law="auto"`` built it (None for an ensemble assembled by hand).
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
        record: EnsembleRecord | None = None,
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
        self.record = record
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
        # Not validated (kappa None): nothing bounds the extrapolation error.
        extrapolation = np.where(dist > 0, np.inf, 0.0) if band.kappa is None else (band.kappa * dist) ** 2
        var = spread2 + extrapolation
        if interval == "prediction":
            var = var + band.scatter**2
        return np.asarray(np.sqrt(np.nan_to_num(var, nan=np.inf, posinf=np.inf)), dtype=float)

    def log_halfwidth(self, x: ArrayLike, params: ArrayLike, level: float, interval: str) -> FloatArray:
        """Half-width of the band in ``ln y`` at probability ``level`` (see :meth:`Band.quantile`)."""
        band = self.band or Band(0.0, 0.0, 1.0)
        return band.quantile(level) * self.log_band_sd(x, params, interval)
