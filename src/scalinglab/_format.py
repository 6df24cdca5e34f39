"""Formatting shared by every output: the CLI's tables, the analysis's text and the report."""

from __future__ import annotations

__all__ = ["level_percent"]


def level_percent(level: float) -> str:
    """A confidence level as a percent, without the sign: 0.9 -> ``"90"``, 0.999 -> ``"99.9"``.

    ``%g`` and not ``int(100 * level)``: 0.58 * 100 is 57.99..., which ``int`` prints as 57.
    """
    return f"{100 * level:g}"
