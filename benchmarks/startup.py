"""Start-up time of the command line against its baselines (issue 13).

Goals: ``scalinglab --help`` and ``scalinglab laws`` within 5x ``python -c "import click, rich"``;
``scalinglab fit`` on a 7-point CSV within 1.3x ``python -c "import numpy, scipy.optimize,
pandas"``. Each pair is measured in alternation (A B A B ..., so that a change in the
machine's load hits both alike) and summarised by the median of the repeats.

    python benchmarks/startup.py [--repeats 5] [--json out.json]

Find what is imported eagerly with ``python -X importtime -m scalinglab --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEVEN = "x,y\n100,0.5\n200,0.4\n400,0.33\n800,0.28\n1600,0.25\n3200,0.23\n6400,0.22\n"


def _time(command: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def paired(a: list[str], b: list[str], repeats: int, env: dict[str, str], cwd: str) -> tuple[float, float]:
    """Median wall time of ``a`` and of ``b``, run alternately ``repeats`` times each."""
    _time(a, env, cwd), _time(b, env, cwd)  # warm the file cache; not counted
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(_time(a, env, cwd))
        tb.append(_time(b, env, cwd))
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    args = parser.parse_args()
    py = sys.executable
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "seven.csv").write_text(SEVEN)
        cli = [py, "-m", "scalinglab"]
        ui = [py, "-c", "import click, rich"]
        numeric = [py, "-c", "import numpy, scipy.optimize, pandas"]
        cases = [
            ("--help", [*cli, "--help"], ui, 5.0),
            ("laws", [*cli, "laws"], ui, 5.0),
            ("fit (7 points, law auto)", [*cli, "fit", "seven.csv", "--x", "x", "--y", "y"], numeric, 1.3),
        ]
        rows = []
        for name, command, baseline, goal in cases:
            t, t0 = paired(command, baseline, args.repeats, env, tmp)
            rows.append({"command": name, "median_s": round(t, 3), "baseline_s": round(t0, 3),
                         "baseline": " ".join(baseline[1:]), "ratio": round(t / t0, 2), "goal": goal,
                         "met": t / t0 <= goal})
    print(f"{'command':28} {'median s':>9} {'baseline s':>11} {'ratio':>6} {'goal':>5}  met")
    for r in rows:
        print(f"{r['command']:28} {r['median_s']:9.3f} {r['baseline_s']:11.3f} {r['ratio']:6.2f} "
              f"{r['goal']:5.1f}  {'yes' if r['met'] else 'NO'}")
    print(f"(paired runs, median of {args.repeats}; baseline of --help/laws: python -c 'import click, rich'; "
          "of fit: python -c 'import numpy, scipy.optimize, pandas')")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
