"""Study commands: init, run, status, runs, studies, curve (thin wrappers over the API)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from scalinglab._errors import InputError, invalid_parameter
from scalinglab._json import records
from scalinglab.cli._app import app
from scalinglab.cli._common import echo_json, format_option

_STORAGE_HELP = ("SQLAlchemy URL or SQLite file of the storage "
                 "[default: $SCALINGLAB_STORAGE, else scalinglab.db next to the spec / here]")


def _storage_option(func: Any) -> Any:
    return click.option("--storage", "storage", default=None, metavar="URL",
                        help=_STORAGE_HELP)(func)


def _open(storage: str | None) -> Any:
    """Open an existing study database for reading; never create or change a file."""
    from scalinglab.storage import open_storage, sqlite_file_problem, sqlite_path, storage_url

    url = storage_url(storage)
    path = sqlite_path(url)
    if path is not None:
        shown = str(path)
        if not path.exists():
            raise invalid_parameter(
                "--storage", "", "an existing study database", shown, kind="option", verb="name",
                hint=" (run 'scalinglab run FILE.toml' first, or pass --storage)")
        problem = sqlite_file_problem(path)
        if problem is None and path.is_file() and path.stat().st_size == 0:
            problem = "is an empty file"
        if problem is not None:
            raise InputError(
                f"The '--storage' option must name a study database; {shown!r} {problem}. "
                "Pass the scalinglab.db that 'scalinglab run' wrote (the file was left unchanged).")
        if not _has_schema(path):
            raise InputError(
                f"The '--storage' option must name a study database; {shown!r} is a SQLite file "
                "without scalinglab's tables. Pass the scalinglab.db that 'scalinglab run' wrote "
                "(the file was left unchanged).")
    return open_storage(url)


def _has_schema(path: Path) -> bool:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return {"studies", "runs"} <= {r[0] for r in rows}


def _masked(storage: str | None) -> str | None:
    # Storage URLs may carry a password: everything the CLI prints goes through this.
    from scalinglab.storage import mask_url

    return None if storage is None else mask_url(storage)


def _record(name: str, storage: Any) -> Any:
    from scalinglab.storage import scrub
    from scalinglab.study._aggregate import _unknown_study

    record = storage.get_study(name)
    if record is None:
        raw = str(getattr(storage, "connect_url", "") or getattr(storage, "url", ""))
        raise InputError(scrub(str(_unknown_study(name, storage)), raw))
    return record


def _natural(value: Any) -> Any:
    """A model size as the spec wrote it: 4.0 -> 4 (docs/spec.md: integers stay integers)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _natural_sizes(frame: Any) -> Any:
    """``frame`` with integral model-size columns as integers."""
    import pandas as pd

    frame = frame.copy()
    for col in frame.columns:
        if "model_size" not in str(col):
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        finite = values.dropna()
        if len(finite) and bool((finite == finite.round()).all()):
            frame[col] = values.round().astype("Int64")
    return frame


