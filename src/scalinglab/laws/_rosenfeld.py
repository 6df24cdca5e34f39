"""Rosenfeld's laws: the saturating envelope, the joint data-model landscape, pruning.

Rosenfeld et al. 2020 ("A Constructive Prediction of the Generalization Error Across
Scales", ICLR) and Rosenfeld et al. 2021 ("On the Predictability of Pruning Across
Scales", ICML); both are chapters of Rosenfeld's 2021 MIT thesis.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.typing import ArrayLike

from scalinglab.laws._base import FloatArray, Law, Param, as_params, linear_fit, log_grid

__all__ = ["Envelope", "Joint", "Pruning", "envelope_transition"]


def envelope_transition(eps_tilde: ArrayLike, eps0: float, eta: float) -> FloatArray:
    """Rosenfeld's envelope ``eps0 * |eps_tilde / (eps_tilde - i eta)|``.

    Equals ``eps0 * eps_tilde / sqrt(eps_tilde^2 + eta^2)`` (Rosenfeld et al. 2020,
    eq. 5): ``eps_tilde`` when it is small, the random-guess error ``eps0`` when large.
    Check by hand: eps0 = 0.9, eps_tilde = 0.5, eta = 0.1 gives 0.9 * 0.5 / sqrt(0.26) = 0.8825.
    """
    et = np.asarray(eps_tilde, dtype=float)
    return np.asarray(eps0 * et / np.hypot(et, eta), dtype=float)


def _check_eps0(eps0: float, where: str) -> float:
    if not eps0 > 0:
        raise ValueError(f"The 'eps0' parameter of {where} must be > 0. Got {eps0!r} instead.")
    return float(eps0)


def _envelope_target(y: FloatArray, eps0: float) -> FloatArray:
    """``eps_tilde / eta`` implied by an observed error: y / sqrt(eps0^2 - y^2)."""
    y_clip = np.minimum(y, eps0 * (1 - 1e-6))
    return np.asarray(y_clip / np.sqrt(eps0**2 - y_clip**2), dtype=float)


class Envelope(Law):
    """Rosenfeld's saturating learning curve in one variable, with known ``eps0``.

    ``eps_tilde(n) = n^-alpha + c_inf``, ``y = eps0 eps_tilde / sqrt(eps_tilde^2 + eta^2)``.

    It carries Hestness's three regions: the small-data plateau at ``eps0`` (while
    ``eps_tilde >> eta``), the power-law region (slope ``-alpha`` on log-log axes), and the
    irreducible floor ``eps0 c_inf / sqrt(c_inf^2 + eta^2)``. The form is invariant under
    scaling the coefficient of ``n^-alpha``, ``c_inf`` and ``eta`` together (Rosenfeld et al.
    2020, section 5), so that coefficient is fixed to 1 and only the ratios are fitted.

    Parameters
    ----------
    eps0 : float
        The random-guess error (top-1 error with K classes: 1 - 1/K; cross-entropy: ln K).
    """

    name = "envelope"
    formula = "y = eps0 * e / sqrt(e^2 + eta^2),  e = x^-alpha + c_inf"
    reference = "Rosenfeld et al. 2020 (ICLR), eq. 5, one variable"
    params = (
        Param("alpha", 0.0, 10.0, description="power-law exponent"),
        Param("c_inf", 0.0, np.inf, description="irreducible term (relative to eta)"),
        Param("eta", 1e-300, 1e300, log=True, description="where the curve leaves eps0"),
    )

    def __init__(self, eps0: float = 1.0) -> None:
        self.eps0 = _check_eps0(eps0, "Envelope")

    @property
    def constants(self) -> dict[str, float]:
        return {"eps0": self.eps0}

    def eps_tilde(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        alpha, c_inf, _ = as_params(params, 3, self.name)
        return np.asarray(np.power(self.check_x(x), -alpha) + c_inf, dtype=float)

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        eta = as_params(params, 3, self.name)[2]
        return envelope_transition(self.eps_tilde(x, params), self.eps0, eta)

    def floor(self, params: ArrayLike) -> float:
        _, c_inf, eta = as_params(params, 3, self.name)
        return float(envelope_transition(c_inf, self.eps0, eta))

    def inverse(self, y: ArrayLike, params: ArrayLike) -> FloatArray:
        """n = (eta y / sqrt(eps0^2 - y^2) - c_inf)^(-1/alpha), for floor < y < eps0."""
        alpha, c_inf, eta = as_params(params, 3, self.name)
        y_arr = np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = eta * y_arr / np.sqrt(self.eps0**2 - y_arr**2) - c_inf
            out = np.where((gap > 0) & (y_arr < self.eps0), np.power(gap, -1.0 / alpha), np.nan)
        return np.asarray(out, dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        # For fixed alpha, u = y / sqrt(eps0^2 - y^2) = (1/eta) x^-alpha + c_inf/eta: linear.
        u = _envelope_target(y, self.eps0)
        candidates = []
        for alpha in (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5):
            slope, intercept = linear_fit([np.power(x, -alpha), np.ones_like(x)], u)
            if slope <= 0:
                continue
            eta = 1.0 / slope
            p = np.array([alpha, max(intercept * eta, 0.0), eta])
            sse = float(np.sum((np.log(self.predict(x, p)) - np.log(y)) ** 2))
            if np.isfinite(sse):
                candidates.append((sse, p))
        candidates.sort(key=lambda item: item[0])
        if not candidates:
            candidates = [(0.0, np.array([0.3, 0.0, float(np.max(x)) ** -0.3]))]
        return [p for _, p in candidates]


class Joint(Law):
    """Rosenfeld's joint error landscape in data size n and model size m.

    ``eps_tilde(n, m) = n^-alpha + b m^-beta + c_inf`` and
    ``eps_hat = eps0 eps_tilde / sqrt(eps_tilde^2 + eta^2)`` (Rosenfeld et al. 2020,
    eqs. 4-5). The data coefficient is fixed to 1 to remove the scale redundancy of the
    form. Inputs, in order: ``n`` (data), ``m`` (model size).

    Parameters
    ----------
    eps0 : float
        The random-guess error, known, not fitted.
    """

    name = "joint"
    formula = "y = eps0 * e / sqrt(e^2 + eta^2),  e = n^-alpha + b m^-beta + c_inf"
    reference = "Rosenfeld et al. 2020 (ICLR), eqs. 4-5"
    inputs = ("n", "m")
    params = (
        Param("alpha", 0.0, 10.0, description="data exponent"),
        Param("b", 1e-300, 1e300, log=True, description="model-term coefficient"),
        Param("beta", 0.0, 10.0, description="model-size exponent"),
        Param("c_inf", 0.0, np.inf, description="irreducible term"),
        Param("eta", 1e-300, 1e300, log=True, description="where the error leaves eps0"),
    )

    def __init__(self, eps0: float = 1.0) -> None:
        self.eps0 = _check_eps0(eps0, "Joint")

    @property
    def constants(self) -> dict[str, float]:
        return {"eps0": self.eps0}

    def eps_tilde(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        alpha, b, beta, c_inf, _ = as_params(params, 5, self.name)
        xy = self.check_x(x)
        return np.asarray(np.power(xy[:, 0], -alpha) + b * np.power(xy[:, 1], -beta) + c_inf)

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        eta = as_params(params, 5, self.name)[4]
        return envelope_transition(self.eps_tilde(x, params), self.eps0, eta)

    def floor(self, params: ArrayLike) -> float:
        _, _, _, c_inf, eta = as_params(params, 5, self.name)
        return float(envelope_transition(c_inf, self.eps0, eta))

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        # For fixed (alpha, beta), u = eps_tilde / eta is linear in (n^-alpha, m^-beta, 1).
        u = _envelope_target(y, self.eps0)
        n, m = x[:, 0], x[:, 1]
        candidates = []
        for alpha, beta in itertools.product((0.2, 0.4, 0.6, 0.8, 1.0), repeat=2):
            inv_eta, b_over_eta, c_over_eta = linear_fit(
                [np.power(n, -alpha), np.power(m, -beta), np.ones_like(n)], u
            )
            if inv_eta <= 0:
                continue
            eta = 1.0 / inv_eta
            p = np.array([alpha, max(b_over_eta * eta, 1e-12), beta, max(c_over_eta * eta, 0), eta])
            sse = float(np.sum(((self.predict(x, p) - y) / y) ** 2))
            if np.isfinite(sse):
                candidates.append((sse, p))
        candidates.sort(key=lambda item: item[0])
        if not candidates:
            candidates = [(0.0, np.array([0.5, 1.0, 0.5, 0.0, 1.0]))]
        return [p for _, p in candidates]

    def compute_optimal(self, compute: ArrayLike, params: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Model and data sizes minimising the error under ``m * n = K``.

        Rosenfeld et al. 2020, section 7:
        ``m* = (beta b / alpha)^(1/(alpha+beta)) K^(alpha/(alpha+beta))`` and
        ``n* = (alpha / (beta b))^(1/(alpha+beta)) K^(beta/(alpha+beta))`` (a = 1 here).

        Returns
        -------
        (m_opt, n_opt) : tuple of arrays
            Model size first, then data size, as :meth:`Chinchilla.compute_optimal`
            returns ``(N_opt, D_opt)`` (the law's inputs are in the other order, ``(n, m)``).
        """
        alpha, b, beta, _, _ = as_params(params, 5, self.name)
        k = np.asarray(compute, dtype=float)
        total = alpha + beta
        m_opt = (beta * b / alpha) ** (1 / total) * np.power(k, alpha / total)
        n_opt = (alpha / (beta * b)) ** (1 / total) * np.power(k, beta / total)
        return np.asarray(m_opt, dtype=float), np.asarray(n_opt, dtype=float)


