"""Residuals of the three fitting losses.

- ``log``: least squares of ``ln y_hat - ln y`` (the default; errors are compared on
  log-log axes, where learning curves are straight).
- ``huber``: the same residuals under a Huber loss, Hoffmann et al. 2022's choice
  (delta = 1e-3), robust to a few outlying runs.
- ``relative``: least squares of the relative divergence ``(y_hat - y) / y``, Rosenfeld
  et al. 2020's choice.
"""

from __future__ import annotations

import numpy as np

from scalinglab._errors import InputError
from scalinglab.laws import FloatArray

__all__ = ["LOSSES", "check_loss", "residuals"]

LOSSES: tuple[str, ...] = ("log", "huber", "relative")

# Residual given to the optimiser where a law evaluates to a non-positive or non-finite
# value: large enough to push it away, finite so that least squares stays defined.
_INVALID_RESIDUAL = 30.0


def check_loss(loss: str) -> str:
    """Return ``loss`` if it names a known loss, else raise :class:`InputError`."""
    if loss not in LOSSES:
        raise InputError(
            f"The 'loss' parameter must be one of {', '.join(LOSSES)}. Got {loss!r} instead."
        )
    return loss


def residuals(loss: str, prediction: FloatArray, y: FloatArray) -> FloatArray:
    """The residual vector whose (robust) sum of squares the fit minimises."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = prediction / y - 1.0 if loss == "relative" else np.log(prediction) - np.log(y)
    bad = ~np.isfinite(r) | ~(prediction > 0)
    if np.any(bad):
        r = np.where(bad, _INVALID_RESIDUAL, r)
    return np.asarray(r, dtype=float)
