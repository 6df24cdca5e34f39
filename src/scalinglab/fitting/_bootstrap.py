"""The refits of a case-resampling bootstrap, by kind of law.

:func:`scalinglab.fitting.bootstrap` (in :mod:`scalinglab.fitting._result`) is the entry
point; :func:`refit_resamples` does the work and chooses its path by the law's type:

* a single law: each resample is refitted from the original optimum (a warm start: one
  optimiser run, not a new multi-start search), which is what makes thousands of refits
  affordable;
* an :class:`~scalinglab.fitting._ensemble.Ensemble` of ``law="auto"``: each resample keeps
  the ensemble's structure (its :class:`~scalinglab.fitting._ensemble.EnsembleRecord`) and
  refits every member, all resamples of a form in one batched fit (a resample is a row of
  integer multiplicities). A long curve (more than ``LONG_CURVE_POINTS`` points), which the
  fit summarised in bins of ``ln x``, has each resample binned the same way and its members
  refitted on those bins: a refit of the kind the fit was, at a cost that does not grow with
  the curve.

With ``n_jobs > 1`` the resamples are split across processes; results do not depend on it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np

from scalinglab._errors import InputError
from scalinglab.fitting._batched_lm import batch_fit
from scalinglab.fitting._binning import LONG_CURVE_BINS, LONG_CURVE_POINTS, bin_curve
from scalinglab.fitting._ensemble import LEARNED_FORM, Ensemble
from scalinglab.fitting._parallel import map_chunks, worker_count
from scalinglab.fitting._problem import Problem
from scalinglab.laws import FloatArray, Law

__all__ = ["refit_resamples"]

#: Below this many refits, starting processes costs more than it saves.
_MIN_PARALLEL = 50


def refit_resamples(
    law: Law,
    x: FloatArray,
    y: FloatArray,
    theta: FloatArray,
    *,
    loss: str,
    huber_delta: float,
    fixed: Mapping[str, float] | None,
    n: int,
    seed: int,
    n_jobs: int = 1,
) -> tuple[FloatArray, int]:
    """Parameters refitted on ``n`` case resamples of ``(x, y)``.

    Parameters
    ----------
    law : Law
        The fitted law (an ensemble of ``law="auto"`` is refitted member by member).
    x, y : arrays
        The fitted data.
    theta : array
        The fit's optimum in fitted units (the warm start of a single law's refits).
    loss, huber_delta, fixed
        As fitted.
    n, seed : int
        Number of resamples and the seed that draws them.
    n_jobs : int
        Processes; ``-1`` for one per core.

    Returns
    -------
    (samples, n_failed)
        Refitted parameters (natural units, failed refits dropped) and the failures.

    Raises
    ------
    InputError
        If every refit failed, or ``law`` is an ensemble without its record.
    """
    rng = np.random.default_rng(seed)
    workers = worker_count(n_jobs, n) if n >= _MIN_PARALLEL else 1
    if isinstance(law, Ensemble):
        if law.record is None:
            raise InputError(
                "The 'fit' parameter of bootstrap must be a fit of law='auto' when its law is an "
                "ensemble (an ensemble assembled by hand has no record of how to refit it)."
            )
        counts = [
            np.bincount(rng.integers(0, len(x), len(x)), minlength=len(x)).astype(float) for _ in range(n)
        ]
        results = map_chunks(functools.partial(_refit_ensemble_chunk, law, x, y), counts, workers)
    else:
        problem = Problem(law, x, y, loss, huber_delta, fixed)
        index_sets = [rng.integers(0, len(y), len(y)) for _ in range(n)]
        results = map_chunks(functools.partial(_refit_chunk, problem, theta), index_sets, workers)
    ok = [r for r in results if r is not None]
    if not ok:
        raise InputError("Every bootstrap refit failed; the fit itself is probably not usable.")
    return np.array(ok), n - len(ok)


def _refit_chunk(problem: Problem, theta: FloatArray, index_sets: Sequence[np.ndarray]) -> list[FloatArray | None]:
    out: list[FloatArray | None] = []
    for idx in index_sets:
        sub = Problem(
            problem.law,
            problem.x[idx],
            problem.y[idx],
            problem.loss,
            problem.huber_delta,
            problem.fixed,
            None if problem.sqrt_weights is None else problem.sqrt_weights[idx],
        )
        try:
            result = sub.solve(theta)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            out.append(None)
            continue
        full = sub.full_theta(result.x, theta)
        ok = result.status > 0 and math.isfinite(sub.cost(full))
        out.append(sub.to_values(full) if ok else None)
    return out


def _refit_ensemble_chunk(
    law: Ensemble, x: FloatArray, y: FloatArray, counts: Sequence[FloatArray]
) -> list[FloatArray | None]:
    """Refit every member of ``law`` on each row of resample multiplicities ``counts``."""
    record = law.record
    assert record is not None  # checked by refit_resamples
    rows = np.array(counts, dtype=float)
    w_user = record.user_weights if record.user_weights is not None else np.ones(len(x))
    if len(x) > LONG_CURVE_POINTS:
        # As the fit did: each resample's points in bins of ln x (one batched fit per resample).
        out: list[FloatArray | None] = []
        for row in rows:
            xb, yb, wb = bin_curve(x, y, row * w_user, LONG_CURVE_BINS)
            out.extend(_refit_members(law, xb, yb, wb[None, :]))
        return out
    return _refit_members(law, x, y, rows * w_user)


def _refit_members(law: Ensemble, x: FloatArray, y: FloatArray, weights: FloatArray) -> list[FloatArray | None]:
    """Every member of ``law`` refitted once per row of point ``weights`` (B, n)."""
    record = law.record
    assert record is not None
    n = len(weights)
    rel = x / np.max(x)
    parts = []
    ok = np.ones(n, dtype=bool)
    for label, _ in law.members:
        member = record.member(label)
        if member.form == LEARNED_FORM:  # no parameters to refit: the network reads the original points
            parts.append(np.zeros((n, 0)))
            continue
        with np.errstate(all="ignore"):
            bf = batch_fit(member.form, x, y, weights * rel**member.recency, record.eps0)
            values = np.array([bf.law_values(i) for i in range(n)])
        ok &= np.isfinite(bf.cost) & np.all(np.isfinite(values), axis=1)
        parts.append(values)
    samples = np.concatenate(parts, axis=1)
    return [samples[i] if ok[i] else None for i in range(n)]
