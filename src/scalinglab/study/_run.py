"""Running (or resuming) a study: plan, execute on workers, advance the search, report."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalinglab._errors import InputError, StorageError, invalid_parameter
from scalinglab.execution import (
    Executor,
    InProcessExecutor,
    LocalExecutor,
    WorkerJob,
    release_orphans,
)
from scalinglab.storage import RunState, Storage, StudyRecord, open_storage
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
    #: The signal that stopped the run (``SIGINT``, ``SIGTERM``, ``SIGHUP``), if one did.
    signal: int | None = None
    #: Why the run stopped before the end other than a signal (e.g. the first runs all failed).
    stopped_early: str | None = None
    #: The most common error of the FAILED runs (its last line) and how many runs had it.
    top_error: str | None = None
    top_error_count: int = 0
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
    raise invalid_parameter("spec", "run_study", "a StudySpec or a TOML path", spec)


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return prefix.rstrip(".") or "spec"


#: The limits a resumed study may widen (the name in the identity, and the direction that
#: widens it): the checks' remedies ("raise [model] max_size", "raise budget.max_factor",
#: "raise [budget] margin" so that every budget-limited cell is extended, as the joint law
#: needs) must not need a new study. Widening only lets the planner add runs (a larger
#: model, a longer budget) to the ones stored; narrowing would disown stored runs, so it is
#: refused.
WIDENABLE_LIMITS: dict[tuple[str, str], int] = {
    ("model", "max_size"): +1,
    ("model", "min_size"): -1,
    ("budget", "max_factor"): +1,
    ("budget", "margin"): +1,
}


def _limit_value(spec: StudySpec, table: str, name: str) -> float:
    if table == "budget":
        return float(spec.budget.max_factor if name == "max_factor" else spec.budget.margin)
    return float(spec.model.upper_limit if name == "max_size" else spec.model.lower_limit)


def _widened_limits(stored: StudySpec, spec: StudySpec) -> list[str] | None:
    """The limits ``spec`` widens against ``stored`` ("model.max_size 16 -> 64"), when that is
    all that differs in their identities; None when something else differs.

    Raises
    ------
    InputError
        A limit is narrowed (runs beyond the new limit are stored).
    """
    a, b = stored.identity(), spec.identity()
    for (table, name) in WIDENABLE_LIMITS:
        a[table] = {k: v for k, v in a[table].items() if k != name}
        b[table] = {k: v for k, v in b[table].items() if k != name}
    if a != b:
        return None
    changes = []
    for (table, name), direction in WIDENABLE_LIMITS.items():
        old, new = _limit_value(stored, table, name), _limit_value(spec, table, name)
        if old == new:
            continue
        if (new - old) * direction < 0:
            raise InputError(
                f"The study {spec.name!r} was run with {table}.{name} = {old:g}; a resumed study "
                f"may widen its limits (raise model.max_size, budget.max_factor or budget.margin, "
                f"lower model.min_size) but not narrow them, since its stored runs may lie beyond "
                f"{new:g}: keep {old:g}, or give the study a new name.", parameter="storage")
        changes.append(f"{table}.{name} {old:g} -> {new:g}")
    return changes


def create_study(spec: StudySpec, storage: Storage) -> StudyRecord:
    """Store the study (or find it) and check that a stored one has the same identity.

    A stored study may be resumed with wider limits (``WIDENABLE_LIMITS``: a larger
    ``[model] max_size``, ``[budget] max_factor`` or ``margin``, a smaller ``min_size``): the stored spec
    then becomes ``spec`` and the planner adds the runs the wider limits allow, the remedy
    the ``model_interior`` and ``converged`` checks name.

    Raises
    ------
    InputError
        A study of that name exists with a different spec (data, model, train, search...),
        or ``spec`` narrows one of its limits.
    """
    record = storage.get_study(spec.name)
    if record is None:
        return storage.create_study(spec.name, spec.task, spec.to_dict())
    stored_spec = StudySpec.from_dict(dict(record.spec))
    stored = stored_spec.identity()
    if stored != spec.identity():
        widened = _widened_limits(stored_spec, spec)
        if widened is None:
            field = _first_difference(stored, spec.identity())
            raise InputError(
                f"The study {spec.name!r} already exists in {storage.url} with a different "
                f"'{field}'; give the study a new name or choose another storage with the "
                f"'storage' parameter.", parameter="storage")
        return storage.update_study_spec(record.id, spec.to_dict())
    if stored_spec.config_key != spec.config_key:
        # [train] changed: new runs under the new key; the study now follows the new spec
        # (status, curves and analyses use the runs of the current [train]).
        record = storage.update_study_spec(record.id, spec.to_dict())
    return record


def current_runs(storage: Storage, record: StudyRecord, states: Any = None) -> Any:
    """The study's runs of its current ``[train]`` as a frame.

    Changing ``[train]`` makes new runs of the same study (docs/spec.md); the earlier runs stay
    stored but are not the study's any more. A run is current when its hyperparameters, less
    the tuned ``[search.params]`` and the engine's own (``_``-prefixed, e.g. a budget), are the
    spec's :attr:`~StudySpec.params`.
    """
    frame = storage.runs_frame(record.id, states)
    try:
        spec = StudySpec.from_dict(dict(record.spec))
    except InputError:  # a study stored through the storage API with a partial spec
        return frame
    if not len(frame):
        return frame
    if "params_json" not in frame.columns:
        if "config_key" in frame.columns and (frame["config_key"] != spec.config_key).any():
            frame = frame[frame["config_key"] == spec.config_key].reset_index(drop=True)
        return frame
    tuned = {p.name for p in spec.search.params}
    wanted = json.loads(json.dumps(spec.params, sort_keys=True, default=str))
    verdicts: dict[str, bool] = {}

    def is_current(text: str) -> bool:
        if text not in verdicts:  # parse each distinct params string once
            params = json.loads(text) if text else {}
            base = {k: v for k, v in params.items() if k not in tuned and not k.startswith("_")}
            verdicts[text] = base == wanted
        return verdicts[text]

    mask = frame["params_json"].map(is_current).astype(bool)
    return frame if mask.all() else frame[mask].reset_index(drop=True)


def study_status(record: StudyRecord, storage: Storage) -> StudySummary:
    """Counts of a stored study's runs (``complete`` means nothing is left to run).

    ``elapsed_s`` is the wall time from the first run's start to the last run's end (to
    its last heartbeat while runs are running); ``top_error`` the most common error of the
    FAILED runs.
    """
    counts = storage.count_runs(record.id)
    spec = StudySpec.from_dict(dict(record.spec))
    idle = counts[RunState.WAITING] == 0 and counts[RunState.RUNNING] == 0
    complete = idle and sum(counts.values()) > 0 and not _missing(spec, record, storage)
    first, last = storage.time_span(record.id)
    elapsed = (last - first).total_seconds() if first is not None and last is not None else 0.0
    error, n_error = _top_error(storage, record.id) if counts[RunState.FAILED] else (None, 0)
    return _summary(record, storage, counts, complete, elapsed_s=max(elapsed, 0.0),
                    top_error=error, top_error_count=n_error)


def _last_line(error: Any) -> str:
    lines = [line.strip() for line in str(error or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no error message)"


def _top_error(storage: Storage, study_id: int,
               exclude: set[int] | None = None) -> tuple[str | None, int]:
    """The most common last line of the FAILED runs' errors, and how many runs had it."""
    frame = storage.runs_frame(study_id, [RunState.FAILED])
    if exclude:
        frame = frame[~frame["id"].isin(exclude)]
    if frame.empty:
        return None, 0
    error, count = collections.Counter(_last_line(e) for e in frame["error"]).most_common(1)[0]
    return error, int(count)


