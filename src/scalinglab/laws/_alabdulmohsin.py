"""The M3 and M4 forms of Alabdulmohsin, Neyshabur and Zhai (NeurIPS 2022).

M4 is the form that bends: it starts on the random-guess plateau ``eps0``, follows a
power law and approaches the floor ``eps_inf``. It is implicit in y, so :func:`m4_solve`
solves it with a safeguarded Newton iteration on a logit scale, vectorised (and
broadcasting over parameters, which is how the batched fits of ``law="auto"`` use it, with
the derivatives of ``ln y`` it also returns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from scalinglab.laws._base import FloatArray, Law, Param, as_params, linear_fit, log_grid

__all__ = ["M3", "M4", "M4Solution", "m4_solve"]


class M3(Law):
    """``y = b (1/x + g)^(-c)`` (Alabdulmohsin et al. 2022, M3).

    For ``c < 0`` the error falls as ``b x^c`` while ``1/x >> g`` and levels at
    ``b g^(-c)`` beyond ``x ~ 1/g``.
    """

    name = "m3"
    formula = "y = b * (1/x + g)^(-c)"
    reference = "Alabdulmohsin, Neyshabur & Zhai 2022, M3"
    params = (
        Param("b", 1e-300, 1e300, log=True, description="scale"),
        Param("g", 0.0, np.inf, description="offset of 1/x: sets where the curve levels off"),
        Param("c", -10.0, 10.0, description="exponent (negative for a falling error)"),
    )

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        b, g, c = as_params(params, 3, self.name)
        return b * np.power(1.0 / self.check_x(x) + g, -c)

    def floor(self, params: ArrayLike) -> float:
        b, g, c = as_params(params, 3, self.name)
        return float(b * g ** (-c)) if c < 0 else 0.0

    def inverse(self, y: ArrayLike, params: ArrayLike) -> FloatArray:
        """x = 1 / ((y / b)^(-1/c) - g), where that is positive."""
        b, g, c = as_params(params, 3, self.name)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inv_x = np.power(np.asarray(y, dtype=float) / b, -1.0 / c) - g
            out = np.where(inv_x > 0, 1.0 / inv_x, np.nan)
        return np.asarray(out, dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        # For a fixed g, ln y = ln b - c ln(1/x + g) is linear.
        candidates = []
        for g in (0.0, *(1.0 / log_grid(x, 3)), 0.1 / np.max(x)):
            intercept, slope = linear_fit([np.ones_like(x), np.log(1.0 / x + g)], np.log(y))
            c = float(np.clip(-slope, -10, 10))
            p = np.array([np.exp(intercept), g, c])
            sse = float(np.sum((np.log(self.predict(x, p)) - np.log(y)) ** 2))
            candidates.append((sse, p))
        candidates.sort(key=lambda item: item[0])
        return [p for _, p in candidates]


class M4(Law):
    """``(y - eps_inf) / (eps0 - y)^a = b x^c`` (Alabdulmohsin et al. 2022, M4).

    Parameters
    ----------
    eps0 : float
        The error of random guessing (the upper plateau), known, not fitted. For error
        rates and losses rescaled to [0, 1], 1.0 is the bound that always holds.

    Notes
    -----
    Writing ``y = eps_inf + s (eps0 - eps_inf)`` with ``s = sigmoid(z)`` turns the law into
    ``ln s - a ln(1 - s) = ln(b x^c) + (a - 1) ln(eps0 - eps_inf)``, whose left side is
    increasing in z, so Newton's method converges from any start; a bracket keeps it safe.
    """

    name = "m4"
    formula = "(y - eps_inf) / (eps0 - y)^a = b * x^c"
    reference = "Alabdulmohsin, Neyshabur & Zhai 2022, M4"
    params = (
        Param("b", 1e-300, 1e300, log=True, description="scale"),
        Param("c", -10.0, 0.0, description="exponent of the power-law region"),
        Param("a", 0.0, 20.0, description="bend: how sharply the curve leaves eps0"),
        Param("eps_inf", 0.0, np.inf, description="irreducible error (floor)"),
    )

    def __init__(self, eps0: float = 1.0) -> None:
        if not eps0 > 0:
            raise ValueError(f"The 'eps0' parameter of M4 must be > 0. Got {eps0!r} instead.")
        self.eps0 = float(eps0)

    @property
    def constants(self) -> dict[str, float]:
        return {"eps0": self.eps0}

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        b, c, a, eps_inf = as_params(params, 4, self.name)
        x_arr = self.check_x(x)
        span = self.eps0 - eps_inf
        if span <= 0:
            return np.full(x_arr.shape, np.nan)
        return m4_solve(np.log(b) + c * np.log(x_arr), a, eps_inf, self.eps0).y

    def floor(self, params: ArrayLike) -> float:
        return float(as_params(params, 4, self.name)[3])

    def inverse(self, y: ArrayLike, params: ArrayLike) -> FloatArray:
        """x = ((y - eps_inf) / (b (eps0 - y)^a))^(1/c), for eps_inf < y < eps0."""
        b, c, a, eps_inf = as_params(params, 4, self.name)
        y_arr = np.asarray(y, dtype=float)
        ok = (y_arr > eps_inf) & (y_arr < self.eps0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (y_arr - eps_inf) / (b * np.power(self.eps0 - y_arr, a))
            out = np.where(ok, np.power(ratio, 1.0 / c), np.nan)
        return np.asarray(out, dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        # For fixed (a, eps_inf), ln((y - eps_inf)/(eps0 - y)^a) is linear in ln x.
        y_min = float(np.min(y))
        y_clip = np.minimum(y, self.eps0 * (1 - 1e-9))
        candidates = []
        for fraction in (0.0, 0.5, 0.8, 0.95):
            eps_inf = fraction * y_min
            for a in (0.0, 0.5, 1.0, 2.0):
                target = np.log(y_clip - eps_inf) - a * np.log(self.eps0 - y_clip)
                intercept, slope = linear_fit([np.ones_like(x), np.log(x)], target)
                p = np.array([np.exp(intercept), float(np.clip(slope, -10, -1e-4)), a, eps_inf])
                pred = self.predict(x, p)
                sse = float(np.sum((np.log(pred) - np.log(y)) ** 2))
                if np.isfinite(sse):
                    candidates.append((sse, p))
        candidates.sort(key=lambda item: item[0])
        return [p for _, p in candidates]


@dataclass(frozen=True)
class M4Solution:
    """M4 solved for y, with the derivatives of ``ln y`` (arrays of one broadcast shape).

    Attributes
    ----------
    y : array
        The error.
    s : array
        ``(y - eps_inf) / (eps0 - eps_inf)``, in (0, 1).
    dlny_dlin, dlny_da, dlny_deps_inf : arrays
        ``d ln y`` by the linear term ``ln b + c ln x``, by ``a`` and by ``eps_inf`` (implicit
        function theorem on ``G = ln(y - eps_inf) - a ln(eps0 - y) - ln b - c ln x = 0``).
    """

    y: FloatArray
    s: FloatArray
    dlny_dlin: FloatArray
    dlny_da: FloatArray
    dlny_deps_inf: FloatArray


def m4_solve(
    lin: ArrayLike, a: ArrayLike, eps_inf: ArrayLike, eps0: float, z0: ArrayLike | None = None
) -> M4Solution:
    """Solve M4, ``(y - eps_inf) / (eps0 - y)^a = b x^c``, for y, elementwise.

    Parameters
    ----------
    lin : array-like
        ``ln b + c ln x`` (any shape; the other arguments broadcast against it).
    a, eps_inf : array-like
        The bend and the floor (``eps_inf < eps0``).
    eps0 : float
        The random-guess plateau.
    z0 : array-like, optional
        A nearby solution on the logit scale ``z = logit(s)`` (``nan`` where none), which
        starts the Newton iteration closer to the root (used inside Levenberg-Marquardt).

    Returns
    -------
    M4Solution

    Notes
    -----
    Writing ``y = eps_inf + s (eps0 - eps_inf)`` with ``s = sigmoid(z)`` turns the law into
    ``ln s - a ln(1 - s) = lin + (a - 1) ln(eps0 - eps_inf)``, whose left side is increasing
    in z; :func:`_solve_logit` finds the root.
    """
    a_arr = np.asarray(a, dtype=float)
    e_inf = np.asarray(eps_inf, dtype=float)
    span = eps0 - e_inf
    rhs = np.asarray(lin, dtype=float) + (a_arr - 1.0) * np.log(span)
    z = _solve_logit(rhs, a_arr, None if z0 is None else np.asarray(z0, dtype=float))
    s = np.exp(-np.logaddexp(0.0, -z))  # sigmoid, overflow-safe
    y = np.asarray(e_inf + s * span, dtype=float)
    # With y - eps_inf = s span and eps0 - y = (1 - s) span: G_y = 1/(y - eps_inf) + a/(eps0 - y),
    # and d ln y / d theta = -G_theta / (G_y y).
    y_minus = s * span
    y_plus = (1.0 - s) * span
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 1.0 / ((1.0 / y_minus + a_arr / y_plus) * y)
        return M4Solution(
            y=y,
            s=s,
            dlny_dlin=scale,
            dlny_da=scale * np.log(y_plus),
            dlny_deps_inf=scale / y_minus,
        )


def _solve_logit(rhs: FloatArray, a: FloatArray, z0: FloatArray | None = None) -> FloatArray:
    """Solve ``-softplus(-z) + a softplus(z) = rhs`` for z, elementwise (``a`` broadcasts).

    The left side is strictly increasing, so Newton steps inside a shrinking bracket
    converge; 60 iterations are a hard cap, about 6 are used in practice (fewer from a
    warm start ``z0``). Each element stops when its own step is below tolerance, so its
    value does not depend on the other elements solved with it (a batch of fits gives
    each row what it would get alone).
    """
    rhs = np.broadcast_to(rhs, np.broadcast_shapes(np.shape(rhs), np.shape(a)))
    lo = np.full(rhs.shape, -750.0)
    hi = np.full(rhs.shape, 750.0)
    # Asymptotes give a start close to the root: z ~ rhs for z << 0, z ~ rhs / a for z >> 0.
    z = np.where(rhs < 0, rhs, rhs / np.maximum(a, 1e-12))
    if z0 is not None:
        z = np.where(np.isfinite(z0), z0, z)
    z = np.clip(z, lo + 1, hi - 1)
    active = np.ones(rhs.shape, dtype=bool)
    for _ in range(60):
        sp_pos = np.logaddexp(0.0, z)
        sp_neg = np.logaddexp(0.0, -z)
        g = -sp_neg + a * sp_pos - rhs
        sig = np.exp(-sp_neg)
        slope = (1.0 - sig) + a * sig
        hi = np.where(g > 0, z, hi)
        lo = np.where(g <= 0, z, lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = g / slope
        z_new = z - step
        outside = ~np.isfinite(z_new) | (z_new < lo) | (z_new > hi)
        z_new = np.where(outside, 0.5 * (lo + hi), z_new)
        settled = np.abs(z_new - z) < 1e-12 * (1.0 + np.abs(z))
        z = np.where(active, z_new, z)
        active &= ~settled
        if not np.any(active):
            break
    return z
