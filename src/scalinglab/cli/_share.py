"""Sharing commands: export a study to JSON, import one into any storage."""

from __future__ import annotations

import json
from pathlib import Path

import click

from scalinglab.cli._app import app
from scalinglab.cli._study import _open, _storage_option


@app.command("export")
@click.argument("study")
@_storage_option
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The JSON file to write (replaced atomically).")
def export_command(study: str, storage: str | None, out: Path) -> None:
    """Write STUDY (spec, every run with its state, metrics and curve) to a JSON file."""
    from scalinglab.study import export_study, write_export

    if not out.parent.is_dir():
        from scalinglab._errors import invalid_parameter

        raise invalid_parameter("--out", "", "a file in an existing directory", str(out),
                                kind="option", verb="name")
    store = _open(storage)
    try:
        document = export_study(study, store)
    finally:
        store.close()
    write_export(document, out)
    click.echo(f"Wrote {out}: study {study!r}, {len(document['runs'])} runs.")


@app.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--storage", "storage", default=None, metavar="URL",
              help="SQLAlchemy URL or SQLite file to import into (created if absent) "
                   "[default: $SCALINGLAB_STORAGE, else scalinglab.db here]")
@click.option("--name", default=None, help="Store the study under this name instead.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
def import_command(file: Path, storage: str | None, name: str | None, fmt: str) -> None:
    """Load a study exported by 'scalinglab export' FILE; runs already stored are kept."""
    from scalinglab.storage import open_storage
    from scalinglab.study import import_study, read_export

    checked = read_export(file, name=name)  # all checked before the storage is opened
    store = open_storage(storage)
    try:
        summary = import_study(checked, store)
    finally:
        store.close()
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    click.echo(f"Imported {summary.n_imported} of {summary.n_runs} runs into study "
               f"{summary.study!r} ({summary.n_already_stored} already stored).")
