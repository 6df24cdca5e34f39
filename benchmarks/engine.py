"""Benchmarks of the study engine (issue 4).

    python benchmarks/engine.py [--quick] [--only-overhead] [--repeat N]

1. Scheduling overhead per run: 2,000 runs of a no-op task (the synthetic task with one
   epoch), 1 local worker, SQLite. Goal <= 2 ms per run (issue 15; Optuna + SQLite: ~19 ms
   per trial). Every run also stores its budget facts (best step, budget, budget_limited).
2. Throughput of 2 workers vs 1 on a CPU-bound task. Goal >= 1.8x.
3. Time to aggregate 100,000 stored runs into curves. Goal <= 1 s.
4. The Ray executor (issue 8), on a private local Ray instance, same SQLite storage: its
   per-run overhead on the no-op task (1 worker), and its throughput vs the local executor
   on the same CPU-bound task (2 workers each). Goal: within 10% of the local executor.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from scalinglab.storage import RunState, open_storage, utcnow
from scalinglab.storage._models import runs as runs_table
from scalinglab.study import StudySpec, run_study, study_curves


def _spec(name: str, n_shards: int, n_sizes: int, n_seeds: int, **train: float) -> StudySpec:
    return StudySpec.from_dict({
        "name": name, "task": "synthetic", "seeds": n_seeds,
        "data": {"shard_sizes": [64 * 2**i for i in range(n_shards)]},
        "model": {"sizes": [float(i + 1) for i in range(n_sizes)]},
        "train": {"epochs": 1, **train},
        "search": {"method": "grid"},
    })


def _busy_span_s(db: Path, name: str) -> float:
    store = open_storage(db)
    study = store.get_study(name)
    assert study is not None
    runs = store.get_runs(study.id, [RunState.COMPLETE])
    start = min(r.started_at for r in runs if r.started_at)
    end = max(r.finished_at for r in runs if r.finished_at)
    return (end - start).total_seconds()


def overhead(tmp: Path, n_runs: int, repeat: int = 1) -> None:
    """Section 1, ``repeat`` times on fresh databases; with 2 or more, the min and median."""
    n_seeds = n_runs // 200
    steady, whole = [], []
    for i in range(repeat):
        spec = _spec("noop", 10, 20, n_seeds)
        db = tmp / f"noop{i}.db"
        t0 = time.perf_counter()
        summary = run_study(spec, storage=db, workers=1, progress=False)
        wall = time.perf_counter() - t0
        assert summary.n_complete == n_runs, summary
        span = _busy_span_s(db, "noop")
        steady.append(1000 * span / n_runs)
        whole.append(1000 * wall / n_runs)
        print(f"[1] scheduling overhead, no-op task, {n_runs} runs, 1 worker, SQLite:")
        print(f"    {whole[-1]:.2f} ms/run end to end (wall {wall:.2f} s incl. worker "
              f"start and planning); {steady[-1]:.2f} ms/run in steady state "
              f"(first claim to last finish). Goal <= 2 ms.")
    if repeat > 1:
        print(f"    {repeat} repeats: steady state min {min(steady):.2f}, median "
              f"{float(np.median(steady)):.2f} ms/run; end to end min {min(whole):.2f}, "
              f"median {float(np.median(whole)):.2f} ms/run.")


def throughput(tmp: Path, n_runs: int, burn_s: float) -> None:
    rates = {}
    for workers in (1, 2):
        name = f"cpu{workers}"
        spec = _spec(name, 2, n_runs // 2, 1, burn_s=burn_s)
        t0 = time.perf_counter()
        summary = run_study(spec, storage=tmp / f"{name}.db", workers=workers, progress=False)
        wall = time.perf_counter() - t0
        assert summary.n_complete == n_runs, summary
        span = _busy_span_s(tmp / f"{name}.db", name)
        rates[workers] = (n_runs / wall, n_runs / span)
        print(f"[2] CPU-bound task ({burn_s * 1000:.0f} ms/run), {workers} worker(s): "
              f"{n_runs / wall:.2f} runs/s end to end, {n_runs / span:.2f} runs/s steady")
    print(f"    speed-up 2 vs 1 workers: {rates[2][0] / rates[1][0]:.2f}x end to end, "
          f"{rates[2][1] / rates[1][1]:.2f}x steady state. Goal >= 1.8x.")


#: What a worker stores for a run of a budget-aware task (aggregation reads budget_limited).
FINAL_METRICS = ('{"best_step":3,"budget":1.0,"budget_aware":true,"budget_limited":false,'
                 '"budget_steps":4.0,"last_step":4,"n_params":4.0,"val_error":0.5}')


def aggregation(tmp: Path, n_runs: int) -> None:
    store = open_storage(tmp / "agg.db")
    spec = _spec("agg", 20, 50, n_runs // 1000)
    study = store.create_study(spec.name, spec.task, spec.to_dict())
    rng = np.random.default_rng(0)
    now = utcnow()
    # The runs of the spec's current [train]: the aggregation leaves out runs of another one.
    params_json = json.dumps(dict(spec.params), sort_keys=True)
    rows = [
        {"study_id": study.id, "shard_index": i, "shard_size": spec.shard_sizes[i],
         "model_size": float(s), "seed": seed, "config_key": spec.config_key,
         "params_json": params_json, "phase": 0, "state": "COMPLETE", "created_at": now,
         "final_metrics_json": FINAL_METRICS,
         "attempts": 1, "failures": 0, "score": float(rng.random()), "n_params": float(s * s)}
        for i in range(len(spec.shard_sizes)) for s in spec.model_sizes for seed in spec.seeds
    ]
    engine = store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(sa.insert(runs_table), rows)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        curves = study_curves("agg", store)
        times.append(time.perf_counter() - t0)
    assert len(curves.cell_model_size) == 1000, len(curves.cell_model_size)
    print(f"[3] aggregate {len(rows):,} stored runs into curves: best {min(times):.3f} s, "
          f"first {times[0]:.3f} s (one SQL query + pandas groupby). Goal <= 1 s.")


def _timed(name: str, spec: StudySpec, db: Path, n_runs: int, **kwargs: object) -> tuple[float, float]:
    t0 = time.perf_counter()
    summary = run_study(spec, storage=db, progress=False, **kwargs)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    assert summary.n_complete == n_runs, summary
    return wall, _busy_span_s(db, name)


def ray_executor(tmp: Path, n_noop: int, n_cpu: int, burn_s: float) -> None:
    from scalinglab.execution import RayExecutor

    n_seeds = max(1, n_noop // 200)
    n = 200 * n_seeds
    wall, span = _timed("noop", _spec("noop", 10, 20, n_seeds), tmp / "ray-noop.db", n,
                        executor=RayExecutor(workers=1, num_cpus=2))
    lwall, lspan = _timed("noop", _spec("noop", 10, 20, n_seeds), tmp / "loc-noop.db", n,
                          workers=1)
    print(f"[4] Ray executor, no-op task, {n} runs, 1 worker, local Ray instance, SQLite:")
    print(f"    {1000 * span / n:.2f} ms/run steady state (local executor "
          f"{1000 * lspan / n:.2f}); {1000 * wall / n:.2f} ms/run end to end incl. starting Ray "
          f"(local {1000 * lwall / n:.2f}); Ray start + shutdown ~{wall - span:.1f} s.")
    rates = {}
    for kind in ("local", "ray"):
        name = f"cpu-{kind}"
        spec = _spec(name, 2, n_cpu // 2, 1, burn_s=burn_s)
        extra: dict[str, object] = ({"workers": 2} if kind == "local" else
                                    {"executor": RayExecutor(workers=2, num_cpus=2)})
        wall, span = _timed(name, spec, tmp / f"{name}.db", n_cpu, **extra)
        rates[kind] = (n_cpu / wall, n_cpu / span)
        print(f"    CPU-bound ({burn_s * 1000:.0f} ms/run), 2 workers, {kind}: "
              f"{n_cpu / wall:.2f} runs/s end to end, {n_cpu / span:.2f} runs/s steady")
    print(f"    Ray / local throughput: {rates['ray'][1] / rates['local'][1]:.3f} steady state, "
          f"{rates['ray'][0] / rates['local'][0]:.3f} end to end. Goal >= 0.9.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument("--only-ray", action="store_true", help="only section 4")
    parser.add_argument("--no-ray", action="store_true", help="skip section 4")
    parser.add_argument("--only-overhead", action="store_true", help="only section 1")
    parser.add_argument("--repeat", type=int, default=1, help="repeats of section 1 (min, median)")
    args = parser.parse_args()
    if args.only_overhead:
        with tempfile.TemporaryDirectory() as name:
            overhead(Path(name), 400 if args.quick else 2000, max(1, args.repeat))
        return
    if args.only_ray:
        with tempfile.TemporaryDirectory() as name:
            ray_executor(Path(name), 400 if args.quick else 2000, 20 if args.quick else 60, 0.1)
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        overhead(tmp, 400 if args.quick else 2000, max(1, args.repeat))
        throughput(tmp, 20 if args.quick else 60, 0.1)
        aggregation(tmp, 10_000 if args.quick else 100_000)
        if not args.no_ray:
            ray_executor(tmp, 400 if args.quick else 2000, 20 if args.quick else 60, 0.1)


if __name__ == "__main__":
    main()
