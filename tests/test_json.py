"""The one JSON converter (``scalinglab._json``): each kind of value its callers hand it.

This file is the converter's own unit test, so it imports the private module; every other
test reaches it through a public ``to_dict()``, an export or the CLI's ``--format json``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglab._json import json_number, jsonable, plain, records, strict_json, to_strict


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    tags: tuple[str, ...] = ()


class WithToDict:
    def to_dict(self) -> dict[int, float]:
        return {1: 2.0}


def _types(value: object) -> object:
    """``value`` with every leaf replaced by its type name (``==`` alone hides 1 vs 1.0)."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (True, True), (3, 3), ("s", "s"), (0.5, 0.5),
    (Colour.RED, "red"),
    ({1: "a", "b": 2}, {"1": "a", "b": 2}),
    ((1, 2), [1, 2]), ({3}, [3]), (frozenset({4}), [4]),
    (dt.datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05"), (dt.date(2026, 1, 2), "2026-01-02"),
    (Path("/a/b.db"), "/a/b.db"),
    (np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]]), (np.array(2.5), 2.5),
    (np.int64(7), 7), (np.float32(0.5), 0.5), (np.bool_(True), True),
    (WithToDict(), {"1": 2.0}),
    (Point(1.0, ("a",)), {"x": 1.0, "tags": ("a",)}),
    (Decimal("1.25"), 1.25),
])
def test_plain_converts_one_level(value, expected):
    out = plain(value)
    assert out == expected
    assert type(out) is type(expected)


def test_plain_leaves_non_finite_floats_and_falls_back_to_str():
    assert math.isinf(plain(math.inf)) and math.isnan(plain(np.float64("nan")))
    assert plain(object()).startswith("<object object")
    assert plain(np.int64(3)) == 3 and type(plain(np.int64(3))) is int


def test_jsonable_goes_deep_and_drops_every_non_finite_number():
    value = {"a": np.array([1.0, np.nan, np.inf]), "b": (np.int64(2), [-math.inf, Colour.RED]),
             "c": {"d": np.float64(1.5), 3: Point(np.nan)}, "e": Path("x"), "f": True}
    out = jsonable(value)
    assert out == {"a": [1.0, None, None], "b": [2, [None, "red"]],
                   "c": {"d": 1.5, "3": {"x": None, "tags": []}}, "e": "x", "f": True}
    assert _types(out) == {"a": ["float", "NoneType", "NoneType"], "b": ["int", ["NoneType", "str"]],
                           "c": {"d": "float", "3": {"x": "NoneType", "tags": []}}, "e": "str",
                           "f": "bool"}
    json.dumps(out, allow_nan=False)  # strict JSON: would raise on inf or nan
    assert type(jsonable(np.float64(2.0))) is float and jsonable(np.array(np.nan)) is None


def test_strict_says_why_a_number_is_null():
    doc = json.loads(strict_json({"a": math.inf, "b": [1.0, math.nan], "c": {"d": -math.inf},
                                  "e": 1, "f": np.array([np.inf])}))
    assert doc == {"a": None, "a_reason": "unbounded above", "b": [1.0, None],
                   "b_reason": "[1] not a number: undefined for these data",
                   "c": {"d": None, "d_reason": "unbounded below"}, "e": 1,
                   "f": [None], "f_reason": "[0] unbounded above"}
    # A reason the document states itself is kept; a top-level list has no key to explain.
    assert to_strict({"a": math.nan, "a_reason": "mine"}) == {"a": None, "a_reason": "mine"}
    assert to_strict([math.inf, (1, np.int64(2))]) == [None, [1, 2]]
    assert to_strict(math.nan) is None
    with pytest.raises(ValueError):
        json.dumps({"a": math.inf}, allow_nan=False)  # what strict_json avoids


def test_records_of_a_frame():
    frame = pd.DataFrame({"size": [400.0, np.nan], "score": [0.5, np.inf], "ok": [True, False],
                          "name": ["a", None], "big": [2.0**53, 3.0]})
    assert records(frame) == [
        {"size": 400.0, "score": 0.5, "ok": True, "name": "a", "big": 2.0**53},
        {"size": None, "score": math.inf, "ok": False, "name": None, "big": 3.0}]
    whole = records(frame, whole_floats_as_int=True)
    assert _types(whole) == [
        {"size": "int", "score": "float", "ok": "bool", "name": "str", "big": "float"},
        {"size": "NoneType", "score": "float", "ok": "bool", "name": "NoneType", "big": "int"}]
    assert whole[0]["size"] == 400 and whole[1]["big"] == 3


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3.0), (np.int64(3), 3.0), (np.float32(0.5), 0.5), (math.inf, None), (np.nan, None),
    (True, True), ("adam", "adam"), (None, None), ([1, 2], "[1, 2]"),
])
def test_json_number_is_a_stored_metric(value, expected):
    out = json_number(value)
    assert out == expected and type(out) is type(expected)
