"""Executors on this machine: the local worker pool and the in-process one."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scalinglab._errors import ScalingLabError
from scalinglab.execution._base import Executor, WorkerDeath
from scalinglab.execution._lifeline import pid_alive
from scalinglab.execution._worker import (
    _THREAD_VARS,
    WorkerJob,
    process_main,
    worker_id,
    worker_loop,
)
from scalinglab.storage import RunState, Storage

__all__ = ["InProcessExecutor", "LocalExecutor", "release_orphans", "running"]


@dataclass
class _Slot:
    process: Any
    token: str

    @property
    def worker(self) -> str:
        return worker_id(self.token, pid=self.process.pid)


class LocalExecutor(Executor):
    """Long-lived worker processes on this machine, one numeric thread each.

    Parameters
    ----------
    workers : int, optional
        Number of worker processes (default: the number of cores).
    start_method : str, optional
        ``"forkserver"`` (default where available: scalinglab and the task are imported once
        in the server, so starting and restarting workers is cheap) or ``"spawn"``; never
        ``fork`` (threads and open database handles do not survive it).
    max_deaths : int, optional
        Give up (raise) after this many workers died without holding a run, which means the
        task cannot even start (default: 3 per worker).
    """

    def __init__(self, workers: int | None = None, *, start_method: str | None = None,
                 max_deaths: int | None = None) -> None:
        count = workers if workers is not None else (os.cpu_count() or 1)
        if not isinstance(count, int) or count < 1:
            raise ValueError(
                f"The 'workers' parameter of LocalExecutor must be an integer >= 1. "
                f"Got {workers!r} instead.")
        self._count = count
        if start_method is None:
            start_method = ("forkserver" if "forkserver" in mp.get_all_start_methods()
                            else "spawn")
        self._ctx = mp.get_context(start_method)
        self._max_deaths = max_deaths if max_deaths is not None else 3 * count
        self._slots: list[_Slot] = []
        self._session = uuid.uuid4().hex[:8]
        self._started = 0
        self._idle_deaths = 0
        self._job: WorkerJob | None = None
        self._storage: Storage | None = None
        self._stop_event: Any = None
        self._pids: list[int] = []

    @property
    def n_workers(self) -> int:
        return self._count

    @property
    def pids(self) -> list[int]:
        """Process ids of every worker this executor started (alive or not)."""
        return list(self._pids)

    def _spawn(self) -> _Slot:
        assert self._job is not None
        token = f"{self._session}-{self._started}"
        self._started += 1
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=process_main, args=(self._job, token, self._stop_event, os.getpid()),
            name=f"scalinglab-worker-{token}", daemon=True)
        # One thread per worker for numpy/BLAS: the variables must be in the environment
        # before the child imports numpy, and spawn copies the environment at start.
        saved = {name: os.environ.get(name) for name in _THREAD_VARS}
        try:
            for name in _THREAD_VARS:
                os.environ[name] = "1"
            process.start()
            self._pids.append(int(process.pid))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return _Slot(process, token)

    def start(self, job: WorkerJob, storage: Storage) -> None:
        self._job, self._storage = job, storage
        if self._ctx.get_start_method() == "forkserver":
            from scalinglab.tasks import BUILTIN_TASKS

            preload = ["scalinglab.execution._worker"]
            reference = BUILTIN_TASKS.get(job.task, job.task)
            preload.append(reference.partition(":")[0])
            self._ctx.set_forkserver_preload(preload)  # type: ignore[attr-defined]
        self._stop_event = self._ctx.Event()
        self._slots = []
        for _ in range(self._count):  # one at a time: stop() must know every started worker
            self._slots.append(self._spawn())

    def check(self) -> list[WorkerDeath]:
        assert self._job is not None and self._storage is not None
        deaths: list[WorkerDeath] = []
        for i, slot in enumerate(self._slots):
            code = slot.process.exitcode
            if code is None:
                continue
            slot.process.join(0)
            worker = slot.worker
            held = [r for r in self._storage.get_runs(self._job.study_id, [RunState.RUNNING])
                    if r.worker == worker]
            run_id, state = None, None
            for run in held:
                run_id = run.id
                state = self._storage.fail_run(
                    run.id, worker,
                    f"The worker process running this run died (exit code {code}); "
                    f"the task crashed it or it was killed.",
                    self._job.max_attempts)
            if not held:
                self._idle_deaths += 1
                if self._idle_deaths > self._max_deaths:
                    raise ScalingLabError(
                        f"{self._idle_deaths} worker processes died without running anything "
                        f"(last exit code {code}); the task cannot start. Try workers=0 to "
                        f"see its error."
                    )
            deaths.append(WorkerDeath(worker, code, run_id, state))
            self._slots[i] = self._spawn()
        return deaths

    def stop(self, grace_s: float = 2.0, *, release: bool = True) -> int:
        """Stop every worker; with ``release``, give the runs they held back to WAITING."""
        if self._stop_event is None:
            return 0
        self._stop_event.set()
        deadline = time.monotonic() + grace_s
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
        for slot in self._slots:
            if slot.process.is_alive():
                slot.process.terminate()
        for slot in self._slots:
            slot.process.join(5)
            if slot.process.is_alive():  # pragma: no cover - a task ignoring SIGTERM
                slot.process.kill()
                slot.process.join()
        released = 0
        if release and self._storage is not None and self._job is not None:
            released = self._storage.release_runs(
                self._job.study_id, workers=[s.worker for s in self._slots])
        self._slots = []
        return released


class InProcessExecutor(Executor):
    """Runs in the calling process, one run per :meth:`check` call (``workers=0``).

    For debugging a task (its traceback shows up directly) and for fast tests. A task that
    kills its process kills the study.
    """

    def __init__(self, runs_per_check: int = 1_000_000) -> None:
        self._job: WorkerJob | None = None
        self._storage: Storage | None = None
        self._worker = worker_id(f"inline-{uuid.uuid4().hex[:8]}")
        self._runs_per_check = runs_per_check

    @property
    def n_workers(self) -> int:
        return 1

    @property
    def inline(self) -> bool:
        return True

    def start(self, job: WorkerJob, storage: Storage) -> None:
        self._job, self._storage = job, storage

    def check(self) -> list[WorkerDeath]:
        assert self._job is not None and self._storage is not None
        done = [0]

        def stop() -> bool:
            done[0] += 1
            return done[0] > self._runs_per_check

        worker_loop(self._job, self._worker, stop=stop, storage=self._storage,
                    exit_when_idle=True)
        return []

    def stop(self, grace_s: float = 2.0, *, release: bool = True) -> int:
        if not release or self._storage is None or self._job is None:
            return 0
        return self._storage.release_runs(self._job.study_id, workers=[self._worker])


def release_orphans(storage: Storage, study_id: int, stale_after_s: float) -> int:
    """Give back RUNNING runs whose worker is gone (resume after a crash or ``kill -9``).

    A run goes back to WAITING, without counting a failed attempt, when its worker ran on
    this host and that process no longer exists, or when its heartbeat is older than
    ``stale_after_s`` (workers on other hosts).
    """
    import datetime as dt

    from scalinglab.storage import utcnow

    host = socket.gethostname()
    dead = []
    for run in storage.get_runs(study_id, [RunState.RUNNING]):
        parts = (run.worker or "").rsplit(":", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not pid_alive(int(parts[1])):
            dead.append(run.worker or "")
    stale_before = utcnow() - dt.timedelta(seconds=stale_after_s)
    return storage.release_runs(study_id, workers=dead or None, stale_before=stale_before)


@contextlib.contextmanager
def running(executor: Executor, job: WorkerJob, storage: Storage) -> Iterator[Executor]:
    """Start ``executor`` and make sure it is stopped, whatever happens."""
    executor.start(job, storage)
    try:
        yield executor
    finally:
        executor.stop()
