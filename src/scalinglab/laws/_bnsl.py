"""Broken neural scaling law (Caballero, Gupta, Rish & Krueger 2022)."""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike

from scalinglab.laws._base import FloatArray, Law, Param, as_params, linear_fit, log_grid

__all__ = ["BNSL"]


class BNSL(Law):
    """``y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)`` (Caballero et al. 2022, eq. 1).

    A smoothly broken power law: slope ``-c0`` before the first break, ``-(c0 + c_1)``
    after it, and so on; ``d_i`` is where break i happens and ``f_i`` its sharpness.

    Parameters
    ----------
    n_breaks : int
        Number of breaks (1 or 2 are the useful values for a learning curve).
    """

    name = "bnsl"
    formula = "y = a + b x^-c0 * prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)"
    reference = "Caballero et al. 2022, 'Broken Neural Scaling Laws', eq. 1"

    def __init__(self, n_breaks: int = 1) -> None:
        if not (isinstance(n_breaks, int | np.integer) and 1 <= n_breaks <= 4):
            raise ValueError(
                f"The 'n_breaks' parameter of BNSL must be an int in [1, 4]. Got {n_breaks!r} instead."
            )
        self.n_breaks = int(n_breaks)
        params = [
            Param("a", 0.0, np.inf, description="irreducible error (floor)"),
            Param("b", 1e-300, 1e300, log=True, description="scale"),
            Param("c0", -10.0, 10.0, description="slope before the first break"),
        ]
        for i in range(1, self.n_breaks + 1):
            params += [
                Param(f"c{i}", -10.0, 10.0, description=f"change of slope at break {i}"),
                Param(f"d{i}", 1e-300, 1e300, log=True, description=f"location of break {i}"),
                Param(f"f{i}", 1e-3, 100.0, log=True, description=f"sharpness of break {i}"),
            ]
        self.params = tuple(params)

    @property
    def constants(self) -> dict[str, int]:
        return {"n_breaks": self.n_breaks}

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        theta = as_params(params, self.n_params, self.name)
        x_arr = self.check_x(x)
        a, b, c0 = theta[:3]
        log_term = np.log(b) - c0 * np.log(x_arr)
        for i in range(self.n_breaks):
            c, d, f = theta[3 + 3 * i : 6 + 3 * i]
            # (1 + (x/d)^(1/f))^(-c f), as a softplus in log space so large x cannot overflow.
            log_term = log_term - c * f * np.logaddexp(0.0, np.log(x_arr / d) / f)
        return np.asarray(a + np.exp(log_term), dtype=float)

    def floor(self, params: ArrayLike) -> float:
        return float(as_params(params, self.n_params, self.name)[0])

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        y_min = float(np.min(y))
        candidates = []
        break_grid = log_grid(x, 3 + self.n_breaks)[1:-1]
        for fraction in (0.0, 0.5, 0.9):
            a = fraction * y_min
            intercept, slope = linear_fit([np.ones_like(x), np.log(x)], np.log(y - a))
            c0 = float(np.clip(-slope, -10, 10))
            for breaks in itertools.combinations(break_grid, self.n_breaks):
                for dc in (-0.5 * abs(c0), 0.5 * abs(c0) + 0.1):
                    p = [a, float(np.exp(intercept)), c0]
                    for d in breaks:
                        p += [dc, float(d), 1.0]
                    params = np.array(p)
                    sse = float(np.sum((np.log(self.predict(x, params)) - np.log(y)) ** 2))
                    if np.isfinite(sse):
                        candidates.append((sse, params))
        candidates.sort(key=lambda item: item[0])
        return [p for _, p in candidates]
