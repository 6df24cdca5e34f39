"""A seeded prior of synthetic learning curves, for training and testing a learned extrapolator.

Every curve is drawn in ``t = ln x`` and ``ln y`` from a mixture of the shapes real
learning curves take (see ``docs/extrapolation.md``, "The learned extrapolator"):

* a **broken power law** in the reducible part, ``y = e_inf + r(x)``,
  ``ln r = ln r0 - c0 t - sum_i c_i f_i softplus((t - d_i) / f_i)``, with 0-2 breaks
  whose slope changes ``c_i`` may steepen or flatten the curve (Caballero et al. 2023,
  "Broken Neural Scaling Laws"); with ``c0`` near 0 and one break this is a slow start;
* a **bound** ``eps0`` (the loss of random guessing): with probability 1/2 the curve is
  bent under it by a soft minimum, ``y <- y eps0 / (y^p + eps0^p)^(1/p)``, which gives
  the plateau-then-power-law shapes of M3/M4 and Rosenfeld's envelope;
* **levelling off after the split**: with probability ``LEVEL_P`` the floor is set to
  50-97% of the curve's value where the context ends, so that the points to be predicted
  flatten above the context's trend (as the BB curves of the benchmark do);
* **double descent**: with probability 0.12 a bump ``h exp(-(t - mu)^2 / 2w^2)`` in ``ln y``;
* **noise** in ``ln y``: heteroscedastic (its scale drifts along the curve) and, with
  probability 1/2, correlated along the curve (AR(1), as in training trajectories);
* **spacing**: uniform in ``ln x``, uniform in ``x`` (evaluations every k steps), random, or
  a grid with gaps; 6-500 points; the context (the points a user has) is a fraction of
  10-90% of the curve's span in ``ln x``, and the rest is what is to be predicted.

Numpy only; one ``numpy.random.Generator`` drives everything, so a seed fixes the curves.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from scalinglab.laws import FloatArray

__all__ = ["SyntheticCurve", "reduce_context", "sample_curve"]

#: Probability that a curve levels off just after the context ends (its floor set there).
LEVEL_P = 0.15


@dataclasses.dataclass(frozen=True)
class SyntheticCurve:
    """One synthetic learning curve, split into context and target.

    Attributes
    ----------
    x_context, y_context : ndarray
        The points a user would have (sorted by ``x``).
    x_target, y_target : ndarray
        The points beyond the context, to be predicted (noisy, like the context).
    eps0 : float or None
        The curve's bound when it is known to the user, else None.
    kind : str
        Which shape family drew it (for diagnostics).
    """

    x_context: FloatArray
    y_context: FloatArray
    x_target: FloatArray
    y_target: FloatArray
    eps0: float | None
    kind: str


def _softplus(z: FloatArray) -> FloatArray:
    return np.logaddexp(0.0, z)


def _grid(rng: np.random.Generator, n: int, t0: float, t1: float) -> FloatArray:
    """``n`` sorted, distinct values of ``t = ln x`` in ``[t0, t1]`` with one of four spacings."""
    kind = rng.integers(4)
    if kind == 0:  # uniform in ln x, slightly jittered
        t = np.linspace(t0, t1, n) + rng.normal(0, 0.15 * (t1 - t0) / max(n, 2), n)
    elif kind == 1:  # uniform in x: evaluations every k steps of a training run
        t = np.log(np.linspace(math.exp(t0), math.exp(t1), n))
    elif kind == 2:  # random
        t = rng.uniform(t0, t1, n)
    else:  # a log grid with a gap
        t = np.linspace(t0, t1, n + n // 3)
        cut = int(rng.integers(1, max(len(t) - n // 3, 2)))
        t = np.delete(t, np.arange(cut, min(cut + n // 3, len(t) - 1)))
    t = np.clip(np.sort(t), t0, t1)
    return np.unique(np.round(t, 9))


def _shape(
    rng: np.random.Generator, t: FloatArray, t0: float, t1: float, t_split: float
) -> tuple[FloatArray, float, str]:
    """Noise-free ``ln y`` on ``t`` and the curve's bound ``eps0`` (``t_split``: where the context ends)."""
    span = t1 - t0
    c0 = float(rng.choice([0.0, 1.0], p=[0.25, 0.75]) * math.exp(rng.uniform(math.log(0.02), math.log(1.2))))
    n_breaks = int(rng.choice([0, 1, 2], p=[0.35, 0.4, 0.25]))
    log_r = -c0 * (t - t0)
    slope = c0
    kind = f"bpl{n_breaks}"
    for _ in range(n_breaks):
        d = rng.uniform(t0 - 0.1 * span, t1)
        f = math.exp(rng.uniform(math.log(0.05), math.log(1.5)))
        # The slope change: steepen (a slow start ending) or flatten (approach to a floor).
        if rng.random() < 0.5 or slope < 0.05:
            c = math.exp(rng.uniform(math.log(0.05), math.log(1.0)))
        else:
            c = -rng.uniform(0.2, 0.95) * slope
        log_r = log_r - c * f * _softplus((t - d) / f)
        slope += c
    r = np.exp(log_r - np.max(log_r))  # reducible part, max 1
    y0 = math.exp(rng.uniform(math.log(0.05), math.log(8.0)))
    floor_frac = float(rng.choice([0.0, 1.0], p=[0.25, 0.75]) * rng.uniform(0.0, 1.0) ** 1.5)
    # y = e_inf + A r, with the floor a fraction of where the curve ends.
    r_end = float(r[-1])
    a_amp = y0 / (1.0 + floor_frac * r_end / max(1.0 - floor_frac, 1e-3))
    e_inf = y0 - a_amp if floor_frac > 0 else 0.0
    e_inf = max(e_inf, 0.0)
    if rng.random() < LEVEL_P:
        # Levels off soon after the split: the floor is most of the curve's value there,
        # so the points to be predicted sit above the trend of the context's last points.
        r_split = float(np.interp(t_split, t, r))
        q = rng.uniform(0.5, 0.97)
        e_inf = q * r_split / (1.0 - q)
        a_amp = y0 / (e_inf + 1.0)
        e_inf *= a_amp
        kind += "+level"
    y = e_inf + a_amp * r
    eps0 = float(np.max(y)) * math.exp(rng.uniform(0.0, 0.7))
    if rng.random() < 0.6:  # bent under the bound: plateau at the random-guess level
        p = math.exp(rng.uniform(math.log(0.7), math.log(6.0)))
        y_pre = y * math.exp(rng.uniform(0.0, 2.0))  # push the raw curve above the bound
        y = y_pre * eps0 / (y_pre**p + eps0**p) ** (1.0 / p)
        kind += "+bound"
    log_y = np.log(np.maximum(y, 1e-12))
    if rng.random() < 0.12:  # double descent: down, up, down
        mu = rng.uniform(t0 + 0.1 * span, t1)
        w = rng.uniform(0.04, 0.3) * span
        h = rng.uniform(0.05, 0.6)
        log_y = log_y + h * np.exp(-0.5 * ((t - mu) / w) ** 2)
        kind += "+dd"
    return log_y, eps0, kind


