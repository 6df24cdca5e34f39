"""Central differences in fitted (theta) units, shared by the covariance and the bands."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scalinglab.laws import FloatArray

__all__ = ["central_jacobian"]


def central_jacobian(
    f: Callable[[FloatArray], FloatArray], theta: FloatArray, columns: np.ndarray, rel_step: float
) -> FloatArray:
    """``d f / d theta_j`` for ``j`` in ``columns``, by central differences.

    The step of parameter j is ``rel_step * max(1, |theta_j|)``; the result has one
    column per entry of ``columns``.
    """
    out = []
    for j in columns:
        step = rel_step * max(1.0, abs(float(theta[j])))
        hi, lo = theta.copy(), theta.copy()
        hi[j] += step
        lo[j] -= step
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append((f(hi) - f(lo)) / (2 * step))
    if not out:
        return np.zeros((0, 0))
    return np.column_stack(out)
