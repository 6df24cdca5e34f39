"""The study spec file as pydantic models: its validation and its JSON Schema (docs/spec.md).

The models describe the TOML exactly as a user writes it (``[data] min_shard_size``,
``seeds = 3``, ``lr = { log = [1e-4, 1e-1] }``); :class:`scalinglab.study.StudySpec` and its
parts are built from a validated :class:`StudyFile`. Validation is strict (``"3"`` is not an
integer, ``true`` is not a number, no NaN or infinity), every table forbids unknown keys, and
:func:`validate` turns pydantic's errors into one line in the house shape ("The 'data.growth'
parameter of spec.toml must be a number in [1.2, 10]. Got 0.5 instead.").

Each field's rule is written once, as its pydantic constraints (``ge``, ``le``, ``pattern`` ...)
or, where those cannot say it, as a :class:`_Rule` next to them and a validator; the error line
and the JSON Schema (:func:`json_schema`) are both derived from that declaration. What JSON
Schema cannot state (a strictly increasing list, ``max_shard_size > min_shard_size``) is in the
field's description, and the validator enforces it.

Imported only where a spec is parsed or its schema is written, so that ``scalinglab --help``
does not pay for pydantic.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import itertools
import json
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from scalinglab._errors import InputError, invalid_parameter
from scalinglab.tasks import BUILTIN_TASKS

__all__ = ["PARAM_KINDS", "SAMPLERS", "ParamRange", "StudyFile", "json_schema", "validate"]

#: Kinds of a ``[search.params]`` entry.
PARAM_KINDS = ("log", "uniform", "int", "choice")
#: Samplers of ``[search] sampler`` (scipy.stats.qmc; "random" is numpy's Monte Carlo).
SAMPLERS = ("halton", "sobol", "random")

_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
_TASK_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")
_TASK_RULE = (f"a built-in task ({', '.join(sorted(BUILTIN_TASKS))}) or "
              "'package.module:function'")
_PARAM_EXAMPLE = ("{ log = [1e-4, 1e-1] }, { uniform = [0, 0.1] }, { int = [1, 4] } or "
                  "{ choice = [\"adam\", \"sgd\"] }")
_RESERVED = "a name that does not start with '_' (reserved for the engine)"
_NOT_RESERVED: dict[str, Any] = {"not": {"pattern": "^_"}}  # JSON Schema of such a name
_TASK_SCHEMA: dict[str, Any] = {"anyOf": [{"enum": sorted(BUILTIN_TASKS)},
                                          {"pattern": _TASK_RE.pattern}]}
_UNSET: Any = object()


class _Rule(str):
    """A field's rule in the house phrasing, for when its constraints cannot say it.

    It follows "must be" in an error line: ``_Rule("a non-empty string")``. Put it in the
    field's ``Annotated[...]``; :func:`validate` reads it, the JSON Schema ignores it.
    """


def _fail(rule: str, at: str = "", got: Any = _UNSET) -> PydanticCustomError:
    """An error a validator raises: ``rule`` for the field ``at`` (relative to the table).

    Without ``got`` the line shows the value as the file wrote it (``15``, not ``15.0``).
    """
    ctx: dict[str, Any] = {"rule": rule, "at": at}
    if got is not _UNSET:
        ctx["got"] = got
    return PydanticCustomError("spec_rule", "{rule}", ctx)


def _increasing(values: Sequence[float]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


NonEmpty = Annotated[str, Field(pattern=r"\S"), _Rule("a non-empty string")]
PositiveNumber = Annotated[int, Field(gt=0)] | Annotated[float, Field(gt=0)]
ChoiceValue = str | int | float | bool


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


# ---------------------------------------------------------------------------- [data]
def _data_schema(schema: dict[str, Any]) -> None:
    # Either the explicit list or min/max (+ growth), never both.
    schema["oneOf"] = [
        {"required": ["shard_sizes"],
         "not": {"anyOf": [{"required": [k]}
                           for k in ("min_shard_size", "max_shard_size", "growth")]}},
        {"required": ["min_shard_size", "max_shard_size"], "not": {"required": ["shard_sizes"]}},
    ]


class DataTable(_Table):
    """The data axis: nested shards from min_shard_size to max_shard_size, or shard_sizes."""

    model_config = ConfigDict(title="[data]", json_schema_extra=_data_schema)

    min_shard_size: int | None = Field(
        default=None, ge=1,
        description="The smallest shard (examples); required unless shard_sizes is given.")
    max_shard_size: Annotated[int | None, _Rule("an integer > 'data.min_shard_size'")] = Field(
        default=None,
        description="The largest shard, > min_shard_size; required unless shard_sizes is given.")
    growth: float = Field(
        default=2.0, ge=1.2, le=10,
        description="About the ratio between consecutive shard sizes: k = round(log(max/min) / "
        "log(growth)) steps, both ends hit exactly.")
    shard_sizes: Annotated[
        list[Annotated[int, Field(ge=1)]] | None,
        Field(min_length=2, json_schema_extra={"uniqueItems": True}),
        _Rule("a list of at least 2 strictly increasing integers >= 1"),
    ] = Field(
        default=None,
        description="Explicit shard sizes: at least 2, strictly increasing, >= 1; excludes "
        "min_shard_size, max_shard_size and growth.")
    data_seed: int = Field(
        default=0, ge=0, description="Seed of the permutation that makes the shards nested.")
    validation_size: int | None = Field(
        default=None, ge=1,
        description="When set, passed to the task as params['validation_size'].")

    @field_validator("shard_sizes")
    @classmethod
    def _shards_increase(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is not None and not _increasing(sizes):
            raise _fail("a list of at least 2 strictly increasing integers >= 1")
        return sizes

    @model_validator(mode="after")
    def _one_layout(self) -> DataTable:
        if self.shard_sizes is not None:
            for other in ("min_shard_size", "max_shard_size", "growth"):
                if other in self.model_fields_set:
                    raise _fail("absent when 'data.shard_sizes' is given", other)
            return self
        if self.min_shard_size is None:
            raise _fail("an integer >= 1 (it is required unless 'data.shard_sizes' is given)",
                        "min_shard_size", None)
        if self.max_shard_size is None:
            raise _fail("an integer (it is required unless 'data.shard_sizes' is given)",
                        "max_shard_size", None)
        if self.max_shard_size <= self.min_shard_size:
            raise _fail(f"an integer > 'data.min_shard_size' ({self.min_shard_size})",
                        "max_shard_size")
        return self


# ---------------------------------------------------------------------------- [model]
class ModelTable(_Table):
    """The model-size axis: one knob, its initial sizes and how far the search may grow them."""

    model_config = ConfigDict(title="[model]")

    knob: NonEmpty = Field(
        default="width",
        description="The name of the size knob (width, depth, channels, ...); informative, the "
        "task reads trial.model_size.")
    sizes: Annotated[
        list[PositiveNumber],
        Field(min_length=1, json_schema_extra={"uniqueItems": True}),
        _Rule("a non-empty, strictly increasing list of numbers > 0"),
    ] = Field(
        description="The initial model sizes: non-empty, every value > 0, strictly increasing; "
        "integers stay integers.")
    min_size: Annotated[PositiveNumber | None,
                        _Rule("a number > 0 and <= the smallest of 'model.sizes'")] = Field(
        default=None,
        description="The smallest size the search may try, > 0 and <= the smallest of sizes "
        "(its default).")
    max_size: Annotated[PositiveNumber | None,
                        _Rule("a number >= the largest of 'model.sizes'")] = Field(
        default=None,
        description="The largest size the search may try, >= the largest of sizes (its "
        "default); the search adds sizes by the grid's own ratio up to it.")
    size_tolerance: Annotated[float, _Rule("a number >= 0 and < 1 (0.03 means 3%)")] = Field(
        default=0.0, ge=0, lt=1,
        description="Which size is a shard's best fit: the smallest whose score is within a "
        "factor 1 + size_tolerance of the shard's lowest (Hestness et al.: the smallest model "
        "that fits the shard best; differences inside the seed noise do not make a model "
        "better). 0 takes the lowest score. Grid growth, the search's refinement, status, "
        "analyze and the report all use it.")

    @field_validator("sizes")
    @classmethod
    def _sizes_increase(cls, sizes: list[float]) -> list[float]:
        if not _increasing(sizes):
            raise _fail("a non-empty, strictly increasing list of numbers > 0")
        return sizes

    @model_validator(mode="after")
    def _limits(self) -> ModelTable:
        low, high = self.sizes[0], self.sizes[-1]
        if self.min_size is not None and self.min_size > low:
            raise _fail(f"a number > 0 and <= the smallest of 'model.sizes' ({low:g})",
                        "min_size")
        if self.max_size is not None and self.max_size < high:
            raise _fail(f"a number >= the largest of 'model.sizes' ({high:g})", "max_size")
        return self


# ---------------------------------------------------------------------------- [search]
class ParamRange(_Table):
    """One tuned hyperparameter: a table with exactly one of log, uniform, int, choice."""

    #: The rule of the whole entry (one known kind), for errors about its shape.
    house_rule: ClassVar[str] = f"a table with one of {', '.join(PARAM_KINDS)}: {_PARAM_EXAMPLE}"
    model_config = ConfigDict(title="hyperparameter range",
                              json_schema_extra={"minProperties": 1, "maxProperties": 1})

    log: Annotated[
        list[Annotated[float, Field(gt=0)]] | None, Field(min_length=2, max_length=2),
        _Rule("a list [low, high] of numbers with 0 < low < high"),
    ] = Field(default=None, description="Log-uniform on [low, high], 0 < low < high: "
              "lr = { log = [1e-4, 1e-1] }.")
    uniform: Annotated[
        list[float] | None, Field(min_length=2, max_length=2),
        _Rule("a list [low, high] of numbers with low < high"),
    ] = Field(default=None, description="Uniform on [low, high], low < high: "
              "weight_decay = { uniform = [0, 0.1] }.")
    int_: Annotated[
        list[int] | None, Field(min_length=2, max_length=2),
        _Rule("a list [low, high] of integers with low < high"),
    ] = Field(default=None, alias="int", description="The integers low..high, low < high: "
              "depth = { int = [1, 3] }.")
    choice: Annotated[
        # Not uniqueItems: JSON Schema counts 1 and 1.0 equal, TOML (and the check below) does not.
        list[ChoiceValue] | None, Field(min_length=1),
        _Rule("a non-empty list of distinct strings, numbers or booleans"),
    ] = Field(default=None, description="One of the values: "
              "optimizer = { choice = [\"adam\", \"sgd\"] }.")

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, value: Any) -> Any:
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in PARAM_KINDS:
            raise _fail(cls.house_rule, got=value)
        kind = next(iter(value))
        if value[kind] is None:  # only from Python: "absent" is not a value of this one key
            raise _fail(_rule_of(cls.model_fields["int_" if kind == "int" else kind]), kind)
        return value

    @model_validator(mode="after")
    def _bounds(self) -> ParamRange:
        kind, bounds = self.kind_and_bounds()
        if kind == "choice":
            if len({json.dumps(c) for c in bounds}) != len(bounds):
                raise _fail("a non-empty list of distinct strings, numbers or booleans", kind)
        elif not bounds[0] < bounds[1]:
            field = type(self).model_fields["int_" if kind == "int" else kind]
            raise _fail(_rule_of(field), kind)
        return self

    def kind_and_bounds(self) -> tuple[str, list[Any]]:
        """The entry's kind (one of :data:`PARAM_KINDS`) and its list."""
        for kind in PARAM_KINDS:
            value = getattr(self, "int_" if kind == "int" else kind)
            if value is not None:
                return kind, list(value)
        raise AssertionError("validated: exactly one kind is set")  # pragma: no cover


