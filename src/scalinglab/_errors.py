"""The exceptions scalinglab raises, and the one message shape they share.

Every message a user sees names the problem and the fix in one line, in the
scikit-learn shape: "The 'x' parameter of f must be <rule>. Got <value> instead."
The CLI turns :class:`InputError` into that line and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = [
    "ConvergenceWarning",
    "InputError",
    "MissingExtraError",
    "ScalingLabError",
    "invalid_parameter",
    "require_extra",
]


class ScalingLabError(Exception):
    """Base class of every error scalinglab raises on purpose."""


class InputError(ScalingLabError, ValueError):
    """The user's input is wrong; the message says what and how to fix it."""


class MissingExtraError(ScalingLabError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class ConvergenceWarning(UserWarning):
    """A fit stopped without meeting its convergence criteria."""


def invalid_parameter(name: str, where: str, rule: str, got: Any) -> InputError:
    """Build an :class:`InputError` in the house message shape.

    Parameters
    ----------
    name : str
        The parameter, field or column that is wrong.
    where : str
        The function, command or file it belongs to.
    rule : str
        What it must be, phrased to follow "must be".
    got : Any
        The offending value, shown with ``repr``.
    """
    return InputError(f"The {name!r} parameter of {where} must be {rule}. Got {got!r} instead.")


def require_extra(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"matplotlib.pyplot"``.
    extra : str
        The scalinglab extra that provides it, e.g. ``"report"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            f"{module} is needed for this and is not installed; "
            f"install it with: pip install 'scalinglab[{extra}]'"
        ) from exc
