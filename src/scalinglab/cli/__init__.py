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

__all__ = ["app", "main"]


def _in_cli_words(exc: ScalingLabError, command: click.Command) -> ScalingLabError:
    """``exc`` with the library parameter it names (``exc.parameter``) named as ``command``'s
    option: "the 'storage' parameter" becomes "the '--storage' option".

    Library errors name parameters; the command line passes its options to them under the
    same names, so an error about one is about the option the user typed.
    """
    name = exc.parameter
    flags = [max(p.opts, key=len) for p in command.params
             if isinstance(p, click.Option) and p.name == name and not p.hidden]
    if name is None or not flags or len(exc.args) != 1 or not isinstance(exc.args[0], str):
        return exc
    exc.args = (exc.args[0].replace(f"{name!r} parameter", f"{flags[0]!r} option"),)
    return exc


class _Command(click.Command):
    """A command whose errors name its options, not the library's parameters."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ScalingLabError as exc:
            _in_cli_words(exc, self)
            raise


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="scalinglab")
def app() -> None:
    """scalinglab: design, run, fit and extrapolate deep-learning scaling studies."""


app.command_class = _Command


def _register_commands() -> None:
    # Imported here, not at the top, so that each module can import `app` from this one.
    from scalinglab.cli import (
        _analysis,  # noqa: F401
        _demo,  # noqa: F401
        _fit,  # noqa: F401
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
