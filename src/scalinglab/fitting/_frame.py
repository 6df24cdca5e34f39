"""Fitting a table of results: one fit per group of rows, as users' CSVs come.

The path a user with results from elsewhere takes: a pandas DataFrame (or a CSV read into
one), column names for x, y and the groups, and a law. Each group is fitted on its own;
a group that cannot be fitted is recorded with its reason and the others go on
(scikit-learn's habit: single failures are tolerated and counted, total failure raises).
"""

from __future__ import annotations

import difflib
import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalinglab._errors import ConvergenceWarning, InputError
from scalinglab._json import jsonable as _jsonable
from scalinglab.fitting._fit import CURVE_METHODS, fit_law
from scalinglab.fitting._parallel import map_chunks, worker_count
from scalinglab.fitting._prediction import Prediction
from scalinglab.fitting._result import BootstrapResult, FitResult
from scalinglab.laws import get_law

__all__ = ["FrameFit", "GroupFit", "check_columns", "fit_frame", "numeric_column", "prediction_table"]


@dataclass(frozen=True)
class GroupFit:
    """The fit of one group of rows (or the reason it has none)."""

    key: dict[str, Any]
    fit: FitResult | None
    bootstrap: BootstrapResult | None = None
    error: str | None = None

    def predict(self, x: np.ndarray, level: float) -> Prediction:
        """Prediction with a band: bootstrap percentiles if resampled, else delta method."""
        assert self.fit is not None
        if self.bootstrap is not None:
            return self.bootstrap.predict(x, level)
        return self.fit.predict(x, level)

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """The documented JSON object of one group (docs/fitting.md, "JSON format")."""
        out: dict[str, Any] = {"group": _jsonable(self.key)}
        if self.fit is None:
            out["error"] = self.error
            return out
        out.update(self.fit.to_dict(level))
        if self.bootstrap is not None:
            out["bootstrap"] = self.bootstrap.to_dict(level)
            out["intervals"] = _jsonable({k: list(v) for k, v in self.bootstrap.intervals(level).items()})
            out["interval_method"] = "bootstrap_percentile"
        else:
            out["interval_method"] = "delta"
        return out


@dataclass(frozen=True)
class FrameFit:
    """Fits of every group of a table."""

    groups: tuple[GroupFit, ...]
    group_columns: tuple[str, ...]
    x_columns: tuple[str, ...]
    y_column: str

    @property
    def fitted(self) -> list[GroupFit]:
        return [g for g in self.groups if g.fit is not None]

    @property
    def failed(self) -> list[GroupFit]:
        return [g for g in self.groups if g.fit is None]

    def lookup(self, key: dict[str, Any]) -> GroupFit | None:
        for g in self.groups:
            if all(_same(g.key[c], key[c]) for c in self.group_columns):
                return g
        return None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int | np.number) and isinstance(b, float | int | np.number):
        return bool(np.isclose(float(a), float(b)))
    return bool(str(a) == str(b))


def check_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """Raise :class:`InputError` naming a missing column and the nearest existing one."""
    for col in columns:
        if col not in frame.columns:
            close = difflib.get_close_matches(col, [str(c) for c in frame.columns], n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"The column {col!r} is not in {source}; its columns are "
                f"{', '.join(map(str, frame.columns))}.{hint}"
            )


def numeric_column(
    frame: pd.DataFrame, col: str, source: str, positive: bool = True, allow_empty: bool = False
) -> np.ndarray:
    """A column as floats, or an :class:`InputError` that names the first bad row.

    With ``allow_empty``, empty cells (and NaN) come back as NaN instead of an error.
    """
    values = pd.to_numeric(frame[col], errors="coerce")
    bad = values.isna() & frame[col].notna()
    if bad.any():
        row = bad.idxmax()
        raise InputError(
            f"The column {col!r} of {source} must be numeric. Got {frame.at[row, col]!r} in "
            f"row {_row_number(frame, row)} instead; fix or drop that row."
        )
    arr = values.to_numpy(dtype=float)
    non_finite = ~np.isfinite(arr)
    if allow_empty:
        non_finite &= ~np.isnan(arr)
    if non_finite.any():
        row = frame.index[int(np.argmax(non_finite))]
        raise InputError(
            f"The column {col!r} of {source} must be finite. Got {frame.at[row, col]!r} in row "
            f"{_row_number(frame, row)} instead (NaN, empty or inf); fix or drop that row."
        )
    if positive and np.any(arr <= 0):  # NaN compares False: empty cells pass
        row = frame.index[int(np.argmax(arr <= 0))]
        raise InputError(
            f"The column {col!r} of {source} must be > 0 (scaling laws are fitted on log axes). "
            f"Got {arr[frame.index.get_loc(row)]!r} in row {_row_number(frame, row)} instead; "
            "fix or drop that row."
        )
    return arr


