"""The ``scalinglab`` command line: thin commands over the public API.

Each group of commands lives in its own module and registers itself on :data:`app`.
Errors a user can fix (:class:`scalinglab.InputError`) become one line on stderr and
exit code 2, never a traceback.
"""

from __future__ import annotations

import sys

import click

from scalinglab._errors import MissingExtraError, ScalingLabError

__all__ = ["app", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="scalinglab")
def app() -> None:
    """scalinglab: design, run, fit and extrapolate deep-learning scaling studies."""


def _register_commands() -> None:
    # Imported here, not at the top, so that each module can import `app` from this one.
    from scalinglab.cli import (
        _analysis,  # noqa: F401
        _demo,  # noqa: F401
        _fit,  # noqa: F401
        _share,  # noqa: F401
        _study,  # noqa: F401
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    _register_commands()
    try:
        code = app.main(args=argv, prog_name="scalinglab", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except (ScalingLabError, MissingExtraError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if isinstance(code, int) and code != 0:
        sys.exit(code)
