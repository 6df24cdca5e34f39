"""The exceptions scalinglab raises, and the one message shape they share.

Every message a user sees names the problem and the fix in one line, in the
scikit-learn shape: "The 'x' parameter of f must be <rule>. Got <value> instead."
The CLI turns :class:`InputError` into that line and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

__all__ = [
    "ConvergenceWarning",
    "InputError",
    "MissingExtraError",
    "ScalingLabError",
    "StorageError",
    "invalid_parameter",
    "mask_credentials",
    "require_extra",
]


class ScalingLabError(Exception):
    """Base class of every error scalinglab raises on purpose.

    Parameters
    ----------
    *args
        The message (one line: the problem and the fix).
    parameter : str, optional
        The parameter of the called function that the message tells the user to change (as
        "the 'storage' parameter"), so that a front end can name it its own way: the command
        line, which passes its options under the same names, says "the '--storage' option".
        Only set where the fix is that parameter: a message about a spec field that happens
        to share an option's name must not be re-worded.
    """

    def __init__(self, *args: object, parameter: str | None = None) -> None:
        super().__init__(*args)
        self.parameter = parameter


class InputError(ScalingLabError, ValueError):
    """The user's input is wrong; the message says what and how to fix it."""


class MissingExtraError(ScalingLabError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class StorageError(ScalingLabError):
    """The storage failed under a command (read-only, deleted, replaced, unreachable).

    Not the user's input but the environment: the CLI prints the one-line message and exits
    with code 1, and nothing is reported as stored that is not in the database.
    """


class ConvergenceWarning(UserWarning):
    """A fit stopped without meeting its convergence criteria."""


def invalid_parameter(name: str, where: str, rule: str, got: Any, *, kind: str = "parameter",
                      verb: str = "be", hint: str = "") -> InputError:
    """Build an :class:`InputError` in the house message shape.

    "The '<name>' <kind> of <where> must <verb> <rule>. Got <got!r> instead<hint>."

    Parameters
    ----------
    name : str
        The parameter, field or column that is wrong.
    where : str
        The function, command or file it belongs to ("" leaves out "of <where>").
    rule : str
        What it must be, phrased to follow "must <verb>".
    got : Any
        The offending value, shown with ``repr``.
    kind : str
        What ``name`` is: ``"parameter"``, ``"field"``, ``"option"``, ``"column"``...
    verb : str
        The verb after "must" (``"be"``, ``"name"``...).
    hint : str
        Text after "instead", before the full stop (e.g. ``" (run it first)"``).
    """
    of = f" of {where}" if where else ""
    return InputError(f"The {name!r} {kind}{of} must {verb} {rule}. Got {got!r} instead{hint}.")


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


# user:password@ in any URL; password=... as a URL query parameter or a libpq keyword
# (also passwd=, and quoted libpq values); the secret becomes ***.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/@\s:'\"]*):(?P<secret>[^\s'\"]*)@")
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd)=)(?P<secret>[^&#\s'\"]*)", re.IGNORECASE)
_KEYWORD = re.compile(
    r"(?P<head>(?:^|[\s'\"(,])(?:password|passwd|pwd)\s*=\s*)(?P<secret>'(?:[^'\\]|\\.)*'|[^\s'\",)]+)",
    re.IGNORECASE)


def mask_credentials(text: str) -> str:
    """``text`` with every credential in it replaced by ``***``.

    Covers the user-info of URLs (``postgresql://u:SECRET@h/db``), ``password=`` query
    parameters (``...?password=SECRET``) and libpq keyword strings
    (``host=h password=SECRET``). Apply it to anything printed or logged that may hold a
    storage URL or a driver's message about one.
    """
    text = _USERINFO.sub(lambda m: f"{m.group('head')}:***@", text)
    text = _QUERY.sub(lambda m: f"{m.group('head')}***", text)
    return _KEYWORD.sub(lambda m: f"{m.group('head')}***", text)
