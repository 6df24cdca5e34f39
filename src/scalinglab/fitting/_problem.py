"""A fitting problem: a law, data, a loss, and the map between natural and fitted units.

Parameters flagged ``log`` are optimised as ``theta = ln(value)``: scales spanning many
orders of magnitude become well conditioned, and their positivity is automatic. Fixed
parameters are held out of the optimisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, least_squares

from scalinglab.fitting._losses import residuals
from scalinglab.laws import FloatArray, Law

__all__ = ["Problem"]

# Bound on ln(value) for log parameters whose natural bound is 0 or inf.
_LOG_LIMIT = 300.0


@dataclass(frozen=True)
class Problem:
    """Everything the optimiser needs, in fitted (theta) units.

    Attributes
    ----------
    law : Law
    x, y : arrays
        The data; ``x`` has shape ``(n,)`` or ``(n, k)``.
    loss : str
        One of :data:`scalinglab.fitting.LOSSES`.
    huber_delta : float
        Threshold of the Huber loss, in log units.
    fixed : Mapping[str, float]
        Parameters held at a value, natural units.
    sqrt_weights : array or None
        Square roots of per-point weights.
    """

    law: Law
    x: FloatArray
    y: FloatArray
    loss: str
    huber_delta: float = 1e-3
    fixed: Mapping[str, float] | None = None
    sqrt_weights: FloatArray | None = None

    # -- parameter maps ----------------------------------------------------------------
    @property
    def log_mask(self) -> np.ndarray:
        return np.array([p.log for p in self.law.params], dtype=bool)

    @property
    def free_mask(self) -> np.ndarray:
        fixed = self.fixed or {}
        return np.array([p.name not in fixed for p in self.law.params], dtype=bool)

    def theta_bounds(self) -> tuple[FloatArray, FloatArray]:
        lower, upper = self.law.bounds()
        log = self.log_mask
        with np.errstate(divide="ignore"):
            lo = np.where(log, np.log(np.maximum(lower, 1e-300)), lower)
            hi = np.where(log, np.log(np.minimum(upper, 1e300)), upper)
        lo = np.where(log, np.maximum(lo, -_LOG_LIMIT), lo)
        hi = np.where(log, np.minimum(hi, _LOG_LIMIT), hi)
        return lo, hi

    def to_theta(self, values: FloatArray) -> FloatArray:
        v = np.asarray(values, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.log_mask, np.log(np.maximum(v, 1e-300)), v)

    def to_values(self, theta: FloatArray) -> FloatArray:
        return np.where(self.log_mask, np.exp(np.clip(theta, -_LOG_LIMIT, _LOG_LIMIT)), theta)

    def full_theta(self, theta_free: FloatArray, template: FloatArray) -> FloatArray:
        """Insert the free parameters into a full theta vector."""
        theta = np.array(template, dtype=float)
        theta[self.free_mask] = theta_free
        return theta

    def fixed_theta(self) -> FloatArray:
        """A full theta vector with the fixed parameters set and the rest 0."""
        theta = np.zeros(self.law.n_params)
        for i, p in enumerate(self.law.params):
            if self.fixed and p.name in self.fixed:
                value = float(self.fixed[p.name])
                theta[i] = np.log(value) if p.log else value
        return theta

    # -- objective ---------------------------------------------------------------------
    def residual_vector(self, theta: FloatArray) -> FloatArray:
        """Residuals at a full theta vector (unweighted)."""
        prediction = self.law.predict(self.x, self.to_values(theta))
        return residuals(self.loss, prediction, self.y)

    def cost(self, theta: FloatArray) -> float:
        """The objective least_squares minimises, at a full theta vector."""
        r = self.residual_vector(theta)
        if self.sqrt_weights is not None:
            r = r * self.sqrt_weights
        if self.loss == "huber":
            d = self.huber_delta
            a = np.abs(r)
            return float(np.sum(np.where(a <= d, 0.5 * r**2, d * a - 0.5 * d**2)))
        return float(0.5 * np.sum(r**2))

    def solve(self, theta_start: FloatArray, max_nfev: int | None = None) -> OptimizeResult:
        """Minimise the loss from a full theta vector.

        Least squares use MINPACK's Levenberg-Marquardt on an unbounded reparametrisation
        (a logistic map between two bounds, a softplus above a lower bound): for curves of
        ten points it is several times faster than a bounded trust-region method. The Huber
        loss needs scipy's trust-region reflective method, which handles bounds itself.
        The result's ``x`` holds the free parameters only, in theta units; see
        :meth:`full_theta`.
        """
        free = self.free_mask
        lo, hi = self.theta_bounds()
        lo, hi = lo[free], hi[free]
        span = np.where(np.isfinite(hi - lo), hi - lo, 1.0)
        start = np.clip(theta_start[free], lo + 1e-9 * span, hi - 1e-9 * span)
        template = np.array(theta_start, dtype=float)
        sqrt_w = self.sqrt_weights

        def fun(theta_free: FloatArray) -> FloatArray:
            r = self.residual_vector(self.full_theta(theta_free, template))
            return r * sqrt_w if sqrt_w is not None else r

        if self.loss == "huber" or len(self.y) < len(start):
            return least_squares(
                fun,
                start,
                bounds=(lo, hi),
                method="trf",
                loss="huber" if self.loss == "huber" else "linear",
                f_scale=self.huber_delta if self.loss == "huber" else 1.0,
                x_scale="jac",
                max_nfev=max_nfev or 100 * (len(start) + 1),
            )
        box = _Box(lo, hi)
        result = least_squares(
            lambda u: fun(box.to_theta(u)),
            box.to_free(start),
            method="lm",
            x_scale="jac",
            max_nfev=max_nfev or 100 * (len(start) + 1),
        )
        result.x = box.to_theta(result.x)
        return result


class _Box:
    """Map between bounded theta and unbounded u, elementwise."""

    def __init__(self, lo: FloatArray, hi: FloatArray) -> None:
        self.lo, self.hi = lo, hi
        self.both = np.isfinite(lo) & np.isfinite(hi)
        self.lower_only = np.isfinite(lo) & ~np.isfinite(hi)
        self.upper_only = ~np.isfinite(lo) & np.isfinite(hi)
        self.width = np.where(self.both, hi - lo, 1.0)
        self.lo0 = np.where(np.isfinite(lo), lo, 0.0)
        self.hi0 = np.where(np.isfinite(hi), hi, 0.0)

    def to_theta(self, u: FloatArray) -> FloatArray:
        with np.errstate(over="ignore"):
            sigmoid = np.exp(-np.logaddexp(0.0, -u))
            softplus = np.logaddexp(0.0, u)
        return np.where(
            self.both,
            self.lo0 + self.width * sigmoid,
            np.where(self.lower_only, self.lo0 + softplus, np.where(self.upper_only, self.hi0 - softplus, u)),
        )

    def to_free(self, theta: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            frac = np.clip((theta - self.lo0) / self.width, 1e-12, 1 - 1e-12)
            logit = np.log(frac) - np.log1p(-frac)
            above = np.maximum(theta - self.lo0, 1e-12)
            below = np.maximum(self.hi0 - theta, 1e-12)
            inv_sp_above = np.where(above > 30, above, np.log(np.expm1(above)))
            inv_sp_below = np.where(below > 30, below, np.log(np.expm1(below)))
        return np.where(
            self.both,
            logit,
            np.where(self.lower_only, inv_sp_above, np.where(self.upper_only, inv_sp_below, theta)),
        )
