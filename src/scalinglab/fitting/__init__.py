"""Fitting scaling laws with uncertainty: ``fit_law`` and what it returns.

Works on plain arrays (numpy and scipy only), so results from anywhere can be fitted::

    >>> import numpy as np
    >>> from scalinglab.fitting import fit_law
    >>> x = np.logspace(3, 6, 8)
    >>> y = 5.0 * x ** -0.3 + 0.02
    >>> fit = fit_law("power_floor", x, y)
    >>> fit.converged, round(fit.params["b"], 3)
    (True, 0.3)

The modules, each importing only those listed before it (``tests/test_import_graph.py``
fails on any import circle):

* cost: ``_losses`` (residuals of each loss), ``_problem`` (a law, data and a loss in
  fitted units, and its scipy solve), ``_numdiff``;
* solvers: ``_problem.Problem.solve`` for one law, ``_batched_lm`` (the batched
  Levenberg-Marquardt fit of the forms that ``law="auto"`` combines, on the laws' own
  maths);
* results: ``_prediction`` (:class:`Prediction`, :class:`Inversion`), ``_ensemble``
  (the ensemble law and the typed record of its members), ``_bootstrap`` (the refits of a
  resample, by type of law), ``_result`` (:class:`FitResult`, its one builder,
  :class:`BootstrapResult` and :func:`bootstrap`);
* methods: ``_data`` and ``_eps0`` (checks and the eps0 rule), ``_single`` (one named law),
  ``_rolling_origin`` (the one rolling-origin scorer and the fallback selector),
  ``_ensemble_fit`` (``law="auto"``), ``_fit`` (:func:`fit_law`, which dispatches between
  them), ``_frontier``, ``_frame``.
"""

from __future__ import annotations

from scalinglab.fitting._data import validate_data
from scalinglab.fitting._ensemble import Band, Ensemble
from scalinglab.fitting._ensemble_fit import fit_auto
from scalinglab.fitting._eps0 import Eps0, resolve_eps0
from scalinglab.fitting._fit import CURVE_METHODS, fit_law
from scalinglab.fitting._frame import FrameFit, GroupFit, fit_frame, prediction_table
from scalinglab.fitting._frontier import ComputeOptimal, compute_optimal
from scalinglab.fitting._losses import LOSSES
from scalinglab.fitting._prediction import Inversion, Prediction
from scalinglab.fitting._result import BootstrapResult, FitResult, bootstrap
from scalinglab.fitting._rolling_origin import AUTO_CANDIDATES

__all__ = [
    "AUTO_CANDIDATES",
    "CURVE_METHODS",
    "LOSSES",
    "Band",
    "BootstrapResult",
    "ComputeOptimal",
    "Ensemble",
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
