"""The study spec: declared once, validated once at load time (docs/spec.md).

Validation is the boundary: the file's layout is a set of pydantic models
(:mod:`scalinglab.study._spec_model`, which also gives its JSON Schema), each failure is one
line in the house shape ("The 'data.growth' parameter of spec.toml must be ... Got ...
instead."), and the frozen objects here are built from a validated file; code downstream
trusts a :class:`StudySpec`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from scalinglab._errors import InputError
from scalinglab._json import jsonable

if TYPE_CHECKING:
    from scalinglab.study._spec_model import StudyFile

__all__ = ["BudgetSpec", "DataAxis", "ExecutionSpec", "ModelAxis", "ParamSpace", "SearchSpec",
           "StudySpec"]


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
    #: The best-fit size of a shard is the smallest within a factor ``1 + size_tolerance``
    #: of its lowest score (:func:`scalinglab.study.aggregate_runs`).
    size_tolerance: float = 0.0

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
        if self.size_tolerance:
            out["size_tolerance"] = self.size_tolerance
        return out


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
            "train": jsonable(dict(self.train)),
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

        Raises
        ------
        InputError
            A field breaks a rule: one line that names it, its rule and the value given.
        """
        if not isinstance(raw, Mapping):
            raise InputError(f"The study spec must be a table (a dict). Got {raw!r} instead.")
        from scalinglab.study._spec_model import validate  # pydantic only where a spec is read

        return _build(validate(_as_tree(raw), where))

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the TOML layout, for editors (docs/spec.md).

        ``scalinglab schema`` prints it. Rules JSON Schema cannot state (a strictly
        increasing list, ``max_shard_size > min_shard_size``) are in the field descriptions
        and checked by :meth:`from_dict`.
        """
        from scalinglab.study._spec_model import json_schema

        return json_schema()


def _build(file: StudyFile) -> StudySpec:
    """The spec objects of a validated file: seeds spelt out, shard sizes computed."""
    d = file.data
    if d.shard_sizes is not None:
        data = DataAxis(tuple(d.shard_sizes), None, d.data_seed, d.validation_size)
    else:
        assert d.min_shard_size is not None and d.max_shard_size is not None  # validated
        data = DataAxis(geometric_shard_sizes(d.min_shard_size, d.max_shard_size, d.growth),
                        d.growth, d.data_seed, d.validation_size)
    m, s, b, e = file.model, file.search, file.budget, file.execution
    params = []
    for key, entry in s.params.items():
        kind, bounds = entry.kind_and_bounds()
        params.append(ParamSpace(key, kind, choices=tuple(bounds)) if kind == "choice"
                      else ParamSpace(key, kind, float(bounds[0]), float(bounds[1])))
    return StudySpec(
        name=file.name, task=file.task,
        data=data,
        model=ModelAxis(tuple(m.sizes), m.knob, m.min_size, m.max_size, m.size_tolerance),
        metric=file.metric,
        seeds=tuple(range(file.seeds)) if isinstance(file.seeds, int) else tuple(file.seeds),
        train=dict(file.train),
        search=SearchSpec(s.method, s.samples, s.refine, s.margin, s.seed, tuple(params),
                          s.param_samples, s.sampler),
        execution=ExecutionSpec(e.max_attempts, e.heartbeat_s, e.stale_after_s, e.cpus_per_run,
                                e.gpus_per_run),
        budget=BudgetSpec(b.max_factor, b.tail, b.margin),
        description=file.description,
        eps0=file.eps0,
    )


def params_key(params: Mapping[str, Any]) -> str:
    """A short stable hash of a run's hyperparameters (its ``config_key``)."""
    text = json.dumps(jsonable(dict(params)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _as_tree(value: Any) -> Any:
    """``value`` with its mappings as dicts and its tuples as lists, every other value as it is.

    Not a JSON converter: what TOML read (a date, ``inf``) must reach the validator unchanged
    so that it is refused by name.
    """
    if isinstance(value, Mapping):
        return {str(k): _as_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_tree(v) for v in value]
    return value


def geometric_shard_sizes(min_size: int, max_size: int, growth: float) -> tuple[int, ...]:
    """Shard sizes from ``min_size`` to ``max_size`` growing by about ``growth`` per step.

    ``k = max(1, round(log(max/min) / log(growth)))`` steps and
    ``size_i = round(min * (max/min) ** (i/k))``, so both endpoints are exact (docs/spec.md, ``[data]``).
    Duplicates from rounding (tiny shards) are dropped.
    """
    ratio = max_size / min_size
    steps = max(1, round(math.log(ratio) / math.log(growth)))
    sizes = sorted({round(min_size * ratio ** (i / steps)) for i in range(steps + 1)})
    sizes[0], sizes[-1] = min_size, max_size
    return tuple(int(s) for s in sizes)
