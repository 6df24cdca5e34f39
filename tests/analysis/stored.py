"""Synthetic stored studies with known laws, written through the storage interface."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from scalinglab.storage import CurvePoint, PlannedRun, RunState, open_storage
from scalinglab.study import StudyCurves, study_curves


def store_study(
    path: Path,
    name: str,
    shard_sizes: np.ndarray,
    model_sizes: np.ndarray,
    error: Callable[[float, float], float],
    n_params: Callable[[float], float] = lambda s: s,
    seeds: tuple[int, ...] = (0, 1, 2),
    noise: float = 0.01,
    spec_extra: dict[str, object] | None = None,
    failure: str | None = None,
    budget_limited: bool = False,
) -> StudyCurves:
    """Store a grid study whose runs reach ``error(n, s)`` times seeded log-normal noise.

    ``spec_extra`` adds to (or overrides) the stored spec, e.g. a ``metric``; with ``failure``
    one more run (seed 99 of the first cell) fails for good with that error message. Each run
    records ``budget_limited`` (default: it converged) for the ``converged`` check.
    """
    storage = open_storage(f"sqlite:///{path}")
    spec = {"name": name, "task": "synthetic", "metric": "val_error", "seeds": list(seeds),
            **(spec_extra or {})}
    record = storage.create_study(name, "synthetic", spec)
    planned = [
        PlannedRun(i, int(n), float(s), seed, "default")
        for i, n in enumerate(shard_sizes) for s in model_sizes for seed in seeds
    ]
    if failure is not None:
        planned.append(PlannedRun(0, int(shard_sizes[0]), float(model_sizes[0]), 99, "default"))
    storage.add_runs(record.id, planned)
    rng = np.random.default_rng(0)
    while (run := storage.claim_run(record.id, "writer")) is not None:
        if failure is not None and run.seed == 99:
            storage.fail_run(run.id, "writer", failure, max_attempts=1)
            continue
        value = error(run.shard_size, run.model_size) * float(np.exp(noise * rng.standard_normal()))
        storage.finish_run(
            run.id, "writer", state=RunState.COMPLETE,
            points=[CurvePoint(0, value * 1.5), CurvePoint(1, value)],
            score=value, n_params=n_params(run.model_size), final_metrics={"val_error": value, "budget_limited": float(budget_limited)},
            duration_s=0.0,
        )
    curves = study_curves(name, storage)
    storage.close()
    return curves
