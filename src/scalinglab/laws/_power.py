"""Power laws: y = a x^b, and y = a x^-b + c with an irreducible floor."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from scalinglab.laws._base import FloatArray, Law, Param, as_params, linear_fit

__all__ = ["Power", "PowerFloor"]


class Power(Law):
    """Pure power law ``y = a x^b`` (Hestness et al. 2017, eq. 1; Alabdulmohsin 2022 M1).

    ``b`` is a signed exponent (the formula has no minus sign): negative for a learning
    curve eps(n) = alpha n^beta_g, positive for the model-size law s(n) = sigma n^beta_p
    (n the data size; Hestness et al. write both with their own signs). Fitting it by
    least squares in log space is linear regression of ln y on ln x, which the starting
    point already is.
    """

    name = "power"
    formula = "y = a * x^b"
    reference = "Hestness et al. 2017, eq. (1); Alabdulmohsin et al. 2022, M1"
    params = (
        Param("a", 1e-300, 1e300, log=True, description="scale"),
        Param("b", -10.0, 10.0, description="exponent (beta_g < 0 for error, beta_p > 0 for size)"),
    )

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        a, b = as_params(params, 2, self.name)
        return a * np.power(self.check_x(x), b)

    def inverse(self, y: ArrayLike, params: ArrayLike) -> FloatArray:
        """x = (y / a)^(1 / b)."""
        a, b = as_params(params, 2, self.name)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.power(np.asarray(y, dtype=float) / a, 1.0 / b)
        return np.asarray(out, dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        intercept, slope = linear_fit([np.ones_like(x), np.log(x)], np.log(y))
        return [np.array([np.exp(intercept), np.clip(slope, -10, 10)])]


class PowerFloor(Law):
    """Power law with irreducible error ``y = a x^-b + c``.

    Hestness et al. 2017, eq. (2) with beta_g = -b and gamma = c; Alabdulmohsin et al.
    2022, M2. ``b`` is a decay rate, >= 0 (the formula carries the minus sign); ``c`` is the
    floor that no amount of data removes.
    """

    name = "power_floor"
    formula = "y = a * x^-b + c"
    reference = "Hestness et al. 2017, eq. (2); Alabdulmohsin et al. 2022, M2"
    params = (
        Param("a", 1e-300, 1e300, log=True, description="scale"),
        Param("b", 0.0, 10.0, description="decay exponent (-beta_g)"),
        Param("c", 0.0, np.inf, description="irreducible error (floor)"),
    )

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        a, b, c = as_params(params, 3, self.name)
        return a * np.power(self.check_x(x), -b) + c

    def floor(self, params: ArrayLike) -> float:
        return float(as_params(params, 3, self.name)[2])

    def inverse(self, y: ArrayLike, params: ArrayLike) -> FloatArray:
        """x = ((y - c) / a)^(-1 / b), defined only for y > c (Hestness et al. 2017, eq. 2 inverted)."""
        a, b, c = as_params(params, 3, self.name)
        gap = np.asarray(y, dtype=float) - c
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(gap > 0, np.power(np.abs(gap) / a, -1.0 / b), np.nan)
        return np.asarray(out, dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        # For a fixed floor c, ln(y - c) is linear in ln x: scan floors below min(y).
        y_min = float(np.min(y))
        candidates = []
        for fraction in (0.0, 0.5, 0.8, 0.95):
            c = fraction * y_min
            intercept, slope = linear_fit([np.ones_like(x), np.log(x)], np.log(y - c))
            b = float(np.clip(-slope, 1e-3, 10.0))
            a = float(np.exp(intercept))
            sse = float(np.sum((np.log(a * x ** (-b) + c) - np.log(y)) ** 2))
            candidates.append((sse, np.array([a, b, c])))
        candidates.sort(key=lambda item: item[0])
        return [p for _, p in candidates]