class Pruning(Law):
    """Error of an iteratively magnitude-pruned network against its density d.

    ``eps(d) = eps_np [(d^2 + p^2 r^2) / (d^2 + p^2)]^(gamma/2)`` with
    ``r = (eps_up / eps_np)^(1/gamma)`` (Rosenfeld et al. 2021, eq. 2): the unpruned error
    ``eps_np`` at d = 1, a power-law region of slope ``-gamma`` and a high plateau ``eps_up``
    for d << p. Check by hand: eps_np 0.08, eps_up 0.9, gamma 2, p 0.01 give 0.8999,
    0.8919, 0.490, 0.0881, 0.0801 at d = 1e-4 ... 1.
    """

    name = "pruning"
    formula = "y = eps_np * ((d^2 + p^2 r^2)/(d^2 + p^2))^(gamma/2),  r = (eps_up/eps_np)^(1/gamma)"
    reference = "Rosenfeld et al. 2021 (ICML), eq. 2"
    inputs = ("d",)
    params = (
        Param("eps_np", 1e-300, 1e300, log=True, description="error of the unpruned network"),
        Param("eps_up", 1e-300, 1e300, log=True, description="high-error plateau"),
        Param("gamma", 1e-3, 20.0, description="slope of the power-law region"),
        Param("p", 1e-300, 1e300, log=True, description="density where the plateau starts"),
    )

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        eps_np, eps_up, gamma, p = as_params(params, 4, self.name)
        d = self.check_x(x)
        with np.errstate(over="ignore", invalid="ignore"):
            r = (eps_up / eps_np) ** (1.0 / gamma)
            ratio = (d**2 + p**2 * r**2) / (d**2 + p**2)
            return np.asarray(eps_np * np.power(ratio, gamma / 2.0), dtype=float)

    def floor(self, params: ArrayLike) -> float:
        # As d grows the ratio tends to 1: the unpruned error.
        return float(as_params(params, 4, self.name)[0])

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        eps_np = float(y[np.argmax(x)])
        eps_up = float(np.max(y)) * 1.02
        candidates = []
        for gamma in (0.5, 1.0, 2.0, 4.0):
            for p in log_grid(x, 4):
                params = np.array([eps_np, max(eps_up, eps_np * 1.01), gamma, p])
                sse = float(np.sum((np.log(self.predict(x, params)) - np.log(y)) ** 2))
                candidates.append((sse, params))
        candidates.sort(key=lambda item: item[0])
        return [p for _, p in candidates]
