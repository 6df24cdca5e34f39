"""The study spec: declared once, validated once at load time (docs/spec.md).

Validation is the boundary: every rule is checked here and each failure is one line in the house
shape ("The 'data.growth' parameter of spec.toml must be ... Got ... instead."); code downstream
trusts a :class:`StudySpec`.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import itertools
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scalinglab._errors import InputError, invalid_parameter
from scalinglab.tasks import BUILTIN_TASKS

__all__ = ["BudgetSpec", "DataAxis", "ExecutionSpec", "ModelAxis", "ParamSpace", "SearchSpec",
           "StudySpec"]

_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_TASK_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")

_FIELDS: dict[str, tuple[str, ...]] = {
    "": ("name", "task", "metric", "eps0", "seeds", "description", "data", "model", "train",
         "search", "execution", "budget"),
    "data": ("min_shard_size", "max_shard_size", "growth", "shard_sizes", "data_seed",
             "validation_size"),
    "model": ("knob", "sizes", "min_size", "max_size"),
    "search": ("method", "samples", "refine", "margin", "seed", "params", "param_samples",
               "sampler"),
    "budget": ("max_factor", "tail", "margin"),
    "execution": ("max_attempts", "heartbeat_s", "stale_after_s", "cpus_per_run",
                  "gpus_per_run"),
}


@dataclass(frozen=True)
class DataAxis:
    """The data axis: nested shards from ``shard_sizes[0]`` to ``shard_sizes[-1]``."""

    shard_sizes: tuple[int, ...]
    growth: float | None = field(default=None, compare=False)
    data_seed: int = 0
    validation_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"shard_sizes": list(self.shard_sizes), "data_seed": self.data_seed}
        if self.validation_size is not None:
            out["validation_size"] = self.validation_size
        return out


@dataclass(frozen=True)
class ModelAxis:
    """The model-size axis: one knob, its initial values (increasing) and the grid's limits.

    The search may add sizes beyond ``sizes`` by the grid's own ratio (``sizes[-1] /
    sizes[-2]`` upwards, ``sizes[1] / sizes[0]`` downwards, 2 for a one-size grid) while they
    stay within ``[min_size, max_size]``; both default to the ends of ``sizes`` (no growth).
    """

    sizes: tuple[float, ...]
    knob: str = "width"
    min_size: float | None = None
    max_size: float | None = None

    @property
    def lower_limit(self) -> float:
        """The smallest size the search may try."""
        return self.sizes[0] if self.min_size is None else self.min_size

    @property
    def upper_limit(self) -> float:
        """The largest size the search may try."""
        return self.sizes[-1] if self.max_size is None else self.max_size

    def ladder(self) -> tuple[float, ...]:
        """Every size the search may try: ``sizes`` extended geometrically to the limits.

        Integer grids stay integer (extended sizes are rounded, duplicates dropped).
        """
        sizes = list(self.sizes)
        integral = all(float(s).is_integer() for s in sizes)
        up = sizes[-1] / sizes[-2] if len(sizes) > 1 else 2.0
        down = sizes[1] / sizes[0] if len(sizes) > 1 else 2.0
        out = list(sizes)
        value = float(sizes[-1])
        while True:
            value *= up
            nxt: float = round(value) if integral else value
            if nxt > self.upper_limit * (1 + 1e-12) or len(out) > 10_000:
                break
            if nxt > out[-1]:
                out.append(nxt)
        low: list[float] = []
        value = float(sizes[0])
        while True:
            value /= down
            nxt = round(value) if integral else value
            if nxt < self.lower_limit * (1 - 1e-12) or nxt <= 0 or len(low) > 10_000:
                break
            if nxt < (low[0] if low else out[0]):
                low.insert(0, nxt)
        return tuple(low + out)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"knob": self.knob, "sizes": list(self.sizes)}
        if self.min_size is not None:
            out["min_size"] = self.min_size
        if self.max_size is not None:
            out["max_size"] = self.max_size
        return out


#: Kinds of a ``[search.params]`` entry.
PARAM_KINDS = ("log", "uniform", "int", "choice")
#: Samplers of ``[search] sampler`` (scipy.stats.qmc; "random" is numpy's Monte Carlo).
SAMPLERS = ("halton", "sobol", "random")


@dataclass(frozen=True)
class ParamSpace:
    """One tunable hyperparameter of ``[search.params]``.

    Attributes
    ----------
    name : str
        The key the task receives in ``trial.params``.
    kind : str
        ``"log"`` (log-uniform on ``[low, high]``), ``"uniform"``, ``"int"`` (integers in
        ``[low, high]``) or ``"choice"`` (one of ``choices``).
    low, high : float
        Bounds (not used by ``choice``).
    choices : tuple
        The options of a ``choice``.
    """

    name: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def value(self, u: float) -> Any:
        """The value at quantile ``u`` in [0, 1) (the inverse CDF of the declared law).

        Real values are rounded to 4 significant digits, so stored params read well.
        """
        u = min(max(float(u), 0.0), 1.0 - 1e-12)
        if self.kind == "choice":
            return self.choices[int(u * len(self.choices))]
        if self.kind == "int":
            return math.floor(self.low + u * (self.high - self.low + 1))
        if self.kind == "log":
            x = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            x = self.low + u * (self.high - self.low)
        return float(f"{x:.4g}")

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"choice": list(self.choices)}
        if self.kind == "int":
            return {"int": [int(self.low), int(self.high)]}
        return {self.kind: [self.low, self.high]}


@dataclass(frozen=True)
class SearchSpec:
    """Which cells are run: ``grid`` or ``hestness`` over sizes, and the tuned hyperparameters.

    ``params`` are sampled ``param_samples`` times with ``sampler`` (seeded by ``seed``); every
    planned (shard, size) cell is trained with each sampled point and each seed, and the
    best fit of a shard is the lowest median-over-seeds score over (size, point).
    """

    method: str = "hestness"
    samples: int = 3
    refine: bool = True
    margin: int = 0
    seed: int = 0
    params: tuple[ParamSpace, ...] = ()
    param_samples: int = 8
    sampler: str = "halton"

    def points(self) -> list[dict[str, Any]]:
        """The sampled hyperparameter points (``[{}]`` without ``params``), seeded and stable."""
        if not self.params:
            return [{}]
        d, n = len(self.params), self.param_samples
        if self.sampler == "random":
            import numpy as np

            unit = np.random.default_rng(self.seed).random((n, d))
        else:
            import warnings

            from scipy.stats import qmc

            engine = (qmc.Sobol(d, scramble=True, seed=self.seed) if self.sampler == "sobol"
                      else qmc.Halton(d, scramble=True, seed=self.seed))
            with warnings.catch_warnings():  # Sobol's balance warning for n not a power of 2
                warnings.simplefilter("ignore", UserWarning)
                unit = engine.random(n)
        out: list[dict[str, Any]] = []
        for row in unit:
            point = {p.name: p.value(u) for p, u in zip(self.params, row, strict=True)}
            if point not in out:  # int/choice draws may repeat
                out.append(point)
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "samples": self.samples,
                               "refine": self.refine, "margin": self.margin, "seed": self.seed}
        if self.params:
            out["params"] = {p.name: p.to_dict() for p in self.params}
            out["param_samples"] = self.param_samples
            out["sampler"] = self.sampler
        return out


@dataclass(frozen=True)
class BudgetSpec:
    """How far the engine extends the training budget of budget-limited runs.

    A run is budget-limited when it ran to its step budget and its best step lies in the last
    ``tail`` of it. A cell with such a run whose score is within a factor ``1 + margin`` of
    its shard's best score is rerun with 2x the budget (``trial.budget`` = 2, 4, ...) while
    the factor stays <= ``max_factor``; ``max_factor = 1`` turns extension off. Cells far
    from the best (a too-small model, a poor learning rate) are reported, not extended.
    """

    max_factor: float = 8.0
    tail: float = 0.2
    margin: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        return {"max_factor": self.max_factor, "tail": self.tail, "margin": self.margin}


@dataclass(frozen=True)
class ExecutionSpec:
    """Run-lifecycle settings; not part of the study's identity."""

    max_attempts: int = 2
    heartbeat_s: float = 5.0
    stale_after_s: float = 60.0
    #: Resources one run asks of a cluster executor (Ray); the local executor ignores them.
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"max_attempts": self.max_attempts, "heartbeat_s": self.heartbeat_s,
                "stale_after_s": self.stale_after_s, "cpus_per_run": self.cpus_per_run,
                "gpus_per_run": self.gpus_per_run}


