"""The contract between scalinglab and a user's training code.

A task is a plain function ``train(trial: Trial) -> Mapping[str, float]``. The trial
carries the run's configuration (which data shard, which model size, which seed, which
hyperparameters) and a :meth:`Trial.report` method that the task calls as training goes,
like Optuna's ``trial.report``. The engine stores every report as the run's training
curve and scores the run by the minimum reported validation error (Hestness et al. 2017;
docs/engine.md 'What the analysis reads'). The task returns its final metrics; ``n_params`` (the model's
parameter count) should be among them so that the model-size law s(m) can be fitted.

Example
-------
>>> import numpy as np
>>> def train(trial):
...     rng = np.random.default_rng(trial.seed)
...     idx = trial.shard_indices(pool_size=10_000)   # nested: contains every smaller shard
...     width = int(trial.model_size)
...     for epoch in range(3):
...         err = 1.0 / (1 + len(idx) * width * (epoch + 1) * 1e-4) + 0.01 * rng.random()
...         trial.report(epoch, err)
...         if trial.should_stop():
...             break
...     return {"val_error": err, "n_params": 10 * width}
>>> trial = Trial.standalone(shard_size=256, model_size=8, seed=0)
>>> metrics = train(trial)
>>> trial.min_val_error <= metrics["val_error"]
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from scalinglab._errors import invalid_parameter

__all__ = ["Report", "RunConfig", "TaskFunction", "Trial", "nested_shard_indices"]


def nested_shard_indices(pool_size: int, shard_size: int, data_seed: int) -> np.ndarray:
    """Indices of a nested data shard of a pool of examples.

    The shard is the first ``shard_size`` entries of one seeded permutation of
    ``range(pool_size)``, so for a fixed ``data_seed`` every shard contains every smaller
    one (Hestness et al. 2017, section 1, step 2) and is reproducible from the spec alone.

    Parameters
    ----------
    pool_size : int
        Number of training examples available to the task.
    shard_size : int
        Number of examples in this shard, ``1 <= shard_size <= pool_size``.
    data_seed : int
        Seed of the permutation; the same for every shard of a study.

    Returns
    -------
    numpy.ndarray
        ``shard_size`` distinct integer indices in ``[0, pool_size)``.
    """
    if not 1 <= shard_size <= pool_size:
        raise invalid_parameter("shard_size", "nested_shard_indices",
                                f"in [1, {pool_size}] (the pool size)", shard_size)
    permutation = np.random.default_rng(data_seed).permutation(pool_size)
    return permutation[:shard_size]


@dataclass(frozen=True)
class RunConfig:
    """What one run trains: a shard, a model size, a seed and hyperparameters.

    Attributes
    ----------
    shard_index : int
        Position of the shard on the data axis, 0 for the smallest.
    shard_size : int
        Number of training examples in the shard.
    model_size : float
        Value of the model-size knob (width, channels, ...), as the spec gives it.
    seed : int
        Seed for model initialisation and data order of this run.
    data_seed : int
        Seed of the nested shard permutation, shared by every run of a study.
    params : Mapping[str, Any]
        Training hyperparameters (learning rate, optimizer, epochs, ...).
    budget : float
        Multiplier of the task's own training budget (steps or epochs): 1 for a first run,
        2, 4, ... when the engine reruns a budget-limited cell (see :attr:`Trial.budget`).
    """

    shard_index: int
    shard_size: int
    model_size: float
    seed: int
    data_seed: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    budget: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "shard_index": self.shard_index,
            "shard_size": self.shard_size,
            "model_size": self.model_size,
            "seed": self.seed,
            "data_seed": self.data_seed,
            "params": dict(self.params),
            "budget": self.budget,
        }


@dataclass(frozen=True)
class Report:
    """One point of a run's training curve."""

    step: int
    val_error: float
    metrics: Mapping[str, float] = field(default_factory=dict)


class Trial:
    """The handle a task gets: its configuration and a way to report progress.

    Parameters
    ----------
    config : RunConfig
        What to train.
    on_report : callable, optional
        Called with each :class:`Report`; the engine uses it to store the curve and
        beat the heartbeat. It may return ``True`` to ask the task to stop early.
    """

    def __init__(
        self,
        config: RunConfig,
        on_report: Callable[[Report], bool | None] | None = None,
    ) -> None:
        self.config = config
        self._on_report = on_report
        self._reports: list[Report] = []
        self._stop_requested = False
        self._budget_read = False

    @classmethod
    def standalone(
        cls,
        shard_size: int,
        model_size: float,
        seed: int = 0,
        *,
        shard_index: int = 0,
        data_seed: int = 0,
        params: Mapping[str, Any] | None = None,
        budget: float = 1.0,
    ) -> Trial:
        """A trial outside any study, for trying a task function by hand or in tests."""
        return cls(
            RunConfig(
                shard_index=shard_index,
                shard_size=shard_size,
                model_size=model_size,
                seed=seed,
                data_seed=data_seed,
                params=params or {},
                budget=budget,
            )
        )

    # Shortcuts, so that task code reads like the paper: trial.shard_size, trial.model_size.
    @property
    def shard_size(self) -> int:
        return self.config.shard_size

    @property
    def model_size(self) -> float:
        return self.config.model_size

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def params(self) -> Mapping[str, Any]:
        return self.config.params

    @property
    def budget(self) -> float:
        """Multiply your training budget (maximum steps or epochs) by this factor.

        1 for a first run. When a run is budget-limited (it reached its budget with its best
        step in the last part of it), the engine reruns its cell with 2, 4, ... up to
        ``[budget] max_factor``. A task that reads this property declares that it honours it;
        the engine extends only such tasks (a task that ignores it would train the same again).
        Return ``max_steps`` (the step budget the run had) in the final metrics when the task
        stops early on its own, so the engine can tell an early stop from the end of the budget.
        """
        self._budget_read = True
        return self.config.budget

    @property
    def budget_aware(self) -> bool:
        """Whether the task read :attr:`budget` (the engine extends only those tasks)."""
        return self._budget_read

    def shard_indices(self, pool_size: int) -> np.ndarray:
        """Indices of this run's nested shard in a pool of ``pool_size`` examples."""
        return nested_shard_indices(pool_size, self.config.shard_size, self.config.data_seed)

    def report(self, step: int, val_error: float, **metrics: float) -> None:
        """Record the validation error (and any other metrics) at a training step.

        Raises
        ------
        ValueError
            If ``val_error`` is not a finite number.
        """
        value = float(val_error)
        if not math.isfinite(value):
            raise invalid_parameter("val_error", "Trial.report", "a finite number", val_error)
        item = Report(int(step), value, {k: float(v) for k, v in metrics.items()})
        self._reports.append(item)
        if self._on_report is not None and self._on_report(item):
            self._stop_requested = True

    def should_stop(self) -> bool:
        """Whether the engine asked this run to stop (it is being pruned or shut down)."""
        return self._stop_requested

    @property
    def reports(self) -> tuple[Report, ...]:
        """The training curve reported so far."""
        return tuple(self._reports)

    @property
    def min_val_error(self) -> float:
        """The lowest validation error reported so far (``nan`` before the first report)."""
        return min((r.val_error for r in self._reports), default=math.nan)


class TaskFunction(Protocol):
    """A training function: takes a :class:`Trial`, returns final metrics."""

    def __call__(self, trial: Trial) -> Mapping[str, Any]: ...
