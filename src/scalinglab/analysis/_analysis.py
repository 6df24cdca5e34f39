"""From a study's aggregated curves to the answers: exponents, regions, laws, backtest.

Everything here works on plain arrays (any object with the fields of
:class:`scalinglab.study.StudyCurves`), through the fitting engine; the report draws from
these results, never from the database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from scalinglab._errors import InputError
from scalinglab._format import level_percent
from scalinglab._json import jsonable as _jsonable
from scalinglab.analysis._checks import (
    Check,
    check_beta_p_identifiable,
    check_converged,
    check_fits_identified,
    check_model_interior,
    check_model_interior_status,
    check_power_law_window,
    interior_mask,
)
from scalinglab.analysis._regions import Regions, regions_from_envelope
from scalinglab.analysis._runboot import RunBootstrap, bootstrap_runs
from scalinglab.fitting import (
    ComputeOptimal,
    FitResult,
    Inversion,
    Prediction,
    compute_optimal,
    fit_law,
    resolve_eps0,
)
from scalinglab.fitting._prediction import _first_crossing

__all__ = [
    "PLAN_RANGE",
    "Backtest",
    "CurvesLike",
    "JointAnalysis",
    "JointBacktest",
    "LearningCurveAnalysis",
    "ModelSizeAnalysis",
    "NotEstimableError",
    "Plan",
    "StudyAnalysis",
    "analyze",
    "backtest_caveat",
    "backtest_curve",
    "compare_exponents",
]

#: Laws fitted to every learning curve, beside the default ``auto``.
ALTERNATIVES: tuple[str, ...] = ("power", "power_floor", "envelope", "m4")

#: Plans are searched from the smallest shard / 10 to 1000 x the largest: outside that the
#: data say nothing, and a band edge that would fall there is printed as open.
PLAN_RANGE: tuple[float, float] = (0.1, 1000.0)


class NotEstimableError(Exception):
    """A number the study's data cannot support (a failed check); the message says why.

    The command line prints it and exits with status 1 (the input was fine; the answer
    does not exist).
    """


class CurvesLike(Protocol):
    """What analysis needs of a study: :class:`scalinglab.study.StudyCurves` has it."""

    @property
    def study(self) -> str: ...

    @property
    def metric(self) -> str: ...

    @property
    def shard_size(self) -> np.ndarray: ...

    @property
    def best_model_size(self) -> np.ndarray: ...

    @property
    def best_n_params(self) -> np.ndarray: ...

    @property
    def median_min_val_error(self) -> np.ndarray: ...

    @property
    def cell_shard_size(self) -> np.ndarray: ...

    @property
    def cell_model_size(self) -> np.ndarray: ...

    @property
    def cell_n_params(self) -> np.ndarray: ...

    @property
    def cell_median_min_val_error(self) -> np.ndarray: ...

    @property
    def cell_seed_scores(self) -> np.ndarray: ...


def _interval(fit: FitResult, name: str, level: float) -> tuple[float, float]:
    # Exponents are reported with the sign of the law's parameter: no flips (docs/fitting.md,
    # "Signs of exponents").
    lo, hi = fit.intervals(level)[name]
    return (min(lo, hi), max(lo, hi))


@dataclass(frozen=True)
class LearningCurveAnalysis:
    """The learning curve eps(n) (n the data size) and its fits.

    ``beta_g`` is Hestness's exponent (negative): the slope of a power law fitted on the
    shards inside the power-law region (``window``, from the envelope's regions) only.
    ``beta_g_interval`` is from the bootstrap over runs when the study has seeds to
    resample (``beta_g_method``), else from the delta method. ``fit`` is the default
    (``auto``) fit used for predictions and plans.
    """

    shard_size: np.ndarray
    error: np.ndarray
    fit: FitResult
    fits: dict[str, FitResult]
    beta_g: float
    beta_g_interval: tuple[float, float]
    beta_g_law: str
    regions: Regions | None
    notes: tuple[str, ...]
    window: tuple[float, float] | None = None
    window_fit: FitResult | None = None
    beta_g_method: str = "delta"

    @property
    def window_shards(self) -> np.ndarray:
        """The shards beta_g is fitted on."""
        if self.window is None:
            return np.asarray(self.shard_size)
        x = np.asarray(self.shard_size, dtype=float)
        return x[(x > self.window[0]) & (x < self.window[1])]

    def to_dict(self, level: float) -> dict[str, Any]:
        return _jsonable(
            {
                "shard_size": self.shard_size,
                "error": self.error,
                "beta_g": self.beta_g,
                "beta_g_interval": list(self.beta_g_interval),
                "beta_g_method": self.beta_g_method,
                "beta_g_law": self.beta_g_law,
                "power_law_window": None if self.window is None else list(self.window),
                "window_shards": self.window_shards,
                "window_fit": None if self.window_fit is None else self.window_fit.to_dict(level),
                "default_fit": self.fit.to_dict(level),
                "fits": {k: v.to_dict(level) for k, v in self.fits.items()},
                "regions": None if self.regions is None else self.regions.to_dict(),
                "notes": list(self.notes),
            }
        )


@dataclass(frozen=True)
class ModelSizeAnalysis:
    """The model-size law s(n) = sigma n^beta_p of the best-fit models (n the data size).

    Fitted on the shards whose best-fit model is strictly inside the size grid
    (``interior``): at an edge the best size is censored.
    """

    shard_size: np.ndarray
    n_params: np.ndarray
    fit: FitResult | None
    beta_p: float
    beta_p_interval: tuple[float, float]
    notes: tuple[str, ...]
    interior: np.ndarray | None = None
    beta_p_method: str = "delta"

    def to_dict(self, level: float) -> dict[str, Any]:
        return _jsonable(
            {
                "shard_size": self.shard_size,
                "n_params": self.n_params,
                "interior": None if self.interior is None else [bool(v) for v in self.interior],
                "beta_p": self.beta_p,
                "beta_p_interval": list(self.beta_p_interval),
                "beta_p_method": self.beta_p_method,
                "fit": None if self.fit is None else self.fit.to_dict(level),
                "notes": list(self.notes),
            }
        )


@dataclass(frozen=True)
class JointBacktest:
    """Rosenfeld's extrapolation test: the joint law fitted on the small cells, scored on the rest.

    Fitted on the cells with ``n <= max n * n_fraction`` and ``m <= max m * m_fraction``
    (Rosenfeld et al. 2020 fit on small data and small models and score the large ones);
    every other cell is scored by its relative error ``(predicted - observed) / observed``
    and by whether the fit's prediction band at ``level`` (delta method: the law's
    uncertainty plus the scatter of the small cells around it) holds the observed score.
    ``coverage`` is that fraction: a band that claims ``level`` and holds less is too narrow
    for extrapolation. It is None, with ``band_reason``, when the small-cell fit has no
    finite band (a singular covariance): no band is not a band that missed.

    ``caveat`` says what makes the score an upper bound rather than the law's: cells whose
    runs were budget-limited (``n_limited_train`` of the fitted and ``n_limited_scored`` of
    the scored cells). The engine extends budgets only for cells near their shard's best
    (``[budget] margin``); the joint law reads every cell.
    """

    n_fraction: float
    m_fraction: float
    n_train: int
    n_cells: int
    mean_relative_error: float | None
    std_relative_error: float | None
    reason: str | None
    level: float = 0.9
    coverage: float | None = None
    cells: tuple[dict[str, float | bool], ...] = ()
    band_reason: str | None = None
    n_limited_train: int | None = None
    n_limited_scored: int | None = None
    caveat: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["cells"] = [dict(c) for c in self.cells]
        out["n_banded"] = self.n_banded
        return _jsonable(out)

    def coverage_words(self) -> str:
        """``"its 90% bands hold 29 of 36 cells"``, ``"no 90% bands: ..."``, or ``""`` when
        nothing was scored."""
        if self.n_cells == 0 or self.reason is not None:
            return ""
        if self.coverage is None:
            return f"no {level_percent(self.level)}% bands: {self.band_reason}" if self.band_reason else ""
        held = round(self.coverage * self.n_banded)
        return f"its {level_percent(self.level)}% bands hold {held} of {self.n_banded} cells"

    @property
    def n_banded(self) -> int:
        """Scored cells with a finite band (the denominator of ``coverage``)."""
        return sum(1 for c in self.cells if math.isfinite(float(c["lower"])) and math.isfinite(float(c["upper"])))


@dataclass(frozen=True)
class JointAnalysis:
    """Rosenfeld's joint law fitted to every (data, model) cell of the study."""

    fit: FitResult
    n_cells: int
    cv_divergence_mean: float
    cv_divergence_std: float
    cv_folds: int
    backtest: JointBacktest | None = None

    def to_dict(self, level: float) -> dict[str, Any]:
        return _jsonable(
            {
                "fit": self.fit.to_dict(level),
                "n_cells": self.n_cells,
                "divergence_mean": self.fit.divergence_mean,
                "divergence_std": self.fit.divergence_std,
                "cv_divergence_mean": self.cv_divergence_mean,
                "cv_divergence_std": self.cv_divergence_std,
                "cv_folds": self.cv_folds,
                "cv_kind": "random K-fold (interpolation)",
            }
        )