def _row_number(frame: pd.DataFrame, label: Any) -> int:
    """1-based data row number, as a user counts rows of a CSV under its header."""
    position = frame.index.get_loc(label)
    return (int(position) if isinstance(position, int | np.integer) else 0) + 1


def fit_frame(
    frame: pd.DataFrame,
    x: str | Sequence[str],
    y: str,
    *,
    groups: Sequence[str] = (),
    law: str = "auto",
    eps0: float | None = None,
    eps0_column: str | None = None,
    loss: str = "log",
    n_bootstrap: int = 0,
    seed: int = 0,
    source: str = "the data",
    n_jobs: int = 1,
    **fit_kwargs: Any,
) -> FrameFit:
    """Fit ``law`` to each group of rows of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
    x : str or sequence of str
        Input column(s): one for 1-input laws, two for ``joint``, ``chinchilla``, ``kaplan``
        (in the law's input order).
    y : str
        The error or loss column.
    groups : sequence of str
        Columns whose distinct values define separate curves.
    law : str
        A law name or ``"auto"``.
    eps0, eps0_column : float or str, optional
        The random-guess error, as a value or as a column constant within each group. A
        group whose ``eps0_column`` cells are all empty has no known ``eps0`` (as if none
        were given: e.g. a language model's loss beside error rates in one table); a group
        with some cells empty and some not is reported as not fitted.
    loss : str
        ``"log"``, ``"huber"`` or ``"relative"``.
    n_bootstrap : int
        If > 0, resample each fit this many times for percentile intervals.
    seed : int
        Seed of the bootstrap.
    source : str
        How to name the data in error messages (e.g. the file name).
    n_jobs : int
        Processes that fit groups in parallel (scikit-learn's convention: ``-1`` uses every
        core). The fits do not depend on it: each group is fitted, and resampled with
        ``seed``, exactly as in one process.

    Returns
    -------
    FrameFit
        One :class:`GroupFit` per group; each fit says whether it converged (its
        ``converged`` and ``message``), so no :class:`ConvergenceWarning` is raised per group.

    Raises
    ------
    InputError
        For a problem with the table itself, or when no group could be fitted.
    """
    x_cols = (x,) if isinstance(x, str) else tuple(x)
    group_cols = tuple(groups)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise InputError(
            f"The 'n_jobs' parameter of fit_frame must be a positive integer or -1 (every core). "
            f"Got {n_jobs!r} instead."
        )
    if eps0 is not None and eps0_column is not None:
        raise InputError("Give eps0 as a value or as a column, not both.")
    if len(frame) == 0:
        raise InputError(f"{source} has no rows; give a file with a header and data rows.")
    check_columns(frame, [*x_cols, y, *group_cols, *([eps0_column] if eps0_column else [])], source)
    if law not in CURVE_METHODS:
        law_obj = get_law(law)
        if law_obj.n_inputs != len(x_cols):
            raise InputError(
                f"The law {law!r} takes {law_obj.n_inputs} input column(s) "
                f"({', '.join(law_obj.inputs)}); give the 'x' parameter {law_obj.n_inputs} column name(s). "
                f"Got {len(x_cols)} ({', '.join(x_cols)}) instead."
            )
    elif len(x_cols) != 1:
        raise InputError(
            f"law={law!r} reads a 1-input learning curve; give one x column or name a 2-input law "
            "(joint, chinchilla, kaplan)."
        )
    xs = np.column_stack([numeric_column(frame, c, source) for c in x_cols])
    ys = numeric_column(frame, y, source)
    eps0s = numeric_column(frame, eps0_column, source, allow_empty=True) if eps0_column else None

    keys: list[tuple[Any, ...]]
    if group_cols:
        grouped = frame.groupby(list(group_cols), sort=True, dropna=False).indices
        keys = [k if isinstance(k, tuple) else (k,) for k in grouped]
        grouped = {k if isinstance(k, tuple) else (k,): v for k, v in grouped.items()}
        index_sets = [grouped[k] for k in keys]
    else:
        keys, index_sets = [()], [np.arange(len(frame))]

    jobs: list[_GroupJob] = []
    for key, idx in zip(keys, index_sets, strict=True):
        key_tuple = key if isinstance(key, tuple) else (key,)
        key_dict = dict(zip(group_cols, key_tuple, strict=True))
        group_eps0 = eps0
        error = None
        if eps0s is not None:
            empty = np.isnan(eps0s[idx])
            values = np.unique(eps0s[idx][~empty])
            if len(values) > 1 or (len(values) == 1 and empty.any()):
                shown = values.tolist() + (["empty"] if empty.any() else [])
                error = (
                    f"The column {eps0_column!r} must be constant within each group "
                    f"(every cell empty where eps0 is not known). Got {shown} instead."
                )
            group_eps0 = float(values[0]) if len(values) else None
        x_group = xs[idx, 0] if len(x_cols) == 1 else xs[idx]
        jobs.append(_GroupJob(key_dict, x_group, ys[idx], group_eps0, error))
    results = _run_jobs(jobs, _FitSettings(law, loss, n_bootstrap, seed, fit_kwargs), n_jobs)
    out = FrameFit(tuple(results), group_cols, x_cols, y)
    if not out.fitted:
        errors = sorted({g.error or "" for g in out.failed})
        what = "the data" if not group_cols else f"any of the {len(results)} groups"
        raise InputError(f"Could not fit {what}: {' | '.join(errors)}")
    return out