def _missing(spec: StudySpec, record: StudyRecord, storage: Storage) -> bool:
    frame = current_runs(storage, record)
    stored = set(zip(frame["shard_index"], frame["model_size"].astype(float), frame["seed"],
                     strict=True))
    return any((p.shard_index, float(p.model_size), p.seed) not in stored
               for p in plan_runs(spec, frame))


def _summary(record: StudyRecord, storage: Storage, counts: dict[RunState, int],
             complete: bool, interrupted: bool = False, elapsed_s: float = 0.0,
             **extra: Any) -> StudySummary:
    spec = StudySpec.from_dict(dict(record.spec))
    frame = current_runs(storage, record)
    phases: dict[Any, int] = frame["phase"].value_counts().to_dict() if len(frame) else {}
    return StudySummary(
        n_extended=int(phases.get(PHASE_BUDGET, 0)), n_grown=int(phases.get(PHASE_GROW, 0)),
        limits=tuple(limit_notes(spec, shard_checks(spec, frame))) if len(frame) else (),
        study=record.name, storage=storage.url,
        n_runs=sum(counts.values()), n_waiting=counts[RunState.WAITING],
        n_running=counts[RunState.RUNNING], n_complete=counts[RunState.COMPLETE],
        n_failed=counts[RunState.FAILED], n_pruned=counts[RunState.PRUNED],
        complete=complete, interrupted=interrupted, elapsed_s=elapsed_s, **extra)


