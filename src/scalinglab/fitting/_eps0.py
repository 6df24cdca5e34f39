"""The one rule for ``eps0``, the random-guess error (the bound a loss starts from).

Used by :func:`scalinglab.fitting.fit_law` (every law that takes ``eps0``), by
``law="auto"`` (which applies the same rule inside its ensemble) and by
:func:`scalinglab.analysis.analyze`:

1. a given ``eps0`` is used as it is (a study's task states it: top-1 error with K classes
   is ``1 - 1/K``; cross-entropy with K symbols is ``ln K``);
2. otherwise the loss is only known to start no lower than the highest value seen, and
   ``eps0 = 2 max(y)`` is assumed (:data:`UNKNOWN_BOUND_FACTOR`); the result says so.

There is no third case: no "1.0 if every error is below 1", no skipping of the laws that
need it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError

__all__ = ["UNKNOWN_BOUND_FACTOR", "Eps0", "resolve_eps0"]

#: Bound assumed when none is given: this multiple of the largest error seen.
UNKNOWN_BOUND_FACTOR = 2.0


@dataclass(frozen=True)
class Eps0:
    """A resolved ``eps0``: its value, whether it was assumed, and the words for it."""

    value: float
    assumed: bool

    #: The words of :meth:`contradiction`'s note that say the data pass the bound.
    CONTRADICTED: ClassVar[str] = "is not above the largest y"

    def contradiction(self, y_max: float, consequence: str) -> str | None:
        """The note of a fit whose given ``eps0`` is not above its largest error, else ``None``.

        A random-guess error is a bound of the metric: points at or above it mean the value
        given is not that bound. ``consequence`` says what the fit did about it.
        """
        if self.assumed or self.value > y_max:
            return None
        return (
            f"eps0 {self.value:.4g} {self.CONTRADICTED} ({y_max:.4g}): {consequence}; give the "
            "metric's random-guess value (e.g. 1 - 1/K for top-1 error with K classes, ln K for a "
            "cross-entropy) or leave eps0 out"
        )

    @property
    def note(self) -> str | None:
        """The sentence an output carries when the value was assumed, else ``None``."""
        if not self.assumed:
            return None
        return (
            f"eps0 (the random-guess error) is not known: assumed {self.value:.4g} = "
            f"{UNKNOWN_BOUND_FACTOR:g} x the largest error seen; give eps0 (the fit's eps0 "
            "parameter, the CLI's eps0 option or the spec's task) if the metric has a known bound"
        )


def resolve_eps0(eps0: float | None, y: ArrayLike) -> Eps0:
    """Apply the eps0 rule (module docstring) to a given value and the observed errors.

    Parameters
    ----------
    eps0 : float or None
        The known random-guess error, if any.
    y : array-like
        The observed errors or losses (used only when ``eps0`` is None).

    Raises
    ------
    InputError
        If ``eps0`` is given but not a finite number > 0, or is not given and ``y`` holds
        no finite positive value.
    """
    if eps0 is not None:
        value = float(eps0)
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"The 'eps0' parameter must be a finite number > 0. Got {eps0!r} instead.")
        return Eps0(value, assumed=False)
    arr = np.asarray(y, dtype=float).ravel()
    arr = arr[np.isfinite(arr) & (arr > 0)]
    if arr.size == 0:
        raise InputError(
            "eps0 cannot be assumed without a finite error > 0; give the 'eps0' parameter."
        )
    return Eps0(UNKNOWN_BOUND_FACTOR * float(np.max(arr)), assumed=True)
