"""A learned extrapolator: a small prior-data fitted network, run with numpy only.

The network (trained by ``benchmarks/train_extrapolator.py`` on curves of
:mod:`scalinglab.fitting._curve_prior`; Müller et al. 2022, "Transformers can do Bayesian
inference"; Adriaensen et al. 2023, LC-PFN) reads a curve's points and, for each query
``x``, returns a Gaussian predictive distribution of ``ln y``: its mean and standard
deviation. Context points attend to each other, queries attend to the context only.

Per-curve normalisation (:func:`encode`): ``u = (ln x - ln x_min) / span`` over the
context, ``v = (ln y - m) / s`` with ``m`` the mean ``ln y`` of the last points of the
context and ``s`` its standard deviation (at least ``SCALE_MIN``); the bound ``eps0``
(when known), the span, the scale and the number of points enter as curve-level features.
Contexts longer than ``MAX_CONTEXT`` points are binned in ``ln x`` first.

The weights ship as ``scalinglab/data/extrapolator.npz`` (float32); this module needs no
torch.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import erf

from scalinglab._errors import InputError
from scalinglab.fitting._curve_prior import reduce_context
from scalinglab.laws import FloatArray, Law

__all__ = [
    "MAX_CONTEXT",
    "N_GLOBAL",
    "N_TOKEN",
    "LearnedExtrapolator",
    "LearnedLaw",
    "encode",
    "load_extrapolator",
]

#: Contexts longer than this are binned in ln x before the network reads them.
MAX_CONTEXT = 48
#: Smallest scale of ln y used to normalise a curve (a flat curve is not blown up further).
SCALE_MIN = 0.02
#: Features per token (u, v, is-context) and per curve (see :func:`encode`).
N_TOKEN = 3
N_GLOBAL = 5
WEIGHTS_FILE = "extrapolator.npz"


@dataclasses.dataclass(frozen=True)
class Encoded:
    """A curve as the network reads it, and how to map its output back to ``ln y``."""

    context: FloatArray  # (n_ctx, N_TOKEN + N_GLOBAL)
    query: FloatArray  # (n_q, N_TOKEN + N_GLOBAL)
    center: float
    scale: float


def encode(x: FloatArray, y: FloatArray, x_query: FloatArray, eps0: float | None) -> Encoded:
    """Normalise one curve (context ``x, y``, queries ``x_query``) for the network.

    Parameters
    ----------
    x, y : ndarray
        The context, sorted by ``x``, all values > 0, at least 2 distinct ``x``.
    x_query : ndarray
        Where to predict.
    eps0 : float or None
        The loss's known bound, if any.

    Returns
    -------
    Encoded
        Token features and the centre and scale of ``ln y``.
    """
    x, y = reduce_context(x, y, MAX_CONTEXT)
    t, ly = np.log(x), np.log(y)
    t_min = float(t[0])
    span = max(float(t[-1] - t_min), 1e-6)
    k = max(1, min(len(ly) // 10, 5))
    center = float(np.mean(ly[-k:]))
    scale = max(float(np.std(ly)), SCALE_MIN)
    if eps0 is not None and eps0 > 0:
        v_eps = math.asinh((math.log(eps0) - center) / scale) / 3.0
        has = 1.0
    else:
        v_eps, has = 0.0, 0.0
    g = np.array([has, v_eps, math.log(scale) / 3.0, math.log(span) / 2.0, math.log(len(t)) / 3.0])
    u = (t - t_min) / span
    v = np.clip((ly - center) / scale, -10.0, 10.0)
    ctx = np.column_stack([u, v, np.ones_like(u), np.broadcast_to(g, (len(u), N_GLOBAL))])
    uq = np.clip((np.log(np.asarray(x_query, dtype=float)) - t_min) / span, -2.0, 12.0)
    qry = np.column_stack([uq, np.zeros_like(uq), np.zeros_like(uq), np.broadcast_to(g, (len(uq), N_GLOBAL))])
    return Encoded(ctx, qry, center, scale)


def _layer_norm(h: FloatArray, w: FloatArray, b: FloatArray) -> FloatArray:
    mu = h.mean(-1, keepdims=True)
    var = h.var(-1, keepdims=True)
    return (h - mu) / np.sqrt(var + 1e-5) * w + b


def _gelu(h: FloatArray) -> FloatArray:
    # The exact (erf) form, torch's default.
    return np.asarray(0.5 * h * (1.0 + erf(h / math.sqrt(2.0))))


class LearnedExtrapolator:
    """The network's forward pass in numpy.

    Parameters
    ----------
    weights : dict of str to ndarray
        The arrays of ``extrapolator.npz`` (names as in the training script's module).
    """

    def __init__(self, weights: dict[str, FloatArray]) -> None:
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items() if k != "meta"}
        self.n_layers = int(weights["n_layers"])
        self.n_heads = int(weights["n_heads"])
        self.meta = str(weights["meta"]) if "meta" in weights else ""

    def _attend(self, i: int, hq: FloatArray, hc: FloatArray) -> FloatArray:
        w = self.w
        d = hq.shape[-1]
        nh = self.n_heads
        dh = d // nh
        win, bin_ = w[f"layers.{i}.attn.in_proj_weight"], w[f"layers.{i}.attn.in_proj_bias"]
        q = hq @ win[:d].T + bin_[:d]
        k = hc @ win[d : 2 * d].T + bin_[d : 2 * d]
        v = hc @ win[2 * d :].T + bin_[2 * d :]
        q = q.reshape(-1, nh, dh).transpose(1, 0, 2)
        k = k.reshape(-1, nh, dh).transpose(1, 0, 2)
        v = v.reshape(-1, nh, dh).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(dh)
        s = s - s.max(-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(-1, keepdims=True)
        o = (p @ v).transpose(1, 0, 2).reshape(-1, d)
        return np.asarray(o @ w[f"layers.{i}.attn.out_proj.weight"].T + w[f"layers.{i}.attn.out_proj.bias"])

    def forward(self, enc: Encoded) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviation of normalised ``v`` at each query."""
        w = self.w
        h = np.vstack([enc.context, enc.query])
        h = _gelu(h @ w["embed.0.weight"].T + w["embed.0.bias"]) @ w["embed.2.weight"].T + w["embed.2.bias"]
        n_ctx = len(enc.context)
        for i in range(self.n_layers):
            a = _layer_norm(h, w[f"layers.{i}.ln1.weight"], w[f"layers.{i}.ln1.bias"])
            h = h + self._attend(i, a, a[:n_ctx])
            a = _layer_norm(h, w[f"layers.{i}.ln2.weight"], w[f"layers.{i}.ln2.bias"])
            a = _gelu(a @ w[f"layers.{i}.mlp.0.weight"].T + w[f"layers.{i}.mlp.0.bias"])
            h = h + a @ w[f"layers.{i}.mlp.2.weight"].T + w[f"layers.{i}.mlp.2.bias"]
        hq = _layer_norm(h[n_ctx:], w["head_ln.weight"], w["head_ln.bias"])
        out = hq @ w["head.weight"].T + w["head.bias"]
        mean = out[:, 0]
        sd = np.logaddexp(0.0, out[:, 1]) + 1e-3
        return mean, sd

    def predict(
        self, x: ArrayLike, y: ArrayLike, x_query: ArrayLike, eps0: float | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Predictive mean and standard deviation of ``ln y`` at ``x_query``.

        Parameters
        ----------
        x, y : array-like
            The curve's points (any order; values > 0; at least 4 distinct ``x``).
        x_query : array-like
            Where to predict.
        eps0 : float, optional
            The loss's known bound (random-guess level), if any.

        Returns
        -------
        (mean, sd) : tuple of ndarray
            Gaussian predictive distribution of ``ln y`` at each query.
        """
        x_arr = np.asarray(x, dtype=float).ravel()
        y_arr = np.asarray(y, dtype=float).ravel()
        xq = np.asarray(x_query, dtype=float).ravel()
        if x_arr.shape != y_arr.shape or len(np.unique(x_arr)) < 4:
            raise InputError("The learned extrapolator needs x and y of equal length with at least 4 distinct x.")
        if np.any(~np.isfinite(x_arr)) or np.any(x_arr <= 0) or np.any(~np.isfinite(y_arr)) or np.any(y_arr <= 0):
            raise InputError("The learned extrapolator needs finite x and y > 0; drop or fix the other points.")
        if np.any(~np.isfinite(xq)) or np.any(xq <= 0):
            raise InputError("The learned extrapolator's query x must be finite and > 0.")
        order = np.argsort(x_arr, kind="stable")
        enc = encode(x_arr[order], y_arr[order], xq, eps0)
        mean, sd = self.forward(enc)
        return enc.center + enc.scale * mean, enc.scale * sd


def load_extrapolator(path: str | Path | None = None) -> LearnedExtrapolator:
    """The shipped network (or one saved at ``path`` by the training script).

    Raises
    ------
    InputError
        If the weights file is missing (e.g. a source checkout without package data).
    """
    if path is None:
        return _shipped()
    p = Path(path)
    if not p.is_file():
        raise InputError(f"No extrapolator weights at {p}; run benchmarks/train_extrapolator.py to make them.")
    with np.load(p, allow_pickle=False) as data:
        return LearnedExtrapolator({k: data[k] for k in data.files})


@functools.cache
def _shipped() -> LearnedExtrapolator:
    ref = resources.files("scalinglab") / "data" / WEIGHTS_FILE
    if not ref.is_file():
        raise InputError(
            f"The package's {WEIGHTS_FILE} is missing; reinstall scalinglab or run benchmarks/train_extrapolator.py."
        )
    with resources.as_file(ref) as p, np.load(p, allow_pickle=False) as data:
        return LearnedExtrapolator({k: data[k] for k in data.files})


class LearnedLaw(Law):
    """The network's prediction for one curve, as a law with no fitted parameters.

    What it knows of the curve (its points and bound) are constants, so that it can be a
    member of an :class:`~scalinglab.fitting._ensemble.Ensemble` beside the fitted forms.

    Parameters
    ----------
    x, y : array-like
        The curve's points (the context the network reads).
    eps0 : float, optional
        The loss's known bound, if the user gave one.
    net : LearnedExtrapolator, optional
        The network (default: the shipped one).
    """

    name = "learned"
    formula = "ln y ~ N(mu(x), sd(x)^2), mu and sd read off the curve's points by a network"
    reference = (
        "prior-data fitted network (Muller et al. 2022; Adriaensen et al. 2023, LC-PFN) trained on "
        "scalinglab.fitting._curve_prior by benchmarks/train_extrapolator.py"
    )
    params = ()

    def __init__(
        self, x: ArrayLike, y: ArrayLike, eps0: float | None = None, net: LearnedExtrapolator | None = None
    ) -> None:
        self.x = np.asarray(x, dtype=float).ravel()
        self.y = np.asarray(y, dtype=float).ravel()
        self.eps0 = None if eps0 is None else float(eps0)
        self.net = net or load_extrapolator()

    @property
    def constants(self) -> dict[str, Any]:
        return {"n_context": len(self.x), "x_max": float(np.max(self.x)), "eps0": self.eps0}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, LearnedLaw)
            and np.array_equal(self.x, other.x)
            and np.array_equal(self.y, other.y)
            and self.eps0 == other.eps0
        )

    def __hash__(self) -> int:
        return hash((self.name, self.x.tobytes(), self.y.tobytes(), self.eps0))

    def log_predict(self, x: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviation of ``ln y`` at ``x``."""
        return self.net.predict(self.x, self.y, self.check_x(x), self.eps0)

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        return np.asarray(np.exp(self.log_predict(x)[0]), dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        return [np.zeros(0)]
