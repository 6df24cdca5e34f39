"""Scaling studies: the spec, nested shards, the search, running and aggregating.

A study is declared once (:class:`StudySpec`, from TOML or a dict, docs/spec.md), run or
resumed by :func:`run_study` on a pool of workers, stored run by run (with training curves)
in a :mod:`scalinglab.storage` backend, and aggregated by :func:`study_curves` into the
learning curve eps(m) and the model-size curve s(m) of Hestness et al. 2017. A stored run's
``phase`` says which step of the search planned it (``PHASE_*``).
"""

from __future__ import annotations

from scalinglab.storage import open_storage
from scalinglab.study._aggregate import StudyCurves, aggregate_runs, study_checks, study_curves
from scalinglab.study._analyze import (
    analyze_study,
    best_fit_budgets,
    require_completed,
    study_eps0,
    study_pruning,
    study_record,
)
from scalinglab.study._run import StudySummary, create_study, run_study, study_status
from scalinglab.study._search import (
    PHASE_BUDGET,
    PHASE_ENDPOINTS,
    PHASE_GROW,
    PHASE_REFINE,
    PHASE_SAMPLE,
    plan_runs,
    shard_checks,
)
from scalinglab.study._share import (
    ImportSummary,
    StudyExport,
    check_export,
    export_study,
    import_study,
    read_export,
    write_export,
)
from scalinglab.study._spec import (
    BudgetSpec,
    DataAxis,
    ExecutionSpec,
    ModelAxis,
    ParamSpace,
    SearchSpec,
    StudySpec,
    geometric_shard_sizes,
)
from scalinglab.tasks import nested_shard_indices

__all__ = [
    "PHASE_BUDGET",
    "PHASE_ENDPOINTS",
    "PHASE_GROW",
    "PHASE_REFINE",
    "PHASE_SAMPLE",
    "BudgetSpec",
    "DataAxis",
    "ExecutionSpec",
    "ImportSummary",
    "ModelAxis",
    "ParamSpace",
    "SearchSpec",
    "StudyCurves",
    "StudyExport",
    "StudySpec",
    "StudySummary",
    "aggregate_runs",
    "analyze_study",
    "best_fit_budgets",
    "check_export",
    "create_study",
    "export_study",
    "geometric_shard_sizes",
    "import_study",
    "nested_shard_indices",
    "open_storage",
    "plan_runs",
    "read_export",
    "require_completed",
    "run_study",
    "shard_checks",
    "study_checks",
    "study_curves",
    "study_eps0",
    "study_pruning",
    "study_record",
    "study_status",
    "write_export",
]
