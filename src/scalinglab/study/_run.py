"""Running (or resuming) a study: plan, execute on workers, advance the search, report."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalinglab._errors import InputError
from scalinglab.execution import (
    Executor,
    InProcessExecutor,
    LocalExecutor,
    WorkerJob,
    release_orphans,
)
from scalinglab.storage import RunState, Storage, StudyRecord, mask_url, open_storage
from scalinglab.study._search import PHASE_BUDGET, PHASE_GROW, limit_notes, plan_runs, shard_checks
from scalinglab.study._spec import StudySpec
from scalinglab.tasks import load_task

__all__ = ["StudySummary", "create_study", "run_study", "study_status"]

_TICK_S = 0.1


@dataclass(frozen=True)
class StudySummary:
    """Where a study stands: counts of runs by state and whether it is finished.

    ``complete`` is true when no run is WAITING or RUNNING and the search plans no more runs.
    ``n_extended`` runs were reruns of budget-limited cells with more budget, ``n_grown``
    runs tried sizes beyond the initial grid; ``limits`` names each shard whose best fit hit
    a limit of the spec (``model.max_size``/``min_size``, ``budget.max_factor``).
    """

    study: str
    storage: str
    n_runs: int
    n_waiting: int
    n_running: int
    n_complete: int
    n_failed: int
    n_pruned: int
    complete: bool
    interrupted: bool = False
    elapsed_s: float = 0.0
    n_extended: int = 0
    n_grown: int = 0
    limits: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["limits"] = list(self.limits)
        return out


def _as_spec(spec: StudySpec | str | os.PathLike[str]) -> StudySpec:
    if isinstance(spec, StudySpec):
        return spec
    if isinstance(spec, str | os.PathLike):
        return StudySpec.from_toml(spec)
    raise InputError(
        f"The 'spec' parameter of run_study must be a StudySpec or a TOML path. "
        f"Got {spec!r} instead.")


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return prefix.rstrip(".") or "spec"


def create_study(spec: StudySpec, storage: Storage) -> StudyRecord:
    """Store the study (or find it) and check that a stored one has the same identity.

    Raises
    ------
    InputError
        A study of that name exists with a different spec (data, model, train, search...).
    """
    record = storage.get_study(spec.name)
    if record is None:
        return storage.create_study(spec.name, spec.task, spec.to_dict())
    stored = StudySpec.from_dict(dict(record.spec)).identity()
    if stored != spec.identity():
        field = _first_difference(stored, spec.identity())
        raise InputError(
            f"The study {spec.name!r} already exists in {_display(storage)} "
            f"with a different '{field}'; give the study a new name or use another --storage."
        )
    return record


def _display(storage: Storage) -> str:
    # What users see of a storage: its URL without the password (never print ``.url``).
    url = getattr(storage, "url", None)
    return mask_url(str(url)) if url is not None else "the storage"


def study_status(record: StudyRecord, storage: Storage) -> StudySummary:
    """Counts of a stored study's runs (``complete`` means nothing is left to run)."""
    counts = storage.count_runs(record.id)
    spec = StudySpec.from_dict(dict(record.spec))
    idle = counts[RunState.WAITING] == 0 and counts[RunState.RUNNING] == 0
    complete = idle and sum(counts.values()) > 0 and not _missing(spec, record, storage)
    return _summary(record, storage, counts, complete)


def _missing(spec: StudySpec, record: StudyRecord, storage: Storage) -> bool:
    frame = storage.runs_frame(record.id)
    stored = set(zip(frame["shard_index"], frame["model_size"].astype(float), frame["seed"],
                     strict=True))
    return any((p.shard_index, float(p.model_size), p.seed) not in stored
               for p in plan_runs(spec, frame))


def _summary(record: StudyRecord, storage: Storage, counts: dict[RunState, int],
             complete: bool, interrupted: bool = False, elapsed_s: float = 0.0) -> StudySummary:
    spec = StudySpec.from_dict(dict(record.spec))
    frame = storage.runs_frame(record.id)
    phases: dict[Any, int] = frame["phase"].value_counts().to_dict() if len(frame) else {}
    return StudySummary(
        n_extended=int(phases.get(PHASE_BUDGET, 0)), n_grown=int(phases.get(PHASE_GROW, 0)),
        limits=tuple(limit_notes(spec, shard_checks(spec, frame))) if len(frame) else (),
        study=record.name, storage=_display(storage),
        n_runs=sum(counts.values()), n_waiting=counts[RunState.WAITING],
        n_running=counts[RunState.RUNNING], n_complete=counts[RunState.COMPLETE],
        n_failed=counts[RunState.FAILED], n_pruned=counts[RunState.PRUNED],
        complete=complete, interrupted=interrupted, elapsed_s=elapsed_s)