def _noise(rng: np.random.Generator, t: FloatArray, t0: float, t1: float) -> FloatArray:
    n = len(t)
    s0 = math.exp(rng.uniform(math.log(3e-4), math.log(0.08)))
    drift = rng.uniform(-1.5, 1.5)
    sd = s0 * np.exp(drift * ((t - t0) / max(t1 - t0, 1e-9) - 0.5))
    e = rng.normal(0.0, 1.0, n)
    if rng.random() < 0.5:  # correlated along the curve
        rho = rng.uniform(0.3, 0.95)
        drive = math.sqrt(1.0 - rho**2) * e
        drive[0] = e[0]
        # Imported here: scipy.signal costs ~1 s to import, and fitting a curve never needs it.
        from scipy.signal import lfilter

        e = lfilter([1.0], [1.0, -rho], drive)  # e_i = rho e_{i-1} + sqrt(1 - rho^2) z_i
    if rng.random() < 0.1:  # heavy tails
        e = e * np.sqrt(rng.uniform(1.0, 3.0) / rng.chisquare(3.0, n) * 3.0)
    return np.asarray(sd * e, dtype=float)


def sample_curve(rng: np.random.Generator, *, max_target: int | None = None) -> SyntheticCurve:
    """Draw one curve of the prior.

    Parameters
    ----------
    rng : numpy.random.Generator
        Drives every choice: the same generator state gives the same curve.
    max_target : int, optional
        Keep at most this many target points (a random subset), to bound training cost.

    Returns
    -------
    SyntheticCurve
        Context of at least 4 points and a non-empty target.
    """
    while True:
        n = round(math.exp(rng.uniform(math.log(8), math.log(500))))
        ctx_span = math.exp(rng.uniform(math.log(0.35), math.log(9.0)))  # ln x, 0.15-3.9 decades
        frac = rng.uniform(0.1, 0.9) if rng.random() < 0.5 else rng.uniform(0.5, 0.92)
        span = ctx_span / frac
        t0 = rng.uniform(0.0, 12.0)
        t1 = t0 + span
        t = _grid(rng, n, t0, t1)
        ctx = t <= t0 + ctx_span
        if ctx.sum() >= 4 and (~ctx).sum() >= 1:
            break
    log_y, eps0, kind = _shape(rng, t, t0, t1, t0 + ctx_span)
    log_y = log_y + _noise(rng, t, t0, t1)
    x, y = np.exp(t), np.exp(log_y)
    idx = np.flatnonzero(~ctx)
    if max_target is not None and len(idx) > max_target:
        idx = np.sort(rng.choice(idx, max_target, replace=False))
    known = eps0 if rng.random() < 0.6 else None
    return SyntheticCurve(x[ctx], y[ctx], x[idx], y[idx], known, kind)


def reduce_context(x: FloatArray, y: FloatArray, max_points: int) -> tuple[FloatArray, FloatArray]:
    """At most ``max_points`` points: means of ``ln x`` and ``ln y`` in equal bins of ``ln x``.

    Long curves (training trajectories of hundreds of evaluations) are summarised so that
    the network's cost stays bounded; a curve of ``max_points`` or fewer is returned as is.
    The last point is kept apart (its own bin), since it anchors the extrapolation.
    """
    if len(x) <= max_points:
        return x, y
    t, ly = np.log(x), np.log(y)
    edges = np.linspace(t[0], t[-2], max_points)
    which = np.clip(np.searchsorted(edges, t[:-1], side="right") - 1, 0, max_points - 2)
    counts = np.bincount(which, minlength=max_points - 1)
    keep = counts > 0
    tb = np.bincount(which, weights=t[:-1], minlength=max_points - 1)[keep] / counts[keep]
    yb = np.bincount(which, weights=ly[:-1], minlength=max_points - 1)[keep] / counts[keep]
    return np.exp(np.append(tb, t[-1])), np.exp(np.append(yb, ly[-1]))