class SearchTable(_Table):
    """Which (shard, model size) cells are run, and the hyperparameters tuned per shard."""

    model_config = ConfigDict(title="[search]")

    method: Literal["grid", "hestness"] = Field(
        default="hestness",
        description="grid: every model size on every shard. hestness: every size on the "
        "smallest and largest shard, then a seeded Monte Carlo search between the two best-fit "
        "sizes for the shards in between (Hestness et al. 2017).")
    samples: int = Field(
        default=3, ge=1, le=1000,
        description="hestness: model sizes sampled per intermediate shard.")
    refine: bool = Field(
        default=True,
        description="hestness: after the sample, also run the neighbours of a shard's best size "
        "until it is a local minimum inside the band.")
    margin: int = Field(
        default=0, ge=0, le=100,
        description="hestness: widen the band by this many sizes on each side.")
    seed: int = Field(
        default=0, ge=0,
        description="Seed of the Monte Carlo sample and of the hyperparameter sampler.")
    params: Annotated[
        dict[str, ParamRange],
        _Rule("a table of hyperparameter ranges, e.g. lr = { log = [1e-4, 1e-1] }"),
    ] = Field(
        default_factory=dict,
        json_schema_extra={"propertyNames": {"pattern": r"\S", **_NOT_RESERVED}},
        description="[search.params]: hyperparameters tuned per shard, each a table with exactly "
        "one of log, uniform, int, choice; the task receives them in trial.params. A name may "
        "not also be in [train] nor start with '_'.")
    param_samples: int = Field(
        default=8, ge=1, le=1000,
        description="Hyperparameter points sampled from [search.params] (only read when it is "
        "given).")
    sampler: Literal["halton", "sobol", "random"] = Field(
        default="halton",
        description="halton or sobol (scrambled quasi-random, scipy.stats.qmc) or random (numpy "
        "Monte Carlo).")

    @field_validator("params", mode="before")
    @classmethod
    def _param_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                if key.startswith("_") or not key.strip():
                    raise _fail(_RESERVED, key, key)
        return value


