"""Timing of the fitting engine (issue 3, acceptance point 6).

Reports, on the machine it runs on:
- the median time of one ``auto`` fit of a 10-point curve (goal <= 50 ms);
- ``auto`` on all 92 curves of the Alabdulmohsin et al. 2022 benchmark (goal <= 5 s), in one
  process and in one per core (``scalinglab fit --jobs``);
- the Chinchilla point fit with Hoffmann's grid of 4,500 starts (goal <= 5 s);
- 4,000 bootstrap refits of that fit (goal <= 60 s).

The last three need ``../shared/benchmarks`` beside the checkout and are skipped without it.

Usage: python benchmarks/fitting.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglab.fitting import fit_frame, fit_law

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def time_auto_10_points(repeats: int) -> float:
    times = []
    for seed in range(repeats):
        rng = np.random.default_rng(seed)
        x = np.logspace(3, 6, 10)
        y = (3.0 * x**-0.35 + 0.05) * np.exp(0.02 * rng.standard_normal(10))
        t0 = time.perf_counter()
        fit_law("auto", x, y)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_auto_benchmark(n_jobs: int) -> tuple[float, int]:
    """``auto`` on every training curve, through ``fit_frame`` (what ``scalinglab fit`` runs)."""
    root = SHARED / "revisiting-neural-scaling-laws"
    frame = pd.concat([pd.read_csv(root / f) for f in ("benchmark.vision.csv", "benchmark.lang.csv")])
    train = frame[frame["Training"] == 1].reset_index(drop=True)
    t0 = time.perf_counter()
    fits = fit_frame(train, "Seen Examples", "Loss", groups=["Domain", "Task", "Model"], n_jobs=n_jobs)
    return time.perf_counter() - t0, len(fits.fitted)


def chinchilla_data() -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(SHARED / "chinchilla-epoch" / "svg_extracted_data.csv")
    df = df.sort_values("loss").iloc[:-5]
    n = df["Model Size"].to_numpy()
    return np.column_stack([n, df["Training FLOP"].to_numpy() / (6 * n)]), df["loss"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="400 bootstrap refits instead of 4,000")
    parser.add_argument("--jobs", type=int, default=1, help="processes for the bootstrap")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    fit_law("auto", np.logspace(3, 6, 10), np.logspace(0, -1, 10))  # warm imports
    print(f"auto fit, 10-point curve, median of 25: {1000 * time_auto_10_points(25):.1f} ms (goal <= 50 ms)")
    if not SHARED.is_dir():
        print(f"skipped the rest: {SHARED} not found")
        return
    cores = os.cpu_count() or 1
    for n_jobs in dict.fromkeys((1, cores)):
        seconds, count = time_auto_benchmark(n_jobs)
        print(f"auto on all {count} benchmark curves, {n_jobs} process(es) (fit --jobs {n_jobs}): "
              f"{seconds:.2f} s (goal <= 5 s)")
    x, y = chinchilla_data()
    t0 = time.perf_counter()
    fit = fit_law("chinchilla", x, y, loss="huber", n_starts=4500)
    print(f"Chinchilla fit, Hoffmann grid (4,500 starts ranked, optimised until two agree): "
          f"{time.perf_counter() - t0:.2f} s (goal <= 5 s); {fit}")
    n_boot = 400 if args.quick else 4000
    t0 = time.perf_counter()
    boot = fit.bootstrap(n_boot, seed=0, n_jobs=args.jobs)
    elapsed = time.perf_counter() - t0
    se = ", ".join(f"{k} {v:.4g}" for k, v in boot.standard_errors.items())
    print(f"{n_boot} bootstrap refits ({args.jobs} process(es)): {elapsed:.1f} s (goal <= 60 s for 4,000); "
          f"failed {boot.n_failed}; SE: {se}")


if __name__ == "__main__":
    main()
