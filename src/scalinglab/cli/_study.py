"""Study commands: init, run, status, runs, studies, curve (thin wrappers over the API)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from scalinglab._errors import InputError
from scalinglab.cli import app

_STORAGE_HELP = ("SQLAlchemy URL or SQLite file of the storage "
                 "[default: $SCALINGLAB_STORAGE, else scalinglab.db next to the spec / here]")


def _storage_option(func: Any) -> Any:
    return click.option("--storage", "storage", default=None, metavar="URL",
                        help=_STORAGE_HELP)(func)


def _open(storage: str | None) -> Any:
    from scalinglab.storage import open_storage, storage_url

    url = storage_url(storage)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise InputError(
            f"The '--storage' option must name an existing study database. "
            f"Got {url!r} instead (run 'scalinglab run FILE.toml' first, or pass --storage)."
        )
    return open_storage(url)


def _masked(storage: str | None) -> str | None:
    # Storage URLs may carry a password: everything the CLI prints goes through this.
    from scalinglab.storage import mask_url

    return None if storage is None else mask_url(storage)


def _record(name: str, storage: Any) -> Any:
    from scalinglab.storage import scrub
    from scalinglab.study._aggregate import _unknown_study

    record = storage.get_study(name)
    if record is None:
        raise InputError(scrub(_unknown_study(name, storage), str(getattr(storage, "url", ""))))
    return record


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
        raise InputError(
            f"The '--task' option of scalinglab init must be one of "
            f"{', '.join(sorted(BUILTIN_TASKS))}. Got {task!r} instead.")
    if file.exists() and not force:
        raise InputError(f"{str(file)!r} exists; pass --force to overwrite it.")
    text = getattr(task_module(task), "INIT_SPEC", None)
    if not isinstance(text, str):
        raise InputError(f"The built-in task {task!r} has no example spec (INIT_SPEC).")
    import tomllib

    StudySpec.from_dict(tomllib.loads(text), where=f"the {task} example spec")
    file.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {file}. Run it with: scalinglab run {file}")


@app.command("run")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_storage_option
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Worker processes [default: the cores]; 0 runs in this process.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--executor", "executor_name", type=click.Choice(["local", "ray"]),
              default="local", show_default=True,
              help="Where runs execute: local worker processes, or a Ray cluster.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Join this Ray cluster (host:port of `ray start --head`) "
                   "[default: start a local Ray instance]; needs --executor ray.")
def run_command(file: Path, storage: str | None, workers: int | None, no_progress: bool,
                executor_name: str, ray_address: str | None) -> None:
    """Run the study declared in FILE.toml, or resume it where it stopped."""
    from scalinglab.study import StudySpec, run_study

    if ray_address is not None and executor_name != "ray":
        raise InputError("The '--ray-address' option needs '--executor ray'.")
    spec = StudySpec.from_toml(file)
    executor = None
    if executor_name == "ray":
        from scalinglab.execution import RayExecutor

        # --workers caps the number of concurrent runs; by default the cluster's resources do.
        executor = RayExecutor(address=ray_address, workers=workers or None)
    summary = run_study(spec, storage=storage, workers=workers,
                        progress=not no_progress and sys.stderr.isatty(), executor=executor)
    resume = (f"scalinglab run {file}" + (f" --storage {_masked(storage)}" if storage else "")
              + (" --executor ray" if executor_name == "ray" else "")
              + (f" --ray-address {ray_address}" if ray_address else ""))
    if summary.interrupted:
        click.echo(
            f"Stopped: {summary.n_complete} runs complete, {summary.n_failed} failed, "
            f"{summary.n_waiting} waiting. Resume with: {resume}", err=True)
        sys.exit(130)
    click.echo(
        f"Study {spec.name!r}: {summary.n_complete} runs complete, {summary.n_failed} failed "
        f"({summary.elapsed_s:.1f} s). Storage: {summary.storage}")
    if summary.n_failed:
        click.echo(f"See the errors with: scalinglab runs {spec.name} --state FAILED", err=True)


@app.command("status")
@click.argument("study")
@_storage_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def status_command(study: str, storage: str | None, fmt: str) -> None:
    """Counts of STUDY's runs by state."""
    from scalinglab.study import study_status

    store = _open(storage)
    summary = study_status(_record(study, store), store)
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    state = "complete" if summary.complete else "not complete"
    click.echo(f"{summary.study} ({state}): {summary.n_runs} runs: {summary.n_complete} "
               f"complete, {summary.n_failed} failed, {summary.n_pruned} pruned, "
               f"{summary.n_running} running, {summary.n_waiting} waiting")
    if summary.n_extended or summary.n_grown:
        click.echo(f"  {summary.n_extended} runs reran budget-limited cells with more budget; "
                   f"{summary.n_grown} tried model sizes beyond the initial grid")
    for line in summary.limits:
        click.echo(f"  limit: {line}")


@app.command("runs")
@click.argument("study")
@_storage_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--state", "states", multiple=True,
              type=click.Choice(["WAITING", "RUNNING", "COMPLETE", "FAILED", "PRUNED"]),
              help="Only runs in this state (repeatable).")
def runs_command(study: str, storage: str | None, fmt: str, states: tuple[str, ...]) -> None:
    """List STUDY's runs (config, state, attempts, score, error)."""
    from scalinglab.storage import RunState

    store = _open(storage)
    record = _record(study, store)
    frame = store.runs_frame(record.id, [RunState(s) for s in states] if states else None)
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
        return
    if fmt == "json":
        click.echo(frame.to_json(orient="records", indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{study}: {len(frame)} runs")
    columns = ["id", "shard_size", "model_size", "seed", "state", "attempts", "failures",
               "score", "n_params", "duration_s", "error"]
    for col in columns:
        table.add_column(col)
    for row in frame[columns].itertuples(index=False):
        cells = []
        for col, value in zip(columns, row, strict=True):
            if value is None or (isinstance(value, float) and value != value):
                cells.append("")
            elif col == "error":
                cells.append(str(value).strip().splitlines()[-1][:80])
            elif isinstance(value, float):
                cells.append(f"{value:.6g}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    Console().print(table)


@app.command("studies")
@_storage_option
def studies_command(storage: str | None) -> None:
    """List the studies in the storage."""
    from scalinglab.study import study_status

    store = _open(storage)
    records = store.list_studies()
    if not records:
        click.echo("No studies.")
    for record in records:
        s = study_status(record, store)
        click.echo(f"{record.name}\t{record.task}\t{s.n_complete}/{s.n_runs} complete\t"
                   f"{s.n_failed} failed\t{'complete' if s.complete else 'not complete'}")


@app.command("curve")
@click.argument("study")
@_storage_option
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)
@click.option("--cells", is_flag=True,
              help="csv: every (shard, model size) cell instead of the best per shard.")
def curve_command(study: str, storage: str | None, fmt: str, cells: bool) -> None:
    """The aggregated learning curve eps(m) and model-size curve s(m) of STUDY."""
    from scalinglab.study import study_curves

    store = _open(storage)
    _record(study, store)
    curves = study_curves(study, store)
    if fmt == "json":
        click.echo(json.dumps(curves.to_dict(), indent=2))
    else:
        frame = curves.cells_frame() if cells else curves.to_frame()
        click.echo(frame.to_csv(index=False), nl=False)
