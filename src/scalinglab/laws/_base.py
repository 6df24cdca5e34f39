"""The contract every scaling law fulfils.

A law is pure maths on plain arrays: it names its parameters, their bounds and whether
they are fitted on a log scale, proposes data-driven starting points, and evaluates
``predict(x, params)``. Where a closed form exists it also gives ``inverse(y, params)``,
the input needed for a target output. Laws know nothing of fitting, studies or I/O.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["FloatArray", "Law", "Param"]

#: The array type of every law and fit: numpy's float64 arrays. Public as
#: ``scalinglab.laws.FloatArray``.
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Param:
    """One parameter of a law.

    Attributes
    ----------
    name : str
        The name used in results and JSON.
    lower, upper : float
        Bounds in natural units (``-inf``/``inf`` for none).
    log : bool
        Fit ``log(value)`` instead of the value: for strictly positive scales and
        constants whose magnitude is unknown (``a`` in ``a x^b``). Bounds must then be > 0.
    description : str
        What the parameter means, for ``scalinglab laws``.
    """

    name: str
    lower: float = -math.inf
    upper: float = math.inf
    log: bool = False
    description: str = ""


class Law(ABC):
    """A functional form y = f(x; params).

    Subclasses set :attr:`name`, :attr:`formula`, :attr:`reference`, :attr:`params` and
    :attr:`inputs`, and implement :meth:`predict` and :meth:`starts`. Constants that are
    known rather than fitted (the random-guess error ``eps0``, the number of breaks of a
    broken power law) are constructor arguments, so a law object is fully specified.
    """

    name: str = ""
    formula: str = ""
    reference: str = ""
    #: Names of the input columns, in order: ("x",) for 1-D laws, e.g. ("N", "D") for 2-D.
    inputs: tuple[str, ...] = ("x",)
    params: tuple[Param, ...] = ()

    # -- description -------------------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the fitted parameters, in order."""
        return tuple(p.name for p in self.params)

    @property
    def n_params(self) -> int:
        return len(self.params)

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def constants(self) -> dict[str, Any]:
        """Known, not fitted, constants of this law instance (e.g. ``eps0``)."""
        return {}

    @property
    def has_inverse(self) -> bool:
        """Whether :meth:`inverse` is available for this law."""
        return self.n_inputs == 1

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description: name, formula, inputs, parameters, reference."""
        return {
            "name": self.name,
            "formula": self.formula,
            "inputs": list(self.inputs),
            "params": [
                {"name": p.name, "lower": p.lower, "upper": p.upper, "description": p.description}
                for p in self.params
            ],
            "constants": self.constants,
            "reference": self.reference,
        }

    def __repr__(self) -> str:
        consts = ", ".join(f"{k}={v!r}" for k, v in self.constants.items())
        return f"{type(self).__name__}({consts})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.constants == other.constants  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.constants.items()))))

    # -- maths -------------------------------------------------------------------------
    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """Lower and upper bounds of the parameters, natural units."""
        return (
            np.array([p.lower for p in self.params], dtype=float),
            np.array([p.upper for p in self.params], dtype=float),
        )

    @abstractmethod
    def predict(self, x: ArrayLike, params: ArrayLike) -> FloatArray:
        """Evaluate the law at ``x`` (shape ``(n,)``, or ``(n, k)`` for a k-input law)."""

    @abstractmethod
    def starts(self, x: FloatArray, y: FloatArray) -> list[FloatArray]:
        """Data-driven starting points for a fit, best guess first (natural units)."""

    def guess(self, x: ArrayLike, y: ArrayLike) -> FloatArray:
        """The single best data-driven initial guess."""
        return self.starts(self.check_x(x), np.asarray(y, dtype=float))[0]

    def floor(self, params: ArrayLike) -> float:
        """The value the law approaches as x grows without bound (``0.0`` if none)."""
        return 0.0

    def inverse(self, y: ArrayLike, params: ArrayLike) -> FloatArray:
        """The input x at which the law reaches ``y``; ``nan`` where it never does.

        The default solves ``predict(x) = y`` numerically on a log-x bracket, assuming the
        law is monotone in x; laws with a closed form override it.
        """
        if self.n_inputs != 1:
            raise NotImplementedError(f"law {self.name!r} has {self.n_inputs} inputs: no inverse")
        return _numeric_inverse(self, np.asarray(y, dtype=float), np.asarray(params, dtype=float))

    # -- helpers -----------------------------------------------------------------------
    def check_x(self, x: ArrayLike) -> FloatArray:
        """``x`` as a float array of the shape this law expects."""
        arr = np.asarray(x, dtype=float)
        if self.n_inputs == 1:
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim > 1:
                raise ValueError(f"law {self.name!r} takes one input; got x of shape {arr.shape}")
        else:
            arr = np.atleast_2d(arr)
            if arr.shape[-1] != self.n_inputs:
                raise ValueError(
                    f"law {self.name!r} takes {self.n_inputs} inputs {self.inputs}; "
                    f"got x of shape {arr.shape}"
                )
        return arr


def _numeric_inverse(law: Law, y: FloatArray, params: FloatArray) -> FloatArray:
    """Solve ``law.predict(x) = y`` for x by bisection in log x, vectorised over y."""
    y_flat = np.atleast_1d(y).astype(float).ravel()
    lo = np.full(y_flat.shape, -60.0)
    hi = np.full(y_flat.shape, 120.0)  # x from e^-60 to e^120: beyond any data set
    f_lo = law.predict(np.exp(lo), params) - y_flat
    f_hi = law.predict(np.exp(hi), params) - y_flat
    reachable = np.sign(f_lo) != np.sign(f_hi)
    decreasing = f_lo > f_hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f_mid = law.predict(np.exp(mid), params) - y_flat
        go_right = np.where(decreasing, f_mid > 0, f_mid < 0)
        lo = np.where(go_right, mid, lo)
        hi = np.where(go_right, hi, mid)
        if np.all(hi - lo < 1e-12):
            break
    out = np.exp(0.5 * (lo + hi))
    out[~reachable] = np.nan
    return out.reshape(np.shape(y)) if np.ndim(y) else out


def as_params(params: ArrayLike, expected: int, name: str) -> FloatArray:
    """``params`` as a float vector of length ``expected``."""
    arr = np.asarray(params, dtype=float).ravel()
    if arr.size != expected:
        raise ValueError(f"law {name!r} has {expected} parameters; got {arr.size}")
    return arr


def log_grid(x: FloatArray, count: int) -> FloatArray:
    """``count`` log-spaced values across the range of positive ``x``."""
    lo, hi = np.log(np.min(x)), np.log(np.max(x))
    return np.exp(np.linspace(lo, hi, count))


def linear_fit(features: Sequence[FloatArray], target: FloatArray) -> FloatArray:
    """Least-squares coefficients of ``target ~ sum(coef_i * features_i)``."""
    design = np.column_stack(features)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return np.asarray(coef, dtype=float)
