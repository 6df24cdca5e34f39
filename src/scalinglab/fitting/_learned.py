"""A learned extrapolator: a small prior-data fitted network, run with numpy only.

The network (trained by ``benchmarks/train_extrapolator.py`` on curves of
:mod:`scalinglab.fitting._curve_prior`; Müller et al. 2022, "Transformers can do Bayesian
inference"; Adriaensen et al. 2023, LC-PFN) reads a curve's points and, for each query
``x``, returns a Gaussian predictive distribution of ``ln y``: its mean and standard
deviation. Context points attend to each other, queries attend to the context only.

Per-curve normalisation (:func:`encode`, encoding 2): ``u = (ln x - ln x_min) / span``
over the context, ``v = (ln y - m) / s`` with ``m`` the mean ``ln y`` of the last points of
the context and ``s`` its standard deviation (at least ``SCALE_MIN``), and the straight-line
trend of the context's last half in ``(u, v)`` as extra token features; the bound ``eps0``
(when known), the span, the scale, the number of points, the trend's slope and the scatter
about it enter as curve-level features. Contexts longer than ``MAX_CONTEXT`` points are
binned in ``ln x`` first. Weights record their encoding; the first network's
(:func:`encode_v1`) is still read. :func:`fit_learned` is ``fit_law(law="learned")``.

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
from scipy.special import erf, ndtri

from scalinglab._errors import InputError
from scalinglab.fitting._curve_prior import reduce_context
from scalinglab.fitting._data import validate_data
from scalinglab.fitting._result import FitResult, build_fit_result
from scalinglab.laws import FloatArray, Law, get_law

__all__ = [
    "ENCODERS",
    "MAX_CONTEXT",
    "N_GLOBAL",
    "N_TOKEN",
    "LearnedExtrapolator",
    "LearnedLaw",
    "encode",
    "encode_v1",
    "fit_learned",
    "load_extrapolator",
]

#: Contexts longer than this are binned in ln x before the network reads them.
MAX_CONTEXT = 48
#: Smallest scale of ln y used to normalise a curve (a flat curve is not blown up further).
SCALE_MIN = 0.01
#: The first network's floor on the scale (encoding 1).
SCALE_MIN_V1 = 0.02
#: Features per token and per curve of the current encoding (2; see :func:`encode`).
N_TOKEN = 5
N_GLOBAL = 7
#: Features of the first network's encoding (1; :func:`encode_v1`).
N_TOKEN_V1 = 3
N_GLOBAL_V1 = 5
#: Encoding 2's trend: a straight line in (u, v) through the context points with u >= this.
TREND_FROM = 0.5
#: Largest |v| of the trend at a query (it is a baseline the network corrects, not a forecast).
TREND_CLIP = 30.0
WEIGHTS_FILE = "extrapolator.npz"


@dataclasses.dataclass(frozen=True)
class Encoded:
    """A curve as the network reads it, and how to map its output back to ``ln y``.

    ``base`` is added to the network's mean at each query (in units of ``scale``): the
    straight-line trend of the context's last half for encoding 2, zero for encoding 1.
    """

    context: FloatArray  # (n_ctx, n_token + n_global)
    query: FloatArray  # (n_q, n_token + n_global)
    center: float
    scale: float
    base: FloatArray  # (n_q,)


def _trend(u: FloatArray, v: FloatArray) -> tuple[float, float, float]:
    """Intercept, slope and residual standard deviation of a line through the last half of the context."""
    sel = np.flatnonzero(u >= TREND_FROM)
    if len(sel) < 3:
        sel = np.arange(max(len(u) - 3, 0), len(u))
    uu, vv = u[sel], v[sel]
    du = uu - uu.mean()
    den = float(np.sum(du**2))
    slope = float(np.sum(du * (vv - vv.mean())) / den) if den > 0 else 0.0
    icpt = float(vv.mean() - slope * uu.mean())
    resid = vv - (icpt + slope * uu)
    return icpt, slope, float(np.sqrt(np.mean(resid**2)))


@dataclasses.dataclass(frozen=True)
class _Normalised:
    """One curve in the network's units: what every encoding shares (see :func:`encode`)."""

    t: FloatArray  # ln x of the (reduced) context
    t_min: float
    span: float
    center: float
    scale: float
    u: FloatArray
    v: FloatArray
    has_bound: float
    v_bound: float

    def u_of(self, x_query: FloatArray) -> FloatArray:
        """The queries' ``u``, clipped to the range the network was trained on."""
        return np.clip((np.log(np.asarray(x_query, dtype=float)) - self.t_min) / self.span, -2.0, 12.0)


