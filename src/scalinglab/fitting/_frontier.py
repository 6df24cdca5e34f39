"""Compute-optimal allocation of a budget between model size and data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab._json import jsonable as _jsonable
from scalinglab.fitting._result import FitResult, _check_level, _readonly
from scalinglab.laws import Chinchilla, FloatArray, Joint

__all__ = ["ComputeOptimal", "compute_optimal"]


@dataclass(frozen=True)
class ComputeOptimal:
    """Compute-optimal model and data sizes for budgets, with bands.

    For ``chinchilla`` the budget is training FLOPs with C = 6 N D (Hoffmann et al. 2022,
    eq. 4); for ``joint`` it is the product m * n (Rosenfeld et al. 2020, section 7).
    """

    compute: FloatArray
    model_size: FloatArray
    model_size_lower: FloatArray
    model_size_upper: FloatArray
    data_size: FloatArray
    data_size_lower: FloatArray
    data_size_upper: FloatArray
    predicted_error: FloatArray
    level: float
    law: str

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(self.__dict__)


def compute_optimal(fit: FitResult, compute: ArrayLike, level: float = 0.9) -> ComputeOptimal:
    """Model and data sizes that minimise the fitted law for a compute budget.

    Parameters
    ----------
    fit : FitResult
        A fit of ``chinchilla`` or ``joint``.
    compute : array-like
        Budgets: FLOPs (chinchilla, C = 6 N D) or m * n (joint).
    level : float
        Level of the bands, from parameter draws of the fit's covariance.
    """
    level = _check_level(level)
    law = fit.law
    if not isinstance(law, Chinchilla | Joint):
        raise InputError(
            "The 'fit' parameter of compute_optimal must be a fit of 'chinchilla' or 'joint'. "
            f"Got a fit of {law.name!r} instead."
        )
    budget = np.atleast_1d(np.asarray(compute, dtype=float))

    def sizes(values: FloatArray) -> tuple[FloatArray, FloatArray]:
        # Both laws return (model size, data size).
        return law.compute_optimal(budget, values)

    model, data = sizes(fit.values)
    draws = fit._parameter_draws(np.random.default_rng(0), 2000)
    model_draws, data_draws = zip(*(sizes(v) for v in draws), strict=True)
    q_lo, q_hi = 0.5 - level / 2, 0.5 + level / 2
    # The inputs' order: (N, D) for chinchilla, (n, m) for joint.
    inputs = [model, data] if isinstance(law, Chinchilla) else [data, model]
    error = law.predict(np.column_stack(inputs), fit.values)
    return ComputeOptimal(
        compute=_readonly(budget),
        model_size=_readonly(model),
        model_size_lower=_readonly(np.nanquantile(model_draws, q_lo, axis=0)),
        model_size_upper=_readonly(np.nanquantile(model_draws, q_hi, axis=0)),
        data_size=_readonly(data),
        data_size_lower=_readonly(np.nanquantile(data_draws, q_lo, axis=0)),
        data_size_upper=_readonly(np.nanquantile(data_draws, q_hi, axis=0)),
        predicted_error=_readonly(error),
        level=level,
        law=law.name,
    )