@dataclass(frozen=True)
class Backtest:
    """Refit on the small shards only, scored on the stored larger ones.

    The honest check of every prediction the tool makes: how far off, and how often the
    band held, when the law had to extrapolate as far as a user will ask it to.
    """

    max_train_size: float
    law: str
    train_size: np.ndarray
    shard_size: np.ndarray
    observed: np.ndarray
    predicted: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    #: Why its error may not measure the law (its fitted shards lie outside the power-law
    #: region), or None.
    caveat: str | None = None

    @property
    def relative_error(self) -> np.ndarray:
        return np.asarray((self.predicted - self.observed) / self.observed)

    @property
    def mean_abs_relative_error(self) -> float:
        return float(np.mean(np.abs(self.relative_error)))

    @property
    def coverage(self) -> float:
        inside = (self.lower <= self.observed) & (self.observed <= self.upper)
        return float(np.mean(inside))

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "max_train_size": self.max_train_size,
                "law": self.law,
                "train_size": self.train_size,
                "shard_size": self.shard_size,
                "observed": self.observed,
                "predicted": self.predicted,
                "lower": self.lower,
                "upper": self.upper,
                "relative_error": self.relative_error,
                "mean_abs_relative_error": self.mean_abs_relative_error,
                "coverage": self.coverage,
                "coverage_points": len(self.observed),
                "level": self.level,
                "caveat": self.caveat,
            }
        )


@dataclass(frozen=True)
class Plan:
    """Data (and model size) needed for a target error, with a bounded band, or why not.

    The band is searched in ``search_range`` (:data:`PLAN_RANGE` times the smallest and
    largest shard). A side the data do not bound is open: ``lower_open`` means the band
    reaches below the range's start, ``upper_open`` above its end; the value is then the
    range's edge and :meth:`describe` says "< X" or "> X (the data do not bound it)".
    ``reason`` says why there is no number at all.
    """

    target_error: float
    data_size: Inversion
    n_params: Prediction | None
    reason: str | None
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    lower_open: bool = False
    upper_open: bool = False
    search_range: tuple[float, float] = (math.nan, math.nan)
    method: str = "auto"
    n_params_reason: str | None = None

    @property
    def level(self) -> float:
        return self.data_size.level

    def describe(self, digits: int = 4) -> str:
        """The band in words: ``[a, b]``, ``[a, > b (the data do not bound it)]``, ..."""
        lo = f"< {self.search_range[0]:.{digits}g}" if self.lower_open else _num(self.lower, digits)
        hi = (f"> {self.search_range[1]:.{digits}g} (the data do not bound it)"
              if self.upper_open else _num(self.upper, digits))
        if self.lower_open and not self.upper_open:
            lo += " (the data do not bound it)"
        return f"[{lo}, {hi}]"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "target_error": self.target_error,
                "data_size": self.value,
                "data_size_interval": [self.lower, self.upper],
                "lower_open": self.lower_open,
                "upper_open": self.upper_open,
                "band": None if self.value is None else self.describe(),
                "search_range": list(self.search_range),
                "method": self.method,
                "n_params": None if self.n_params is None else float(self.n_params.value[0]),
                "n_params_interval": None
                if self.n_params is None
                else [float(self.n_params.lower[0]), float(self.n_params.upper[0])],
                "n_params_reason": self.n_params_reason,
                "level": self.data_size.level,
                "feasible": self.value is not None,
                "reason": self.reason,
            }
        )


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


