"""Plots and the HTML report of a study analysis (needs the ``report`` extra: matplotlib)."""

from __future__ import annotations

from scalinglab.report._html import _num as format_number
from scalinglab.report._html import figure_bytes, render_report, write_report
from scalinglab.report._plots import (
    BacktestDisplay,
    JointBacktestDisplay,
    JointDisplay,
    LearningCurveDisplay,
    ModelSizeDisplay,
)

__all__ = [
    "BacktestDisplay",
    "JointBacktestDisplay",
    "JointDisplay",
    "LearningCurveDisplay",
    "ModelSizeDisplay",
    "figure_bytes",
    "format_number",
    "render_report",
    "write_report",
]
