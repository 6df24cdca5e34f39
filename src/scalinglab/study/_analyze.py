"""The analysis of a stored study: what ``scalinglab analyze`` and ``scalinglab pruning`` compute.

:func:`analyze_study` reads a study from storage, aggregates it (:func:`study_curves`), builds
the per-shard budget facts the ``converged`` check needs, resolves eps0 by the one precedence
rule and runs :func:`scalinglab.analysis.analyze`. The command line, the demo and the
reproduction page call it, so that a number printed by one is the number of the others.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scalinglab._errors import InputError
from scalinglab.storage import RunState, Storage
from scalinglab.study._aggregate import StudyCurves, _unknown_study, study_curves

if TYPE_CHECKING:
    import pandas as pd

    from scalinglab.analysis import PruningAnalysis, StudyAnalysis


def study_record(name: str, storage: Storage) -> Any:
    """The stored study ``name``; an unknown name is an :class:`InputError` that names the
    stored studies (or the closest one)."""
    record = storage.get_study(name)
    if record is None:
        raise _unknown_study(name, storage)
    return record


def require_completed(name: str, storage: Storage) -> None:
    """An analysis needs completed runs: an :class:`InputError` saying why a study has none
    (its runs failed: how to see them; or they wait: how to run them)."""
    record = study_record(name, storage)
    counts = storage.count_runs(record.id)
    if counts[RunState.COMPLETE] == 0:
        total = sum(counts.values())
        detail = (f"{counts[RunState.FAILED]} of its {total} runs FAILED; see them with: "
                  f"scalinglab runs {name} --state FAILED, fix the cause and run it again"
                  if counts[RunState.FAILED] else
                  f"it has {total} runs, {counts[RunState.WAITING]} waiting; run it with "
                  "scalinglab run SPEC.toml")
        raise InputError(f"The study {name!r} has no completed run to analyse: {detail}.")


def study_eps0(eps0: float | None, spec: dict[str, Any]) -> float | None:
    """eps0 by precedence: the caller's, the spec's ``eps0``, the task's stated one, else None
    (then :func:`scalinglab.fitting.resolve_eps0`'s rule applies and the analysis says so)."""
    from scalinglab.tasks import task_eps0

    if eps0 is not None:
        return float(eps0)
    if isinstance(spec.get("eps0"), int | float) and not isinstance(spec.get("eps0"), bool):
        return float(spec["eps0"])
    train = spec.get("train") if isinstance(spec.get("train"), dict) else {}
    return task_eps0(str(spec.get("task", "")), train)


def best_fit_budgets(storage: Storage, record: Any, curves: StudyCurves,
                     size_tolerance: float | None = None) -> pd.DataFrame:
    """Whether the best-fit cells' runs were budget-limited: shard_size, model_size, seed and
    budget_limited (1, 0, NaN), for the ``converged`` check.

    A study whose runs record budget facts (the engine's ``budget_limited``, with budgets that
    follow the shard) is read through :func:`scalinglab.study.shard_checks`: one row per
    shard, for the best cell at its largest budget (an earlier, smaller budget that was
    extended does not count). Otherwise from each best-fit run's own record
    (``best_step``/``steps``/``max_steps`` in its final metrics), else from its stored
    training curve (read only for these runs).
    """
    import pandas as pd

    from scalinglab.analysis import budget_limited
    from scalinglab.study._run import current_runs
    from scalinglab.study._search import shard_checks
    from scalinglab.study._spec import StudySpec

    columns = ["shard_size", "model_size", "seed", "budget_limited"]
    frame = current_runs(storage, record)
    facts = ("final_metrics_json" in frame.columns and len(frame) > 0 and bool(
        frame["final_metrics_json"].fillna("").astype(str)
        .str.contains('"budget_limited":', regex=False).any()))
    if facts:
        try:
            spec = StudySpec.from_dict(dict(record.spec))
        except InputError:
            spec = None
        if spec is not None:
            checks = shard_checks(spec, frame, size_tolerance)
            return pd.DataFrame({
                "shard_size": checks["shard_size"].astype(int),
                "model_size": checks["best_model_size"].astype(float),
                "seed": -1, "budget_limited": checks["budget_limited"].astype(float),
            }, columns=columns)
    best = {(int(n), float(m)) for n, m in zip(curves.shard_size, curves.best_model_size, strict=True)}
    rows = []
    for run in storage.get_runs(record.id, [RunState.COMPLETE]):
        if (int(run.shard_size), float(run.model_size)) not in best:
            continue
        flag = budget_limited(run.final_metrics)
        if flag is None:
            points = storage.get_curve(run.id)
            flag = budget_limited(None, [p.step for p in points], [p.val_error for p in points])
        rows.append({"shard_size": int(run.shard_size), "model_size": float(run.model_size),
                     "seed": int(run.seed), "budget_limited": math.nan if flag is None else float(flag)})
    return pd.DataFrame(rows, columns=columns)


def analyze_study(
    name: str,
    storage: Storage,
    *,
    eps0: float | None = None,
    level: float = 0.9,
    size_tolerance: float | None = None,
    joint_fractions: tuple[float, float] = (1 / 8, 1 / 16),
) -> StudyAnalysis:
    """Analyse a stored study as ``scalinglab analyze`` does.

    Parameters
    ----------
    name : str
        The study's name in ``storage``.
    storage : Storage
        An open backend (:func:`scalinglab.storage.open_storage`); it is only read.
    eps0 : float, optional
        Random-guess error of the metric. Default: the spec's ``eps0``, else the task's
        stated one (:func:`study_eps0`), else the rule of
        :func:`scalinglab.fitting.resolve_eps0` (the analysis says so).
    level : float
        Level of every interval and band.
    size_tolerance : float, optional
        The best-fit rule's tolerance; default the spec's ``[model] size_tolerance``.
    joint_fractions : (float, float)
        Rosenfeld's backtest fractions: the joint law is fitted on the cells with
        ``n <= N * n_fraction`` and ``m <= M * m_fraction`` and scored on the rest.

    Returns
    -------
    StudyAnalysis
        :func:`scalinglab.analysis.analyze` of the study's curves, with the ``converged``
        check fed by the best-fit runs' budget facts (:func:`best_fit_budgets`).

    Raises
    ------
    InputError
        An unknown study, or one with no completed run.
    """
    from scalinglab.analysis import analyze

    record = study_record(name, storage)
    require_completed(name, storage)
    curves = study_curves(name, storage, size_tolerance=size_tolerance)
    spec = dict(record.spec)
    runs = best_fit_budgets(storage, record, curves, size_tolerance)
    return analyze(curves, eps0=study_eps0(eps0, spec), level=level, runs=runs,
                   joint_fractions=joint_fractions)


def study_pruning(name: str, storage: Storage, *, level: float = 0.9) -> PruningAnalysis:
    """Fit Rosenfeld's pruning law to a stored study, as ``scalinglab pruning`` does.

    The points are :func:`scalinglab.analysis.pruning_table` of the study's completed runs
    (the runs the aggregation counts); the fits are :func:`scalinglab.analysis.fit_pruning`
    (Rosenfeld et al. 2021, eq. 2, per network and jointly across widths).

    Raises
    ------
    InputError
        An unknown study, one with no completed run, or one whose runs carry no pruning
        metrics (its spec lacks ``[train] prune_rounds``).
    """
    from scalinglab.analysis import fit_pruning, pruning_table
    from scalinglab.study._run import current_runs

    record = study_record(name, storage)
    require_completed(name, storage)
    table = pruning_table(current_runs(storage, record, [RunState.COMPLETE]))
    if table.empty:
        raise InputError(
            f"The study {name!r} has no completed run with pruning metrics: set [train] "
            "prune_rounds = K (K >= 3) in its spec (a workload that prunes: mnist1d) and run it.")
    return fit_pruning(table, level=level, study=name)