@dataclass(frozen=True)
class StudyAnalysis:
    """Everything :func:`analyze` finds in a study.

    ``checks`` come first: a number whose check failed is in ``not_estimable`` (name ->
    reason) and is reported as not estimable instead of with an interval.
    """

    study: str
    metric: str
    eps0: float | None
    level: float
    learning_curve: LearningCurveAnalysis
    model_size: ModelSizeAnalysis
    joint: JointAnalysis | None
    backtest: Backtest | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Every (shard, model) cell: shard_size, n_params, score, seed_scores (for plots).
    cells: dict[str, np.ndarray] = field(default_factory=dict)
    checks: tuple[Check, ...] = field(default_factory=tuple)
    not_estimable: dict[str, str] = field(default_factory=dict)
    bootstrap: RunBootstrap | None = None
    eps0_assumed: bool = False
    #: The best-fit rule: a shard's best fit is the smallest size within a factor
    #: ``1 + size_tolerance`` of its lowest score.
    size_tolerance: float = 0.0

    # -- prediction and planning -------------------------------------------------------
    def predict(self, data_size: float, n_params: float | None = None, level: float | None = None,
                method: str = "auto") -> Prediction:
        """Predicted error at a data size, with a band.

        Without ``n_params`` the learning curve of best-fit models is used (the error
        when the model is sized for the data): ``method="auto"`` gives the default fit and
        its calibrated band (seed noise, members' disagreement and extrapolation error),
        ``"bootstrap"`` the power law of the window with its bootstrap-over-runs band (seed
        noise and best-fit selection only; it assumes the power law goes on). With
        ``n_params``, the joint law (Rosenfeld 2020).

        Raises
        ------
        NotEstimableError
            When the number's check failed (a degenerate joint law, beta_g not estimable).
        """
        level = self.level if level is None else level
        _check_positive(data_size, "data_size")
        if n_params is None:
            if method == "bootstrap":
                return self._bootstrap_prediction(data_size, level)
            if method != "auto":
                raise InputError(f"The 'method' parameter must be 'auto' or 'bootstrap'. Got {method!r} instead.",
                                 parameter="method")
            return self.learning_curve.fit.predict([data_size], level=level)
        _check_positive(n_params, "n_params")
        if self.joint is None:
            raise InputError(
                "A prediction at a given model size needs the joint law, which this study "
                "could not fit (it needs runs at 2 or more model sizes on 3 or more shards); "
                "leave out the 'n_params' parameter to use the learning curve of best-fit models.",
                parameter="n_params",
            )
        if "joint" in self.not_estimable:
            raise NotEstimableError(f"the joint law is not estimable: {self.not_estimable['joint']}")
        return self.joint.fit.predict(np.array([[data_size, n_params]]), level=level)

    def _bootstrap_prediction(self, data_size: float, level: float) -> Prediction:
        if "beta_g" in self.not_estimable:
            raise NotEstimableError(f"beta_g is not estimable: {self.not_estimable['beta_g']}")
        boot, wfit = self.bootstrap, self.learning_curve.window_fit
        if boot is None or wfit is None:
            raise NotEstimableError("a bootstrap band needs cells with 2 or more seeds")
        lo, hi = boot.predict([data_size], level)
        value = wfit.law.predict(np.array([data_size], dtype=float), wfit.values)
        return Prediction(x=np.array([data_size], dtype=float), value=np.asarray(value, dtype=float),
                          lower=np.asarray(lo), upper=np.asarray(hi), level=level,
                          method="bootstrap", interval="confidence")

    def plan_range(self) -> tuple[float, float]:
        """The data sizes a plan is searched in (:data:`PLAN_RANGE`)."""
        x = np.asarray(self.learning_curve.shard_size, dtype=float)
        return float(np.min(x)) * PLAN_RANGE[0], float(np.max(x)) * PLAN_RANGE[1]

    def plan(self, target_error: float, level: float | None = None, method: str = "auto") -> Plan:
        """Data needed for ``target_error`` and the model size that goes with it.

        A target at or above ``eps0`` needs no data; one at or below the fitted floor is
        not reachable; otherwise the data size and its band, searched in
        :meth:`plan_range`, with open sides where the data do not bound it.
        """
        level = self.level if level is None else level
        _check_positive(target_error, "target_error")
        if method not in ("auto", "bootstrap"):
            raise InputError(f"The 'method' parameter must be 'auto' or 'bootstrap'. Got {method!r} instead.",
                             parameter="method")
        fit = self.learning_curve.fit
        span = self.plan_range()
        if method == "bootstrap":
            return self._bootstrap_plan(target_error, level, span)
        inv = fit.inverse([target_error], level=level)
        if self.eps0 is not None and target_error >= self.eps0:
            return Plan(target_error, inv, None,
                        f"the target {target_error:.4g} is at or above eps0 = {self.eps0:.4g}, the "
                        "error of a random guess: no data are needed", search_range=span, method=method)
        if not inv.feasible[0]:
            return Plan(target_error, inv, None, inv.reason, search_range=span, method=method)
        value = float(inv.value[0])
        log_span = (math.log(span[0]), math.log(span[1]))
        ends = []
        for edge in ("lower", "upper"):
            def band_edge(x: np.ndarray, edge: str = edge) -> np.ndarray:
                return np.asarray(getattr(fit.predict(x, level=level, interval="confidence"), edge), dtype=float)

            ends.append(float(_first_crossing(band_edge, np.array([target_error]), log_span)[0]))
        lower, upper = min(ends), max(ends)
        return self._bounded_plan(target_error, inv, value, lower, upper, span, level, method)

    def _bounded_plan(self, target: float, inv: Inversion, value: float, lower: float, upper: float,
                      span: tuple[float, float], level: float, method: str) -> Plan:
        lower_open = not lower > span[0] * (1 + 1e-9)
        upper_open = not (math.isfinite(upper) and upper < span[1] * (1 - 1e-9))
        reason = None
        if value > span[1]:
            reason = (f"the target {target:.4g} needs more than {span[1]:.4g} examples "
                      f"({PLAN_RANGE[1]:g} x the largest shard): beyond what the data can say")
        elif value < span[0]:
            reason = (f"the target {target:.4g} is reached below {span[0]:.4g} examples "
                      f"(the smallest shard / {1 / PLAN_RANGE[0]:g}): below what the data can say")
        if reason is not None:
            return Plan(target, inv, None, reason, search_range=span, method=method)
        size, size_reason = None, None
        if "beta_p" in self.not_estimable:
            size_reason = f"beta_p is not estimable: {self.not_estimable['beta_p']}"
        elif self.model_size.fit is not None:
            size = self.model_size.fit.predict([value], level=level)
        return Plan(target, inv, size, None, value=value,
                    lower=None if lower_open else lower, upper=None if upper_open else upper,
                    lower_open=lower_open, upper_open=upper_open, search_range=span, method=method,
                    n_params_reason=size_reason)

    def _bootstrap_plan(self, target: float, level: float, span: tuple[float, float]) -> Plan:
        boot, wfit = self.bootstrap, self.learning_curve.window_fit
        if "beta_g" in self.not_estimable:
            raise NotEstimableError(f"beta_g is not estimable: {self.not_estimable['beta_g']}")
        if boot is None or wfit is None:
            raise NotEstimableError("a bootstrap band needs cells with 2 or more seeds")
        inv = wfit.inverse([target], level=level)
        if not inv.feasible[0]:
            return Plan(target, inv, None, inv.reason, search_range=span, method="bootstrap")
        lo, hi = boot.inverse([target], level)
        return self._bounded_plan(target, inv, float(inv.value[0]), float(lo[0]), float(hi[0]), span,
                                  level, "bootstrap")

    def compute_optimal(self, compute: float, level: float | None = None) -> ComputeOptimal:
        """Compute-optimal split of a budget (model parameters x data size) from the joint law.

        Raises
        ------
        NotEstimableError
            When the joint law is degenerate (at a bound or singular).
        """
        if self.joint is None:
            raise InputError(
                "The 'compute' parameter needs the joint law, which this study could not fit (it needs "
                "runs at 2 or more model sizes on 3 or more shards).",
                parameter="compute",
            )
        _check_positive(compute, "compute")
        if "joint" in self.not_estimable:
            raise NotEstimableError(f"the joint law is not estimable: {self.not_estimable['joint']}")
        plan = compute_optimal(self.joint.fit, [compute], level=self.level if level is None else level)
        values = (plan.model_size[0], plan.data_size[0], plan.predicted_error[0])
        if not all(math.isfinite(float(v)) and float(v) > 0 for v in values):
            raise NotEstimableError(
                "the joint law gives no finite optimum for this budget (its exponents do not "
                "trade model size against data); the compute split is not estimable")
        return plan

    # -- output ------------------------------------------------------------------------
    def number(self, name: str) -> dict[str, Any]:
        """One headline number: value, interval, method, or ``None`` and the reason."""
        lc, ms = self.learning_curve, self.model_size
        value, interval, method = {
            "beta_g": (lc.beta_g, lc.beta_g_interval, lc.beta_g_method),
            "beta_p": (ms.beta_p, ms.beta_p_interval, ms.beta_p_method),
        }[name]
        reason = self.not_estimable.get(name)
        if reason is None and not math.isfinite(value):
            reason = "not fitted"
        if reason is not None:
            return {"value": None, "interval": None, "method": None, "estimable": False, "reason": reason}
        return _jsonable({"value": value, "interval": list(interval), "method": method,
                          "estimable": True, "reason": None})

    def headline(self) -> dict[str, Any]:
        """The few numbers a person wants first, each with its check's verdict."""
        g, p = self.number("beta_g"), self.number("beta_p")
        out: dict[str, Any] = {
            "beta_g": g["value"],
            "beta_g_interval": g["interval"],
            "beta_g_method": g["method"],
            "beta_g_reason": g["reason"],
            "beta_p": p["value"],
            "beta_p_interval": p["interval"],
            "beta_p_method": p["method"],
            "beta_p_reason": p["reason"],
            "level": self.level,
        }
        if self.backtest is not None:
            bt = self.backtest
            out["backtest"] = {
                "train_up_to": bt.max_train_size,
                "largest_shard": float(bt.shard_size[-1]),
                "predicted": float(bt.predicted[-1]),
                "band": [float(bt.lower[-1]), float(bt.upper[-1])],
                "observed": float(bt.observed[-1]),
                "mean_abs_relative_error": bt.mean_abs_relative_error,
                "coverage": bt.coverage,
                "coverage_points": len(bt.observed),
                "caveat": bt.caveat,
            }
        if self.joint is not None and self.joint.backtest is not None:
            # The summary; the scored cells are in the top-level "joint_backtest".
            out["joint_backtest"] = {k: v for k, v in self.joint.backtest.to_dict().items() if k != "cells"}
        return _jsonable(out)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "checks": [c.to_dict() for c in self.checks],
                "study": self.study,
                "metric": self.metric,
                "eps0": self.eps0,
                "eps0_assumed": self.eps0_assumed,
                "level": self.level,
                "size_tolerance": self.size_tolerance,
                "headline": self.headline(),
                "not_estimable": dict(self.not_estimable),
                "joint_backtest": None if self.joint is None or self.joint.backtest is None
                else self.joint.backtest.to_dict(),
                "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(self.level),
                "plan_range": list(self.plan_range()),
                "learning_curve": self.learning_curve.to_dict(self.level),
                "model_size": self.model_size.to_dict(self.level),
                "joint": None if self.joint is None else self.joint.to_dict(self.level),
                "backtest": None if self.backtest is None else self.backtest.to_dict(),
                "notes": list(self.notes),
            }
        )


