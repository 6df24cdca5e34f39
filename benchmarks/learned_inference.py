"""Time the learned extrapolator's numpy inference per curve (one core).

Runs the shipped network on 300 curves of the prior (``scalinglab.fitting._curve_prior``,
seed 1) and prints the median and 95th percentile of the wall and CPU time of one
``LearnedExtrapolator.predict`` call (context of up to ``MAX_CONTEXT`` points after binning,
all of the curve's target points as queries), and the weights file's size. Set
``OMP_NUM_THREADS=1`` (as below) to measure one core; the machine's other load adds noise.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/learned_inference.py``.
"""

from __future__ import annotations

import time
from importlib import resources

import numpy as np

from scalinglab.fitting._curve_prior import sample_curve
from scalinglab.fitting._learned import WEIGHTS_FILE, load_extrapolator


def main() -> int:
    net = load_extrapolator()
    rng = np.random.default_rng(1)
    curves = [sample_curve(rng) for _ in range(300)]
    times, cpu = [], []
    for c in curves:
        start, start_cpu = time.perf_counter(), time.process_time()
        net.predict(c.x_context, c.y_context, c.x_target, c.eps0)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    ms = np.array(times) * 1000
    ms_cpu = np.array(cpu) * 1000
    n_q = np.array([len(c.x_target) for c in curves])
    size = (resources.files("scalinglab") / "data" / WEIGHTS_FILE).read_bytes()
    print(f"per curve, wall: median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, max {ms.max():.2f} ms; "
          f"CPU: median {np.median(ms_cpu):.2f} ms, p95 {np.percentile(ms_cpu, 95):.2f} ms "
          f"(queries per curve: median {int(np.median(n_q))}, max {n_q.max()})")
    print(f"weights: {len(size) / 1e6:.2f} MB, {sum(v.size for k, v in net.w.items() if v.ndim)} numbers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