@dataclass(frozen=True)
class StudySpec:
    """A validated study declaration (docs/spec.md).

    Build it with :meth:`from_toml` or :meth:`from_dict`; both validate every field once.

    Attributes
    ----------
    name : str
        The study's key in the storage.
    task : str
        Built-in task name or ``"package.module:function"``.
    metric : str
        The reported metric to minimise (``"val_error"`` by default).
    seeds : tuple of int
        Seeds every cell is trained with; the score is the median over them.
    data, model, search, execution
        The sub-tables, see :class:`DataAxis`, :class:`ModelAxis`, :class:`SearchSpec`,
        :class:`ExecutionSpec`.
    train : Mapping
        Free-form hyperparameters given to the task as ``trial.params``.
    source : Path or None
        The TOML file the spec was read from (not part of the identity).
    """

    name: str
    task: str
    data: DataAxis
    model: ModelAxis
    metric: str = "val_error"
    seeds: tuple[int, ...] = (0,)
    train: Mapping[str, Any] = field(default_factory=dict)
    search: SearchSpec = field(default_factory=SearchSpec)
    execution: ExecutionSpec = field(default_factory=ExecutionSpec)
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    description: str = ""
    eps0: float | None = None
    source: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train", MappingProxyType(dict(self.train)))

    # ------------------------------------------------------------------ derived values
    @property
    def shard_sizes(self) -> tuple[int, ...]:
        """Shard sizes, smallest first."""
        return self.data.shard_sizes

    @property
    def model_sizes(self) -> tuple[float, ...]:
        """Model sizes, smallest first."""
        return self.model.sizes

    @property
    def params(self) -> dict[str, Any]:
        """The hyperparameters a run's task receives: ``[train]`` plus ``validation_size``."""
        params = dict(self.train)
        if self.data.validation_size is not None:
            params["validation_size"] = self.data.validation_size
        return params

    @property
    def config_key(self) -> str:
        """A short stable hash of :attr:`params`; part of each run's unique key."""
        return params_key(self.params)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready canonical dict; ``StudySpec.from_dict(spec.to_dict()) == spec``."""
        return {
            "name": self.name,
            "task": self.task,
            "metric": self.metric,
            "seeds": list(self.seeds),
            "description": self.description,
            **({"eps0": self.eps0} if self.eps0 is not None else {}),
            "data": self.data.to_dict(),
            "model": self.model.to_dict(),
            "train": _plain(dict(self.train)),
            "search": self.search.to_dict(),
            "budget": self.budget.to_dict(),
            "execution": self.execution.to_dict(),
        }

    def identity(self) -> dict[str, Any]:
        """What makes two specs the same study: all but ``execution``, ``description``, ``train``.

        ``[train]`` is part of each run's key instead (:attr:`config_key`): changing it makes
        new runs of the same study (docs/spec.md).
        """
        out = self.to_dict()
        del out["execution"], out["description"], out["train"]
        out.pop("eps0", None)  # an analysis setting: changing it does not change the runs
        return out

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> StudySpec:
        """Read and validate a TOML spec.

        Raises
        ------
        InputError
            The file cannot be read or parsed, or a field breaks a rule (one line).
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"Cannot read the study spec {str(path)!r}: {exc.strerror}.") from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"The study spec {str(path)!r} is not a UTF-8 text file (byte {exc.start} is "
                f"{exc.object[exc.start:exc.start + 1]!r}); give a TOML file (scalinglab init "
                "writes one).") from exc
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path.name} is not valid TOML: {exc}.") from exc
        spec = cls.from_dict(raw, where=path.name)
        object.__setattr__(spec, "source", path.resolve())
        return spec

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "the study spec") -> StudySpec:
        """Validate a dict with the TOML layout (docs/spec.md) into a spec.

        Parameters
        ----------
        raw : Mapping
            The spec, as ``tomllib`` would return it.
        where : str
            How error messages name the source (the file name for TOML).
        """
        return _Validator(where).spec(raw)


