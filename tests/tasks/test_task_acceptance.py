"""Acceptance checks of the built-in workloads: slow, run with ``pytest -m slow``.

- Each workload's ``scalinglab init`` spec trains end to end through ``scalinglab run``.
- mnist1d (MLP): the median-of-min validation error falls with the shard size.
- teacher_student: the error falls far below its small-data value and a fitted floor is
  consistent with zero.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scalinglab.tasks import Trial

pytestmark = pytest.mark.slow


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORAGE"}
    return subprocess.run([sys.executable, "-m", "scalinglab", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _shrink(spec: Path) -> None:
    """The init spec as written, on its three smallest shards, two learning rates and at
    most 2x budgets: every part of it (search, tuning, budget extension) still runs, in a
    test's time rather than the few minutes the full spec takes."""
    text = spec.read_text()
    low = int(re.search(r"^min_shard_size = (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    for pattern, value in ((r"^max_shard_size = \d+", f"max_shard_size = {4 * low}"),
                           (r"^param_samples = \d+", "param_samples = 2"),
                           (r"^max_factor = \d+", "max_factor = 2")):
        text = re.sub(pattern, value, text, flags=re.M)
    spec.write_text(text)
    assert f"max_shard_size = {4 * low}" in text


@pytest.mark.parametrize("task", ["mnist1d", "charlm", "sklearn", "teacher_student"])
def test_init_spec_runs_end_to_end(task: str, tmp_path: Path) -> None:
    pytest.importorskip("sklearn" if task == "sklearn" else "torch")
    out = _cli("init", "--task", task, "spec.toml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    _shrink(tmp_path / "spec.toml")
    out = _cli("run", "spec.toml", "--workers", "2", "--no-progress", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "0 failed" in out.stdout
    name = next(line.split('"')[1] for line in (tmp_path / "spec.toml").read_text().splitlines()
                if line.startswith("name"))
    out = _cli("curve", name, "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["shards"]


def _median_min(task: str, shard: int, width: int, seeds: int, **params: object) -> float:
    from scalinglab.tasks import load_task

    train = load_task(task)
    return statistics.median(
        train(Trial.standalone(shard_size=shard, model_size=width, seed=s, params=params))[
            "min_val_error"
        ]
        for s in range(seeds)
    )


def test_mnist1d_mlp_error_falls_with_data() -> None:
    pytest.importorskip("torch")
    shards = [256, 1024, 4096, 16384]
    errors = [_median_min("mnist1d", n, 128, 2) for n in shards]
    # Monotone within seed noise (about 0.01 for 4,096 validation examples).
    assert all(b < a - 0.02 for a, b in itertools.pairwise(errors)), errors


def test_teacher_student_floor_is_consistent_with_zero() -> None:
    pytest.importorskip("torch")
    from scalinglab.fitting import fit_law

    shards = np.array([64, 128, 256, 512, 1024, 2048, 4096])
    errors = np.array([_median_min("teacher_student", int(n), 32, 2) for n in shards])
    assert errors[-1] < 0.02 * errors[0], errors
    fit = fit_law("power_floor", shards, errors)
    # The floor is a small fraction of the smallest error reached, i.e. zero within the
    # resolution of the curve.
    assert fit.params["c"] < 0.5 * errors.min(), (fit.params, errors)
