"""The ``scalinglab`` click group, on which every command module registers its commands.

Its own module so that the command modules (which import it) and the package's
``__init__`` (which imports them to register them) form no import circle.
"""

from __future__ import annotations

import click

__all__ = ["app"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="scalinglab")
def app() -> None:
    """scalinglab: design, run, fit and extrapolate deep-learning scaling studies."""