def _check_positive(value: float, name: str) -> None:
    if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
        raise InputError(f"The '{name}' parameter must be a number > 0. Got {value!r} instead.", parameter=name)


def _window(regions: Regions | None) -> tuple[float, float] | None:
    if regions is None:
        return None
    lo = regions.small_data_end if math.isfinite(regions.small_data_end) else 0.0
    hi = regions.irreducible_start if not math.isnan(regions.irreducible_start) else math.inf
    return (float(lo), float(hi))


def analyze_learning_curve(
    shard_size: np.ndarray, error: np.ndarray, eps0: float | None, level: float,
    eps0_given: bool = True,
) -> LearningCurveAnalysis:
    """Fit the learning curve with ``auto`` and the alternatives; window, exponent and regions.

    ``eps0`` is the resolved random-guess error (:func:`scalinglab.fitting.resolve_eps0`);
    ``eps0_given=False`` lets ``auto`` state its own assumption (the same rule).
    """
    x = np.asarray(shard_size, dtype=float)
    y = np.asarray(error, dtype=float)
    if len(x) < 3:
        raise InputError(
            f"The study has {len(x)} shard(s) with completed runs; a learning curve needs at "
            "least 3. Run the study further (scalinglab run SPEC.toml) or add shards."
        )
    notes: list[str] = []
    fits: dict[str, FitResult] = {}
    for name in ALTERNATIVES:
        try:
            fits[name] = fit_law(name, x, y, eps0=eps0)
        except InputError as exc:
            notes.append(f"{name} not fitted: {exc}")
    default = fit_law("auto", x, y, eps0=eps0 if eps0_given else None)
    regions = None
    if "envelope" in fits:
        regions = regions_from_envelope(fits["envelope"], level)
    window = _window(regions)
    inside = x > -1 if window is None else (x > window[0]) & (x < window[1])
    # beta_g: a power law on the power-law window only (Hestness et al.'s exponent is the
    # slope there); with fewer than 3 shards inside, on every shard (not estimable then).
    on = inside if inside.sum() >= 3 else np.ones(len(x), dtype=bool)
    window_fit = fit_law("power", x[on], y[on])
    beta = float(window_fit.params["b"])
    return LearningCurveAnalysis(
        shard_size=x,
        error=y,
        fit=default,
        fits=fits,
        beta_g=beta,
        beta_g_interval=_interval(window_fit, "b", level),
        beta_g_law="power on the power-law window" if inside.sum() >= 3 else "power on every shard",
        regions=regions,
        notes=tuple(notes),
        window=window,
        window_fit=window_fit,
        beta_g_method="delta",
    )


