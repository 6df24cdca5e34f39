"""scalinglab: design, run, fit and extrapolate deep-learning scaling studies.

The fitting engine works on plain arrays with numpy and scipy alone::

    from scalinglab import fit_law
    fit = fit_law("power_floor", shard_sizes, val_errors)
    fit.predict([1e6], level=0.9)      # value with a 90% band
    fit.inverse([0.05])                # data needed for 5% error, with a band

Study running, storage, workloads and reports live in subpackages and pull in their
optional dependencies only when used. The names below are imported on first use, so that
``import scalinglab`` (in every worker process) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from scalinglab._errors import ConvergenceWarning, InputError, MissingExtraError, ScalingLabError

if TYPE_CHECKING:
    from scalinglab.fitting import FitResult, bootstrap, compute_optimal, fit_law
    from scalinglab.laws import get_law



def _version() -> str:
    # importlib.metadata costs more to import than the whole command line: only on demand.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scalinglab")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"

_LAZY = {
    "FitResult": "scalinglab.fitting",
    "bootstrap": "scalinglab.fitting",
    "compute_optimal": "scalinglab.fitting",
    "fit_law": "scalinglab.fitting",
    "get_law": "scalinglab.laws",
}

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


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scalinglab' has no attribute {name!r}")
