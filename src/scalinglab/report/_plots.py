"""Plots of a study analysis, in scikit-learn's Display style.

``Display.from_analysis(analysis)`` collects what to draw; ``plot(ax=None)`` draws it on a
matplotlib axis (a new figure if none) and returns the display, with ``ax_`` and
``figure_`` set. matplotlib is imported only here, on the drawing path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from scalinglab._errors import require_extra
from scalinglab._format import level_percent
from scalinglab.analysis import StudyAnalysis

__all__ = [
    "BacktestDisplay",
    "JointBacktestDisplay",
    "JointDisplay",
    "LearningCurveDisplay",
    "ModelSizeDisplay",
]

_BAND = "#4C72B0"
_POINTS = "#222222"
_SEEDS = "#9AA5B1"


def _axis(ax: Any) -> Any:
    if ax is not None:
        return ax
    plt = require_extra("matplotlib.pyplot", "report")
    _, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    return ax


def _finish(display: Any, ax: Any, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    display.ax_ = ax
    display.figure_ = ax.figure


@dataclass
class _Display:
    """What every display shares: it is made from an analysis and draws on an axis."""

    analysis: StudyAnalysis

    @classmethod
    def from_analysis(cls, analysis: StudyAnalysis) -> Self:
        """Collect what to draw from ``analysis``; call :meth:`plot` to draw it."""
        return cls(analysis)


@dataclass
class LearningCurveDisplay(_Display):
    """Learning curve eps(m) on log-log axes: seeds, best-fit points, law, band, regions."""

    def plot(self, ax: Any = None, extrapolate: float = 8.0) -> LearningCurveDisplay:
        a = self.analysis
        lc = a.learning_curve
        ax = _axis(ax)
        cells = a.cells
        if cells and len(cells.get("shard_size", [])):
            seed_scores = cells["seed_scores"]
            for j in range(seed_scores.shape[1]):
                ax.scatter(cells["shard_size"], seed_scores[:, j], s=8, color=_SEEDS, alpha=0.5,
                           label="runs (every model, seed)" if j == 0 else None, zorder=1)
        ax.scatter(lc.shard_size, lc.error, s=36, color=_POINTS, zorder=3,
                   label="best-fit model per shard (median of seeds)")
        x = np.logspace(math.log10(lc.shard_size.min()), math.log10(lc.shard_size.max() * extrapolate), 200)
        band = lc.fit.predict(x, level=a.level)
        name = (lc.fit.selection or {}).get("winner", lc.fit.law.name)
        ax.plot(x, band.value, color=_BAND, lw=2, label=f"fit ({name})", zorder=2)
        ax.fill_between(x, band.lower, band.upper, color=_BAND, alpha=0.18,
                        label=f"{100 * a.level:g}% prediction band")
        regions = lc.regions
        if regions is not None:
            lo_x, hi_x = x.min(), x.max()
            if math.isfinite(regions.small_data_end) and regions.small_data_end > lo_x:
                ax.axvspan(lo_x, min(regions.small_data_end, hi_x), color="#DD8452", alpha=0.12,
                           label="small-data region")
            if math.isfinite(regions.irreducible_start) and regions.irreducible_start < hi_x:
                ax.axvspan(max(regions.irreducible_start, lo_x), hi_x, color="#55A868", alpha=0.12,
                           label="irreducible-error region")
        bt = a.backtest
        if bt is not None:
            ax.errorbar(bt.shard_size, bt.predicted,
                        yerr=[bt.predicted - bt.lower, bt.upper - bt.predicted],
                        fmt="x", color="#C44E52", capsize=3, zorder=4,
                        label=f"backtest: predicted from shards <= {bt.max_train_size:.4g}")
        window = lc.window_shards
        if len(window) and lc.window_fit is not None and "beta_g" not in a.not_estimable:
            ax.plot(window, lc.window_fit.law.predict(np.asarray(window, dtype=float), lc.window_fit.values),
                    color="#8172B3", lw=1.5, ls="--", zorder=2, label="power law on the power-law window")
        _finish(self, ax, f"Learning curve ({_number_text(a, 'beta_g')})", "training-set size m",
                f"{a.metric} (min over training)")
        return self


def _number_text(analysis: Any, name: str) -> str:
    """``beta_g = -0.35 [-0.37, -0.33]``, or ``beta_g not estimable`` when its check failed."""
    number = analysis.number(name)
    if not number["estimable"]:
        return f"{name} not estimable"
    lo, hi = number["interval"]
    return f"{name} = {number['value']:.3f} [{lo:.3f}, {hi:.3f}]"


@dataclass
class ModelSizeDisplay(_Display):
    """Parameter count of the best-fit model per shard, with s(n) = sigma n^beta_p."""

    def plot(self, ax: Any = None) -> ModelSizeDisplay:
        ms = self.analysis.model_size
        ax = _axis(ax)
        ax.scatter(ms.shard_size, ms.n_params, s=36, color=_POINTS, zorder=3, label="best-fit model")
        if ms.fit is not None:
            x = np.logspace(math.log10(ms.shard_size.min()), math.log10(ms.shard_size.max() * 4), 100)
            band = ms.fit.predict(x, level=self.analysis.level)
            ax.plot(x, band.value, color=_BAND, lw=2, label="s(n) = sigma n^beta_p")
            ax.fill_between(x, band.lower, band.upper, color=_BAND, alpha=0.18,
                            label=f"{100 * self.analysis.level:g}% band")
        if ms.interior is not None and len(ms.interior) == len(ms.shard_size) and not np.all(ms.interior):
            edge = ~np.asarray(ms.interior, dtype=bool)
            ax.scatter(ms.shard_size[edge], ms.n_params[edge], s=80, facecolors="none", edgecolors="#C44E52",
                       zorder=4, label="at the grid's edge (censored, not fitted)")
        _finish(self, ax, f"Model size ({_number_text(self.analysis, 'beta_p')})",
                "training-set size m", "parameters of the best-fit model")
        return self


@dataclass
class JointDisplay(_Display):
    """Slices of the joint landscape: error against data size, one line per model size."""

    def plot(self, ax: Any = None) -> JointDisplay:
        a = self.analysis
        ax = _axis(ax)
        if a.joint is None:
            ax.text(0.5, 0.5, "joint law not fitted", ha="center", transform=ax.transAxes)
            self.ax_, self.figure_ = ax, ax.figure
            return self
        cells = a.cells
        sizes = np.unique(cells["n_params"])
        cmap = require_extra("matplotlib", "report").colormaps["viridis"]
        x = np.logspace(math.log10(cells["shard_size"].min()), math.log10(cells["shard_size"].max() * 4), 100)
        for i, size in enumerate(sizes):
            color = cmap(i / max(len(sizes) - 1, 1))
            mask = cells["n_params"] == size
            ax.scatter(cells["shard_size"][mask], cells["score"][mask], s=18, color=color, zorder=3)
            y = a.joint.fit.law.predict(np.column_stack([x, np.full_like(x, size)]), a.joint.fit.values)
            ax.plot(x, y, color=color, lw=1.4, label=f"{size:.3g} params")
        fit = a.joint.fit
        _finish(self, ax, f"Joint law (divergence {100 * fit.divergence_mean:.2f}% +- {100 * fit.divergence_std:.2f}%)",
                "training-set size n", f"{a.metric}")
        return self


@dataclass
class JointBacktestDisplay(_Display):
    """The joint law fitted on the small cells: predicted against observed on every larger cell.

    Each scored cell with its prediction band; colour is the cell's data size, the marker
    says whether it lies beyond the small cells in data only, in model size only, or both
    (Rosenfeld et al. 2020's extrapolation in n and m).
    """

    def plot(self, ax: Any = None) -> JointBacktestDisplay:
        a = self.analysis
        ax = _axis(ax)
        jb = None if a.joint is None else a.joint.backtest
        if jb is None or jb.reason is not None or not jb.cells:
            reason = "joint law not fitted" if jb is None else (jb.reason or "no cell scored")
            ax.text(0.5, 0.5, "joint backtest not run:\n" + reason[:90], ha="center", va="center",
                    wrap=True, transform=ax.transAxes, fontsize=8)
            self.ax_, self.figure_ = ax, ax.figure
            return self
        cells = {k: np.array([c[k] for c in jb.cells]) for k in jb.cells[0]}
        beyond_n, beyond_m = cells["beyond_n"].astype(bool), cells["beyond_m"].astype(bool)
        cmap = require_extra("matplotlib", "report").colormaps["viridis"]
        log_n = np.log(cells["n"])
        span = max(float(log_n.max() - log_n.min()), 1e-12)
        for mask, marker, label in ((beyond_n & ~beyond_m, "o", "larger n"), (~beyond_n & beyond_m, "s", "larger m"),
                                    (beyond_n & beyond_m, "D", "larger n and m")):
            if not mask.any():
                continue
            colors = cmap((log_n[mask] - log_n.min()) / span)
            ax.errorbar(cells["observed"][mask], cells["predicted"][mask],
                        yerr=[cells["predicted"][mask] - cells["lower"][mask], cells["upper"][mask] - cells["predicted"][mask]],
                        fmt="none", ecolor=_SEEDS, elinewidth=0.8, capsize=2, zorder=2)
            ax.scatter(cells["observed"][mask], cells["predicted"][mask], c=colors, marker=marker, s=22, zorder=3)
            ax.scatter([], [], color=_SEEDS, marker=marker, s=22, label=label)  # a legend entry in neutral grey
        # A cell without a finite band (a singular small-cell fit) has NaN edges: not a limit.
        lo = float(np.nanmin(np.r_[cells["observed"], cells["lower"]])) * 0.9
        hi = float(np.nanmax(np.r_[cells["observed"], cells["upper"]])) * 1.1
        ax.plot([lo, hi], [lo, hi], color=_POINTS, lw=1, ls="--", label="perfect prediction")
        bands = (f"no finite {level_percent(jb.level)}% bands" if jb.coverage is None else
                 f"{100 * jb.coverage:.0f}% in {level_percent(jb.level)}% bands")
        _finish(self, ax,
                f"Joint backtest: {100 * (jb.mean_relative_error or 0):+.1f}% +- {100 * (jb.std_relative_error or 0):.1f}%, "
                + bands,
                "observed error", "predicted error (colour: data size)")
        return self


@dataclass
class BacktestDisplay(_Display):
    """Predicted against observed error on the shards the backtest held out."""

    def plot(self, ax: Any = None) -> BacktestDisplay:
        bt = self.analysis.backtest
        ax = _axis(ax)
        if bt is None:
            ax.text(0.5, 0.5, "no backtest (fewer than 6 shards)", ha="center", transform=ax.transAxes)
            self.ax_, self.figure_ = ax, ax.figure
            return self
        ax.errorbar(bt.observed, bt.predicted, yerr=[bt.predicted - bt.lower, bt.upper - bt.predicted],
                    fmt="o", color=_BAND, capsize=3, label=f"{100 * bt.level:g}% band")
        lo = min(bt.observed.min(), bt.lower.min()) * 0.9
        hi = max(bt.observed.max(), bt.upper.max()) * 1.1
        ax.plot([lo, hi], [lo, hi], color=_POINTS, lw=1, ls="--", label="perfect prediction")
        _finish(self, ax,
                f"Backtest: mean |rel. error| {100 * bt.mean_abs_relative_error:.1f}%, coverage {100 * bt.coverage:.0f}%",
                "observed error", "predicted error")
        return self
