"""The worker loop: claim a run from the database, train it, store the curve, repeat.

Workers need no scheduler: the database coordinates them through atomic claims. The same
loop runs in a local worker process, in-process (``workers=0``) or, later, in a Ray actor.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scalinglab._json import json_number
from scalinglab.storage import CurvePoint, RunRecord, RunState, Storage, open_storage
from scalinglab.tasks import Report, RunConfig, TaskFunction, Trial, load_task

__all__ = ["BUDGET_KEYS", "WorkerJob", "budget_facts", "execute_run", "worker_id", "worker_loop"]

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs, as plain data (it crosses process boundaries).

    Attributes
    ----------
    storage_url : str
        Where the study lives.
    study_id : int
        Which study's runs to claim.
    task : str
        Task name (built-in or ``module:function``).
    metric : str
        The reported metric whose minimum is the run's score.
    data_seed : int
        Seed of the nested shards.
    max_attempts : int
        Failed attempts before a run stays FAILED.
    heartbeat_s : float
        Seconds between heartbeats of a running run.
    """

    storage_url: str
    study_id: int
    task: str
    metric: str = "val_error"
    data_seed: int = 0
    max_attempts: int = 2
    heartbeat_s: float = 5.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"storage_url": self.storage_url, "study_id": self.study_id, "task": self.task,
                "metric": self.metric, "data_seed": self.data_seed,
                "max_attempts": self.max_attempts, "heartbeat_s": self.heartbeat_s,
                "extra": dict(self.extra)}


def worker_id(token: str, pid: int | None = None, host: str | None = None) -> str:
    """``host:pid:token``: lets a resumed study tell whether a run's worker is still alive."""
    return f"{host or socket.gethostname()}:{pid or os.getpid()}:{token}"


class _Heartbeat:
    """A thread that beats the heartbeat of the current run every ``interval_s``."""

    def __init__(self, storage: Storage, worker: str, interval_s: float) -> None:
        self.storage, self.worker, self.interval_s = storage, worker, interval_s
        self.run_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scalinglab-heartbeat",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            run_id = self.run_id
            if run_id is not None:
                # A missed beat is harmless; the next one retries.
                with contextlib.suppress(Exception):
                    self.storage.heartbeat(run_id, self.worker)

    def close(self) -> None:
        self._stop.set()


def _score(points: list[CurvePoint], metrics: Mapping[str, Any], metric: str) -> float | None:
    values = [p.val_error if metric == "val_error" else p.metrics.get(metric, math.nan)
              for p in points]
    values = [v for v in values if not math.isnan(v)]
    if values:
        return min(values)
    final = metrics.get(metric)
    if isinstance(final, int | float) and math.isfinite(float(final)):
        return float(final)
    return None


#: Keys the engine writes into every run's final metrics (docs/engine.md, "Budgets").
BUDGET_KEYS = ("best_step", "last_step", "budget", "budget_steps", "budget_limited",
               "budget_aware")


def budget_facts(points: list[CurvePoint], metrics: Mapping[str, Any], metric: str,
                 budget: float, budget_aware: bool, tail: float) -> dict[str, Any]:
    """What the reported curve says about the run's budget (stored in its final metrics).

    Parameters
    ----------
    points : list of CurvePoint
        The reported curve.
    metrics : Mapping
        The task's final metrics; ``max_steps`` there (if a finite number) is the run's step
        budget, else the last reported step is.
    metric : str
        The minimised metric.
    budget : float
        The run's ``trial.budget``.
    budget_aware : bool
        Whether the task read ``trial.budget``.
    tail : float
        ``[budget] tail``.

    Returns
    -------
    dict
        ``best_step`` (step of the minimum; the first on a tie), ``last_step``, ``budget``,
        ``budget_steps``, ``budget_limited`` (it reached ``budget_steps`` and its best step is
        at or beyond ``(1 - tail) * budget_steps``: the minimum measured the budget) and
        ``budget_aware``.
    """
    best_step: int | None = None
    best = math.inf
    for p in points:
        value = p.val_error if metric == "val_error" else p.metrics.get(metric, math.nan)
        if not math.isnan(value) and value < best:
            best, best_step = value, p.step
    last_step = points[-1].step if points else None
    declared = metrics.get("max_steps")
    if isinstance(declared, int | float) and not isinstance(declared, bool) \
            and math.isfinite(float(declared)) and declared > 0:
        budget_steps: float | None = float(declared)
    else:
        budget_steps = None if last_step is None else float(last_step)
    limited = bool(best_step is not None and last_step is not None
                   and budget_steps is not None and last_step >= budget_steps
                   and best_step >= (1.0 - tail) * budget_steps)
    return {"best_step": best_step, "last_step": last_step, "budget": float(budget),
            "budget_steps": budget_steps, "budget_limited": bool(limited),
            "budget_aware": bool(budget_aware)}