class _Progress:
    """A rich progress bar fed from the database counts (done, failed, ETA)."""

    def __init__(self, enabled: bool, name: str) -> None:
        self.enabled = enabled
        self._bar: Any = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("runs done, [red]{task.fields[failed]} failed[/red],"),
                TextColumn("{task.fields[running]} running"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task(name, total=None, failed=0, running=0)
            self._bar.start()

    def update(self, counts: dict[RunState, int]) -> None:
        if self._bar is None:
            return
        done = counts[RunState.COMPLETE] + counts[RunState.FAILED] + counts[RunState.PRUNED]
        self._bar.update(self._task, total=sum(counts.values()), completed=done,
                         failed=counts[RunState.FAILED], running=counts[RunState.RUNNING])

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def run_study(
    spec: StudySpec | str | os.PathLike[str],
    storage: Storage | str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    *,
    executor: Executor | None = None,
    max_runs: int | None = None,
) -> StudySummary:
    """Run a study to the end, or resume it where it stopped.

    Validates the spec and the task before anything is written, stores the study, gives
    back runs left RUNNING by dead workers (a killed earlier session), plans the runs of the
    search, and executes them on workers until no run is waiting and the search plans no
    more. Ctrl-C stops the workers; runs they held go back to WAITING, and running the same
    study again resumes.

    Parameters
    ----------
    spec : StudySpec or path
        The study (a TOML path is read with :meth:`StudySpec.from_toml`).
    storage : Storage, URL, path or None
        Where to store it (see :func:`scalinglab.storage.open_storage`); default
        ``$SCALINGLAB_STORAGE`` or ``scalinglab.db`` next to the spec file.
    workers : int, optional
        Local worker processes (default: the cores); ``0`` runs in this process.
    progress : bool
        Show a progress bar (runs done, failed, ETA).
    executor : Executor, optional
        Use this executor instead of a local one (``workers`` is then ignored).
    max_runs : int, optional
        Stop once this many runs of the study are finished (for tests and benchmarks).

    Returns
    -------
    StudySummary
    """
    start = time.perf_counter()
    spec = _as_spec(spec)
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or workers < 0):
        raise InputError(
            f"The 'workers' parameter of run_study must be an integer >= 0. "
            f"Got {workers!r} instead.")
    load_task(spec.task)  # fail before writing anything if the task cannot be imported
    spec_dir = Path(spec.source).parent if spec.source is not None else None
    store = open_storage(storage, spec_dir=spec_dir)
    record = create_study(spec, store)
    release_orphans(store, record.id, spec.execution.stale_after_s)
    store.add_runs(record.id, plan_runs(spec, store.runs_frame(record.id)))

    if executor is None:
        executor = InProcessExecutor() if workers == 0 else LocalExecutor(workers)
    job = WorkerJob(storage_url=str(getattr(store, "url", "")), study_id=record.id,
                    task=spec.task, metric=spec.metric, data_seed=spec.data.data_seed,
                    max_attempts=spec.execution.max_attempts,
                    heartbeat_s=spec.execution.heartbeat_s,
                    # Resources per run, for executors that place runs on a cluster (Ray).
                    extra={"cpus_per_run": spec.execution.cpus_per_run,
                           "gpus_per_run": spec.execution.gpus_per_run,
                           "budget_tail": spec.budget.tail})
    bar = _Progress(progress, spec.name)
    interrupted = False
    counts = store.count_runs(record.id)
    last_stale_check = time.monotonic()
    try:
        executor.start(job, store)
        while True:
            executor.check()
            counts = store.count_runs(record.id)
            bar.update(counts)
            finished = sum(counts.values()) - counts[RunState.WAITING] - counts[RunState.RUNNING]
            if max_runs is not None and finished >= max_runs:
                break
            if counts[RunState.WAITING] == 0 and counts[RunState.RUNNING] == 0:
                if store.add_runs(record.id, plan_runs(spec, store.runs_frame(record.id))) == 0:
                    break
                continue
            if counts[RunState.WAITING] == 0:
                # Some shards may be ready for their next search phase (or a budget or grid
                # extension) while others run.
                store.add_runs(record.id, plan_runs(spec, store.runs_frame(record.id)))
            if time.monotonic() - last_stale_check > spec.execution.stale_after_s / 2:
                last_stale_check = time.monotonic()
                release_orphans(store, record.id, spec.execution.stale_after_s)
            if not executor.inline:
                time.sleep(_TICK_S)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        executor.stop()
        bar.close()
    counts = store.count_runs(record.id)
    idle = counts[RunState.WAITING] == 0 and counts[RunState.RUNNING] == 0
    complete = idle and not interrupted and not _missing(spec, record, store)
    return _summary(record, store, counts, complete, interrupted, time.perf_counter() - start)
