"""The storage interface: records and the one narrow base class every backend implements."""

from __future__ import annotations

import abc
import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CurvePoint",
    "PlannedRun",
    "RunRecord",
    "RunState",
    "Storage",
    "StudyRecord",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """The current time in UTC, naive (the storage keeps every timestamp in UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class RunState(enum.StrEnum):
    """Lifecycle of a run: WAITING -> RUNNING -> COMPLETE | FAILED | PRUNED."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    PRUNED = "PRUNED"

    @property
    def is_finished(self) -> bool:
        return self in (RunState.COMPLETE, RunState.FAILED, RunState.PRUNED)


@dataclass(frozen=True)
class StudyRecord:
    """A stored study: its name, task and spec (as a JSON-ready dict)."""

    id: int
    name: str
    task: str
    spec: Mapping[str, Any]
    created_at: dt.datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", MappingProxyType(dict(self.spec)))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "task": self.task, "spec": dict(self.spec),
                "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class PlannedRun:
    """A run to insert if absent; the key is (shard_index, model_size, seed, config_key)."""

    shard_index: int
    shard_size: int
    model_size: float
    seed: int
    config_key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    phase: int = 0

    @property
    def key(self) -> tuple[int, float, int, str]:
        return (self.shard_index, float(self.model_size), self.seed, self.config_key)

    def to_dict(self) -> dict[str, Any]:
        return {"shard_index": self.shard_index, "shard_size": self.shard_size,
                "model_size": self.model_size, "seed": self.seed,
                "config_key": self.config_key, "params": dict(self.params), "phase": self.phase}


@dataclass(frozen=True)
class CurvePoint:
    """One stored point of a run's training curve."""

    step: int
    val_error: float
    metrics: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "val_error": self.val_error, "metrics": dict(self.metrics)}


