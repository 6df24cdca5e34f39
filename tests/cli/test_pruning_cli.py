"""``scalinglab pruning``: the pruning-law fits of a stored study, table and strict JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scalinglab.analysis import PruningJoint
from scalinglab.storage import CurvePoint, PlannedRun, RunState, open_storage
from tests.cli._helpers import cli, one_line_error, strict_loads

WIDTHS = (16, 32, 64)
EPS_NP = {16: 0.30, 32: 0.22, 64: 0.17}
TRUE = {"eps_up": 0.88, "gamma": 2.0, "p": 0.03, "psi": 0.8}


def _store(path: Path, name: str, prune: bool) -> None:
    """A grid study of 2 seeds per width whose runs carry (or lack) pruning metrics."""
    law = PruningJoint(float(np.exp(np.mean(np.log(WIDTHS)))))
    params = [TRUE[n] for n in law.param_names]
    rng = np.random.default_rng(0)
    storage = open_storage(f"sqlite:///{path}")
    try:
        record = storage.create_study(name, "mnist1d", {"name": name, "task": "mnist1d",
                                                        "metric": "val_error", "seeds": [0, 1]})
        storage.add_runs(record.id, [PlannedRun(0, 1024, float(w), seed, "default")
                                     for w in WIDTHS for seed in (0, 1)])
        while (run := storage.claim_run(record.id, "writer")) is not None:
            w = int(run.model_size)
            dense = EPS_NP[w] * float(np.exp(0.01 * rng.standard_normal()))
            metrics: dict[str, float] = {"min_val_error": dense}
            if prune:
                for k in range(31):
                    d = 0.8**k
                    value = float(law.predict([[w, d, EPS_NP[w]]], params)[0])
                    metrics[f"prune_density_{k}"] = d
                    metrics[f"prune_min_val_error_{k}"] = (
                        dense if k == 0 else value * float(np.exp(0.02 * rng.standard_normal())))
            storage.finish_run(run.id, "writer", state=RunState.COMPLETE,
                               points=[CurvePoint(1, dense)], score=dense, n_params=float(w),
                               final_metrics=metrics, duration_s=0.0)
    finally:
        storage.close()


@pytest.fixture(scope="module")
def pruned_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pruning")
    _store(folder / "s.db", "pruned", prune=True)
    _store(folder / "s.db", "dense", prune=False)
    return folder


def test_table_names_every_width_and_the_joint_fit(pruned_db: Path) -> None:
    out = cli("pruning", "pruned", "--storage", "s.db", cwd=pruned_db)
    assert out.returncode == 0, out.stderr
    for w in WIDTHS:
        assert f"width {w}: eps_np" in out.stdout
    assert "joint, widths 16, 32, 64" in out.stdout
    assert "psi" in out.stdout and "relative error mean" in out.stdout
    assert "NOT converged" not in out.stdout


def test_json_is_strict_and_recovers_the_law(pruned_db: Path) -> None:
    out = cli("pruning", "pruned", "--storage", "s.db", "--format", "json", "--level", "0.95",
              cwd=pruned_db)
    assert out.returncode == 0, out.stderr
    doc = strict_loads(out.stdout)
    assert doc["level"] == 0.95 and len(doc["single"]) == len(WIDTHS)
    (joint,) = doc["joint"]
    assert joint["converged"] is True
    for name in ("psi", "gamma", "eps_up"):
        lo, hi = joint["intervals"][name]
        assert lo < joint["params"][name] < hi
        assert abs(joint["params"][name] - TRUE[name]) <= 4 * joint["stderr"][name]
    assert abs(joint["mean_relative_error"]) < 0.02
    assert joint["std_relative_error"] < 0.05
    point = joint["points"][1]
    assert point["lower"] < point["predicted"] < point["upper"]
    for fit in doc["single"]:
        assert fit["eps_np"][0]["interval"] is not None  # two seeds


@pytest.mark.parametrize(("args", "message"), [
    (["pruning", "missing", "--storage", "s.db"], "'missing'"),
    (["pruning", "dense", "--storage", "s.db"], "no completed run with pruning metrics"),
    (["pruning", "pruned", "--storage", "nothing.db"], "'--storage'"),
])
def test_bad_input_is_one_line_and_exit_2(pruned_db: Path, args: list[str], message: str) -> None:
    line = one_line_error(cli(*args, cwd=pruned_db), 2)
    assert message in line


def test_a_level_outside_0_1_is_refused(pruned_db: Path) -> None:
    out = cli("pruning", "pruned", "--storage", "s.db", "--level", "2", cwd=pruned_db)
    assert out.returncode == 2 and "'--level'" in out.stderr and "Traceback" not in out.stderr