def execute_run(
    storage: Storage,
    task: TaskFunction,
    run: RunRecord,
    job: WorkerJob,
    worker: str,
    heartbeat: _Heartbeat | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunState:
    """Train one claimed run and store its outcome; return the run's new state."""
    points: list[CurvePoint] = []

    def on_report(report: Report) -> bool:
        points.append(CurvePoint(report.step, report.val_error, dict(report.metrics)))
        return bool(should_stop and should_stop())

    params = dict(run.params)
    budget = float(params.pop("_budget", 1.0))  # the engine's, not the task's
    config = RunConfig(shard_index=run.shard_index, shard_size=run.shard_size,
                       model_size=_natural(run.model_size), seed=run.seed,
                       data_seed=job.data_seed, params=params, budget=budget)
    trial = Trial(config, on_report)
    if heartbeat is not None:
        heartbeat.run_id = run.id
    start = time.perf_counter()
    try:
        metrics = task(trial)
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f"The task must return a mapping of final metrics. Got {metrics!r} instead.")
        score = _score(points, metrics, job.metric)
        if score is None:
            raise ValueError(
                f"The task reported no finite value of the metric {job.metric!r} "
                f"(call trial.report(step, val_error, {job.metric}=...) while training)."
            )
    except Exception:
        if heartbeat is not None:
            heartbeat.run_id = None
        return storage.fail_run(run.id, worker, traceback.format_exc(), job.max_attempts)
    finally:
        if heartbeat is not None:
            heartbeat.run_id = None
    n_params = metrics.get("n_params")
    final = {str(k): json_number(v) for k, v in metrics.items()}
    final.update(budget_facts(points, metrics, job.metric, budget, trial.budget_aware,
                              float(job.extra.get("budget_tail", 0.2))))
    finished = storage.finish_run(
        run.id, worker,
        state=RunState.PRUNED if trial.should_stop() else RunState.COMPLETE,
        points=points, score=score,
        n_params=None if n_params is None else json_number(n_params),
        final_metrics=final,
        duration_s=time.perf_counter() - start,
    )
    return RunState.COMPLETE if finished else RunState.WAITING


def _natural(value: float) -> float:
    # Sizes written as integers in the spec come back from the database as floats;
    # give the task an int when the value is integral (width=8, not 8.0).
    return int(value) if float(value).is_integer() else value


def worker_loop(
    job: WorkerJob,
    worker: str,
    *,
    stop: Callable[[], bool],
    storage: Storage | None = None,
    exit_when_idle: bool = False,
    parent_pid: int | None = None,
    single_thread: bool = False,
) -> int:
    """Claim and execute runs until ``stop()`` (or, with ``exit_when_idle``, none is waiting).

    Returns the number of runs executed.
    """
    storage = storage or open_storage(job.storage_url, migrate=False)
    task = load_task(job.task)
    if single_thread:
        _limit_torch_threads()
    heartbeat = _Heartbeat(storage, worker, job.heartbeat_s)
    done = 0
    idle_s = 0.01
    try:
        while not stop():
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the parent died: stop taking work
            run = storage.claim_run(job.study_id, worker)
            if run is None:
                if exit_when_idle:
                    break
                time.sleep(idle_s)
                idle_s = min(idle_s * 2, 0.2)
                continue
            idle_s = 0.01
            execute_run(storage, task, run, job, worker, heartbeat)
            done += 1
    finally:
        heartbeat.close()
    return done


def _limit_torch_threads() -> None:
    import sys

    torch = sys.modules.get("torch")  # only if the task imported it; never import it here
    if torch is not None:
        with contextlib.suppress(Exception):
            torch.set_num_threads(1)


def process_main(job: WorkerJob, token: str, stop_event: Any, parent_pid: int) -> None:
    """Entry point of a local worker process (spawned; one thread for numerics)."""
    import signal

    # Ctrl-C goes to the whole process group; the parent decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in _THREAD_VARS:
        os.environ[name] = "1"
    # Under forkserver the parent process is the fork server, not the study process; it
    # exits with the study process. Either way the worker exits when the study dies.
    from scalinglab.execution._lifeline import die_with_parent

    die_with_parent(parent_pid)
    worker_loop(job, worker_id(token), stop=stop_event.is_set, parent_pid=os.getppid(),
                single_thread=True)
