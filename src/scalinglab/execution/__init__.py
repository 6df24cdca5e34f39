"""Execution of a study's runs: the executor interface, the local worker pool, the lifecycle.

Workers claim WAITING runs straight from the storage (an atomic state change), train them
with the study's task, beat a heartbeat while they train, and store the curve and final
metrics. :class:`LocalExecutor` (the default) runs long-lived worker processes on this
machine; :class:`InProcessExecutor` runs in the calling process (``workers=0``). Other
executors implement :class:`Executor`: :class:`RayExecutor` places the same worker loop on a
Ray cluster (Ray is imported only when it starts).
"""

from __future__ import annotations

from scalinglab.execution._base import Executor, WorkerDeath
from scalinglab.execution._lifeline import pid_alive
from scalinglab.execution._local import InProcessExecutor, LocalExecutor, release_orphans, running
from scalinglab.execution._ray import RayExecutor
from scalinglab.execution._worker import (
    BUDGET_KEYS,
    WorkerJob,
    budget_facts,
    execute_run,
    worker_id,
    worker_loop,
)

__all__ = [
    "BUDGET_KEYS",
    "Executor",
    "InProcessExecutor",
    "LocalExecutor",
    "RayExecutor",
    "WorkerDeath",
    "WorkerJob",
    "budget_facts",
    "execute_run",
    "pid_alive",
    "release_orphans",
    "running",
    "worker_id",
    "worker_loop",
]