@dataclass(frozen=True)
class RunRecord:
    """A stored run: its key, state, lifecycle timestamps and results."""

    id: int
    study_id: int
    shard_index: int
    shard_size: int
    model_size: float
    seed: int
    config_key: str
    params: Mapping[str, Any]
    phase: int
    state: RunState
    worker: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    attempts: int
    failures: int
    error: str | None
    score: float | None
    n_params: float | None
    duration_s: float | None
    final_metrics: Mapping[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        def iso(t: dt.datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "id": self.id, "study_id": self.study_id, "shard_index": self.shard_index,
            "shard_size": self.shard_size, "model_size": self.model_size, "seed": self.seed,
            "config_key": self.config_key, "params": dict(self.params), "phase": self.phase,
            "state": self.state.value, "worker": self.worker,
            "created_at": iso(self.created_at), "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at), "heartbeat_at": iso(self.heartbeat_at),
            "attempts": self.attempts, "failures": self.failures, "error": self.error,
            "score": self.score, "n_params": self.n_params, "duration_s": self.duration_s,
            "final_metrics": None if self.final_metrics is None else dict(self.final_metrics),
        }


class Storage(abc.ABC):
    """Where studies, runs and training curves live.

    Invariants every backend keeps:

    - **Process and thread safe.** Any number of processes (on any number of hosts, for a
      server database) may call every method at once; the database coordinates them.
    - **Atomic claims.** :meth:`claim_run` moves one run WAITING -> RUNNING in a single atomic
      state change; two callers never get the same run.
    - **A run key is stored once.** (study, shard, model size, seed, config key) is unique;
      :meth:`add_runs` inserts only what is absent.
    - **Finished runs are never modified.** COMPLETE, FAILED and PRUNED are final; only a
      RUNNING run held by the caller's worker id can be finished or failed.
    - **Timestamps are UTC** (naive ``datetime`` in UTC, see :func:`utcnow`).
    - **No pickle.** Specs, params, metrics and curves are stored as JSON and numbers.
    """

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """Where the storage is, safe to print and log: its URL with every credential masked.

        Everything that shows a storage (status lines, errors, logs) shows this, never the
        URL it was opened with.
        """

    # -- studies ---------------------------------------------------------------------------
    @abc.abstractmethod
    def create_study(self, name: str, task: str, spec: Mapping[str, Any]) -> StudyRecord:
        """Create a study, or return the stored one of that name unchanged."""

    @abc.abstractmethod
    def get_study(self, name: str) -> StudyRecord | None:
        """The study called ``name``, or ``None``."""

    @abc.abstractmethod
    def list_studies(self) -> list[StudyRecord]:
        """Every stored study, oldest first."""

    def update_study_spec(self, study_id: int, spec: Mapping[str, Any]) -> StudyRecord:
        """Replace the stored spec of a study (its ``[train]`` changed); return the record."""
        raise NotImplementedError(f"{type(self).__name__} cannot update a study's spec")

    # -- planning ----------------------------------------------------------------------------
    @abc.abstractmethod
    def add_runs(self, study_id: int, planned: Sequence[PlannedRun]) -> int:
        """Insert the planned runs that are not stored yet as WAITING; return how many."""

    # -- lifecycle ---------------------------------------------------------------------------
    @abc.abstractmethod
    def claim_run(self, study_id: int, worker: str) -> RunRecord | None:
        """Atomically move the oldest WAITING run to RUNNING for ``worker``.

        A re-claimed run (one that was interrupted before) loses its partial curve, so that
        a resumed study stores exactly what an uninterrupted one would.
        """

    @abc.abstractmethod
    def heartbeat(self, run_id: int, worker: str) -> bool:
        """Beat the heartbeat of a RUNNING run; ``False`` if ``worker`` no longer holds it."""

    @abc.abstractmethod
    def finish_run(
        self,
        run_id: int,
        worker: str,
        *,
        state: RunState,
        points: Sequence[CurvePoint],
        score: float | None,
        n_params: float | None,
        final_metrics: Mapping[str, Any] | None,
        duration_s: float | None,
    ) -> bool:
        """Store the curve and results and move the run to ``state`` (COMPLETE or PRUNED).

        Returns ``False`` (and writes nothing) if ``worker`` no longer holds the run.
        """

    @abc.abstractmethod
    def fail_run(self, run_id: int, worker: str | None, error: str, max_attempts: int) -> RunState:
        """Record a failed attempt of a RUNNING run.

        The run goes back to WAITING with its error while it has failed fewer than
        ``max_attempts`` times, else to FAILED. ``worker=None`` fails it whoever holds it.
        Returns the new state (or the current one if the run was not RUNNING).
        """

    @abc.abstractmethod
    def release_runs(
        self,
        study_id: int,
        *,
        workers: Sequence[str] | None = None,
        stale_before: dt.datetime | None = None,
    ) -> int:
        """Give RUNNING runs back to WAITING without counting a failure.

        Selects RUNNING runs of ``workers`` and/or whose heartbeat is older than
        ``stale_before`` (a run matching either is released). Returns how many.
        """

    @abc.abstractmethod
    def restore_runs(
        self, study_id: int, restored: Sequence[tuple[RunRecord, Sequence[CurvePoint]]]
    ) -> int:
        """Insert runs copied from another storage (``scalinglab import``), with their results.

        Each item is a run record (its ``id`` and ``study_id`` are ignored) and its curve. A
        run whose key is already stored is skipped, so restoring twice changes nothing.
        Finished runs (COMPLETE, FAILED, PRUNED) keep their state, timestamps and results; a
        WAITING or RUNNING run is stored as WAITING without a curve, since no worker holds it
        here. Returns how many runs were inserted.
        """

    # -- reading -----------------------------------------------------------------------------
    @abc.abstractmethod
    def count_runs(self, study_id: int) -> dict[RunState, int]:
        """Number of runs in each state (every state is a key)."""

    @abc.abstractmethod
    def get_runs(self, study_id: int, states: Sequence[RunState] | None = None) -> list[RunRecord]:
        """The study's runs (optionally only some states), by id."""

    @abc.abstractmethod
    def get_curve(self, run_id: int) -> list[CurvePoint]:
        """The stored training curve of a run, in report order."""

    @abc.abstractmethod
    def runs_frame(self, study_id: int, states: Sequence[RunState] | None = None) -> pd.DataFrame:
        """The study's runs as one pandas frame (one query; for aggregation and tables).

        Columns: id, shard_index, shard_size, model_size, seed, config_key, phase, state,
        attempts, failures, score, n_params, duration_s, error, params_json and
        final_metrics_json (the stored JSON text; the study reads budgets from them).
        """

    def time_span(self, study_id: int) -> tuple[dt.datetime | None, dt.datetime | None]:
        """When the study's first run started and its last one ended (or last beat).

        ``(None, None)`` before any run started. Backends may override this with one query.
        """
        runs = self.get_runs(study_id)
        starts = [r.started_at for r in runs if r.started_at is not None]
        ends = [t for r in runs for t in (r.finished_at, r.heartbeat_at) if t is not None]
        return (min(starts) if starts else None, max(ends) if ends else None)

    def check_alive(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`scalinglab.StorageError` if the storage is gone under us.

        A file database that was deleted or replaced since it was opened would swallow
        every result written to it; a long-running writer calls this every tick.
        """

    def check_writable(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`scalinglab.StorageError` if this storage cannot be written to."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