# ---------------------------------------------------------------------------- [budget], [execution]
class BudgetTable(_Table):
    """How far the training budget of budget-limited runs is extended (2x, 4x, ...)."""

    model_config = ConfigDict(title="[budget]")

    max_factor: float = Field(
        default=8.0, ge=1, le=1024,
        description="The largest budget multiplier; 1 turns extension off.")
    tail: Annotated[float, _Rule("a number in (0, 1): the end share of the budget where a best "
                                 "step means the run was budget-limited")] = Field(
        default=0.2, gt=0, lt=1,
        description="A run is budget-limited when it ran to its step budget and its best step "
        "is in the last tail of it.")
    margin: float = Field(
        default=0.05, ge=0, le=1000,
        description="Only cells whose score is within a factor 1 + margin of the shard's best "
        "are extended.")


class ExecutionTable(_Table):
    """Run-lifecycle settings; not part of the study's identity (may change between resumes)."""

    model_config = ConfigDict(title="[execution]")

    max_attempts: int = Field(
        default=2, ge=1, le=100,
        description="A run that raises or kills its worker is tried this many times, then left "
        "FAILED with its error.")
    heartbeat_s: float = Field(
        default=5.0, ge=0.05, le=3600,
        description="How often a running run beats its heartbeat (seconds).")
    stale_after_s: float = Field(
        default=60.0, ge=0.1, le=86400,
        description="A RUNNING run whose heartbeat is older is given back to WAITING on resume; "
        "at least twice heartbeat_s.")
    cpus_per_run: float = Field(
        default=1.0, ge=0.01, le=1024,
        description="CPUs one run asks of a Ray cluster (--executor ray); the local executor "
        "ignores it.")
    gpus_per_run: float = Field(
        default=0.0, ge=0, le=64,
        description="GPUs one run asks of a Ray cluster (fractions share a GPU); the local "
        "executor ignores it.")

    @model_validator(mode="after")
    def _stale_after_heartbeats(self) -> ExecutionTable:
        if self.stale_after_s < 2 * self.heartbeat_s:
            raise _fail(f"at least twice 'execution.heartbeat_s' ({2 * self.heartbeat_s:g})",
                        "stale_after_s")
        return self


