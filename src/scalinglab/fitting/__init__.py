"""Fitting scaling laws with uncertainty: ``fit_law`` and what it returns.

Works on plain arrays (numpy and scipy only), so results from anywhere can be fitted::

    >>> import numpy as np
    >>> from scalinglab.fitting import fit_law
    >>> x = np.logspace(3, 6, 8)
    >>> y = 5.0 * x ** -0.3 + 0.02
    >>> fit = fit_law("power_floor", x, y)
    >>> fit.converged, round(fit.params["b"], 3)
    (True, 0.3)
"""

from __future__ import annotations

from scalinglab.fitting._bootstrap import BootstrapResult, bootstrap
from scalinglab.fitting._eps0 import Eps0, resolve_eps0
from scalinglab.fitting._fit import fit_law, validate_data
from scalinglab.fitting._frame import FrameFit, GroupFit, fit_frame, prediction_table
from scalinglab.fitting._frontier import ComputeOptimal, compute_optimal
from scalinglab.fitting._losses import LOSSES
from scalinglab.fitting._result import FitResult, Inversion, Prediction
from scalinglab.fitting._select import AUTO_CANDIDATES, fit_auto

__all__ = [
    "AUTO_CANDIDATES",
    "LOSSES",
    "BootstrapResult",
    "ComputeOptimal",
    "Eps0",
    "FitResult",
    "FrameFit",
    "GroupFit",
    "Inversion",
    "Prediction",
    "bootstrap",
    "compute_optimal",
    "fit_auto",
    "fit_frame",
    "fit_law",
    "prediction_table",
    "resolve_eps0",
    "validate_data",
]
