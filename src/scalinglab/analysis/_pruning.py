"""Rosenfeld et al. 2021's pruning law fitted to a study's iteratively pruned networks.

A study of a workload with ``prune_rounds = K`` (MNIST-1D: docs/workloads.md) stores, for
every run, the minimum validation error of the dense network and of its K pruned
retrainings at densities ``d_k ~ (1 - prune_rate)^k`` (final metrics ``prune_density_k`` and
``prune_min_val_error_k``). :func:`pruning_table` reads them from a runs frame,
:func:`fit_pruning` fits

* per network (one shard, one width), the single-network law
  ``eps(d) = eps_np [(d^2 + p^2 r^2) / (d^2 + p^2)]^(gamma/2)``,
  ``r = (eps_up / eps_np)^(1/gamma)`` (Rosenfeld et al. 2021, eq. 2), with ``eps_np`` the
  measured dense error and ``eps_up``, ``p``, ``gamma`` fitted;
* per shard, across widths, the joint form: the same law in ``m* = (w / w_ref)^psi d``
  (width and density are interchangeable), one ``eps_up``, ``p``, ``gamma`` and ``psi`` for
  every width, ``eps_np`` per width measured (:class:`PruningJoint`).

Each fit comes with its convergence, parameter intervals, a prediction band at the measured
densities and Rosenfeld's figure of merit: the mean and standard deviation of the relative
error ``(eps_hat - eps) / eps`` over the pruned networks (published: mean < 2%, std < 4% for
one network, < 6% joint). Works on frames, through :func:`scalinglab.fitting.fit_law`; it
reads no database.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import stdtrit

from scalinglab._errors import ConvergenceWarning, InputError, invalid_parameter
from scalinglab._json import jsonable as _jsonable
from scalinglab.fitting import FitResult, Prediction, fit_law
from scalinglab.laws import FloatArray, Law, Param, Pruning
from scalinglab.laws._base import as_params

__all__ = [
    "PruningAnalysis",
    "PruningFit",
    "PruningJoint",
    "fit_pruning",
    "pruning_table",
]

#: Columns of :func:`pruning_table` (and of the table :func:`fit_pruning` takes).
TABLE_COLUMNS = ("shard_size", "width", "seed", "round", "density", "error")
#: Fewest densities per network (the dense one included) for a fit with a residual.
MIN_DENSITIES = 4
_DENSITY = "prune_density_"
_ERROR = "prune_min_val_error_"


class PruningJoint(Law):
    """Rosenfeld et al. 2021's pruning law across widths: width and density interchange.

    ``eps = eps_np [(m^2 + p^2 r^2) / (m^2 + p^2)]^(gamma/2)``, ``m = (w / w_ref)^psi d``,
    ``r = (eps_up / eps_np)^(1/gamma)``. Inputs, in order: ``w`` (width), ``d`` (density) and
    ``eps_np`` (the measured error of the dense network of that width: known, not fitted, so
    it is a column of the data rather than a parameter). With ``psi = 0`` every width has
    the same pruning curve; ``psi > 0``: a wider network tolerates more pruning.

    Parameters
    ----------
    w_ref : float
        The width at which ``p`` is measured (``m = d`` there); any positive value gives the
        same law with ``p`` rescaled by ``w_ref^psi``. :func:`fit_pruning` takes the geometric
        mean of the widths, which keeps ``p`` and ``psi`` least correlated.
    """

    name = "pruning_joint"
    formula = ("y = eps_np * ((m^2 + p^2 r^2)/(m^2 + p^2))^(gamma/2),  m = (w/w_ref)^psi d,  "
               "r = (eps_up/eps_np)^(1/gamma)")
    reference = "Rosenfeld et al. 2021 (ICML), eq. 2 and section 5 (m* = l^phi w^psi d)"
    inputs = ("w", "d", "eps_np")
    params = (
        Param("eps_up", 1e-300, 1e300, log=True, description="high-error plateau"),
        Param("gamma", 1e-3, 20.0, description="slope of the power-law region"),
        Param("p", 1e-300, 1e300, log=True, description="where the plateau starts (m units)"),
        Param("psi", -10.0, 10.0, description="width exponent of m* = (w/w_ref)^psi d"),
    )

    def __init__(self, w_ref: float = 1.0) -> None:
        if not (isinstance(w_ref, int | float) and math.isfinite(w_ref) and w_ref > 0):
            raise invalid_parameter("w_ref", "PruningJoint", "a finite number > 0", w_ref)
        self.w_ref = float(w_ref)

    @property
    def constants(self) -> dict[str, float]:
        return {"w_ref": self.w_ref}

    def m_star(self, x: ArrayLike, psi: float) -> FloatArray:
        """The effective size ``(w / w_ref)^psi d`` of each row of ``x``."""
        xs = self.check_x(x)
        return np.asarray(np.power(xs[:, 0] / self.w_ref, psi) * xs[:, 1], dtype=float)

    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        eps_up, gamma, p, psi = as_params(params, 4, self.name)
        xs = self.check_x(x)
        m = self.m_star(xs, psi)
        eps_np = xs[:, 2]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            r = (eps_up / eps_np) ** (1.0 / gamma)
            ratio = (m**2 + p**2 * r**2) / (m**2 + p**2)
            return np.asarray(eps_np * np.power(ratio, gamma / 2.0), dtype=float)

    def floor(self, params: ArrayLike) -> float:
        # Dense networks of unbounded width: the law tends to each width's own eps_np.
        return 0.0

    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        eps_up = float(np.max(y)) * 1.02
        candidates = []
        for psi, gamma in itertools.product((0.0, 0.5, 1.0, 2.0), (0.5, 1.0, 2.0, 4.0)):
            m = self.m_star(x, psi)
            lo, hi = np.log(np.min(m)), np.log(np.max(m))
            for p in np.exp(np.linspace(lo, hi, 5)):
                params = np.array([eps_up, gamma, p, psi])
                with np.errstate(divide="ignore", invalid="ignore"):
                    sse = float(np.sum((self.predict(x, params) / y - 1.0) ** 2))
                if np.isfinite(sse):
                    candidates.append((sse, params))
        candidates.sort(key=lambda item: item[0])
        return [p for _, p in candidates]


# -- reading runs ----------------------------------------------------------------------------


def _loads(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def pruning_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The pruned networks of a study's runs: one row per (run, pruning round).

    Parameters
    ----------
    runs : pandas.DataFrame
        :meth:`scalinglab.storage.Storage.runs_frame` of a study (columns ``shard_size``,
        ``model_size``, ``seed``, ``state``, ``score``, ``params_json`` and
        ``final_metrics_json``). Every COMPLETE run whose final metrics carry
        ``prune_density_k`` and ``prune_min_val_error_k`` counts. Of a cell rerun with more
        budget, each seed's run with the largest budget counts; of a cell trained at several
        hyperparameter points, the point with the lowest median dense score.

    Returns
    -------
    pandas.DataFrame
        Columns ``shard_size``, ``width`` (the model size), ``seed``, ``round`` (0: dense),
        ``density`` and ``error`` (the minimum validation error of that round); empty (with
        these columns) when no run carries pruning metrics.
    """
    if not isinstance(runs, pd.DataFrame):
        raise invalid_parameter("runs", "pruning_table", "a pandas DataFrame (Storage.runs_frame)",
                                type(runs).__name__)
    needed = ("shard_size", "model_size", "seed", "final_metrics_json")
    missing = [c for c in needed if c not in runs.columns]
    if missing:
        raise invalid_parameter("runs", "pruning_table", f"a runs frame with a {missing[0]!r} column "
                                "(Storage.runs_frame)", sorted(map(str, runs.columns)))
    rows: list[dict[str, Any]] = []
    for _, run in runs.iterrows():
        if "state" in runs.columns and str(run["state"]) != "COMPLETE":
            continue
        metrics = _loads(run["final_metrics_json"])
        rounds = sorted(int(k[len(_ERROR):]) for k in metrics
                        if k.startswith(_ERROR) and k[len(_ERROR):].isdigit())
        points = [(k, _number(metrics.get(f"{_DENSITY}{k}")), _number(metrics.get(f"{_ERROR}{k}")))
                  for k in rounds]
        points = [pt for pt in points if math.isfinite(pt[1]) and math.isfinite(pt[2])]
        if not points:
            continue
        params = _loads(run["params_json"]) if "params_json" in runs.columns else {}
        budget = _number(params.get("_budget", 1.0))
        cell = json.dumps({k: v for k, v in params.items() if not str(k).startswith("_")},
                          sort_keys=True, default=str)
        dense = _number(run["score"]) if "score" in runs.columns else math.nan
        for k, density, error in points:
            rows.append({"shard_size": int(run["shard_size"]), "width": float(run["model_size"]),
                         "seed": int(run["seed"]), "round": k, "density": density,
                         "error": error, "_cell": cell, "_budget": budget, "_dense": dense})
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in TABLE_COLUMNS})
    frame = pd.DataFrame(rows)
    net = ["shard_size", "width", "_cell", "seed"]
    top = frame.groupby(net)["_budget"].transform("max")
    frame = frame[frame["_budget"] == top]
    dense_error = frame[frame["round"] == 0].groupby(["shard_size", "width", "_cell"])["error"]
    best = dense_error.median().reset_index().sort_values(["shard_size", "width", "error", "_cell"])
    best = best.drop_duplicates(["shard_size", "width"])[["shard_size", "width", "_cell"]]
    frame = frame.merge(best, on=["shard_size", "width", "_cell"], how="inner")
    frame = frame.sort_values(["shard_size", "width", "seed", "round"], kind="stable")
    return frame[list(TABLE_COLUMNS)].reset_index(drop=True)


