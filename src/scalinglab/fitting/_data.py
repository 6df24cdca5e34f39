"""Checking data before a fit: shapes, finiteness, positivity, enough distinct inputs."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab.laws import FloatArray, Law

__all__ = ["validate_data"]

# Data a curve can be fitted to: this many distinct inputs (a line through fewer says nothing of
# the shape) and magnitudes whose squares stay finite in double precision.
_MIN_DISTINCT_X = 3
_MAX_VALUE = 1e150


def validate_data(law: Law, x: ArrayLike, y: ArrayLike, where: str = "fit_law") -> tuple[FloatArray, FloatArray]:
    """Check and convert data for ``law``: shapes, finiteness, positivity.

    Raises
    ------
    InputError
        Naming the problem and the fix.
    """
    try:
        x_arr = np.asarray(x, dtype=float)
        y_arr = np.asarray(y, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"The 'x' and 'y' parameters of {where} must be numeric arrays ({exc}).") from exc
    if law.n_inputs == 1 and x_arr.ndim == 2 and x_arr.shape[1] != 1:
        raise InputError(
            f"The 'x' parameter of {where} must have one column for law {law.name!r}. "
            f"Got {x_arr.shape[1]} columns instead."
        )
    if law.n_inputs > 1 and (x_arr.ndim != 2 or x_arr.shape[1] != law.n_inputs):
        got = 1 if x_arr.ndim == 1 else x_arr.shape[-1]
        raise InputError(
            f"The 'x' parameter of {where} must have {law.n_inputs} columns "
            f"({', '.join(law.inputs)}) for law {law.name!r}. Got {got} instead."
        )
    x_arr = law.check_x(x_arr)
    if len(x_arr) != len(y_arr):
        raise InputError(
            f"The 'x' and 'y' parameters of {where} must have the same length. "
            f"Got {len(x_arr)} and {len(y_arr)} instead."
        )
    for name, arr in (("x", x_arr), ("y", y_arr)):
        if not np.all(np.isfinite(arr)):
            raise InputError(
                f"The {name!r} parameter of {where} must be finite. Got NaN or inf instead; "
                "drop or fix those rows."
            )
        if np.any(arr <= 0):
            raise InputError(
                f"The {name!r} parameter of {where} must be > 0 (scaling laws are fitted on log "
                f"axes). Got {float(np.min(arr))!r} instead; drop or fix those rows."
            )
        if float(np.max(arr)) > _MAX_VALUE or float(np.min(arr)) < 1 / _MAX_VALUE:
            bad = float(np.max(arr)) if float(np.max(arr)) > _MAX_VALUE else float(np.min(arr))
            raise InputError(
                f"The {name!r} parameter of {where} must be in [{1 / _MAX_VALUE:g}, {_MAX_VALUE:g}] (the "
                f"laws square and exponentiate it, which over- or underflows). Got {bad!r} instead; "
                "rescale the column (e.g. multiply or divide it by a power of 10)."
            )
    rows = x_arr.reshape(len(x_arr), -1)
    distinct = len(np.unique(rows, axis=0))
    # (Fewer points than the law has parameters gets its own message in fit_law.)
    if distinct < _MIN_DISTINCT_X and len(y_arr) >= law.n_params:
        raise InputError(
            f"The 'x' parameter of {where} must have at least {_MIN_DISTINCT_X} distinct values to fit "
            f"a curve. Got {distinct} distinct value(s) in {len(y_arr)} rows instead; add runs at other "
            "sizes (or group the rows by the column that tells the curves apart)."
        )
    eps0 = law.constants.get("eps0")
    # Measured errors at tiny shards scatter around the random-guess error, some above it;
    # but an eps0 at or below every point cannot be the random-guess error of these data.
    if eps0 is not None and len(y_arr) and float(np.min(y_arr)) >= float(eps0):
        raise InputError(
            f"The 'eps0' parameter of {where} must be above the data (it is the random-guess error, "
            f"the worst the {law.name} law allows). Got eps0={float(eps0):g} with y from "
            f"{float(np.min(y_arr)):g} to {float(np.max(y_arr)):g} instead; give the metric's real "
            "random-guess error or drop the rows above it."
        )
    return x_arr, y_arr
