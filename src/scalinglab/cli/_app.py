"""The ``scalinglab`` click group, on which every command module registers its commands.

Its own module so that the command modules (which import it) and the package's
``__init__`` (which imports them to register them) form no import circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from scalinglab._errors import ScalingLabError

__all__ = ["app"]


def _in_cli_words(exc: ScalingLabError, command: click.Command,
                  aliases: Mapping[str, str] | None = None) -> ScalingLabError:
    """``exc`` with the library parameter it names (``exc.parameter``) named as ``command``'s
    option: "the 'storage' parameter" becomes "the '--storage' option".

    Library errors name parameters; the command line passes its options to them under the
    same names, so an error about one is about the option the user typed. ``aliases`` maps
    a library parameter to the option that gives it where the names differ (``n_params``,
    given by ``--model-size``).
    """
    name = exc.parameter
    if name is None or len(exc.args) != 1 or not isinstance(exc.args[0], str):
        return exc
    option = (aliases or {}).get(name, name)
    flags = [max(p.opts, key=len) for p in command.params
             if isinstance(p, click.Option) and p.name == option and not p.hidden]
    if not flags:
        return exc
    exc.args = (exc.args[0].replace(f"{name!r} parameter", f"{flags[0]!r} option"),)
    return exc


class _Command(click.Command):
    """A command whose errors name its options, not the library's parameters.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`click.Command`.
    parameter_aliases : mapping, optional
        Library parameter name -> the name of this command's option that gives it, for the
        options not named as the parameter they pass (``{"n_params": "model_size"}``).
    """

    def __init__(self, *args: Any, parameter_aliases: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parameter_aliases = dict(parameter_aliases or {})

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ScalingLabError as exc:
            _in_cli_words(exc, self, self.parameter_aliases)
            raise


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="scalinglab")
def app() -> None:
    """scalinglab: design, run, fit and extrapolate deep-learning scaling studies."""


app.command_class = _Command
