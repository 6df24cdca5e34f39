"""Case-resampling bootstrap of a fit: percentile intervals for parameters and predictions.

Each resample is refitted from the original optimum (a warm start: one optimiser run,
not a new multi-start search), which is what makes thousands of refits affordable.
With ``n_jobs > 1`` the refits are split across processes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab.fitting._parallel import map_chunks, worker_count
from scalinglab.fitting._problem import Problem
from scalinglab.fitting._result import FitResult, Prediction, _check_level, _jsonable, _readonly
from scalinglab.laws._base import FloatArray

__all__ = ["BootstrapResult", "bootstrap"]


@dataclass(frozen=True)
class BootstrapResult:
    """Parameters refitted on resampled data.

    Attributes
    ----------
    fit : FitResult
        The fit on the full data.
    samples : array, shape (n_ok, n_params)
        Refitted parameters, natural units; failed refits are dropped.
    n_requested : int
    n_failed : int
        Resamples whose refit raised or did not converge.
    """

    fit: FitResult
    samples: FloatArray
    n_requested: int
    n_failed: int

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard deviation of each parameter over the resamples."""
        sd = np.std(self.samples, axis=0, ddof=1)
        return dict(zip(self.fit.param_names, map(float, sd), strict=True))

    def intervals(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile intervals of the parameters."""
        level = _check_level(level)
        lo = np.quantile(self.samples, 0.5 - level / 2, axis=0)
        hi = np.quantile(self.samples, 0.5 + level / 2, axis=0)
        return {
            n: (float(a), float(b)) for n, a, b in zip(self.fit.param_names, lo, hi, strict=True)
        }

    def predict(self, x: ArrayLike, level: float = 0.9) -> Prediction:
        """Percentile band of the law over the resampled parameters (a confidence band)."""
        level = _check_level(level)
        law = self.fit.law
        x_arr = law.check_x(x)
        curves = np.array([law.predict(x_arr, p) for p in self.samples])
        return Prediction(
            x=_readonly(x_arr),
            value=_readonly(law.predict(x_arr, self.fit.values)),
            lower=_readonly(np.nanquantile(curves, 0.5 - level / 2, axis=0)),
            upper=_readonly(np.nanquantile(curves, 0.5 + level / 2, axis=0)),
            level=level,
            method="bootstrap",
            interval="confidence",
        )

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        return _jsonable(
            {
                "n_requested": self.n_requested,
                "n_failed": self.n_failed,
                "stderr": self.standard_errors,
                "intervals": {k: list(v) for k, v in self.intervals(level).items()},
                "interval_level": level,
            }
        )


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


def bootstrap(fit: FitResult, n: int = 1000, seed: int = 0, n_jobs: int = 1) -> BootstrapResult:
    """Refit ``fit`` on ``n`` case resamples of its data.

    Parameters
    ----------
    fit : FitResult
    n : int
        Number of resamples.
    seed : int
        Seed of the resampling; results are repeatable for a given seed and ``n``.
    n_jobs : int
        Processes to use; ``-1`` for one per core. Worth it above ~500 refits.

    Returns
    -------
    BootstrapResult
    """
    if not (isinstance(n, int) and n >= 2):
        raise InputError(f"The 'n' parameter of bootstrap must be an int >= 2. Got {n!r} instead.")
    problem = Problem(
        fit.law, np.asarray(fit.x), np.asarray(fit.y), fit.loss, fit.huber_delta, fit.fixed or None
    )
    rng = np.random.default_rng(seed)
    n_points = fit.n_points
    index_sets = [rng.integers(0, n_points, n_points) for _ in range(n)]
    theta = np.asarray(fit.theta)
    # Below ~50 refits, starting processes costs more than it saves.
    workers = worker_count(n_jobs, n) if n >= 50 else 1
    results = map_chunks(functools.partial(_refit_chunk, problem, theta), index_sets, workers)
    ok = [r for r in results if r is not None]
    if not ok:
        raise InputError("Every bootstrap refit failed; the fit itself is probably not usable.")
    return BootstrapResult(
        fit=fit, samples=_readonly(np.array(ok)), n_requested=n, n_failed=n - len(ok)
    )