# ---------------------------------------------------------------------------- the file
class StudyFile(_Table):
    """A scalinglab study spec (study.toml); docs/spec.md has every field."""

    model_config = ConfigDict(title="scalinglab study spec")

    name: Annotated[str, Field(pattern=_NAME_PATTERN),
                    _Rule("1-100 characters from A-Z a-z 0-9 . _ -")] = Field(
        description="The study's key in the storage: 1-100 characters from A-Z a-z 0-9 . _ -.")
    task: Annotated[str, _Rule(_TASK_RULE)] = Field(
        json_schema_extra=_TASK_SCHEMA,
        description="A built-in task or 'package.module:function' naming your training "
        "function.")
    metric: NonEmpty = Field(
        default="val_error",
        description="The metric to minimise: val_error (the value passed to trial.report(step, "
        "val_error)) or a keyword metric the task reports.")
    description: str = Field(default="", description="Free text.")
    eps0: Annotated[float | None,
                    _Rule("a number > 0 (the random-guess error of the metric)")] = Field(
        default=None, gt=0,
        description="The random-guess error of the metric (top-1 error with K classes: 1 - 1/K; "
        "cross-entropy: ln K), used by the analysis; not part of the study's identity.")
    seeds: Annotated[
        Annotated[int, Field(ge=1, le=1000)]
        | Annotated[list[Annotated[int, Field(ge=0)]],
                    Field(min_length=1, json_schema_extra={"uniqueItems": True})],
        _Rule("an integer in [1, 1000] or a non-empty list of distinct integers >= 0"),
    ] = Field(
        default=1,
        description="n in [1, 1000] means seeds 0 .. n-1; or a non-empty list of distinct "
        "integers >= 0. The score of a cell is the median over seeds.")
    data: DataTable = Field(description="[data]: the data axis (required).")
    model: ModelTable = Field(description="[model]: the model-size axis (required).")
    train: dict[str, Any] = Field(
        default_factory=dict, json_schema_extra={"propertyNames": _NOT_RESERVED},
        description="[train]: free-form hyperparameters given to the task as trial.params (any "
        "TOML values but dates); part of each run's key. Names starting with '_' are reserved.")
    search: SearchTable = Field(
        default_factory=lambda: SearchTable(),
        description="[search]: which (shard, model size) cells are run, and [search.params], the "
        "hyperparameters tuned per shard.")
    budget: BudgetTable = Field(
        default_factory=lambda: BudgetTable(),
        description="[budget]: budget-limited runs near the shard's best are rerun with 2x, "
        "4x, ... the budget up to max_factor.")
    execution: ExecutionTable = Field(
        default_factory=lambda: ExecutionTable(),
        description="[execution]: retries, heartbeats and the resources of one run; not part "
        "of the study's identity.")

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str) -> str:
        if task in BUILTIN_TASKS or _TASK_RE.match(task):
            return task
        raise _fail(_TASK_RULE)

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: int | list[int]) -> int | list[int]:
        if isinstance(seeds, list) and len(set(seeds)) != len(seeds):
            raise _fail("an integer in [1, 1000] or a non-empty list of distinct integers >= 0")
        return seeds

    @field_validator("train")
    @classmethod
    def _train_values(cls, table: dict[str, Any]) -> dict[str, Any]:
        def check(at: str, value: Any) -> None:
            if isinstance(value, _dt.date | _dt.time | _dt.datetime):
                raise _fail("a string, number, boolean, list or table (not a date)", at, value)
            if isinstance(value, float) and not math.isfinite(value):
                raise _fail("a finite number", at, value)
            if isinstance(value, Mapping):
                for k, v in value.items():
                    check(f"{at}.{k}", v)
            elif isinstance(value, list | tuple):
                for i, v in enumerate(value):
                    check(f"{at}[{i}]", v)

        for key, value in table.items():
            if key.startswith("_"):
                raise _fail(_RESERVED, key, key)
            check(key, value)
        return table

    @model_validator(mode="after")
    def _declared_once(self) -> StudyFile:
        for name, entry in self.search.params.items():
            if name in self.train:
                raise _fail(f"declared once (it is also in [train]; remove train.{name})",
                            f"search.params.{name}", self.train[name])
            if name == "validation_size" and self.data.validation_size is not None:
                kind, bounds = entry.kind_and_bounds()
                raise _fail("absent when 'data.validation_size' is given",
                            "search.params.validation_size", {kind: bounds})
        return self


