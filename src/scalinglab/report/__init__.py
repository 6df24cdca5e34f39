"""Plots and the HTML report of a study analysis (needs the ``report`` extra: matplotlib)."""

from __future__ import annotations

from scalinglab.report._html import figure_bytes, render_report, write_report
from scalinglab.report._plots import BacktestDisplay, JointDisplay, LearningCurveDisplay, ModelSizeDisplay

__all__ = [
    "BacktestDisplay",
    "JointDisplay",
    "LearningCurveDisplay",
    "ModelSizeDisplay",
    "figure_bytes",
    "render_report",
    "write_report",
]
