"""The ``scalinglab`` command line: thin commands over the public API.

Each group of commands lives in its own module and registers itself on :data:`app`. The
command modules import only click at the top, so that ``scalinglab --help`` stays fast; the
numerics are imported inside the commands that use them.

Exit codes: 0 success; 1 the environment failed (storage read-only, deleted, unreachable;
runs of a study FAILED); 2 bad input (one line naming the problem and the fix); 129, 130
and 143 stopped by SIGHUP, Ctrl-C and SIGTERM. No command prints a traceback: an unexpected
error is one line and exit code 1 (``SCALINGLAB_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from scalinglab._errors import MissingExtraError, ScalingLabError, StorageError, mask_credentials
from scalinglab.cli._app import app

__all__ = ["app", "main"]


def _register_commands() -> None:
    # Imported when the CLI runs, not at import: each module registers its commands on `app`.
    from scalinglab.cli import (
        _analysis,  # noqa: F401
        _demo,  # noqa: F401
        _fit,  # noqa: F401
        _pruning,  # noqa: F401
        _schema,  # noqa: F401
        _share,  # noqa: F401
        _study,  # noqa: F401
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _show_warning(message: warnings.WarningMessage | str) -> None:
    text = str(message.message if isinstance(message, warnings.WarningMessage) else message)
    click.echo(f"warning: {_one_line(ValueError(text))}", err=True)


def _environment_error(exc: BaseException) -> bool:
    """An error of the machine or the database, not of the user's input."""
    if isinstance(exc, OSError | MemoryError):
        return True
    module = type(exc).__module__ or ""
    return module.startswith(("sqlalchemy", "sqlite3", "psycopg"))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    _register_commands()
    debug = bool(os.environ.get("SCALINGLAB_DEBUG"))
    with warnings.catch_warnings(record=True) as caught:
        # numpy's RuntimeWarnings (overflow in exp, ...) are internal to the fits, which
        # handle non-finite values themselves: they are not the user's to act on.
        warnings.simplefilter("default")
        warnings.simplefilter("ignore", RuntimeWarning)
        # As Python's own default: an unclosed handle found by the garbage collector (e.g. a
        # database connection of an earlier in-process call) is not the user's to act on, and
        # printed into a JSON document's stream it corrupts it.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            code = app.main(args=argv, prog_name="scalinglab", standalone_mode=False)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.exceptions.ClickException as exc:
            exc.show()
            sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
        except StorageError as exc:
            click.echo(mask_credentials(f"error: {_one_line(exc)}"), err=True)
            sys.exit(1)
        except (ScalingLabError, MissingExtraError) as exc:
            click.echo(mask_credentials(f"error: {_one_line(exc)}"), err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug:
                raise
            what = "" if _environment_error(exc) else "internal error, please report it: "
            if "readonly database" in str(exc) or "read-only file system" in str(exc).lower():
                click.echo("error: The storage is read-only (the database refused a write); make "
                           "the file and its directory writable, or copy it and pass --storage "
                           "COPY.", err=True)
                sys.exit(1)
            click.echo(mask_credentials(f"error: {what}{type(exc).__name__}: {_one_line(exc)}"
                                 " (SCALINGLAB_DEBUG=1 shows the traceback)"), err=True)
            sys.exit(1)
        finally:
            seen = set()
            for message in caught:
                if issubclass(message.category, RuntimeWarning | DeprecationWarning):
                    continue
                key = str(message.message)
                if key not in seen:
                    seen.add(key)
                    _show_warning(message)
    if isinstance(code, int) and code != 0:
        sys.exit(code)
