"""JSON-ready values: the one converter every layer uses (standard library only).

One set of rules turns any value scalinglab writes (numpy and pandas scalars and arrays,
tuples, sets, mappings, paths, enums, datetimes, dataclasses, objects with ``to_dict``) into
plain JSON types; the functions differ only in what they do with a number JSON cannot hold:

- :func:`plain`: one level, nothing else changed (``inf`` and ``nan`` stay floats); the
  building block of the others.
- :func:`jsonable`: all levels; a non-finite float becomes ``None``. What every ``to_dict()``
  returns and what a study export writes.
- :func:`to_strict` / :func:`strict_json`: all levels; a non-finite float becomes ``None``
  and a sibling ``<key>_reason`` field says why. The command line's ``--format json``.
- :func:`records`: a pandas frame's rows as records; a missing cell (NaN, None) is ``None``,
  and optionally a whole float is written as an int.
- :func:`json_number`: a final metric as stored: a finite float, ``None``, a bool or a string.

It imports nothing of scalinglab (and neither numpy nor pandas: it reads their ``tolist``,
``item`` and ``to_dict``), so that every layer may import it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["json_number", "jsonable", "plain", "records", "strict_json", "to_strict"]


def plain(value: Any) -> Any:
    """``value`` as a JSON type, one level deep: the items of a container are not converted.

    ``None``, bools, ints, strings and floats (``inf``/``nan`` included) are returned as they
    are; an enum becomes its value; a mapping a dict with string keys; a list, tuple or set a
    list; a date or datetime its ISO 8601 text; a path its string; a numpy array or scalar
    (anything with ``tolist`` or ``item``) its Python value; an object with ``to_dict`` (then a
    dataclass) its dict; anything else its float, or else its ``str``.

    Parameters
    ----------
    value : Any
        What to convert.

    Returns
    -------
    Any
        ``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` or ``dict``.
    """
    if value is None or isinstance(value, bool | int | str | float):
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
        return plain(tolist())
    item = getattr(value, "item", None)
    if callable(item):
        return plain(item())
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return plain(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def jsonable(value: Any, *, finite: bool = True) -> Any:
    """``value`` as plain JSON types at every level, with ``inf`` and ``nan`` as ``None``.

    Parameters
    ----------
    value : Any
        What to convert (see :func:`plain` for the types it takes).
    finite : bool, default True
        Turn ``inf`` and ``nan`` into ``None``. ``False`` keeps them, for a document that is
        validated next (a study spec read from TOML, where ``inf`` must reach the validator
        to be refused by name).

    Returns
    -------
    Any
        JSON types only; with ``finite=True``, ``json.dumps(jsonable(v), allow_nan=False)``
        never fails.
    """
    value = plain(value)
    if isinstance(value, dict):
        return {k: jsonable(v, finite=finite) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v, finite=finite) for v in value]
    if isinstance(value, float) and finite:
        number = float(value)  # a numpy float is a float subclass
        return number if math.isfinite(number) else None
    return value


def _reason(value: float) -> str:
    if math.isnan(value):
        return "not a number: undefined for these data"
    return "unbounded above" if value > 0 else "unbounded below"


def to_strict(value: Any) -> Any:
    """``value`` as plain JSON types, with ``inf``/``nan`` as ``None`` and a ``*_reason`` beside.

    A non-finite value under key ``k`` of a mapping becomes ``None`` and ``k_reason`` (unless
    the mapping has that key already) says why: ``"unbounded above"``, ``"unbounded
    below"`` or ``"not a number: undefined for these data"``; for a list of numbers the reason
    names the positions (``"[1] not a number: ..."``). ``value`` is anything :func:`plain`
    takes; the result holds JSON types only.
    """
    value = plain(value)
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
    item = plain(item)
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


def strict_json(doc: Any, indent: int | None = 2) -> str:
    """``doc`` as strict JSON text (see :func:`to_strict`); never ``Infinity`` or ``NaN``."""
    return json.dumps(to_strict(doc), indent=indent, allow_nan=False)


def records(frame: Any, *, whole_floats_as_int: bool = False) -> list[dict[str, Any]]:
    """The rows of a pandas frame as JSON-ready records (one level: cells through :func:`plain`).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    whole_floats_as_int : bool
        Write a whole float below 2**53 as an int (a size that a missing cell turned into a
        float column is ``400``, not ``400.0``).

    Returns
    -------
    list of dict
        One dict a row, keys the column names as strings; a missing cell (NaN, None) is
        ``None``; ``inf`` is left a float (for :func:`to_strict` to explain).
    """
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    out = []
    for row in rows:
        record = {}
        for key, cell in row.items():
            cell = plain(cell)
            if (whole_floats_as_int and isinstance(cell, float) and cell.is_integer()
                    and abs(cell) < 2**53):
                cell = int(cell)
            record[str(key)] = cell
        out.append(record)
    return out


def json_number(value: Any) -> Any:
    """A final metric as stored: a finite ``float``, ``None`` (non-finite), a bool or a string.

    ``None``, bools and strings are kept; any other value that ``float`` takes (ints, numpy
    scalars) becomes a float, or ``None`` if it is not finite; anything else its ``str``.
    """
    if isinstance(value, bool | str) or value is None:
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None
