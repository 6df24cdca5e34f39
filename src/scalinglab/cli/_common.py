"""What every command shares: the ``--format`` convention and strict JSON output.

``--format`` is ``table|json|csv`` for commands whose output is a table and ``table|json``
for the others (``text`` is still accepted for ``table``). JSON output is strict: a value
that JSON cannot hold (``inf``, ``nan``) becomes ``null`` and a sibling ``<key>_reason``
field says why, so that every consumer's ``json.loads`` (and ``jq``) reads it
(:func:`scalinglab._json.to_strict`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from scalinglab._json import strict_json

__all__ = ["echo_json", "format_option"]

_ALIASES = {"text": "table"}


class _FormatChoice(click.Choice):  # type: ignore[type-arg]
    """A ``click.Choice`` that also takes the old spelling ``text`` for ``table``."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and value.lower() in _ALIASES and _ALIASES[value.lower()] in self.choices:
            value = _ALIASES[value.lower()]
        return super().convert(value, param, ctx)


def format_option(*, csv: bool = False, default: str = "table") -> Callable[[Any], Any]:
    """The ``--format`` option: ``table|json`` (and ``csv`` where the output is a table)."""
    choices = ["table", "json", *(["csv"] if csv else [])]
    return click.option("--format", "fmt", type=_FormatChoice(choices), default=default,
                        show_default=True, help="Output format.")


def echo_json(doc: Any) -> None:
    """Print ``doc`` as strict JSON on stdout."""
    click.echo(strict_json(doc))

