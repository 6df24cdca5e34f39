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

from scalinglab._errors import InputError
from scalinglab.analysis._regions import Regions, regions_from_envelope
from scalinglab.fitting import ComputeOptimal, FitResult, Inversion, Prediction, compute_optimal, fit_law
from scalinglab.fitting._result import _jsonable

__all__ = [
    "Backtest",
    "CurvesLike",
    "JointAnalysis",
    "LearningCurveAnalysis",
    "ModelSizeAnalysis",
    "Plan",
    "StudyAnalysis",
    "analyze",
    "backtest_curve",
    "compare_exponents",
]

#: Laws fitted to every learning curve, beside the default ``auto``.
ALTERNATIVES: tuple[str, ...] = ("power", "power_floor", "envelope", "m4")


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


def _interval(fit: FitResult, name: str, level: float, sign: float = 1.0) -> tuple[float, float]:
    lo, hi = fit.intervals(level)[name]
    a, b = sign * lo, sign * hi
    return (min(a, b), max(a, b))


@dataclass(frozen=True)
class LearningCurveAnalysis:
    """The learning curve eps(m) and its fits.

    ``beta_g`` is Hestness's exponent (negative), from ``power_floor``
    (eps = alpha m^beta_g + gamma) when the curve has 4 or more shards, else from ``power``.
    ``fit`` is the default (``auto``) fit used for predictions and plans.
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

    def to_dict(self, level: float) -> dict[str, Any]:
        return _jsonable(
            {
                "shard_size": self.shard_size,
                "error": self.error,
                "beta_g": self.beta_g,
                "beta_g_interval": list(self.beta_g_interval),
                "beta_g_law": self.beta_g_law,
                "default_fit": self.fit.to_dict(level),
                "fits": {k: v.to_dict(level) for k, v in self.fits.items()},
                "regions": None if self.regions is None else self.regions.to_dict(),
                "notes": list(self.notes),
            }
        )


@dataclass(frozen=True)
class ModelSizeAnalysis:
    """The model-size law s(m) = sigma m^beta_p of the best-fit models."""

    shard_size: np.ndarray
    n_params: np.ndarray
    fit: FitResult | None
    beta_p: float
    beta_p_interval: tuple[float, float]
    notes: tuple[str, ...]

    def to_dict(self, level: float) -> dict[str, Any]:
        return _jsonable(
            {
                "shard_size": self.shard_size,
                "n_params": self.n_params,
                "beta_p": self.beta_p,
                "beta_p_interval": list(self.beta_p_interval),
                "fit": None if self.fit is None else self.fit.to_dict(level),
                "notes": list(self.notes),
            }
        )


@dataclass(frozen=True)
class JointAnalysis:
    """Rosenfeld's joint law fitted to every (data, model) cell of the study."""

    fit: FitResult
    n_cells: int
    cv_divergence_mean: float
    cv_divergence_std: float
    cv_folds: int

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
                "level": self.level,
            }
        )


@dataclass(frozen=True)
class Plan:
    """Data (and model size) needed for a target error, with bands, or why not."""

    target_error: float
    data_size: Inversion
    n_params: Prediction | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "target_error": self.target_error,
                "data_size": float(self.data_size.value[0]),
                "data_size_interval": [float(self.data_size.lower[0]), float(self.data_size.upper[0])],
                "n_params": None if self.n_params is None else float(self.n_params.value[0]),
                "n_params_interval": None
                if self.n_params is None
                else [float(self.n_params.lower[0]), float(self.n_params.upper[0])],
                "level": self.data_size.level,
                "feasible": bool(self.data_size.feasible[0]),
                "reason": self.reason,
            }
        )