def analyze_model_size(shard_size: np.ndarray, n_params: np.ndarray, level: float,
                       interior: np.ndarray | None = None) -> ModelSizeAnalysis:
    """Fit s(n) = sigma n^beta_p to the parameter counts of the best-fit models.

    With ``interior`` (a mask of shards whose best-fit size is inside the grid), only
    those shards are used: at the grid's edge the best size is censored.
    """
    x = np.asarray(shard_size, dtype=float)
    s = np.asarray(n_params, dtype=float)
    ok = np.isfinite(s) & (s > 0)
    notes = []
    if ok.sum() < 3:
        notes.append("fewer than 3 shards report a parameter count (n_params): no model-size law")
        return ModelSizeAnalysis(x, s, None, math.nan, (math.nan, math.nan), tuple(notes), interior)
    if len(np.unique(s[ok])) == 1:
        notes.append(
            "every shard's best-fit model has the same size: the model axis does not reach "
            "the models the larger shards need, or the smallest model is already enough"
        )
    elif np.mean(s[ok] == np.max(s[ok])) >= 0.5:
        notes.append(
            f"the largest model is the best fit on {int(np.sum(s[ok] == np.max(s[ok])))} of {int(ok.sum())} "
            "shards: the model axis may stop short of the sizes the larger shards need, which "
            "flattens s(n); extend [model] sizes"
        )
    use = ok if interior is None else ok & np.asarray(interior, dtype=bool)
    if use.sum() < 3 or len(np.unique(s[use])) < 2:
        notes.append("fewer than 3 shards (or 2 sizes) with an interior best-fit model: no model-size law")
        return ModelSizeAnalysis(x, s, None, math.nan, (math.nan, math.nan), tuple(notes), interior)
    fit = fit_law("power", x[use], s[use])
    lo, hi = _interval(fit, "b", level)
    return ModelSizeAnalysis(x, s, fit, float(fit.params["b"]), (lo, hi), tuple(notes), interior)


