"""Throughput of the built-in workloads: runs per minute on a pool of worker processes.

Usage::

    python benchmarks/workloads.py                 # all workloads, 2 workers
    python benchmarks/workloads.py --workers 2 --tasks mnist1d charlm --json out.json

Each workload trains a fixed list of small configurations (the kind of cells its
``scalinglab init`` spec runs) on ``--workers`` processes, each with one torch thread, as
the study engine does. Data are generated and cached before the clock starts, so the
numbers are steady-state throughput. Reported per workload: the runs, the wall-clock
time, runs per minute, and the median and maximum training time of one run (the
``train_time_s`` the task returns, which excludes process start and imports).
The numbers go into docs/workloads.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# (shard_size, model_size, seed, params) per run.
Config = tuple[int, float, int, dict[str, Any]]

SMALL: dict[str, list[Config]] = {
    "mnist1d": [
        *[(n, 64, s, {"model": "mlp"}) for n in (256, 1024, 4096) for s in (0, 1)],
        *[(n, 32, 0, {"model": "cnn"}) for n in (256, 1024)],
    ],
    "charlm": [
        *[(n, 32, s, {"model": "lstm"}) for n in (64, 256) for s in (0, 1)],
        (64, 32, 0, {"model": "transformer"}),
    ],
    "sklearn": [
        *[(n, 32, s, {"estimator": "mlp"}) for n in (128, 512, 1024) for s in (0, 1)],
        *[(n, 50, 0, {"estimator": "random_forest"}) for n in (128, 1024)],
    ],
    "teacher_student": [(n, 16, s, {}) for n in (128, 512, 2048) for s in (0, 1)],
}


def _run_one(task: str, config: Config) -> dict[str, float]:
    from scalinglab.tasks import Trial, load_task

    shard_size, model_size, seed, params = config
    trial = Trial.standalone(shard_size=shard_size, model_size=model_size, seed=seed,
                             params=params)
    return dict(load_task(task)(trial))


def _warm(task: str) -> None:
    """Generate and cache the data outside the timed section (and import everything)."""
    for config in SMALL[task]:
        shard, _, _, params = config
        if task == "mnist1d":
            from scalinglab.tasks.mnist1d import load_split

            load_split(shard)
        elif task == "charlm":
            from scalinglab.tasks.charlm import load_corpus

            load_corpus()
        del params


def benchmark(task: str, workers: int) -> dict[str, Any]:
    """Run the small configurations of ``task`` on ``workers`` processes; time them."""
    _warm(task)
    configs = SMALL[task]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # Start the workers and import the task before the clock starts.
        list(pool.map(_import_task, [task] * workers))
        start = time.perf_counter()
        results = list(pool.map(_run_one, [task] * len(configs), configs))
        wall = time.perf_counter() - start
    per_run = [r["train_time_s"] for r in results]
    return {
        "task": task,
        "workers": workers,
        "runs": len(configs),
        "wall_s": round(wall, 2),
        "runs_per_minute": round(60.0 * len(configs) / wall, 1),
        "median_run_s": round(statistics.median(per_run), 2),
        "max_run_s": round(max(per_run), 2),
    }


def _import_task(task: str) -> None:
    from scalinglab.tasks import load_task

    load_task(task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", nargs="+", default=list(SMALL), choices=list(SMALL))
    parser.add_argument("--json", default=None, help="Also write the results to this file.")
    args = parser.parse_args(argv)
    rows = []
    print(f"| workload | runs | wall s | runs/min ({args.workers} workers) | median s/run "
          f"| max s/run |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks:
        row = benchmark(task, args.workers)
        rows.append(row)
        print(f"| {task} | {row['runs']} | {row['wall_s']} | {row['runs_per_minute']} "
              f"| {row['median_run_s']} | {row['max_run_s']} |", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"cpu_count": os.cpu_count(), "results": rows}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
