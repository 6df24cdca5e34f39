"""The executor interface: what runs a study's runs, and what it says of a worker that died.

:class:`~scalinglab.execution.LocalExecutor`, :class:`~scalinglab.execution.InProcessExecutor`
and :class:`~scalinglab.execution.RayExecutor` implement it; so can any other executor.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from scalinglab.execution._worker import WorkerJob
from scalinglab.storage import RunState, Storage

__all__ = ["Executor", "WorkerDeath"]


@dataclass(frozen=True)
class WorkerDeath:
    """A worker that died on its own, and the run it held (if any)."""

    worker: str
    exitcode: int | None
    run_id: int | None
    run_state: RunState | None

    def to_dict(self) -> dict[str, Any]:
        return {"worker": self.worker, "exitcode": self.exitcode, "run_id": self.run_id,
                "run_state": None if self.run_state is None else self.run_state.value}


class Executor(abc.ABC):
    """Runs a study's WAITING runs on some workers; the database coordinates them.

    The study loop calls :meth:`start` once, then :meth:`check` every tick (to notice dead
    workers, fail the runs they held and replace them) until no work is left, then
    :meth:`stop`. A Ray executor can implement the same three methods.
    """

    @abc.abstractmethod
    def start(self, job: WorkerJob, storage: Storage) -> None:
        """Start the workers of ``job``."""

    @abc.abstractmethod
    def check(self) -> list[WorkerDeath]:
        """Handle workers that died since the last call; return them."""

    @abc.abstractmethod
    def stop(self, grace_s: float = 2.0) -> int:
        """Stop every worker; runs they still hold go back to WAITING. Returns how many."""

    @property
    @abc.abstractmethod
    def n_workers(self) -> int:
        """How many workers run."""

    @property
    def inline(self) -> bool:
        """Whether runs execute in the calling process during :meth:`check`."""
        return False