@dataclass(frozen=True)
class StudyAnalysis:
    """Everything :func:`analyze` finds in a study."""

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

    # -- prediction and planning -------------------------------------------------------
    def predict(self, data_size: float, n_params: float | None = None, level: float | None = None) -> Prediction:
        """Predicted error at a data size, with a band.

        Without ``n_params`` the learning curve of best-fit models is used (the error
        when the model is sized for the data); with it, the joint law (Rosenfeld 2020).
        """
        level = self.level if level is None else level
        _check_positive(data_size, "data-size")
        if n_params is None:
            return self.learning_curve.fit.predict([data_size], level=level)
        _check_positive(n_params, "model-size")
        if self.joint is None:
            raise InputError(
                "A prediction at a given model size needs the joint law, which this study "
                "could not fit (it needs runs at 2 or more model sizes on 3 or more shards); "
                "leave out --model-size to use the learning curve of best-fit models."
            )
        return self.joint.fit.predict(np.array([[data_size, n_params]]), level=level)

    def plan(self, target_error: float, level: float | None = None) -> Plan:
        """Data needed for ``target_error`` and the model size that goes with it."""
        level = self.level if level is None else level
        _check_positive(target_error, "target-error")
        inv = self.learning_curve.fit.inverse([target_error], level=level)
        if not inv.feasible[0]:
            return Plan(target_error, inv, None, inv.reason)
        size = None
        if self.model_size.fit is not None:
            size = self.model_size.fit.predict([float(inv.value[0])], level=level)
        return Plan(target_error, inv, size, None)

    def compute_optimal(self, compute: float, level: float | None = None) -> ComputeOptimal:
        """Compute-optimal split of a budget (model parameters x data size) from the joint law."""
        if self.joint is None:
            raise InputError(
                "--compute needs the joint law, which this study could not fit (it needs "
                "runs at 2 or more model sizes on 3 or more shards)."
            )
        _check_positive(compute, "compute")
        return compute_optimal(self.joint.fit, [compute], level=self.level if level is None else level)

    def headline(self) -> dict[str, Any]:
        """The few numbers a person wants first."""
        lc, ms = self.learning_curve, self.model_size
        out: dict[str, Any] = {
            "beta_g": lc.beta_g,
            "beta_g_interval": list(lc.beta_g_interval),
            "beta_p": ms.beta_p,
            "beta_p_interval": list(ms.beta_p_interval),
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
            }
        return _jsonable(out)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "study": self.study,
                "metric": self.metric,
                "eps0": self.eps0,
                "level": self.level,
                "headline": self.headline(),
                "learning_curve": self.learning_curve.to_dict(self.level),
                "model_size": self.model_size.to_dict(self.level),
                "joint": None if self.joint is None else self.joint.to_dict(self.level),
                "backtest": None if self.backtest is None else self.backtest.to_dict(),
                "notes": list(self.notes),
            }
        )


def _check_positive(value: float, name: str) -> None:
    if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
        raise InputError(f"The '--{name}' option must be a number > 0. Got {value!r} instead.")


def _default_eps0(error: np.ndarray, eps0: float | None) -> float | None:
    if eps0 is not None:
        return float(eps0)
    # Error rates are bounded by 1: the one bound that holds without knowing the task.
    return 1.0 if float(np.max(error)) < 1.0 else None


def analyze_learning_curve(
    shard_size: np.ndarray, error: np.ndarray, eps0: float | None, level: float
) -> LearningCurveAnalysis:
    """Fit the learning curve with ``auto`` and the alternatives; exponent and regions."""
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
        if name in ("envelope", "m4") and eps0 is None:
            continue
        try:
            fits[name] = fit_law(name, x, y, eps0=eps0)
        except InputError as exc:
            notes.append(f"{name} not fitted: {exc}")
    default = fit_law("auto", x, y, eps0=eps0)
    # Hestness's eps = alpha m^beta_g + gamma when the curve shows a floor; when the fitted
    # floor sits at zero the curve shows none, and the pure power law is the honest model.
    floor_fit = fits.get("power_floor")
    has_floor = floor_fit is not None and floor_fit.converged and floor_fit.params["c"] > 1e-9
    beta_law = "power_floor" if len(x) >= 4 and has_floor else "power"
    if beta_law == "power_floor":
        beta = -fits["power_floor"].params["b"]
        beta_interval = _interval(fits["power_floor"], "b", level, sign=-1.0)
    else:
        beta = fits["power"].params["b"]
        beta_interval = _interval(fits["power"], "b", level)
    regions = None
    if "envelope" in fits:
        regions = regions_from_envelope(fits["envelope"], level)
    else:
        notes.append("regions need eps0 (the random-guess error): give --eps0 to see them")
    return LearningCurveAnalysis(
        shard_size=x,
        error=y,
        fit=default,
        fits=fits,
        beta_g=float(beta),
        beta_g_interval=beta_interval,
        beta_g_law=beta_law,
        regions=regions,
        notes=tuple(notes),
    )


