"""The schema command: the study spec's JSON Schema, for editors and tools (docs/spec.md)."""

from __future__ import annotations

from pathlib import Path

import click

from scalinglab._errors import InputError
from scalinglab.cli._app import app
from scalinglab.cli._study import _check_writable_target


@app.command("schema")
@click.option("-o", "--out", "out", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the schema to this file (e.g. study.schema.json) instead of printing it.")
def schema_command(out: Path | None) -> None:
    """Print the JSON Schema (draft 2020-12) of a study spec, for an editor to check study.toml.

    Point taplo / Even Better TOML at it with '#:schema ./study.schema.json' on the first line
    of the spec (docs/spec.md, "Editor support").
    """
    import json

    from scalinglab.study import StudySpec

    text = json.dumps(StudySpec.json_schema(), indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    _check_writable_target(out, "--out file")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot write {str(out)!r}: {exc.strerror}; choose another path.") from exc
    click.echo(f"Wrote {out}. Put '#:schema ./{out.name}' on the first line of a study.toml "
               "next to it for taplo / Even Better TOML (docs/spec.md).")