def joint_backtest(
    n: np.ndarray, m: np.ndarray, y: np.ndarray, eps0: float,
    n_fraction: float = 1 / 8, m_fraction: float = 1 / 16, level: float = 0.9,
    budget_limited: np.ndarray | None = None,
) -> JointBacktest:
    """Fit the joint law on the cells with small data and small models, score the others.

    Parameters
    ----------
    n, m, y : arrays
        Data size, parameter count and score of every cell.
    eps0 : float
        The random-guess error.
    n_fraction, m_fraction : float
        The training cells have ``n <= n_fraction * max(n)`` and ``m <= m_fraction * max(m)``
        (Rosenfeld et al. 2020: 1/8 of the data and 1/16 of the model, section 7).
    level : float
        Probability content of the prediction band whose coverage of the scored cells is
        reported.
    budget_limited : array of bool, optional
        Per cell, whether its runs were budget-limited (their score is an upper bound); the
        counts and a caveat go with the result.
    """
    for name, value in (("n_fraction", n_fraction), ("m_fraction", m_fraction)):
        if not 0 < value < 1:
            raise InputError(f"The '{name}' parameter of joint_backtest must be in (0, 1). Got {value!r} instead.")
    small_n = n <= n_fraction * np.max(n) * (1 + 1e-9)
    small_m = m <= m_fraction * np.max(m) * (1 + 1e-9)
    train = small_n & small_m
    test = ~train

    limited = None if budget_limited is None else np.asarray(budget_limited, dtype=bool)
    n_lim_train = None if limited is None else int(np.sum(limited & train))
    n_lim_test = None if limited is None else int(np.sum(limited & test))
    caveat = None
    if n_lim_train or n_lim_test:
        caveat = (
            f"{n_lim_train} of the {int(train.sum())} fitted cells and {n_lim_test} of the "
            f"{int(test.sum())} scored cells were budget-limited: their errors are upper bounds, so "
            "this measures the training budget as well as the law (budgets are extended only for "
            "cells near their shard's best); raise [budget] margin and max_factor and resume the "
            "study to train every cell to convergence")

    def nothing(reason: str) -> JointBacktest:
        return JointBacktest(n_fraction, m_fraction, int(train.sum()), int(test.sum()), None, None, reason,
                             level, n_limited_train=n_lim_train, n_limited_scored=n_lim_test)

    if train.sum() < 8 or len(np.unique(n[train])) < 3 or len(np.unique(m[train])) < 2:
        return nothing(
            f"{int(train.sum())} cells have n <= {n_fraction:g} N and m <= {m_fraction:g} M "
            f"({len(np.unique(n[train]))} shards, {len(np.unique(m[train]))} model sizes); the joint "
            "law needs 8 cells on 3 shards and 2 model sizes: run small models on the small shards "
            "(a grid search), or raise the fractions"
        )
    if test.sum() == 0:
        return nothing("no cell lies beyond the training cells")
    x = np.column_stack([n, m])
    try:
        fit = fit_law("joint", x[train], y[train], eps0=eps0, loss="relative")
    except InputError as exc:
        return nothing(f"the joint law could not be fitted on the small cells: {exc}")
    band = fit.predict(x[test], level=level, interval="prediction")
    predicted = np.asarray(band.value, dtype=float)
    lower, upper = np.asarray(band.lower, dtype=float), np.asarray(band.upper, dtype=float)
    observed = y[test]
    rel = (predicted - observed) / observed
    scored = np.isfinite(rel)
    if not scored.any():
        return nothing("the joint law fitted on the small cells predicts no finite error beyond them")
    banded = np.isfinite(lower) & np.isfinite(upper)
    held = (lower <= observed) & (observed <= upper)
    coverage = float(np.mean(held[scored & banded])) if np.any(scored & banded) else None
    band_reason = None
    if coverage is None:
        singular = any("singular" in note for note in fit.notes)
        band_reason = ("coverage not measured: the small-cell fit's covariance is singular (the small "
                       "cells do not determine every parameter), so it gives no finite band"
                       if singular else "coverage not measured: the small-cell fit gives no finite band")
    beyond_n, beyond_m = ~small_n[test], ~small_m[test]
    cells = tuple(
        {"n": float(a), "m": float(b), "observed": float(o), "predicted": float(p),
         "lower": float(lo), "upper": float(hi), "relative_error": float(r),
         "beyond_n": bool(bn), "beyond_m": bool(bm)}
        for a, b, o, p, lo, hi, r, bn, bm in zip(
            n[test][scored], m[test][scored], observed[scored], predicted[scored], lower[scored],
            upper[scored], rel[scored], beyond_n[scored], beyond_m[scored], strict=True)
    )
    return JointBacktest(n_fraction, m_fraction, int(train.sum()), int(scored.sum()),
                         float(np.mean(rel[scored])), float(np.std(rel[scored])), None, level,
                         coverage, cells, band_reason, n_lim_train, n_lim_test, caveat)


def analyze_joint(curves: CurvesLike, eps0: float | None, level: float, folds: int = 10,
                  fractions: tuple[float, float] = (1 / 8, 1 / 16)) -> JointAnalysis | None:
    """Rosenfeld's joint law on every (data, model) cell, with K-fold CV and the extrapolation backtest."""
    n = np.asarray(curves.cell_shard_size, dtype=float)
    m = np.asarray(curves.cell_n_params, dtype=float)
    y = np.asarray(curves.cell_median_min_val_error, dtype=float)
    # StudyCurves knows which cells were budget-limited; other CurvesLike need not.
    raw_limited = getattr(curves, "cell_budget_limited", None)
    limited = None if raw_limited is None else np.asarray(raw_limited, dtype=bool)
    ok = np.isfinite(m) & (m > 0) & np.isfinite(y) & (y > 0)
    n, m, y = n[ok], m[ok], y[ok]
    if limited is not None:
        limited = limited[ok] if len(limited) == len(ok) else None
    if eps0 is None or len(np.unique(m)) < 2 or len(np.unique(n)) < 3 or len(y) < 8:
        return None
    x = np.column_stack([n, m])
    fit = fit_law("joint", x, y, eps0=eps0, loss="relative")
    # K-fold cross-validation of the divergence, seeded (Rosenfeld et al. 2020, section 6).
    k = min(folds, len(y))
    order = np.random.default_rng(0).permutation(len(y))
    held_out = np.full(len(y), np.nan)
    for fold in range(k):
        test = order[fold::k]
        train = np.setdiff1d(order, test)
        if len(train) < 6:
            continue
        try:
            sub = fit_law("joint", x[train], y[train], eps0=eps0, loss="relative", n_starts=3)
        except InputError:
            continue
        held_out[test] = (sub.law.predict(x[test], sub.values) - y[test]) / y[test]
    finite = held_out[np.isfinite(held_out)]
    return JointAnalysis(
        fit=fit,
        n_cells=len(y),
        cv_divergence_mean=float(np.mean(finite)) if len(finite) else math.nan,
        cv_divergence_std=float(np.std(finite)) if len(finite) else math.nan,
        cv_folds=k,
        backtest=joint_backtest(n, m, y, eps0, *fractions, level=level, budget_limited=limited),
    )


def backtest_curve(
    shard_size: np.ndarray,
    error: np.ndarray,
    eps0: float | None,
    level: float,
    train_fraction: float = 1 / 8,
) -> Backtest | None:
    """Fit the shards up to ``train_fraction`` of the largest, predict the rest.

    If fewer than 4 shards fall under that cut, the cut moves up to the 4 smallest shards
    (as long as 2 remain to predict).
    """
    x = np.asarray(shard_size, dtype=float)
    y = np.asarray(error, dtype=float)
    cut = train_fraction * float(np.max(x))
    train = x <= cut
    if train.sum() < 4:
        if len(x) < 6:
            return None
        train = np.zeros(len(x), dtype=bool)
        train[:4] = True
        cut = float(x[3])
    fit = fit_law("auto", x[train], y[train], eps0=eps0)
    band = fit.predict(x[~train], level=level)
    return Backtest(
        max_train_size=cut,
        law=str((fit.selection or {}).get("winner", fit.law.name)),
        train_size=x[train],
        shard_size=x[~train],
        observed=y[~train],
        predicted=np.asarray(band.value),
        lower=np.asarray(band.lower),
        upper=np.asarray(band.upper),
        level=level,
    )


#: Fitted shards a backtest needs inside the power-law region for its error to measure the law.
MIN_BACKTEST_WINDOW = 3