def _natural_dict(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_natural(v) if "model_size" in str(k) else _natural_dict(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_natural_dict(v) for v in value]
    return value


def _print_frame(frame: Any, title: str, columns: list[str] | None = None,
                 error_columns: tuple[str, ...] = ("error",)) -> None:
    import pandas as pd
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    columns = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    table = Table(title=escape(title))
    for col in columns:
        # Names and numbers never wrap (a log or a grep must find them whole); errors may.
        table.add_column(escape(str(col)), no_wrap=col not in error_columns,
                         overflow="fold" if col in error_columns else "ellipsis")
    for row in frame[columns].itertuples(index=False):
        cells = []
        for col, value in zip(columns, row, strict=True):
            if value is None or (not isinstance(value, str | list | dict) and bool(pd.isna(value))):
                cells.append("")
            elif col in error_columns:
                lines = str(value).strip().splitlines()
                cells.append(escape(lines[-1][:80] if lines else ""))
            elif isinstance(value, float):
                cells.append(f"{value:.6g}")
            else:
                cells.append(escape(str(value)))
        table.add_row(*cells)
    console = Console()
    if not console.is_terminal:  # piped: no terminal width to fit, keep rows whole
        console = Console(width=200)
    console.print(table)


def _output_frame(frame: Any, fmt: str, title: str, columns: list[str] | None = None) -> None:
    frame = _natural_sizes(frame)
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif fmt == "json":
        echo_json(records(frame))
    else:
        _print_frame(frame, title, columns)


@app.command("init")
@click.option("--task", "task", default="synthetic", show_default=True,
              help="Built-in task whose example spec to write.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def init_command(task: str, force: bool, file: Path) -> None:
    """Write a commented, valid study spec FILE.toml for a built-in task."""
    from scalinglab.study import StudySpec
    from scalinglab.tasks import BUILTIN_TASKS, task_module

    if task not in BUILTIN_TASKS:
        raise invalid_parameter("--task", "scalinglab init",
                                f"one of {', '.join(sorted(BUILTIN_TASKS))}", task, kind="option")
    if file.exists() and not force:
        raise InputError(f"{str(file)!r} exists; pass --force to overwrite it.")
    _check_writable_target(file, "FILE")
    text = getattr(task_module(task), "INIT_SPEC", None)
    if not isinstance(text, str):
        raise InputError(f"The built-in task {task!r} has no example spec (INIT_SPEC).")
    import tomllib

    StudySpec.from_dict(tomllib.loads(text), where=f"the {task} example spec")
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot write {str(file)!r}: {exc.strerror}; choose another path.") from exc
    click.echo(f"Wrote {file}. Run it with: scalinglab run {file}")


def _check_writable_target(file: Path, what: str) -> None:
    """Fail before any work if ``file`` cannot be written (missing or read-only directory)."""
    import os

    parent = file.expanduser().parent if str(file.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(
            f"The {what} {str(file)!r} is in {str(parent)!r}, which does not exist; create the "
            "directory first or choose another path.")
    if file.is_dir():
        raise InputError(f"The {what} {str(file)!r} is a directory; name a file.")
    target = file if file.exists() else parent
    if not os.access(target, os.W_OK):
        raise InputError(f"The {what} {str(file)!r} cannot be written (permission denied); "
                         "choose another path.")


@app.command("run")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_storage_option
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes [default: the cores]; 0 runs in this process.")
@click.option("--no-progress", is_flag=True,
              help="No progress (a bar on a terminal, else a plain line every 10 s).")
@click.option("--executor", "executor_name", type=click.Choice(["local", "ray"]),
              default="local", show_default=True,
              help="Where runs execute: local worker processes, or a Ray cluster.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Join this Ray cluster (host:port of `ray start --head`) "
                   "[default: start a local Ray instance]; needs --executor ray.")
@click.option("--fail-fast", "fail_fast", type=click.IntRange(min=0), default=3, show_default=True,
              help="Stop when the first N runs all fail with the same error (0: never).")
@format_option()
def run_command(file: Path, storage: str | None, workers: int | None, no_progress: bool,
                executor_name: str, ray_address: str | None, fail_fast: int, fmt: str) -> None:
    """Run the study declared in FILE.toml, or resume it where it stopped.

    \b
    Exit codes: 0 every run complete; 1 some runs FAILED, or the storage failed;
    2 bad input; 129/130/143 stopped by SIGHUP/Ctrl-C/SIGTERM (resume by running again).
    """
    from scalinglab.study import StudySpec, run_study

    if ray_address is not None and executor_name != "ray":
        raise InputError("The '--ray-address' option needs '--executor ray'.")
    spec = StudySpec.from_toml(file)
    executor = None
    if executor_name == "ray":
        from scalinglab.execution import RayExecutor

        # --workers caps the number of concurrent runs; by default the cluster's resources do.
        executor = RayExecutor(address=ray_address, workers=workers or None)
    summary = run_study(spec, storage=storage, workers=workers, progress=not no_progress,
                        executor=executor, fail_fast=fail_fast)
    resume = (f"scalinglab run {file}" + (f" --storage {_masked(storage)}" if storage else "")
              + (" --executor ray" if executor_name == "ray" else "")
              + (f" --ray-address {ray_address}" if ray_address else ""))
    if fmt == "json":
        echo_json({**summary.to_dict(), "resume": resume})
    if summary.interrupted:
        import signal as _signal

        signum = summary.signal or int(_signal.SIGINT)
        try:
            name = _signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        click.echo(
            f"Stopped by {name}: {summary.n_complete} runs complete, {summary.n_failed} failed, "
            f"{summary.n_waiting} waiting. Resume with: {resume}", err=True)
        sys.exit(128 + signum)
    failed_hint = f"see them with: scalinglab runs {spec.name} --state FAILED"
    if summary.stopped_early:
        click.echo(
            f"Stopped early: {summary.stopped_early.rstrip('.')}. The other {summary.n_waiting} runs were not "
            f"started; {failed_hint}, fix the cause, then resume with: {resume} "
            f"(or pass --fail-fast 0 to run them anyway).", err=True)
        sys.exit(1)
    if fmt != "json":
        click.echo(
            f"Study {spec.name!r}: {summary.n_complete} runs complete, {summary.n_failed} failed "
            f"({summary.elapsed_s:.1f} s). Storage: {summary.storage}")
    if summary.n_failed:
        click.echo(
            f"{summary.n_failed} of {summary.n_runs} runs FAILED; the most common error "
            f"({_runs(summary.top_error_count)}): {summary.top_error}; {failed_hint}", err=True)
        sys.exit(1)


@app.command("status")
@click.argument("study")
@_storage_option
@format_option()
def status_command(study: str, storage: str | None, fmt: str) -> None:
    """Counts of STUDY's runs by state."""
    from scalinglab.study import study_status

    store = _open(storage)
    summary = study_status(_record(study, store), store)
    if fmt == "json":
        echo_json(summary.to_dict())
        return
    click.echo(f"{summary.study} ({_state(summary)}): {summary.n_runs} runs: {summary.n_complete} "
               f"complete, {summary.n_failed} failed, {summary.n_pruned} pruned, "
               f"{summary.n_running} running, {summary.n_waiting} waiting")
    if summary.n_failed:
        click.echo(f"most common error ({_runs(summary.top_error_count)}): {summary.top_error}; "
                   f"see them with: scalinglab runs {summary.study} --state FAILED")
    if summary.n_extended or summary.n_grown:
        click.echo(f"  {summary.n_extended} runs reran budget-limited cells with more budget; "
                   f"{summary.n_grown} tried model sizes beyond the initial grid")
    for line in summary.limits:
        click.echo(f"  limit: {line}")


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _state(summary: Any) -> str:
    if not summary.complete:
        return "not complete"
    if summary.n_failed == summary.n_runs:
        return "finished, every run FAILED"
    return "complete" if not summary.n_failed else f"complete, {summary.n_failed} FAILED"


_RUN_COLUMNS = ["id", "shard_size", "model_size", "seed", "state", "attempts", "failures",
                "score", "n_params", "duration_s", "error"]


@app.command("runs")
@click.argument("study")
@_storage_option
@format_option(csv=True)
@click.option("--state", "states", multiple=True,
              type=click.Choice(["WAITING", "RUNNING", "COMPLETE", "FAILED", "PRUNED"]),
              help="Only runs in this state (repeatable).")
def runs_command(study: str, storage: str | None, fmt: str, states: tuple[str, ...]) -> None:
    """List STUDY's runs (config, state, attempts, score, error)."""
    from scalinglab.storage import RunState

    store = _open(storage)
    record = _record(study, store)
    frame = store.runs_frame(record.id, [RunState(s) for s in states] if states else None)
    _output_frame(frame, fmt, f"{study}: {len(frame)} runs", _RUN_COLUMNS)


@app.command("studies")
@_storage_option
@format_option(csv=True)
def studies_command(storage: str | None, fmt: str) -> None:
    """List the studies in the storage."""
    import pandas as pd

    from scalinglab.study import study_status

    store = _open(storage)
    rows = []
    for record in store.list_studies():
        s = study_status(record, store)
        rows.append({"name": record.name, "task": record.task, "runs": s.n_runs,
                     "complete": s.n_complete, "failed": s.n_failed, "waiting": s.n_waiting,
                     "running": s.n_running, "state": _state(s)})
    columns = ["name", "task", "runs", "complete", "failed", "waiting", "running", "state"]
    frame = pd.DataFrame(rows, columns=columns)
    if fmt == "table" and frame.empty:
        click.echo("No studies.")
        return
    _output_frame(frame, fmt, f"studies in {getattr(store, 'url', 'the storage')}")


@app.command("curve")
@click.argument("study")
@_storage_option
@format_option(csv=True)
@click.option("--cells", is_flag=True,
              help="Every (shard, model size) cell instead of the best per shard.")
def curve_command(study: str, storage: str | None, fmt: str, cells: bool) -> None:
    """The aggregated learning curve eps(n) and model-size curve s(n) of STUDY (n: examples)."""
    from scalinglab.study import study_curves

    store = _open(storage)
    _record(study, store)
    _require_completed(study, store)
    curves = study_curves(study, store)
    if fmt == "json":
        doc = curves.to_dict()
        if cells:  # only the cells; without --cells both the curve and its cells
            doc = {k: v for k, v in doc.items() if k != "shards"}
        echo_json(_natural_dict(doc))
        return
    frame = curves.cells_frame() if cells else curves.to_frame()
    _output_frame(frame, fmt, f"{study}: {'cells' if cells else 'learning curve'}")


def _require_completed(study: str, store: Any) -> None:
    """An analysis needs completed runs: one line and exit 2 when the study has none."""
    from scalinglab.study import require_completed

    _record(study, store)  # an unknown study: the scrubbed one-line error first
    require_completed(study, store)