# -- results ---------------------------------------------------------------------------------


def _t_interval(values: FloatArray, level: float) -> tuple[float, float] | None:
    """Student-t interval of the mean of ``values`` (``None`` for fewer than two)."""
    if len(values) < 2:
        return None
    mean, se = float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(len(values)))
    q = float(stdtrit(len(values) - 1, 0.5 + level / 2))
    return (mean - q * se, mean + q * se)


@dataclass(frozen=True)
class PruningFit:
    """One fit of the pruning law: a single network (one width) or the joint form.

    Attributes
    ----------
    kind : str
        ``"single"`` or ``"joint"``.
    shard_size : int
        The shard the networks were trained on.
    widths : tuple of float
        The width (one for a single fit, every width for the joint one).
    eps_np : dict of float to float
        The measured dense error of each width (median over seeds), held fixed in the fit.
    eps_np_intervals : dict of float to (float, float) or None
        Its Student-t interval over seeds at ``level`` (``None`` with one seed).
    fit : FitResult
        The fit: ``Pruning`` with ``eps_np`` fixed, or :class:`PruningJoint`.
    band : Prediction
        The law with its prediction band at every fitted point.
    density, observed : arrays
        The fitted points (median over seeds) in the order of ``band``; ``width`` likewise.
    level : float
        Level of the intervals and the band.
    """

    kind: str
    shard_size: int
    widths: tuple[float, ...]
    eps_np: dict[float, float]
    eps_np_intervals: dict[float, tuple[float, float] | None]
    fit: FitResult
    band: Prediction
    width: FloatArray
    density: FloatArray
    observed: FloatArray
    level: float

    @property
    def converged(self) -> bool:
        return bool(self.fit.converged)

    @property
    def params(self) -> dict[str, float]:
        """The fitted parameters (``eps_np`` of a single fit is fixed: see :attr:`eps_np`)."""
        return {k: v for k, v in self.fit.params.items() if k not in self.fit.fixed}

    def intervals(self) -> dict[str, tuple[float, float]]:
        """Intervals of the fitted parameters at :attr:`level`."""
        return {k: v for k, v in self.fit.intervals(self.level).items() if k not in self.fit.fixed}

    @property
    def relative_error(self) -> FloatArray:
        """``(eps_hat - eps) / eps`` at the pruned points (density < 1)."""
        pruned = self.density < 1.0
        return np.asarray(self.band.value[pruned] / self.observed[pruned] - 1.0, dtype=float)

    @property
    def mean_relative_error(self) -> float:
        """Rosenfeld's figure: mean relative error of the fit over the pruned networks."""
        rel = self.relative_error
        return float(np.mean(rel)) if len(rel) else math.nan

    @property
    def std_relative_error(self) -> float:
        """Rosenfeld's figure: standard deviation of the relative error (pruned networks)."""
        rel = self.relative_error
        return float(np.std(rel)) if len(rel) else math.nan

    @property
    def mean_relative_error_interval(self) -> tuple[float, float] | None:
        """Student-t interval of :attr:`mean_relative_error` at :attr:`level`."""
        return _t_interval(self.relative_error, self.level)

    @property
    def band_coverage(self) -> float:
        """Fraction of the pruned points inside the prediction band (``nan`` without a band:
        a singular covariance leaves the band undefined)."""
        pruned = self.density < 1.0
        defined = np.isfinite(self.band.lower) & np.isfinite(self.band.upper)
        if not pruned.any() or not defined[pruned].all():
            return math.nan
        inside = (self.observed >= self.band.lower) & (self.observed <= self.band.upper)
        return float(np.mean(inside[pruned]))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: parameters with standard errors and intervals, quality, points, band."""
        stderr = dict(zip(self.fit.param_names, self.fit.stderr.tolist(), strict=True))
        return _jsonable({
            "kind": self.kind,
            "shard_size": self.shard_size,
            "widths": list(self.widths),
            "law": self.fit.law.name,
            "formula": self.fit.law.formula,
            "constants": self.fit.law.constants,
            "loss": self.fit.loss,
            "level": self.level,
            "eps_np": [{"width": w, "value": v, "interval": self.eps_np_intervals.get(w)}
                       for w, v in self.eps_np.items()],
            "params": self.params,
            "stderr": {k: v for k, v in stderr.items() if k not in self.fit.fixed},
            "intervals": {k: list(v) for k, v in self.intervals().items()},
            "converged": self.converged,
            "message": self.fit.message,
            "notes": list(self.fit.notes),
            "n_points": self.fit.n_points,
            "n_pruned": int(np.sum(self.density < 1.0)),
            "mean_relative_error": self.mean_relative_error,
            "mean_relative_error_interval": self.mean_relative_error_interval,
            "std_relative_error": self.std_relative_error,
            "band_coverage": self.band_coverage,
            "points": [
                {"width": w, "density": d, "observed": o, "predicted": v, "lower": lo, "upper": hi}
                for w, d, o, v, lo, hi in zip(self.width, self.density, self.observed,
                                              self.band.value, self.band.lower, self.band.upper,
                                              strict=True)
            ],
        })


@dataclass(frozen=True)
class PruningAnalysis:
    """What :func:`fit_pruning` returns: every single-network fit and the joint fits.

    Attributes
    ----------
    study : str
    level : float
    table : pandas.DataFrame
        The fitted points: shard_size, width, round, density, error (median over seeds),
        n_seeds, seed_std.
    single : tuple of PruningFit
        One per (shard, width), by shard then width.
    joint : tuple of PruningFit
        One per shard with at least two widths.
    """

    study: str
    level: float
    table: pd.DataFrame
    single: tuple[PruningFit, ...]
    joint: tuple[PruningFit, ...]

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({
            "study": self.study,
            "level": self.level,
            "reference": "Rosenfeld et al. 2021 (ICML): mean < 2%, std < 4% (single), < 6% (joint)",
            "single": [f.to_dict() for f in self.single],
            "joint": [f.to_dict() for f in self.joint],
        })


# -- fitting ---------------------------------------------------------------------------------


def _check_table(table: Any) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise invalid_parameter("table", "fit_pruning", "a pandas DataFrame (pruning_table)",
                                type(table).__name__)
    for col in ("width", "density", "error"):
        if col not in table.columns:
            raise invalid_parameter("table", "fit_pruning", f"a frame with a {col!r} column "
                                    "(pruning_table's)", sorted(map(str, table.columns)))
    if table.empty:
        raise InputError("The 'table' parameter of fit_pruning has no pruned network: train the "
                         "study with [train] prune_rounds = K (K >= 3) first.")
    frame = table.copy()
    if "shard_size" not in frame.columns:
        frame["shard_size"] = 0
    if "seed" not in frame.columns:
        frame["seed"] = 0
    for col in ("width", "density", "error"):
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values <= 0) | ((values > 1) if col == "density" else False)
        if bad.any():
            rule = "in (0, 1]" if col == "density" else "finite and > 0"
            raise invalid_parameter("table", "fit_pruning", f"a frame whose {col!r} values are "
                                    f"{rule}", float(values[np.argmax(bad)]))
        frame[col] = values
    return frame


def _aggregate(frame: pd.DataFrame) -> pd.DataFrame:
    """Median over seeds per (shard, width, density); densities agree to rounding."""
    frame = frame.assign(_d=frame["density"].round(12))
    grouped = frame.groupby(["shard_size", "width", "_d"], sort=True)
    out = pd.DataFrame({
        "density": grouped["density"].median(),
        "error": grouped["error"].median(),
        "n_seeds": grouped["error"].size(),
        "seed_std": grouped["error"].std(ddof=1),
    }).reset_index().drop(columns="_d")
    return out.sort_values(["shard_size", "width", "density"], ascending=[True, True, False],
                           kind="stable").reset_index(drop=True)


def _quiet_fit(law: Law, x: FloatArray, y: FloatArray, *, loss: str,
               fixed: Mapping[str, float] | None = None) -> FitResult:
    # Convergence is reported in the result (PruningFit.converged), not as a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_law(law, x, y, loss=loss, fixed=fixed, n_starts=8)


def fit_pruning(
    table: pd.DataFrame, *, level: float = 0.9, loss: str = "relative", study: str = "",
) -> PruningAnalysis:
    """Fit Rosenfeld's pruning law per network and jointly across widths.

    Parameters
    ----------
    table : pandas.DataFrame
        Per-(width, density) errors: :func:`pruning_table`'s frame, or any frame with
        ``width``, ``density`` (in (0, 1]) and ``error`` columns, optionally ``shard_size``
        (one set of fits per shard) and ``seed`` (several rows per point: their median is
        fitted). Every network needs its dense point (density 1: its ``eps_np``) and at
        least :data:`MIN_DENSITIES` densities.
    level : float
        Level of the parameter intervals, the band and the interval of ``eps_np``.
    loss : {"relative", "log", "huber"}
        The fit's loss (default: the relative error, Rosenfeld's).
    study : str
        A label carried into the result.

    Returns
    -------
    PruningAnalysis

    Raises
    ------
    InputError
        The table is not a frame of positive errors at densities in (0, 1], or a network
        lacks its dense point or has fewer than :data:`MIN_DENSITIES` densities.
    """
    if not (isinstance(level, int | float) and 0 < level < 1):
        raise invalid_parameter("level", "fit_pruning", "a number in (0, 1)", level)
    if loss not in ("relative", "log", "huber"):
        raise invalid_parameter("loss", "fit_pruning", "one of relative, log, huber", loss)
    checked = _check_table(table)
    points = _aggregate(checked)
    singles: list[PruningFit] = []
    joints: list[PruningFit] = []
    for shard in [int(v) for v in np.unique(points["shard_size"].to_numpy(dtype=float))]:
        shard_points = points[points["shard_size"] == shard]
        eps_np: dict[float, float] = {}
        eps_np_iv: dict[float, tuple[float, float] | None] = {}
        raw = checked[checked["shard_size"] == shard]
        for width in [float(v) for v in np.unique(shard_points["width"].to_numpy(dtype=float))]:
            net = shard_points[shard_points["width"] == width]
            dense = net[np.isclose(net["density"], 1.0)]
            if dense.empty:
                raise invalid_parameter(
                    "table", "fit_pruning", "a frame with each network's dense point "
                    "(density 1, its eps_np)", f"width {width:g} without one")
            if len(net) < MIN_DENSITIES:
                raise invalid_parameter(
                    "table", "fit_pruning", f"a frame with >= {MIN_DENSITIES} densities per "
                    "network (train with prune_rounds >= 3)", f"width {width:g} with {len(net)}")
            eps_np[width] = float(dense["error"].iloc[0])
            seeds = raw[(raw["width"] == width) & np.isclose(raw["density"], 1.0)]["error"]
            eps_np_iv[width] = _t_interval(seeds.to_numpy(dtype=float), float(level))
            d = net["density"].to_numpy(dtype=float)
            y = net["error"].to_numpy(dtype=float)
            fit = _quiet_fit(Pruning(), d, y, loss=loss, fixed={"eps_np": eps_np[width]})
            singles.append(PruningFit(
                kind="single", shard_size=shard, widths=(width,),
                eps_np={width: eps_np[width]},
                eps_np_intervals={width: eps_np_iv[width]}, fit=fit,
                band=fit.predict(d, level=level), width=np.full(len(d), width),
                density=d, observed=y, level=float(level)))
        if len(eps_np) < 2:
            continue
        w = shard_points["width"].to_numpy(dtype=float)
        d = shard_points["density"].to_numpy(dtype=float)
        y = shard_points["error"].to_numpy(dtype=float)
        x = np.column_stack([w, d, [eps_np[float(v)] for v in w]])
        law = PruningJoint(w_ref=float(np.exp(np.mean(np.log(sorted(eps_np))))))
        fit = _quiet_fit(law, x, y, loss=loss)
        joints.append(PruningFit(
            kind="joint", shard_size=shard, widths=tuple(sorted(eps_np)), eps_np=eps_np,
            eps_np_intervals=eps_np_iv, fit=fit, band=fit.predict(x, level=level), width=w,
            density=d, observed=y, level=float(level)))
    return PruningAnalysis(study=study, level=float(level), table=points,
                           single=tuple(singles), joint=tuple(joints))
