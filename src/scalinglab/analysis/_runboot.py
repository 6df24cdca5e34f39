"""Bootstrap over runs: intervals for beta_g, beta_p and predictions that include the
best-fit selection.

One replicate redraws every seed score of every (shard, model) cell, redoes the best-fit
selection of each shard (with the study's size tolerance), refits beta_g on the power-law
window and beta_p on the interior best-fit sizes. Both are least squares on log-log axes,
solved in closed form for all replicates at once, so thousands of replicates take
milliseconds.

How a cell's seeds are redrawn (``resample``):

``"pooled"`` (default)
    The cell's centre (mean log score over its seeds) plus seed deviations drawn with
    replacement from the deviations of every cell of the study, each scaled by
    ``sqrt(k / (k - 1))`` for a cell of k seeds (the centring shrinks them). Studies have 2
    or 3 seeds a cell; resampling a cell's own 2 seeds gives only 3 distinct medians and
    half the variance, so its 90% intervals cover 60-75% (docs/analysis.md measures it).
``"seeds"``
    The cell's own seed scores with replacement (the textbook case bootstrap within cells).

``vary_window=True`` also moves each end of the power-law window by up to one shard per
replicate (keeping 4 shards or more), so the interval includes the choice of window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab._json import jsonable as _jsonable
from scalinglab.analysis._checks import MIN_INTERIOR_SIZES, MIN_WINDOW

__all__ = ["RunBootstrap", "best_fit_selection", "bootstrap_runs", "loglog_ols"]

RESAMPLE = ("pooled", "seeds")


def loglog_ols(x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of ``ln y = a + b ln x`` per row of ``y`` over ``mask``'s points.

    ``x``: (n,), ``y`` and ``mask``: (B, n). NaN where a row has fewer than 2 points.
    """
    lx = np.broadcast_to(np.log(np.asarray(x, dtype=float)), y.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(y)
    w = (mask & np.isfinite(ly)).astype(float)
    ly = np.where(w > 0, ly, 0.0)
    n = w.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx = (w * lx).sum(axis=1) / n
        my = (w * ly).sum(axis=1) / n
        dx = lx - mx[:, None]
        sxx = (w * dx * dx).sum(axis=1)
        slope = (w * dx * (ly - my[:, None])).sum(axis=1) / sxx
        intercept = my - slope * mx
    bad = (n < 2) | ~(sxx > 0)
    return np.where(bad, np.nan, slope), np.where(bad, np.nan, intercept)


def best_fit_selection(
    scores: np.ndarray, cell_shard: np.ndarray, cell_model: np.ndarray, shards: np.ndarray,
    size_tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Best-fit score and model size of each shard, for each row of ``scores`` (B, n_cells).

    The rule of :func:`scalinglab.study.aggregate_runs`: the lowest score (the smaller
    model on a tie), or with ``size_tolerance = t > 0`` the smallest model within a factor
    ``1 + t`` of the lowest.
    """
    rows = scores.shape[0]
    best_score = np.full((rows, len(shards)), np.nan)
    best_model = np.full((rows, len(shards)), np.nan)
    for j, shard in enumerate(shards):
        cols = np.flatnonzero(cell_shard == shard)
        if len(cols) == 0:
            continue
        cols = cols[np.argsort(cell_model[cols], kind="stable")]  # smallest model first
        s = scores[:, cols]
        filled = np.where(np.isfinite(s), s, np.inf)
        lowest = filled.min(axis=1)
        if size_tolerance > 0:
            good = filled <= lowest[:, None] * (1.0 + size_tolerance)
            pick = np.argmax(good, axis=1)  # the first (smallest) good model
        else:
            pick = np.argmin(filled, axis=1)  # first minimum: the smaller model on a tie
        chosen = filled[np.arange(rows), pick]
        ok = np.isfinite(chosen)
        best_score[:, j] = np.where(ok, chosen, np.nan)
        best_model[:, j] = np.where(ok, cell_model[cols][pick], np.nan)
    return best_score, best_model


@dataclass(frozen=True)
class RunBootstrap:
    """Replicates of the headline numbers from :func:`bootstrap_runs`.

    ``log_a`` and ``beta_g`` are the intercept and slope of the window's power law
    ``ln eps = log_a + beta_g ln m``, one per replicate; ``beta_p`` is NaN for a replicate
    with fewer than 4 distinct interior best-fit sizes.
    """

    n_boot: int
    resample: str
    vary_window: bool
    seed: int
    beta_g: np.ndarray
    log_a: np.ndarray
    beta_p: np.ndarray
    shard_size: np.ndarray

    def interval(self, name: str, level: float) -> tuple[float, float] | None:
        """Percentile interval of ``beta_g`` or ``beta_p``; None if under half the replicates have it."""
        samples = np.asarray(getattr(self, name), dtype=float)
        ok = samples[np.isfinite(samples)]
        if len(ok) < max(20, self.n_boot // 2):
            return None
        lo, hi = np.quantile(ok, [0.5 - level / 2, 0.5 + level / 2])
        return float(lo), float(hi)

    def identified_fraction(self, name: str) -> float:
        return float(np.mean(np.isfinite(getattr(self, name))))

    def predict(self, x: ArrayLike, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Percentile band (lower, upper) of the window power law at ``x`` (a confidence band)."""
        lx = np.log(np.atleast_1d(np.asarray(x, dtype=float)))
        ok = np.isfinite(self.beta_g) & np.isfinite(self.log_a)
        curves = np.exp(self.log_a[ok, None] + self.beta_g[ok, None] * lx[None, :])
        lo, hi = np.quantile(curves, [0.5 - level / 2, 0.5 + level / 2], axis=0)
        return lo, hi

    def inverse(self, target: ArrayLike, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Percentile band (lower, upper) of the data size at which the window law reaches ``target``."""
        lt = np.log(np.atleast_1d(np.asarray(target, dtype=float)))
        ok = np.isfinite(self.beta_g) & np.isfinite(self.log_a) & (self.beta_g < 0)
        with np.errstate(over="ignore"):
            sizes = np.exp((lt[None, :] - self.log_a[ok, None]) / self.beta_g[ok, None])
        # Replicates whose slope is not negative never reach a lower target: +inf.
        n_flat = int((~ok).sum())
        sizes = np.vstack([sizes, np.full((n_flat, len(lt)), np.inf)])
        lo, hi = np.quantile(sizes, [0.5 - level / 2, 0.5 + level / 2], axis=0, method="nearest")
        return lo, hi

    def to_dict(self, level: float) -> dict[str, Any]:
        return _jsonable({
            "method": "bootstrap over runs",
            "n_boot": self.n_boot,
            "resample": self.resample,
            "vary_window": self.vary_window,
            "seed": self.seed,
            "level": level,
            "beta_g_interval": self.interval("beta_g", level),
            "beta_p_interval": self.interval("beta_p", level),
            "beta_p_identified_fraction": self.identified_fraction("beta_p"),
        })


def _redraw(scores: np.ndarray, n_boot: int, resample: str, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_cells) cell scores: medians over each cell's redrawn seeds."""
    finite = np.isfinite(scores) & (scores > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(finite, np.log(np.where(finite, scores, 1.0)), np.nan)
    k = finite.sum(axis=1)
    n_cells, n_seeds = scores.shape
    if resample == "seeds":
        # Draw each cell's k seeds from its own k finite ones.
        order = np.argsort(~finite, axis=1, kind="stable")  # finite seeds first
        u = rng.random((n_boot, n_cells, n_seeds))
        pick = np.minimum((u * np.maximum(k, 1)[None, :, None]).astype(int), np.maximum(k - 1, 0)[None, :, None])
        idx = np.take_along_axis(np.broadcast_to(order, (n_boot, n_cells, n_seeds)), pick, axis=2)
        drawn = np.take_along_axis(np.broadcast_to(logs, (n_boot, n_cells, n_seeds)), idx, axis=2)
    else:
        centre = np.where(finite, logs, 0.0).sum(axis=1) / np.maximum(k, 1)
        multi = k >= 2
        dev = (logs - centre[:, None]) * np.sqrt(k / np.maximum(k - 1, 1))[:, None]
        pool = dev[multi][finite[multi]]
        if pool.size == 0:
            raise InputError("the pooled bootstrap needs cells with 2 or more seeds")
        drawn = centre[None, :, None] + pool[rng.integers(0, pool.size, (n_boot, n_cells, n_seeds))]
    slot = np.arange(n_seeds)[None, None, :] < k[None, :, None]
    drawn = np.where(slot, drawn, np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(np.exp(drawn), axis=2)
    return np.asarray(med)


def bootstrap_runs(
    cell_shard_size: ArrayLike,
    cell_model_size: ArrayLike,
    cell_n_params: ArrayLike,
    cell_seed_scores: ArrayLike,
    window: tuple[float, float] | None,
    *,
    size_tolerance: float = 0.0,
    n_boot: int = 1000,
    seed: int = 0,
    resample: str = "pooled",
    vary_window: bool = False,
) -> RunBootstrap:
    """Bootstrap the headline numbers over a study's runs (module docstring).

    Parameters
    ----------
    cell_shard_size, cell_model_size, cell_n_params : array-like, (n_cells,)
        The (shard, model) cells and the parameter count of each cell's model.
    cell_seed_scores : array-like, (n_cells, n_seeds)
        Per-seed scores, NaN where a seed has none.
    window : (low, high) or None
        beta_g is fitted on the shards with ``low < m < high``; None: on every shard.
    size_tolerance : float
        The best-fit rule's tolerance (as in :func:`scalinglab.study.aggregate_runs`).
    n_boot, seed : int
        Replicates and the seed of the draws (results repeat for the same seed).
    resample : {"pooled", "seeds"}
        How each cell's seeds are redrawn.
    vary_window : bool
        Move the window's ends by up to one shard per replicate.

    Raises
    ------
    InputError
        If no cell has 2 or more seeds (seed noise cannot be estimated), or an argument
        is out of range.
    """
    if resample not in RESAMPLE:
        raise InputError(f"The 'resample' parameter must be one of {RESAMPLE}. Got {resample!r} instead.")
    if not (isinstance(n_boot, int) and n_boot >= 20):
        raise InputError(f"The 'n_boot' parameter must be an int >= 20. Got {n_boot!r} instead.")
    n = np.asarray(cell_shard_size, dtype=float)
    models = np.asarray(cell_model_size, dtype=float)
    params = np.asarray(cell_n_params, dtype=float)
    scores = np.asarray(cell_seed_scores, dtype=float).reshape(len(n), -1)
    if int(np.max(np.isfinite(scores).sum(axis=1), initial=0)) < 2:
        raise InputError("a bootstrap over runs needs cells with 2 or more seeds")
    rng = np.random.default_rng(seed)
    cell_scores = _redraw(scores, n_boot, resample, rng)
    shards = np.unique(n)
    eps, best = best_fit_selection(cell_scores, n, models, shards, size_tolerance)

    # beta_g on the window (optionally jittered by one shard at each end).
    in_window = np.ones(len(shards), dtype=bool) if window is None else (shards > window[0]) & (shards < window[1])
    mask = np.broadcast_to(in_window, eps.shape).copy()
    if vary_window and in_window.sum() >= MIN_WINDOW:
        first, last = int(np.flatnonzero(in_window)[0]), int(np.flatnonzero(in_window)[-1])
        lo = np.clip(first + rng.integers(-1, 2, n_boot), 0, len(shards) - 1)
        hi = np.clip(last + rng.integers(-1, 2, n_boot), 0, len(shards) - 1)
        short = hi - lo + 1 < MIN_WINDOW
        lo, hi = np.where(short, first, lo), np.where(short, last, hi)
        idx = np.arange(len(shards))[None, :]
        mask = (idx >= lo[:, None]) & (idx <= hi[:, None])
    beta_g, log_a = loglog_ols(shards, eps, mask)

    # beta_p on the interior best-fit sizes of each replicate.
    grid = np.unique(models)
    grid_params = np.array([np.nanmedian(p) if np.any(np.isfinite(p := params[models == m])) else np.nan
                            for m in grid])
    where = np.searchsorted(grid, np.where(np.isfinite(best), best, grid[0]))
    best_params = np.where(np.isfinite(best), grid_params[np.clip(where, 0, len(grid) - 1)], np.nan)
    if len(grid) >= 3:
        interior = (best > grid[0]) & (best < grid[-1]) & np.isfinite(best_params) & (best_params > 0)
    else:
        interior = np.zeros(best.shape, dtype=bool)
    ordered = np.sort(np.where(interior, best, np.inf), axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf past the interior ones
        steps = (np.diff(ordered, axis=1) > 0) & np.isfinite(ordered[:, 1:])
    distinct = np.isfinite(ordered[:, :1]).sum(axis=1) + steps.sum(axis=1)
    beta_p, _ = loglog_ols(shards, np.where(interior, best_params, np.nan), interior)
    beta_p = np.where(distinct >= MIN_INTERIOR_SIZES, beta_p, np.nan)
    return RunBootstrap(
        n_boot=n_boot, resample=resample, vary_window=vary_window, seed=seed,
        beta_g=beta_g, log_a=log_a, beta_p=beta_p, shard_size=shards,
    )