def params_key(params: Mapping[str, Any]) -> str:
    """A short stable hash of a run's hyperparameters (its ``config_key``)."""
    text = json.dumps(_plain(dict(params)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(float(value)))


class _Validator:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, name: str, rule: str, got: Any) -> InputError:
        return invalid_parameter(name, self.where, rule, got)

    def check_fields(self, table: Mapping[str, Any], section: str) -> None:
        allowed = _FIELDS[section]
        prefix = f"{section}." if section else ""
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = (f"a known field (did you mean {prefix + close[0]!r}?)" if close
                        else f"a known field ({', '.join(allowed)})")
                raise self.fail(prefix + str(key), hint, key)

    def table(self, raw: Mapping[str, Any], key: str, required: bool) -> Mapping[str, Any]:
        if key not in raw:
            if required:
                raise self.fail(key, "a table (it is required)", None)
            return {}
        value = raw[key]
        if not isinstance(value, Mapping):
            raise self.fail(key, "a table", value)
        return value

    def integer(self, name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
        ok = _is_int(value) and (lo is None or value >= lo) and (hi is None or value <= hi)
        if not ok:
            raise self.fail(name, _range_rule("an integer", lo, hi), value)
        return int(value)

    def number(self, name: str, value: Any, lo: float | None = None,
               hi: float | None = None) -> float:
        ok = _is_number(value) and (lo is None or value >= lo) and (hi is None or value <= hi)
        if not ok:
            raise self.fail(name, _range_rule("a number", lo, hi), value)
        return float(value)

    def string(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "a non-empty string", value)
        return value

    def spec(self, raw: Mapping[str, Any]) -> StudySpec:
        if not isinstance(raw, Mapping):
            raise InputError(f"The study spec must be a table (a dict). Got {raw!r} instead.")
        self.check_fields(raw, "")
        if "name" not in raw:
            raise self.fail("name", "a string (it is required)", None)
        name = raw["name"]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise self.fail("name", "1-100 characters from A-Z a-z 0-9 . _ -", name)
        if "task" not in raw:
            raise self.fail("task", "a string (it is required)", None)
        task = raw["task"]
        if not isinstance(task, str) or not (task in BUILTIN_TASKS or _TASK_RE.match(task)):
            raise self.fail(
                "task", f"a built-in task ({', '.join(sorted(BUILTIN_TASKS))}) or "
                "'package.module:function'", task)
        metric = self.string("metric", raw.get("metric", "val_error"))
        description = raw.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", "a string", description)
        eps0 = raw.get("eps0")
        if eps0 is not None:
            if not _is_number(eps0) or eps0 <= 0:
                raise self.fail("eps0", "a number > 0 (the random-guess error of the metric)", eps0)
            eps0 = float(eps0)
        seeds = self.seeds(raw.get("seeds", 1))
        data = self.data(self.table(raw, "data", required=True))
        model = self.model(self.table(raw, "model", required=True))
        train = self.train(self.table(raw, "train", required=False))
        search = self.search(self.table(raw, "search", required=False))
        for param in search.params:
            if param.name in train:
                raise self.fail(f"search.params.{param.name}",
                                f"declared once (it is also in [train]; remove train.{param.name})",
                                train[param.name])
            if param.name == "validation_size" and data.validation_size is not None:
                raise self.fail("search.params.validation_size",
                                "absent when 'data.validation_size' is given", param.to_dict())
        budget = self.budget(self.table(raw, "budget", required=False))
        execution = self.execution(self.table(raw, "execution", required=False))
        return StudySpec(name=name, task=task, data=data, model=model, metric=metric, seeds=seeds,
                         train=train, search=search, execution=execution, budget=budget,
                         description=description, eps0=eps0)

    def seeds(self, value: Any) -> tuple[int, ...]:
        if _is_int(value):
            return tuple(range(self.integer("seeds", value, 1, 1000)))
        rule = "an integer in [1, 1000] or a non-empty list of distinct integers >= 0"
        if not isinstance(value, list | tuple) or not value:
            raise self.fail("seeds", rule, value)
        if not all(_is_int(v) and v >= 0 for v in value) or len(set(value)) != len(value):
            raise self.fail("seeds", rule, value)
        return tuple(int(v) for v in value)

    def data(self, table: Mapping[str, Any]) -> DataAxis:
        self.check_fields(table, "data")
        data_seed = self.integer("data.data_seed", table.get("data_seed", 0), 0)
        validation = table.get("validation_size")
        validation_size = (None if validation is None
                           else self.integer("data.validation_size", validation, 1))
        if "shard_sizes" in table:
            for other in ("min_shard_size", "max_shard_size", "growth"):
                if other in table:
                    raise self.fail(f"data.{other}", "absent when 'data.shard_sizes' is given",
                                    table[other])
            sizes = table["shard_sizes"]
            rule = "a list of at least 2 strictly increasing integers >= 1"
            if (not isinstance(sizes, list | tuple) or len(sizes) < 2
                    or not all(_is_int(s) and s >= 1 for s in sizes)
                    or any(b <= a for a, b in itertools.pairwise(sizes))):
                raise self.fail("data.shard_sizes", rule, sizes)
            return DataAxis(tuple(int(s) for s in sizes), None, data_seed, validation_size)
        if "min_shard_size" not in table:
            raise self.fail("data.min_shard_size",
                            "an integer >= 1 (it is required unless 'data.shard_sizes' is given)",
                            None)
        lo = self.integer("data.min_shard_size", table["min_shard_size"], 1)
        if "max_shard_size" not in table:
            raise self.fail("data.max_shard_size",
                            "an integer (it is required unless 'data.shard_sizes' is given)", None)
        hi = table["max_shard_size"]
        if not _is_int(hi) or hi <= lo:
            raise self.fail("data.max_shard_size",
                            f"an integer > 'data.min_shard_size' ({lo})", hi)
        growth = self.number("data.growth", table.get("growth", 2.0), 1.2, 10)
        return DataAxis(geometric_shard_sizes(lo, int(hi), growth), growth, data_seed,
                        validation_size)

    def model(self, table: Mapping[str, Any]) -> ModelAxis:
        self.check_fields(table, "model")
        knob = self.string("model.knob", table.get("knob", "width"))
        if "sizes" not in table:
            raise self.fail("model.sizes", "a list of numbers (it is required)", None)
        sizes = table["sizes"]
        rule = "a non-empty, strictly increasing list of numbers > 0"
        if (not isinstance(sizes, list | tuple) or not sizes
                or not all(_is_number(s) and s > 0 for s in sizes)
                or any(b <= a for a, b in itertools.pairwise(sizes))):
            raise self.fail("model.sizes", rule, sizes)
        min_size = table.get("min_size")
        if min_size is not None and (not _is_number(min_size) or not 0 < min_size <= sizes[0]):
            raise self.fail("model.min_size",
                            f"a number > 0 and <= the smallest of 'model.sizes' ({sizes[0]:g})",
                            min_size)
        max_size = table.get("max_size")
        if max_size is not None and (not _is_number(max_size) or max_size < sizes[-1]):
            raise self.fail("model.max_size",
                            f"a number >= the largest of 'model.sizes' ({sizes[-1]:g})", max_size)
        return ModelAxis(tuple(sizes), knob, min_size, max_size)

    def train(self, table: Mapping[str, Any]) -> dict[str, Any]:
        def check(name: str, value: Any) -> None:
            if isinstance(value, _dt.date | _dt.time | _dt.datetime):
                raise self.fail(name, "a string, number, boolean, list or table (not a date)",
                                value)
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail(name, "a finite number", value)
            if isinstance(value, Mapping):
                for k, v in value.items():
                    check(f"{name}.{k}", v)
            elif isinstance(value, list | tuple):
                for i, v in enumerate(value):
                    check(f"{name}[{i}]", v)

        for key, value in table.items():
            if str(key).startswith("_"):
                raise self.fail(f"train.{key}",
                                "a name that does not start with '_' (reserved for the engine)",
                                key)
            check(f"train.{key}", value)
        return dict(_plain(dict(table)))

    def search(self, table: Mapping[str, Any]) -> SearchSpec:
        self.check_fields(table, "search")
        method = table.get("method", "hestness")
        if method not in ("grid", "hestness"):
            raise self.fail("search.method", "one of 'grid', 'hestness'", method)
        samples = self.integer("search.samples", table.get("samples", 3), 1, 1000)
        refine = table.get("refine", True)
        if not isinstance(refine, bool):
            raise self.fail("search.refine", "a boolean (true or false)", refine)
        margin = self.integer("search.margin", table.get("margin", 0), 0, 100)
        seed = self.integer("search.seed", table.get("seed", 0), 0)
        params_table = table.get("params", {})
        if not isinstance(params_table, Mapping):
            raise self.fail("search.params", "a table of hyperparameter ranges, e.g. "
                            "lr = { log = [1e-4, 1e-1] }", params_table)
        params = tuple(self.param(str(k), v) for k, v in params_table.items())
        param_samples = self.integer("search.param_samples", table.get("param_samples", 8),
                                     1, 1000)
        sampler = table.get("sampler", "halton")
        if sampler not in SAMPLERS:
            raise self.fail("search.sampler", f"one of {', '.join(map(repr, SAMPLERS))}", sampler)
        return SearchSpec(method, samples, refine, margin, seed, params, param_samples, sampler)

    def param(self, key: str, value: Any) -> ParamSpace:
        name = f"search.params.{key}"
        example = "{ log = [1e-4, 1e-1] }, { uniform = [0, 0.1] }, { int = [1, 4] } or " \
                  "{ choice = [\"adam\", \"sgd\"] }"
        if key.startswith("_") or not key.strip():
            raise self.fail(name, "a name that does not start with '_' (reserved for the "
                            "engine)", key)
        if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in PARAM_KINDS:
            raise self.fail(name, f"a table with one of {', '.join(PARAM_KINDS)}: {example}",
                            _plain(value))
        kind, bounds = next(iter(value.items()))
        if kind == "choice":
            if (not isinstance(bounds, list | tuple) or not bounds
                    or not all(isinstance(c, str | int | float | bool) for c in bounds)
                    or len({json.dumps(c) for c in bounds}) != len(bounds)):
                raise self.fail(f"{name}.choice", "a non-empty list of distinct strings, numbers "
                                "or booleans", _plain(bounds))
            return ParamSpace(key, kind, choices=tuple(bounds))
        pair_ok = (isinstance(bounds, list | tuple) and len(bounds) == 2
                   and all(_is_number(b) for b in bounds) and bounds[0] < bounds[1])
        if kind == "int":
            if not pair_ok or not all(_is_int(b) for b in bounds):
                raise self.fail(f"{name}.int", "a list [low, high] of integers with low < high",
                                _plain(bounds))
        elif kind == "log":
            if not pair_ok or bounds[0] <= 0:
                raise self.fail(f"{name}.log", "a list [low, high] of numbers with 0 < low < high",
                                _plain(bounds))
        elif not pair_ok:
            raise self.fail(f"{name}.uniform", "a list [low, high] of numbers with low < high",
                            _plain(bounds))
        return ParamSpace(key, kind, float(bounds[0]), float(bounds[1]))

    def budget(self, table: Mapping[str, Any]) -> BudgetSpec:
        self.check_fields(table, "budget")
        factor = self.number("budget.max_factor", table.get("max_factor", 8.0), 1, 1024)
        tail = table.get("tail", 0.2)
        if not _is_number(tail) or not 0 < tail < 1:
            raise self.fail("budget.tail", "a number in (0, 1): the end share of the budget "
                            "where a best step means the run was budget-limited", tail)
        margin = self.number("budget.margin", table.get("margin", 0.05), 0, 1000)
        return BudgetSpec(factor, float(tail), margin)

    def execution(self, table: Mapping[str, Any]) -> ExecutionSpec:
        self.check_fields(table, "execution")
        attempts = self.integer("execution.max_attempts", table.get("max_attempts", 2), 1, 100)
        heartbeat = self.number("execution.heartbeat_s", table.get("heartbeat_s", 5.0), 0.05,
                                3600)
        stale = self.number("execution.stale_after_s", table.get("stale_after_s", 60.0), 0.1,
                            86400)
        if stale < 2 * heartbeat:
            raise self.fail("execution.stale_after_s",
                            f"at least twice 'execution.heartbeat_s' ({2 * heartbeat:g})",
                            table.get("stale_after_s", 60.0))
        cpus = self.number("execution.cpus_per_run", table.get("cpus_per_run", 1.0), 0.01, 1024)
        gpus = self.number("execution.gpus_per_run", table.get("gpus_per_run", 0.0), 0, 64)
        return ExecutionSpec(attempts, heartbeat, stale, cpus, gpus)


def _range_rule(kind: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{kind} in [{lo:g}, {hi:g}]"
    if lo is not None:
        return f"{kind} >= {lo:g}"
    if hi is not None:
        return f"{kind} <= {hi:g}"
    return kind


def geometric_shard_sizes(min_size: int, max_size: int, growth: float) -> tuple[int, ...]:
    """Shard sizes from ``min_size`` to ``max_size`` growing by about ``growth`` per step.

    ``k = max(1, round(log(max/min) / log(growth)))`` steps and
    ``size_i = round(min * (max/min) ** (i/k))``, so both endpoints are exact (METHOD.md 1.2).
    Duplicates from rounding (tiny shards) are dropped.
    """
    ratio = max_size / min_size
    steps = max(1, round(math.log(ratio) / math.log(growth)))
    sizes = sorted({round(min_size * ratio ** (i / steps)) for i in range(steps + 1)})
    sizes[0], sizes[-1] = min_size, max_size
    return tuple(int(s) for s in sizes)
