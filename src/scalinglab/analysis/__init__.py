"""Analysis of scaling studies: learning curve, regions, model-size law, joint law, backtest.

Works on aggregated curves (:class:`scalinglab.study.StudyCurves` or any object with its
fields), through :mod:`scalinglab.fitting`; it never reads a database itself.
"""

from __future__ import annotations

from scalinglab.analysis._analysis import (
    Backtest,
    CurvesLike,
    JointAnalysis,
    LearningCurveAnalysis,
    ModelSizeAnalysis,
    Plan,
    StudyAnalysis,
    analyze,
    backtest_curve,
    compare_exponents,
)
from scalinglab.analysis._regions import Regions, regions_from_envelope

__all__ = [
    "Backtest",
    "CurvesLike",
    "JointAnalysis",
    "LearningCurveAnalysis",
    "ModelSizeAnalysis",
    "Plan",
    "Regions",
    "StudyAnalysis",
    "analyze",
    "backtest_curve",
    "compare_exponents",
    "regions_from_envelope",
]