# ---------------------------------------------------------------------------- errors
def validate(raw: dict[str, Any], where: str) -> StudyFile:
    """Validate a spec with the TOML layout, or raise its first problem as one line.

    Parameters
    ----------
    raw : dict
        The spec as plain data (dicts, lists, scalars; no tuples), e.g. from ``tomllib``.
    where : str
        How the error line names the source (the file name for TOML).

    Raises
    ------
    InputError
        "The 'FIELD' parameter of WHERE must be RULE. Got VALUE instead." for the first
        problem in the order of the fields, where a table's unknown keys come first (a
        misspelt key usually explains a missing one).
    """
    try:
        return StudyFile.model_validate(raw)
    except ValidationError as exc:
        raise _house_error(exc, raw, where) from None


class _Where(NamedTuple):
    """Where an error is: the TOML path, its field and table, and its place in the file."""

    parts: list[str]
    field: FieldInfo | None
    owner: type[BaseModel] | None
    order: tuple[int, ...]


def _house_error(exc: ValidationError, raw: dict[str, Any], where: str) -> InputError:
    errors = exc.errors(include_url=False)
    error = min(errors, key=lambda e: _locate(e["loc"]).order)  # min is stable: first of equals
    parts, field, owner, _ = _locate(error["loc"])
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "spec_rule":
        parts = [*parts, *(ctx["at"].split(".") if ctx["at"] else [])]
        rule = ctx["rule"]
        got = ctx["got"] if "got" in ctx else _lookup(raw, parts)
    elif kind == "extra_forbidden":
        allowed = [f.alias or n for n, f in owner.model_fields.items()] if owner else []
        prefix = ".".join(parts[:-1]) + "." if len(parts) > 1 else ""
        close = difflib.get_close_matches(parts[-1], allowed, n=1, cutoff=0.6)
        rule = (f"a known field (did you mean {prefix + close[0]!r}?)" if close
                else f"a known field ({', '.join(allowed)})")
        got = parts[-1]
    else:
        rule = (_rule_of(field) if field is not None
                else getattr(owner, "house_rule", None) or _kind(owner))
        if kind == "missing":
            rule += " (it is required)"
        got = _lookup(raw, parts)
    return invalid_parameter(".".join(parts), where, rule, got)