def analyze_model_size(shard_size: np.ndarray, n_params: np.ndarray, level: float) -> ModelSizeAnalysis:
    """Fit s(m) = sigma m^beta_p to the parameter counts of the best-fit models."""
    x = np.asarray(shard_size, dtype=float)
    s = np.asarray(n_params, dtype=float)
    ok = np.isfinite(s) & (s > 0)
    notes = []
    if ok.sum() < 3:
        notes.append("fewer than 3 shards report a parameter count (n_params): no model-size law")
        return ModelSizeAnalysis(x, s, None, math.nan, (math.nan, math.nan), tuple(notes))
    if len(np.unique(s[ok])) == 1:
        notes.append(
            "every shard's best-fit model has the same size: the model axis does not reach "
            "the models the larger shards need, or the smallest model is already enough"
        )
    elif np.mean(s[ok] == np.max(s[ok])) >= 0.5:
        notes.append(
            f"the largest model is the best fit on {int(np.sum(s[ok] == np.max(s[ok])))} of {int(ok.sum())} "
            "shards: the model axis may stop short of the sizes the larger shards need, which "
            "flattens s(m); extend [model] sizes"
        )
    fit = fit_law("power", x[ok], s[ok])
    lo, hi = _interval(fit, "b", level)
    return ModelSizeAnalysis(x, s, fit, float(fit.params["b"]), (lo, hi), tuple(notes))


def analyze_joint(curves: CurvesLike, eps0: float | None, level: float, folds: int = 10) -> JointAnalysis | None:
    """Rosenfeld's joint law on every (data, model) cell, with K-fold cross-validation."""
    n = np.asarray(curves.cell_shard_size, dtype=float)
    m = np.asarray(curves.cell_n_params, dtype=float)
    y = np.asarray(curves.cell_median_min_val_error, dtype=float)
    ok = np.isfinite(m) & (m > 0) & np.isfinite(y) & (y > 0)
    n, m, y = n[ok], m[ok], y[ok]
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


def analyze(
    curves: CurvesLike,
    *,
    eps0: float | None = None,
    level: float = 0.9,
    train_fraction: float = 1 / 8,
) -> StudyAnalysis:
    """Analyse a study's curves: learning curve, regions, model-size law, joint law, backtest.

    Parameters
    ----------
    curves : StudyCurves or alike
        From :func:`scalinglab.study.study_curves`.
    eps0 : float, optional
        Random-guess error of the metric (1 - 1/K for top-1 error with K classes, ln K for
        cross-entropy). Without it, 1.0 is used when every error is below 1; otherwise the
        laws that need it (envelope, m4, joint) and the regions are skipped.
    level : float
        Level of every interval and band.
    train_fraction : float
        The backtest fits shards up to this fraction of the largest (default 1/8).
    """
    error = np.asarray(curves.median_min_val_error, dtype=float)
    eps0_used = _default_eps0(error, eps0)
    lc = analyze_learning_curve(curves.shard_size, error, eps0_used, level)
    ms = analyze_model_size(curves.shard_size, curves.best_n_params, level)
    joint = analyze_joint(curves, eps0_used, level)
    notes = []
    if joint is None:
        notes.append(
            "joint law not fitted: it needs eps0 and runs at 2 or more model sizes on 3 or "
            "more shards (a grid search gives it)"
        )
    backtest = backtest_curve(curves.shard_size, error, eps0_used, level, train_fraction)
    if backtest is None:
        notes.append("backtest skipped: it needs at least 6 shards")
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
    )


def compare_exponents(a: StudyAnalysis, b: StudyAnalysis) -> dict[str, Any]:
    """Do two studies' learning-curve exponents differ beyond their uncertainty?

    Hestness et al. 2017 claim that better models and optimizers shift the learning curve
    but keep its exponent. The test is a z-score of the difference of the two beta_g
    estimates with their standard errors combined in quadrature (two-sided, 5%).
    """
    def se(analysis: StudyAnalysis) -> float:
        lc = analysis.learning_curve
        fit = lc.fits[lc.beta_g_law]
        return float(fit.stderr[fit.param_names.index("b")])

    diff = a.learning_curve.beta_g - b.learning_curve.beta_g
    combined = math.hypot(se(a), se(b))
    z = diff / combined if combined > 0 else math.inf
    return _jsonable(
        {
            "studies": [a.study, b.study],
            "beta_g": [a.learning_curve.beta_g, b.learning_curve.beta_g],
            "difference": diff,
            "stderr": combined,
            "z": z,
            "differ": bool(abs(z) > 1.96),
            "verdict": (
                "the exponents differ beyond their uncertainty (|z| > 1.96)"
                if abs(z) > 1.96
                else "the exponents agree within their uncertainty: the curves differ by a shift, if at all"
            ),
        }
    )
