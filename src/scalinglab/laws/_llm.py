"""Joint laws of language-model loss in parameters N and tokens D: Chinchilla and Kaplan."""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike

from scalinglab.laws._base import FloatArray, Law, Param, as_params

__all__ = ["Chinchilla", "Kaplan"]


class Chinchilla(Law):
    """``L(N, D) = E + A / N^alpha + B / D^beta`` (Hoffmann et al. 2022, eq. 2, Approach 3).

    Inputs, in order: ``N`` (parameters), ``D`` (training tokens). ``A``, ``B`` and ``E``
    are fitted on a log scale, as Hoffmann's ``a, b, e = ln A, ln B, ln E``; their grid of
    starting points is :meth:`hoffmann_grid`.
    """

    name = "chinchilla"
    formula = "L = E + A / N^alpha + B / D^beta"
    reference = "Hoffmann et al. 2022, eq. 2 and Approach 3 (appendix D.2)"
    inputs = ("N", "D")
    params = (
        Param("A", 1e-300, 1e300, log=True, description="model-size term coefficient"),
        Param("B", 1e-300, 1e300, log=True, description="data term coefficient"),
        Param("E", 1e-300, 1e300, log=True, description="irreducible loss"),
        Param("alpha", 0.0, 5.0, description="model-size exponent"),
        Param("beta", 0.0, 5.0, description="data exponent"),
    )

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        big_a, big_b, big_e, alpha, beta = as_params(params, 5, self.name)
        nd = self.check_x(x)
        return np.asarray(
            big_e + big_a * np.power(nd[:, 0], -alpha) + big_b * np.power(nd[:, 1], -beta)
        )

    def floor(self, params: ArrayLike) -> float:
        return float(as_params(params, 5, self.name)[2])

    @staticmethod
    def hoffmann_grid() -> list[FloatArray]:
        """Hoffmann's starting grid: alpha, beta in {0, .5, ..., 2}, e in {-1, ..., 1},
        a, b in {0, 5, ..., 25} (ln A, ln B, ln E), 4,500 points in natural units."""
        starts = []
        for alpha, beta, e, a, b in itertools.product(
            np.arange(0, 2.01, 0.5), np.arange(0, 2.01, 0.5), np.arange(-1, 1.01, 0.5),
            np.arange(0, 26, 5), np.arange(0, 26, 5),
        ):
            starts.append(np.array([np.exp(a), np.exp(b), np.exp(e), alpha, beta]))
        return starts

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        grid = self.hoffmann_grid()
        # Exponents of exactly 0 sit on the bound: nudge them inside for the optimiser.
        for p in grid:
            p[3:] = np.maximum(p[3:], 0.05)
        return grid

    def compute_optimal(self, compute_flops: ArrayLike, params: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """N and D minimising the loss under ``C = 6 N D`` (Hoffmann et al. 2022, eq. 4).

        ``N_opt = G (C/6)^(beta/(alpha+beta))``, ``D_opt = G^-1 (C/6)^(alpha/(alpha+beta))``,
        ``G = (alpha A / (beta B))^(1/(alpha+beta))``.

        Returns
        -------
        (n_opt, d_opt) : tuple of arrays
        """
        big_a, big_b, _, alpha, beta = as_params(params, 5, self.name)
        c = np.asarray(compute_flops, dtype=float) / 6.0
        g = (alpha * big_a / (beta * big_b)) ** (1.0 / (alpha + beta))
        n_opt = g * np.power(c, beta / (alpha + beta))
        d_opt = np.power(c, alpha / (alpha + beta)) / g
        return np.asarray(n_opt, dtype=float), np.asarray(d_opt, dtype=float)


class Kaplan(Law):
    """``L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D`` (Kaplan et al. 2020, eq. 1.5).

    Inputs, in order: ``N`` (non-embedding parameters), ``D`` (tokens). Published values:
    alpha_N 0.076, alpha_D 0.103, N_c 6.4e13, D_c 1.8e13.
    """

    name = "kaplan"
    formula = "L = ((N_c/N)^(alpha_N/alpha_D) + D_c/D)^alpha_D"
    reference = "Kaplan et al. 2020, eq. (1.5)"
    inputs = ("N", "D")
    params = (
        Param("N_c", 1e-300, 1e300, log=True, description="model-size scale"),
        Param("D_c", 1e-300, 1e300, log=True, description="data scale"),
        Param("alpha_N", 1e-4, 5.0, description="model-size exponent"),
        Param("alpha_D", 1e-4, 5.0, description="data exponent"),
    )

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        n_c, d_c, alpha_n, alpha_d = as_params(params, 4, self.name)
        nd = self.check_x(x)
        with np.errstate(over="ignore"):
            inner = np.power(n_c / nd[:, 0], alpha_n / alpha_d) + d_c / nd[:, 1]
            return np.asarray(np.power(inner, alpha_d), dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        starts = []
        for alpha_n, alpha_d in itertools.product((0.05, 0.076, 0.15, 0.3), (0.05, 0.103, 0.2, 0.4)):
            for scale in (1e-2, 1.0, 1e2):
                starts.append(np.array([6.4e13 * scale, 1.8e13 * scale, alpha_n, alpha_d]))
        starts.sort(
            key=lambda p: float(np.nansum((np.log(self.predict(x, p)) - np.log(y)) ** 2))
        )
        return starts
