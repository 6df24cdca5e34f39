"""Scaling laws: functional forms with parameters, bounds, guesses and inverses.

Pure maths on plain arrays (:data:`FloatArray`, numpy's ``NDArray[np.float64]``, is the
array type of every signature). Get a law by name with :func:`get_law`, which passes known
constants (``eps0``, ``n_breaks``) to the laws that take them::

    >>> from scalinglab.laws import get_law
    >>> law = get_law("power_floor")
    >>> float(law.predict([100.0], [2.0, 0.5, 0.1])[0])
    0.3
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from scalinglab._errors import InputError
from scalinglab.laws._alabdulmohsin import M3, M4, M4Solution, m4_solve
from scalinglab.laws._base import FloatArray, Law, Param
from scalinglab.laws._bnsl import BNSL
from scalinglab.laws._llm import Chinchilla, Kaplan
from scalinglab.laws._power import Power, PowerFloor
from scalinglab.laws._rosenfeld import Envelope, Joint, Pruning, envelope_transition

__all__ = [
    "BNSL",
    "LAWS",
    "M3",
    "M4",
    "Chinchilla",
    "Envelope",
    "FloatArray",
    "Joint",
    "Kaplan",
    "Law",
    "M4Solution",
    "Param",
    "Power",
    "PowerFloor",
    "Pruning",
    "envelope_transition",
    "get_law",
    "law_names",
    "m4_solve",
]

#: Every law by name.
LAWS: dict[str, type[Law]] = {
    cls.name: cls
    for cls in (Power, PowerFloor, M3, M4, Envelope, BNSL, Joint, Chinchilla, Kaplan, Pruning)
}


def law_names(n_inputs: int | None = None) -> list[str]:
    """Names of the laws, optionally only those taking ``n_inputs`` inputs."""
    names = []
    for name, cls in LAWS.items():
        if n_inputs is None or len(cls.inputs) == n_inputs:
            names.append(name)
    return names


def get_law(law: str | Law, **constants: Any) -> Law:
    """A law object from its name, with its known constants.

    Parameters
    ----------
    law : str or Law
        A name from :data:`LAWS`, or a law object (returned as is).
    **constants
        Constants for laws that take them: ``eps0`` (m4, envelope, joint), ``n_breaks``
        (bnsl). Constants a law does not take are ignored, so one call can serve all.
    """
    if isinstance(law, Law):
        return law
    cls = LAWS.get(str(law))
    if cls is None:
        close = difflib.get_close_matches(str(law), LAWS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"The 'law' parameter must be one of {', '.join(LAWS)} (or 'auto' when fitting). "
            f"Got {law!r} instead.{hint}"
        )
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in constants.items() if k in accepted and v is not None}
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
