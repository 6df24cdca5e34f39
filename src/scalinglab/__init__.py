"""scalinglab: design, run, fit and extrapolate deep-learning scaling studies.

The fitting engine works on plain arrays with numpy and scipy alone::

    from scalinglab import fit_law
    fit = fit_law("power_floor", shard_sizes, val_errors)
    fit.predict([1e6], level=0.9)      # value with a 90% band
    fit.inverse([0.05])                # data needed for 5% error, with a band

Study running, storage, workloads and reports live in subpackages and pull in their
optional dependencies only when used.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from scalinglab._errors import ConvergenceWarning, InputError, MissingExtraError, ScalingLabError
from scalinglab.fitting import FitResult, bootstrap, compute_optimal, fit_law
from scalinglab.laws import get_law

try:
    __version__ = version("scalinglab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ConvergenceWarning",
    "FitResult",
    "InputError",
    "MissingExtraError",
    "ScalingLabError",
    "__version__",
    "bootstrap",
    "compute_optimal",
    "fit_law",
    "get_law",
]