def backtest_caveat(train_size: np.ndarray, window: tuple[float, float]) -> str | None:
    """Why a backtest's error may not measure the learning-curve law, or None.

    Hestness et al.: below the power-law region the error is "best guessing", so a fit
    there says little about the power law beyond it. When fewer than
    :data:`MIN_BACKTEST_WINDOW` of the fitted shards lie inside the detected power-law
    region ``window``, the backtest measures a prediction across a region's boundary.
    """
    x = np.asarray(train_size, dtype=float)
    low, high = window
    inside = int(np.sum((x > low) & (x < high)))
    if inside >= MIN_BACKTEST_WINDOW:
        return None
    below = int(np.sum(x <= low))
    return (f"{below} of its {len(x)} fitted shards lie in the small-data region (n <= {low:.4g}) "
            f"and {inside} inside the power-law region: it measures a prediction across the end "
            f"of the small-data region, not the power law (that needs {MIN_BACKTEST_WINDOW} fitted "
            f"shards inside it)")


def analyze(
    curves: CurvesLike,
    *,
    eps0: float | None = None,
    level: float = 0.9,
    train_fraction: float = 1 / 8,
    runs: pd.DataFrame | None = None,
    size_tolerance: float | None = None,
    n_boot: int = 1000,
    resample: str = "pooled",
    vary_window: bool = True,
    joint_fractions: tuple[float, float] = (1 / 8, 1 / 16),
    seed: int = 0,
) -> StudyAnalysis:
    """Analyse a study's curves: checks first, then learning curve, regions, model-size
    law, joint law and backtests.

    Parameters
    ----------
    curves : StudyCurves or alike
        From :func:`scalinglab.study.study_curves`.
    eps0 : float, optional
        Random-guess error of the metric (1 - 1/K for top-1 error with K classes, ln K for
        cross-entropy; built-in tasks state theirs). Without it the one eps0 rule of
        :func:`scalinglab.fitting.resolve_eps0` applies (2 x the largest error), and the
        analysis says so.
    level : float
        Level of every interval and band.
    train_fraction : float
        The learning-curve backtest fits shards up to this fraction of the largest.
    runs : pandas.DataFrame, optional
        Per run: ``shard_size``, ``model_size``, ``seed``, ``budget_limited`` (1, 0 or NaN),
        for the ``converged`` check (the command line builds it from the storage).
    size_tolerance : float, optional
        The best-fit rule's tolerance; the bootstrap redoes the selection with it. Default:
        the one ``curves`` were aggregated with (their ``size_tolerance``), else 0.
    n_boot, resample, vary_window, seed :
        The bootstrap over runs (:func:`scalinglab.analysis.bootstrap_runs`).
    joint_fractions : (float, float)
        The joint backtest fits cells with ``n <= N * n_fraction`` and ``m <= M * m_fraction``.
    """
    if size_tolerance is None:
        size_tolerance = float(getattr(curves, "size_tolerance", 0.0))
    error = np.asarray(curves.median_min_val_error, dtype=float)
    # The one eps0 rule, applied to the data each law is fitted to: the learning curve for
    # its laws, every cell for the joint law (small models on small shards err more).
    bound = resolve_eps0(eps0, error)
    cell_bound = resolve_eps0(eps0, np.asarray(curves.cell_median_min_val_error, dtype=float))
    eps0_used = bound.value
    notes = [] if bound.note is None else [bound.note]
    lc = analyze_learning_curve(curves.shard_size, error, eps0_used, level, eps0_given=not bound.assumed)
    grid = np.asarray(curves.cell_model_size, dtype=float)
    best_size = np.asarray(curves.best_model_size, dtype=float)
    # The engine's per-shard size status (sizes tried on the shard, limits of [model]) when
    # the study has a model axis; else the edges of the sizes in the data.
    size_status = getattr(curves, "best_size_status", None)
    engine_status = (size_status is not None and len(size_status) == len(best_size)
                     and len(best_size) > 0 and all(bool(v) for v in size_status))
    interior = (np.asarray(size_status, dtype=object) == "interior" if engine_status
                else interior_mask(best_size, grid))
    ms = analyze_model_size(curves.shard_size, curves.best_n_params, level, interior)
    joint = analyze_joint(curves, cell_bound.value, level, fractions=joint_fractions)
    if cell_bound.assumed and joint is not None:
        notes.append(f"the joint law assumes eps0 = {cell_bound.value:.4g} (2 x the largest cell error)")
    if joint is None:
        notes.append(
            "joint law not fitted: it needs runs at 2 or more model sizes on 3 or more shards "
            "and 8 cells (a grid search gives it)"
        )
    backtest = backtest_curve(curves.shard_size, error, eps0_used, level, train_fraction)
    if backtest is None:
        notes.append("backtest skipped: it needs at least 6 shards")
    elif lc.window is not None:
        backtest = _replace(backtest, caveat=backtest_caveat(backtest.train_size, lc.window))

    # -- bootstrap over runs ----------------------------------------------------------
    boot = None
    try:
        boot = bootstrap_runs(
            curves.cell_shard_size, curves.cell_model_size, curves.cell_n_params,
            curves.cell_seed_scores, lc.window if len(lc.window_shards) >= 3 else None,
            size_tolerance=size_tolerance, n_boot=n_boot, seed=seed, resample=resample,
            vary_window=vary_window,
        )
    except InputError as exc:
        notes.append(f"intervals from the delta method: {exc}")
    if boot is not None:
        g = boot.interval("beta_g", level)
        if g is not None:
            lc = _replace(lc, beta_g_interval=g, beta_g_method="bootstrap over runs")
        p = boot.interval("beta_p", level)
        if p is not None and ms.fit is not None:
            ms = _replace(ms, beta_p_interval=p, beta_p_method="bootstrap over runs")

    # -- checks -------------------------------------------------------------------------
    x = np.asarray(curves.shard_size, dtype=float)
    best_cells = pd.DataFrame({"shard_size": x, "model_size": best_size})
    converged = check_converged(best_cells, runs)
    window_check = check_power_law_window(
        x, lc.window, None if lc.regions is not None else "; ".join(lc.notes) or "no envelope fit")
    identifiable = check_beta_p_identifiable(best_size, interior)
    headline_fits: dict[str, FitResult | None] = {
        "beta_g": lc.window_fit, "beta_p": ms.fit, "joint": None if joint is None else joint.fit}
    fits_check, degenerate = check_fits_identified(headline_fits)
    checks = (
        converged,
        (check_model_interior_status(x, best_size, np.asarray(size_status, dtype=object))
         if engine_status else check_model_interior(x, best_size, grid)),
        window_check,
        identifiable,
        fits_check,
    )
    not_estimable: dict[str, str] = {}
    for name, guards in (("beta_g", (converged, window_check)), ("beta_p", (converged, identifiable))):
        failed = [c for c in guards if c.status == "fail"]
        if failed:
            not_estimable[name] = f"{failed[0].name} failed: {failed[0].reason}"
    for name, reason in degenerate.items():
        not_estimable.setdefault(name, f"fits_identified failed: {reason}")
    if ms.fit is None:
        not_estimable.setdefault("beta_p", "no model-size law: " + "; ".join(ms.notes))
    return StudyAnalysis(
        study=curves.study,
        metric=curves.metric,
        eps0=eps0_used,
        level=level,
        learning_curve=lc,
        model_size=ms,
        joint=joint,
        backtest=backtest,
        notes=tuple(notes),
        cells={
            "shard_size": np.asarray(curves.cell_shard_size, dtype=float),
            "model_size": np.asarray(curves.cell_model_size, dtype=float),
            "n_params": np.asarray(curves.cell_n_params, dtype=float),
            "score": np.asarray(curves.cell_median_min_val_error, dtype=float),
            "seed_scores": np.asarray(curves.cell_seed_scores, dtype=float),
        },
        checks=checks,
        not_estimable=not_estimable,
        bootstrap=boot,
        eps0_assumed=bound.assumed,
        size_tolerance=float(size_tolerance),
    )