@dataclass(frozen=True)
class _GroupJob:
    """One group's data, ready to fit (or the reason it cannot be)."""

    key: dict[str, Any]
    x: np.ndarray
    y: np.ndarray
    eps0: float | None
    error: str | None = None


@dataclass(frozen=True)
class _FitSettings:
    law: str
    loss: str
    n_bootstrap: int
    seed: int
    fit_kwargs: dict[str, Any]


def _fit_group(job: _GroupJob, settings: _FitSettings) -> GroupFit:
    if job.error is not None:
        return GroupFit(job.key, None, None, job.error)
    try:
        with warnings.catch_warnings():
            # The group's fit records it (converged, message); a warning would not say which group.
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = fit_law(
                settings.law, job.x, job.y, loss=settings.loss, eps0=job.eps0, **settings.fit_kwargs
            )
        boot = fit.bootstrap(settings.n_bootstrap, seed=settings.seed) if settings.n_bootstrap > 0 else None
    except InputError as exc:
        return GroupFit(job.key, None, None, str(exc))
    return GroupFit(job.key, fit, boot)


def _fit_chunk(jobs: Sequence[_GroupJob], settings: _FitSettings) -> list[GroupFit]:
    return [_fit_group(job, settings) for job in jobs]


def _run_jobs(jobs: list[_GroupJob], settings: _FitSettings, n_jobs: int) -> list[GroupFit]:
    """Fit every job, in this process or in ``n_jobs`` worker processes."""
    # A few chunks per worker: groups differ in cost (curve length, law), so they balance.
    return map_chunks(
        functools.partial(_fit_chunk, settings=settings), jobs, worker_count(n_jobs, len(jobs)), chunks_per_worker=4
    )


def prediction_table(
    fits: FrameFit, frame: pd.DataFrame, level: float = 0.9, source: str = "the prediction file"
) -> pd.DataFrame:
    """``frame`` with ``pred``, ``pred_lower`` and ``pred_upper`` appended, one per row.

    Rows whose group has no fit get NaN in those columns.
    """
    check_columns(frame, [*fits.x_columns, *fits.group_columns], source)
    xs = np.column_stack([numeric_column(frame, c, source) for c in fits.x_columns])
    out = frame.copy()
    pred = np.full(len(frame), math.nan)
    lower, upper = pred.copy(), pred.copy()
    if fits.group_columns:
        grouped = frame.groupby(list(fits.group_columns), sort=False, dropna=False).indices
        items: list[tuple[Any, Any]] = list(grouped.items())
    else:
        items = [((), np.arange(len(frame)))]
    for key, idx in items:
        key_tuple = key if isinstance(key, tuple) else (key,)
        group = fits.lookup(dict(zip(fits.group_columns, key_tuple, strict=True)))
        if group is None or group.fit is None:
            continue
        x_group = xs[idx, 0] if len(fits.x_columns) == 1 else xs[idx]
        p = group.predict(x_group, level)
        pred[idx], lower[idx], upper[idx] = p.value, p.lower, p.upper
    out["pred"], out["pred_lower"], out["pred_upper"] = pred, lower, upper
    return out