class _Stop(KeyboardInterrupt):
    """Raised in the study loop by SIGTERM or SIGHUP: stop like Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP stop the study loop (runs go back to WAITING).

    The first signal raises :class:`_Stop` in the loop; further ones are ignored while the
    workers are stopped and their runs given back; on exit the old handlers come back.
    Inside :meth:`deferred` (while workers start) a signal is held and raised after: a
    worker half-started when the study stops would be unknown to the executor.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._defer = False
        self._pending: int | None = None

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        wanted = [int(signal.SIGINT), int(signal.SIGTERM)]
        if hasattr(signal, "SIGHUP"):
            wanted.append(int(signal.SIGHUP))
        for sig in wanted:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        if self._defer:
            if self._pending is None:
                self._pending = signum
            return
        for sig in self._previous:
            signal.signal(sig, signal.SIG_IGN)
        raise _Stop(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._defer = True
        try:
            yield
        finally:
            self._defer = False
        if self._pending is not None:
            self._handle(self._pending, None)

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous.clear()


class _PlainProgress:
    """One plain line on stderr every ``interval_s`` (no TTY: logs of long runs show life)."""

    def __init__(self, name: str, interval_s: float) -> None:
        self.name, self.interval_s = name, interval_s
        self._start = time.monotonic()
        self._last = self._start
        self._done0: int | None = None

    def update(self, counts: dict[RunState, int]) -> None:
        done = counts[RunState.COMPLETE] + counts[RunState.FAILED] + counts[RunState.PRUNED]
        if self._done0 is None:
            self._done0 = done
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        self._last = now
        total = sum(counts.values())
        rate = (done - self._done0) / max(now - self._start, 1e-9)
        eta = "unknown" if rate <= 0 else _duration((total - done) / rate)
        sys.stderr.write(
            f"{time.strftime('%H:%M:%S')} {self.name}: {done}/{total} runs done, "
            f"{counts[RunState.FAILED]} failed, {counts[RunState.RUNNING]} running, "
            f"{counts[RunState.WAITING]} waiting, elapsed {_duration(now - self._start)}, ETA {eta}\n")
        sys.stderr.flush()

    def close(self) -> None:
        pass


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


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
    fail_fast: int = 3,
    progress_interval_s: float = 10.0,
) -> StudySummary:
    """Run a study to the end, or resume it where it stopped.

    Validates the spec and the task before anything is written, stores the study, gives
    back runs left RUNNING by dead workers (a killed earlier session), plans the runs of the
    search, and executes them on workers until no run is waiting and the search plans no
    more. Ctrl-C, SIGTERM and SIGHUP stop the workers; runs they held go back to WAITING,
    and running the same study again resumes (``summary.signal`` says which signal).

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
        Show progress: a bar on a terminal, else a plain line on stderr every
        ``progress_interval_s`` seconds (runs done, failed, running, ETA).
    executor : Executor, optional
        Use this executor instead of a local one (``workers`` is then ignored).
    max_runs : int, optional
        Stop once this many runs of the study are finished (for tests and benchmarks).
    fail_fast : int
        Stop early when the first ``fail_fast`` runs that finish in this session all FAILED
        with the same error (the rest would most likely fail the same way); ``0`` never
        stops early. ``summary.stopped_early`` then says why.
    progress_interval_s : float
        Seconds between plain progress lines when stderr is not a terminal.

    Returns
    -------
    StudySummary

    Raises
    ------
    StorageError
        The storage is read-only, or its database file was deleted or replaced while the
        study ran (checked every tick): the run stops, and nothing is reported as stored.
    """
    start = time.perf_counter()
    spec = _as_spec(spec)
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or workers < 0):
        raise invalid_parameter("workers", "run_study", "an integer >= 0", workers)
    if isinstance(fail_fast, bool) or not isinstance(fail_fast, int) or fail_fast < 0:
        raise invalid_parameter("fail_fast", "run_study", "an integer >= 0 (0: never stop early)",
                                fail_fast)
    load_task(spec.task)  # fail before writing anything if the task cannot be imported
    spec_dir = Path(spec.source).parent if spec.source is not None else None
    store = open_storage(storage, spec_dir=spec_dir)
    store.check_writable()
    stored = store.get_study(spec.name)
    record = create_study(spec, store)
    if progress and stored is not None and dict(stored.spec) != dict(record.spec):
        for change in _widened_limits(StudySpec.from_dict(dict(stored.spec)), spec) or []:
            sys.stderr.write(f"{spec.name}: resumed with a wider limit, {change}\n")
    release_orphans(store, record.id, spec.execution.stale_after_s)
    store.add_runs(record.id, plan_runs(spec, current_runs(store, record)))

    if executor is None:
        # In-process: one run per tick, so that progress, the storage check and the early
        # stop on failures see every run.
        executor = InProcessExecutor(runs_per_check=1) if workers == 0 else LocalExecutor(workers)
    job = WorkerJob(storage_url=str(getattr(store, "connect_url", None) or getattr(store, "url", "")),
                    study_id=record.id,
                    task=spec.task, metric=spec.metric, data_seed=spec.data.data_seed,
                    max_attempts=spec.execution.max_attempts,
                    heartbeat_s=spec.execution.heartbeat_s,
                    # Resources per run, for executors that place runs on a cluster (Ray).
                    extra={"cpus_per_run": spec.execution.cpus_per_run,
                           "gpus_per_run": spec.execution.gpus_per_run,
                           "budget_tail": spec.budget.tail})
    bar: Any
    if progress and sys.stderr.isatty():
        bar = _Progress(True, spec.name)
    elif progress:
        bar = _PlainProgress(spec.name, progress_interval_s)
    else:
        bar = _Progress(False, spec.name)
    interrupted = False
    stopped_by: int | None = None
    stopped_early: str | None = None
    lost: StorageError | None = None
    counts = store.count_runs(record.id)
    failed_before = {int(i) for i in store.runs_frame(record.id, [RunState.FAILED])["id"]}
    ok_before = counts[RunState.COMPLETE] + counts[RunState.PRUNED]
    watch_failures = fail_fast > 0
    last_stale_check = time.monotonic()
    with _StopSignals() as signals:
        try:
            store.check_alive()
            with signals.deferred():
                executor.start(job, store)
            while True:
                executor.check()
                store.check_alive()
                counts = store.count_runs(record.id)
                bar.update(counts)
                finished = sum(counts.values()) - counts[RunState.WAITING] - counts[RunState.RUNNING]
                if max_runs is not None and finished >= max_runs:
                    break
                if watch_failures:
                    if counts[RunState.COMPLETE] + counts[RunState.PRUNED] > ok_before:
                        watch_failures = False  # a run succeeded: the task works
                    elif counts[RunState.FAILED] - len(failed_before) >= fail_fast:
                        watch_failures = False
                        error, n = _top_error(store, record.id, exclude=failed_before)
                        if n >= fail_fast:
                            stopped_early = (f"the first {n} runs all failed with the same error: "
                                             f"{error}")
                            break
                if counts[RunState.WAITING] == 0 and counts[RunState.RUNNING] == 0:
                    if store.add_runs(record.id, plan_runs(spec, current_runs(store, record))) == 0:
                        break
                    continue
                if counts[RunState.WAITING] == 0:
                    # Some shards may be ready for their next search phase (or a budget or
                    # grid extension) while others run.
                    store.add_runs(record.id, plan_runs(spec, current_runs(store, record)))
                if time.monotonic() - last_stale_check > spec.execution.stale_after_s / 2:
                    last_stale_check = time.monotonic()
                    release_orphans(store, record.id, spec.execution.stale_after_s)
                if not executor.inline:
                    time.sleep(_TICK_S)
        except _Stop as exc:
            interrupted, stopped_by = True, exc.signum
        except KeyboardInterrupt:
            interrupted, stopped_by = True, int(signal.SIGINT)
        except StorageError as exc:
            lost = exc
        finally:
            if lost is None:
                try:
                    store.check_alive()
                except StorageError as exc:
                    lost = exc
            # With the database gone, stop the workers without writing to the lost file.
            _stop_executor(executor, give_back=lost is None)
            bar.close()
    if lost is not None:
        raise lost
    counts = store.count_runs(record.id)
    idle = counts[RunState.WAITING] == 0 and counts[RunState.RUNNING] == 0
    complete = (idle and not interrupted and stopped_early is None
                and not _missing(spec, record, store))
    error, n_error = _top_error(store, record.id) if counts[RunState.FAILED] else (None, 0)
    return _summary(record, store, counts, complete, interrupted, time.perf_counter() - start,
                    signal=stopped_by, stopped_early=stopped_early, top_error=error,
                    top_error_count=n_error)


def _stop_executor(executor: Executor, give_back: bool) -> None:
    if give_back:
        executor.stop()
        return
    # Stop the workers, but do not write to a database that is gone: the release would
    # go to the deleted file (or, worse, to a file that replaced it).
    with contextlib.suppress(Exception):
        executor.stop(release=False)  # type: ignore[call-arg]
        return
    with contextlib.suppress(Exception):
        executor.stop()