def _replace(obj: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes)


def compare_exponents(a: StudyAnalysis, b: StudyAnalysis, level: float | None = None) -> dict[str, Any]:
    """Do two studies differ by a shift of the learning curve, a change of its slope, or both?

    Hestness et al. 2017 claim that better models and optimizers shift the learning curve
    but keep its exponent. Estimated here, each with a percentile interval from the two
    studies' bootstraps over runs (independent, so replicate i of one is paired with
    replicate i of the other): the slope difference ``beta_g(a) - beta_g(b)``, and the
    shift ``eps_b / eps_a - 1`` of the two window power laws at a reference data size (the
    geometric middle of the shards both windows cover, else of all their shards). A
    quantity differs when its interval excludes 0. Without bootstraps (single-seed
    studies) the slope test falls back to a z-score of the delta-method standard errors.
    """
    level = a.level if level is None else level
    lga, lgb = a.learning_curve, b.learning_curve
    wa, wb = lga.window_shards, lgb.window_shards
    lo_ref, hi_ref = max(np.min(wa), np.min(wb)), min(np.max(wa), np.max(wb))
    if lo_ref > hi_ref:
        lo_ref = min(np.min(wa), np.min(wb))
        hi_ref = max(np.max(wa), np.max(wb))
    m_ref = float(math.sqrt(lo_ref * hi_ref))
    diff = lga.beta_g - lgb.beta_g
    fa, fb = lga.window_fit, lgb.window_fit
    assert fa is not None and fb is not None
    log_shift = float(np.log(fb.law.predict(np.array([m_ref]), fb.values)[0])
                      - np.log(fa.law.predict(np.array([m_ref]), fa.values)[0]))
    blocked = [f"{s.study}: {s.not_estimable['beta_g']}" for s in (a, b) if "beta_g" in s.not_estimable]
    q = (0.5 - level / 2, 0.5 + level / 2)
    out: dict[str, Any] = {
        "studies": [a.study, b.study],
        "beta_g": [lga.beta_g, lgb.beta_g],
        "difference": diff,
        "reference_size": m_ref,
        "shift": math.expm1(log_shift),
        "level": level,
        "not_estimable": blocked or None,
    }
    if a.bootstrap is not None and b.bootstrap is not None:
        k = min(a.bootstrap.n_boot, b.bootstrap.n_boot)
        ga, gb = a.bootstrap.beta_g[:k], b.bootstrap.beta_g[:k]
        sa = a.bootstrap.log_a[:k] + ga * math.log(m_ref)
        sb = b.bootstrap.log_a[:k] + gb * math.log(m_ref)
        d_slope = (ga - gb)[np.isfinite(ga - gb)]
        d_shift = (sb - sa)[np.isfinite(sb - sa)]
        slope_iv = [float(v) for v in np.quantile(d_slope, q)]
        shift_iv = [float(math.expm1(v)) for v in np.quantile(d_shift, q)]
        differ = not (slope_iv[0] <= 0 <= slope_iv[1])
        shifted = not (shift_iv[0] <= 0 <= shift_iv[1])
        out.update({"method": "bootstrap over runs", "difference_interval": slope_iv,
                    "shift_interval": shift_iv, "stderr": float(np.std(d_slope, ddof=1)),
                    "z": None})
    else:
        def se(analysis: StudyAnalysis) -> float:
            fit = analysis.learning_curve.window_fit
            assert fit is not None
            return float(fit.stderr[fit.param_names.index("b")])

        combined = math.hypot(se(a), se(b))
        z = diff / combined if combined > 0 else math.inf
        differ = bool(abs(z) > 1.96)
        shifted = False
        out.update({"method": "delta (single-seed studies: no bootstrap)", "difference_interval": None,
                    "shift_interval": None, "stderr": combined, "z": z})
    pct = f"{level_percent(level)}%"
    if blocked:
        verdict = "not estimable: " + "; ".join(blocked)
    elif differ:
        verdict = (f"the slopes differ (the {pct} interval of the difference excludes 0)"
                   + ("; the curves are also shifted" if shifted else ""))
    elif shifted:
        verdict = (f"same slope within the {pct} interval, shifted curve: the studies differ by a "
                   f"shift of {100 * out['shift']:+.1f}% at {m_ref:.4g} examples (Hestness's claim)")
    else:
        verdict = f"neither the slope nor the shift differs beyond the {pct} intervals"
    out.update({"differ": bool(differ) and not blocked, "shifted": bool(shifted) and not blocked,
                "verdict": verdict})
    return _jsonable(out)