def _locate(loc: tuple[int | str, ...]) -> _Where:
    """The TOML path of an error's location, its field and table, and its sort key.

    The path stops at a list index or a union member, so that it names the TOML key (the
    value shown is the key's whole value). The sort key orders by the fields' declaration;
    an unknown key sorts first in its table.
    """
    parts: list[str] = []
    order: list[int] = []
    tp: Any = StudyFile
    field: FieldInfo | None = None
    owner: type[BaseModel] | None = StudyFile
    in_entry = False
    for step in loc:
        tp = _optional_of(tp)
        if not isinstance(step, str):
            break
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            names = [f.alias or n for n, f in tp.model_fields.items()]
            parts.append(step)
            if step not in names:
                field = None
                if not in_entry:
                    order.append(-1)
                break
            index = names.index(step)
            if not in_entry:
                order.append(index)
            field = list(tp.model_fields.values())[index]
            tp = field.annotation
        elif get_origin(tp) is dict:  # entries keep pydantic's order (the file's)
            parts.append(step)
            tp, field, owner = get_args(tp)[1], None, None
            in_entry = True
        else:
            break
    if field is None and isinstance(tp, type) and issubclass(tp, BaseModel):
        owner = tp
    return _Where(parts, field, owner, tuple(order))


def _lookup(raw: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(raw, Mapping) or part not in raw:
            return None
        raw = raw[part]
    return raw


def _optional_of(tp: Any) -> Any:
    """``X`` for ``X | None`` (TOML has no null); anything else unchanged."""
    if get_origin(tp) in (types.UnionType, typing.Union):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _kind(tp: Any) -> str:
    tp = _optional_of(tp)
    if get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) is Literal:
        return f"one of {', '.join(map(repr, get_args(tp)))}"
    names = {bool: "a boolean (true or false)", int: "an integer", float: "a number",
             str: "a string", list: "a list", dict: "a table"}
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "a table"
    return names.get(get_origin(tp) or tp, "a valid value")


def _rule_of(field: FieldInfo) -> str:
    """The field's rule: its :class:`_Rule`, else its type and bounds ("a number in [1, 8]")."""
    bounds: dict[str, float] = {}
    for meta in field.metadata:
        if isinstance(meta, _Rule):
            return str(meta)
        for name in ("ge", "gt", "le", "lt"):  # annotated_types.Ge(ge=...) and the like
            if isinstance(getattr(meta, name, None), int | float):
                bounds[name] = getattr(meta, name)
    kind = _kind(field.annotation)
    ge, gt, le, lt = (bounds.get(k) for k in ("ge", "gt", "le", "lt"))
    low = f"[{ge:g}" if ge is not None else f"({gt:g}" if gt is not None else ""
    high = f"{le:g}]" if le is not None else f"{lt:g})" if lt is not None else ""
    if low and high:
        return f"{kind} in {low}, {high}"
    if low:
        return f"{kind} {'>=' if ge is not None else '>'} {low[1:]}"
    if high:
        return f"{kind} {'<=' if le is not None else '<'} {high[:-1]}"
    return kind


# ---------------------------------------------------------------------------- JSON Schema
def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a study spec file, for editors and other tools.

    It states every field, type, range, default and description; what JSON Schema cannot say
    (a strictly increasing list, ``max_shard_size > min_shard_size``, a name in both
    ``[train]`` and ``[search.params]``) is in the descriptions and checked by :func:`validate`.
    An optional field is its type, not "type or null" (TOML has no null).
    """
    from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
    from pydantic_core import core_schema

    class TomlJsonSchema(GenerateJsonSchema):
        def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
            return self.generate_inner(schema["schema"])

        def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
            if schema.get("default", None) is None:  # no "default": null either
                return self.generate_inner(schema["schema"])
            return super().default_schema(schema)

        def generate(self, schema: core_schema.CoreSchema,
                     mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
            return {"$schema": self.schema_dialect, **super().generate(schema, mode=mode)}

    return StudyFile.model_json_schema(schema_generator=TomlJsonSchema)