def _normalise(x: FloatArray, y: FloatArray, eps0: float | None, scale_min: float) -> _Normalised:
    """``u = (ln x - ln x_min) / span``, ``v = (ln y - m) / s`` (``s >= scale_min``) and the bound's ``v``."""
    x, y = reduce_context(x, y, MAX_CONTEXT)
    t, ly = np.log(x), np.log(y)
    t_min = float(t[0])
    span = max(float(t[-1] - t_min), 1e-6)
    k = max(1, min(len(ly) // 10, 5))
    center = float(np.mean(ly[-k:]))
    scale = max(float(np.std(ly)), scale_min)
    u = (t - t_min) / span
    v = np.clip((ly - center) / scale, -10.0, 10.0)
    if eps0 is not None and eps0 > 0:
        v_bound, has_bound = math.asinh((math.log(eps0) - center) / scale) / 3.0, 1.0
    else:
        v_bound, has_bound = 0.0, 0.0
    return _Normalised(t, t_min, span, center, scale, u, v, has_bound, v_bound)


def encode(x: FloatArray, y: FloatArray, x_query: FloatArray, eps0: float | None) -> Encoded:
    """Normalise one curve (context ``x, y``, queries ``x_query``) for the network (encoding 2).

    ``u = (ln x - ln x_min) / span`` over the context and ``v = (ln y - m) / s``, ``m`` the
    mean ``ln y`` of the last points and ``s`` the standard deviation of ``ln y`` (at least
    ``SCALE_MIN``). A straight line ``b(u)`` is fitted to the context points with
    ``u >= TREND_FROM`` (a power law through the curve's last half); a context token is
    ``(u, v, 1, v - b(u), asinh(b(u)) / 3)``, a query token ``(u, 0, 0, 0, asinh(b(u)) / 3)``,
    and the network predicts ``v - b(u)`` at the queries, so that a smooth curve's short
    continuation needs only a small correction. Every token also carries the curve's
    features: bound known, ``asinh`` of the bound's ``v``, ``ln s``, ``ln span``, ``ln n``,
    ``asinh`` of the trend's slope and the log of the residual scatter about the trend.

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
        Token features, the centre and scale of ``ln y``, and the trend at the queries.
    """
    c = _normalise(x, y, eps0, SCALE_MIN)
    u, v = c.u, c.v
    icpt, slope, scatter = _trend(u, v)
    g = np.array([
        c.has_bound, c.v_bound, math.log(c.scale) / 3.0, math.log(c.span) / 2.0, math.log(len(c.t)) / 3.0,
        math.asinh(slope) / 2.0, math.log(max(scatter, 1e-3)) / 3.0,
    ])
    b_ctx = icpt + slope * u
    uq = c.u_of(x_query)
    b_q = np.clip(icpt + slope * uq, -TREND_CLIP, TREND_CLIP)
    ctx = np.column_stack([
        u, v, np.ones_like(u), np.clip(v - b_ctx, -10.0, 10.0), np.arcsinh(b_ctx) / 3.0,
        np.broadcast_to(g, (len(u), N_GLOBAL)),
    ])
    zq = np.zeros_like(uq)
    qry = np.column_stack([uq, zq, zq, zq, np.arcsinh(b_q) / 3.0, np.broadcast_to(g, (len(uq), N_GLOBAL))])
    return Encoded(ctx, qry, c.center, c.scale, b_q)


def encode_v1(x: FloatArray, y: FloatArray, x_query: FloatArray, eps0: float | None) -> Encoded:
    """The first network's encoding (1): tokens ``(u, v, is-context)``, 5 curve features, no trend.

    Kept so that weights trained with it (``encoding`` absent from the weights file) still
    run; see :func:`encode` for the current one.
    """
    c = _normalise(x, y, eps0, SCALE_MIN_V1)
    g = np.array([c.has_bound, c.v_bound, math.log(c.scale) / 3.0, math.log(c.span) / 2.0, math.log(len(c.t)) / 3.0])
    ctx = np.column_stack([c.u, c.v, np.ones_like(c.u), np.broadcast_to(g, (len(c.u), N_GLOBAL_V1))])
    uq = c.u_of(x_query)
    qry = np.column_stack([uq, np.zeros_like(uq), np.zeros_like(uq), np.broadcast_to(g, (len(uq), N_GLOBAL_V1))])
    return Encoded(ctx, qry, c.center, c.scale, np.zeros(len(uq)))


#: Encoders by the ``encoding`` recorded in a weights file (1 when absent).
ENCODERS = {1: encode_v1, 2: encode}


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
        self.encoding = int(weights["encoding"]) if "encoding" in weights else 1
        self.encode = ENCODERS[self.encoding]

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
        """Mean (the trend ``enc.base`` included) and standard deviation of normalised ``v`` at each query."""
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
        if out.shape[1] == 3:  # encoding 2: a gate in (0, 1) on the trend
            mean = mean + enc.base / (1.0 + np.exp(-out[:, 2]))
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
        enc = self.encode(x_arr[order], y_arr[order], xq, eps0)
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
        #: The known bound that the band does not pass (``FitResult.predict``), if given.
        self.upper: float | None = self.eps0
        # The last query and its answer: predict and the band ask for the same x in turn.
        self._last: tuple[bytes, tuple[FloatArray, FloatArray]] | None = None

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
        xq = np.ascontiguousarray(self.check_x(x), dtype=float)
        key = xq.tobytes()
        if self._last is None or self._last[0] != key:
            self._last = (key, self.net.predict(self.x, self.y, xq, self.eps0))
        mean, sd = self._last[1]
        return mean.copy(), sd.copy()

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        return np.asarray(np.exp(self.log_predict(x)[0]), dtype=float)

    def log_halfwidth(self, x: ArrayLike, params: ArrayLike, level: float, interval: str) -> FloatArray:
        """Half-width in ``ln y`` of the network's central ``level`` band (Gaussian in ``ln y``).

        The network's distribution is that of a new point of the curve; it does not separate
        the curve's own uncertainty from the points' scatter, so ``interval`` does not change it.
        """
        return np.asarray(ndtri(0.5 + level / 2.0) * self.log_predict(x)[1], dtype=float)

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        return [np.zeros(0)]


def fit_learned(x: ArrayLike, y: ArrayLike, *, eps0: float | None = None) -> FitResult:
    """``fit_law(law="learned")``: the learned extrapolator's prediction as a fit result.

    Nothing is fitted: the network reads the curve's points (and ``eps0``, if known) and
    gives a Gaussian predictive distribution of ``ln y`` at any ``x``, which is the band of
    ``FitResult.predict``.

    Parameters
    ----------
    x, y : array-like
        A learning curve (1-D ``x``), all values > 0, at least 4 distinct ``x``.
    eps0 : float, optional
        The known bound of the loss (random-guess error), if any; the band stays under it.

    Returns
    -------
    FitResult
        Its law is a :class:`LearnedLaw` with no parameters; ``predict`` gives the network's
        mean and band.

    Raises
    ------
    InputError
        On bad data, fewer than 4 distinct ``x``, a non-positive ``eps0``, or missing weights.
    """
    x_arr, y_arr = validate_data(get_law("power"), x, y, where="fit_law(law='learned')")
    if eps0 is not None and not (math.isfinite(eps0) and eps0 > 0):
        raise InputError(f"The 'eps0' parameter of fit_law(law='learned') must be finite and > 0. Got {eps0!r} instead.")
    if len(np.unique(x_arr)) < 4:
        raise InputError(
            "fit_law(law='learned') needs at least 4 distinct x; add points or use a law with fewer parameters."
        )
    order = np.argsort(x_arr, kind="stable")
    x_arr, y_arr = x_arr[order], y_arr[order]
    law = LearnedLaw(x_arr, y_arr, eps0)
    resid = law.log_predict(x_arr)[0] - np.log(y_arr)
    meta = law.net.meta
    return build_fit_result(
        law=law,
        loss="log",
        x=x_arr,
        y=y_arr,
        values=np.zeros(0),
        theta=np.zeros(0),
        cov_theta=np.zeros((0, 0)),
        free=np.zeros(0, dtype=bool),
        converged=True,
        message="no optimisation: the network reads the curve's points",
        notes=(
            "learned: the band is the network's predictive distribution of ln y (trained on synthetic "
            "curves, docs/extrapolation.md), not parameter standard errors; it has no parameters",
        ),
        dof=len(y_arr),
        residual_scale=float(np.sqrt(np.mean(resid**2))),
        cost=float(0.5 * np.sum(resid**2)),
        selection={"method": "learned", "weights": meta},
    )
