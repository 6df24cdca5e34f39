"""What every command shares: the ``--format`` convention and strict JSON output.

``--format`` is ``table|json|csv`` for commands whose output is a table and ``table|json``
for the others (``text`` is still accepted for ``table``). JSON output is strict: a value
that JSON cannot hold (``inf``, ``nan``) becomes ``null`` and a sibling ``<key>_reason``
field says why, so that every consumer's ``json.loads`` (and ``jq``) reads it.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import click

__all__ = ["echo_json", "format_option", "strict_json", "to_strict"]

_ALIASES = {"text": "table"}


class _FormatChoice(click.Choice):  # type: ignore[type-arg]
    """A ``click.Choice`` that also takes the old spelling ``text`` for ``table``."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and value.lower() in _ALIASES and _ALIASES[value.lower()] in self.choices:
            value = _ALIASES[value.lower()]
        return super().convert(value, param, ctx)


def format_option(*, csv: bool = False, default: str = "table") -> Callable[[Any], Any]:
    """The ``--format`` option: ``table|json`` (and ``csv`` where the output is a table)."""
    choices = ["table", "json", *(["csv"] if csv else [])]
    return click.option("--format", "fmt", type=_FormatChoice(choices), default=default,
                        show_default=True, help="Output format.")


def _reason(value: float) -> str:
    if math.isnan(value):
        return "not a number: undefined for these data"
    return "+inf: unbounded" if value > 0 else "-inf: unbounded below"


def to_strict(value: Any) -> Any:
    """``value`` as plain JSON types, with ``inf``/``nan`` as ``None`` and a ``*_reason`` beside.

    Handles numpy and pandas scalars and arrays, tuples, sets, paths, enums and datetimes.
    """
    value = _plain(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            strict, reason = _strict_item(item)
            out[key] = strict
            if reason is not None and f"{key}_reason" not in value:
                out[f"{key}_reason"] = reason
        return out
    if isinstance(value, list):
        return [_strict_item(v)[0] for v in value]
    return _strict_item(value)[0]


def _strict_item(item: Any) -> tuple[Any, str | None]:
    item = _plain(item)
    if isinstance(item, float) and not math.isfinite(item):
        return None, _reason(item)
    if isinstance(item, list):
        reasons = []
        values = []
        for i, v in enumerate(item):
            strict, reason = _strict_item(v)
            values.append(strict)
            if reason is not None and not isinstance(v, Mapping | list):
                reasons.append(f"[{i}] {reason}")
        return values, ("; ".join(reasons) if reasons else None)
    if isinstance(item, Mapping):
        return to_strict(item), None
    return item, None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return _plain(tolist())
    item = getattr(value, "item", None)
    if callable(item):
        return _plain(item())
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _plain(value.to_dict())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def strict_json(doc: Any, indent: int | None = 2) -> str:
    """``doc`` as strict JSON text (see :func:`to_strict`); never ``Infinity`` or ``NaN``."""
    return json.dumps(to_strict(doc), indent=indent, allow_nan=False)


def echo_json(doc: Any) -> None:
    """Print ``doc`` as strict JSON on stdout."""
    click.echo(strict_json(doc))


def frame_records(frame: Any) -> list[dict[str, Any]]:
    """A pandas frame as JSON records; missing cells (NaN, None) are plain ``null``."""
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{str(k): _plain(v) for k, v in r.items()} for r in records]
