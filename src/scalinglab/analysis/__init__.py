"""Analysis of scaling studies: checks first, then learning curve, regions, model-size law,
joint law, backtests, with intervals from a bootstrap over runs.

Works on aggregated curves (:class:`scalinglab.study.StudyCurves` or any object with its
fields), through :mod:`scalinglab.fitting`; it never reads a database itself.
"""

from __future__ import annotations

from scalinglab.analysis._analysis import (
    PLAN_RANGE,
    Backtest,
    CurvesLike,
    JointAnalysis,
    JointBacktest,
    LearningCurveAnalysis,
    ModelSizeAnalysis,
    NotEstimableError,
    Plan,
    StudyAnalysis,
    analyze,
    backtest_caveat,
    backtest_curve,
    compare_exponents,
    joint_backtest,
)
from scalinglab.analysis._checks import (
    Check,
    budget_limited,
    check_beta_p_identifiable,
    check_converged,
    check_fits_identified,
    check_model_interior,
    check_power_law_window,
    interior_mask,
)
from scalinglab.analysis._pruning import (
    PruningAnalysis,
    PruningFit,
    PruningJoint,
    fit_pruning,
    pruning_table,
)
from scalinglab.analysis._regions import Regions, regions_from_envelope
from scalinglab.analysis._runboot import RunBootstrap, bootstrap_runs

__all__ = [
    "PLAN_RANGE",
    "Backtest",
    "Check",
    "CurvesLike",
    "JointAnalysis",
    "JointBacktest",
    "LearningCurveAnalysis",
    "ModelSizeAnalysis",
    "NotEstimableError",
    "Plan",
    "PruningAnalysis",
    "PruningFit",
    "PruningJoint",
    "Regions",
    "RunBootstrap",
    "StudyAnalysis",
    "analyze",
    "backtest_caveat",
    "backtest_curve",
    "bootstrap_runs",
    "budget_limited",
    "check_beta_p_identifiable",
    "check_converged",
    "check_fits_identified",
    "check_model_interior",
    "check_power_law_window",
    "compare_exponents",
    "fit_pruning",
    "interior_mask",
    "joint_backtest",
    "pruning_table",
    "regions_from_envelope",
]
