"""`scalinglab fit` on bad input: one line naming the problem and the fix, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scalinglab.fitting import fit_law


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from scalinglab.cli import main; main()", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120, check=False,
    )


@pytest.fixture
def curves(tmp_path: Path) -> Path:
    x = np.logspace(2, 5, 8)
    rows = []
    for name, (a, b, c) in {"small": (3.0, 0.3, 0.05), "large": (2.0, 0.4, 0.03)}.items():
        for xi in x:
            rows.append({"model": name, "shard_size": xi, "val_error": a * xi**-b + c})
    path = tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write(tmp_path: Path, text: str, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_fit_json_document_per_group(curves: Path):
    result = run_cli("fit", str(curves), "--x", "shard_size", "--y", "val_error",
                     "--group", "model", "--law", "power_floor", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format"] == "scalinglab.fit/1"
    by_group = {f["group"]["model"]: f for f in doc["fits"]}
    assert set(by_group) == {"small", "large"}
    small = by_group["small"]
    assert small["converged"] is True and small["n_points"] == 8
    assert small["params"]["b"] == pytest.approx(0.3, rel=1e-4)
    for key in ("stderr", "intervals", "rmsle", "law"):
        assert key in small


def test_fit_predict_appends_band_columns(curves: Path, tmp_path: Path):
    new = write(tmp_path, "model,shard_size\nsmall,1000000\nlarge,1000000\n", "new.csv")
    out = tmp_path / "pred.csv"
    result = run_cli("fit", str(curves), "--x", "shard_size", "--y", "val_error", "--group", "model",
                     "--law", "power_floor", "--predict", str(new), "--out", str(out), "--format", "csv")
    assert result.returncode == 0, result.stderr
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["model", "shard_size", "pred", "pred_lower", "pred_upper"]
    small = pred[pred["model"] == "small"].iloc[0]
    assert small["pred"] == pytest.approx(3.0 * 1e6**-0.3 + 0.05, rel=1e-3)
    assert small["pred_lower"] <= small["pred"] <= small["pred_upper"]


def test_fit_bootstrap_intervals(curves: Path):
    result = run_cli("fit", str(curves), "--x", "shard_size", "--y", "val_error", "--group", "model",
                     "--law", "power", "--bootstrap", "50", "--format", "json")
    assert result.returncode == 0, result.stderr
    fit = json.loads(result.stdout)["fits"][0]
    assert fit["interval_method"] == "bootstrap_percentile"
    assert fit["bootstrap"]["n_requested"] == 50 and fit["bootstrap"]["n_failed"] == 0
    # The values: the CLI's intervals are the library's bootstrap of the same group and seed,
    # and they are what the fit reports as its intervals.
    frame = pd.read_csv(curves)
    group = frame[frame["model"] == fit["group"]["model"]]
    api = fit_law("power", group["shard_size"], group["val_error"]).bootstrap(50, seed=0)
    for name, (lo, hi) in api.intervals(0.9).items():
        assert fit["bootstrap"]["intervals"][name] == pytest.approx([lo, hi], rel=1e-9)
        assert fit["intervals"][name] == pytest.approx([lo, hi], rel=1e-9)
        assert fit["bootstrap"]["stderr"][name] == pytest.approx(api.standard_errors[name], rel=1e-9)
        assert lo < fit["params"][name] < hi


def test_one_bad_group_is_skipped_the_rest_fitted(tmp_path: Path, curves: Path):
    frame = pd.read_csv(curves)
    frame = pd.concat([frame, pd.DataFrame([{"model": "tiny", "shard_size": 10, "val_error": 0.9}])])
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    result = run_cli("fit", str(path), "--x", "shard_size", "--y", "val_error", "--group", "model",
                     "--law", "power_floor", "--format", "json")
    assert result.returncode == 0
    assert "skipped group {'model': 'tiny'}" in result.stderr
    fits = json.loads(result.stdout)["fits"]
    assert sum("error" in f for f in fits) == 1 and len(fits) == 3


def test_eps0_column_empty_for_a_group_means_unknown_there(tmp_path: Path, curves: Path):
    """Error rates beside a loss with no known bound, in one file: an empty eps0 cell is 'unknown'."""
    frame = pd.read_csv(curves)
    frame["eps0"] = np.where(frame["model"] == "small", 0.9, np.nan)
    mixed = pd.DataFrame({"model": "mixed", "shard_size": np.logspace(2, 5, 8),
                          "val_error": 2 * np.logspace(2, 5, 8) ** -0.3, "eps0": [0.9] * 4 + [np.nan] * 4})
    path = tmp_path / "eps0.csv"
    pd.concat([frame, mixed]).to_csv(path, index=False)
    result = run_cli("fit", str(path), "--x", "shard_size", "--y", "val_error", "--group", "model",
                     "--law", "auto", "--eps0-col", "eps0", "--format", "json")
    assert result.returncode == 0, result.stderr
    fits = {f["group"]["model"]: f for f in json.loads(result.stdout)["fits"]}
    assert fits["small"]["selection"]["eps0"] == 0.9 and fits["small"]["selection"]["eps0_assumed"] is False
    large_max = float(frame.loc[frame["model"] == "large", "val_error"].max())
    assert fits["large"]["selection"]["eps0_assumed"] is True
    assert fits["large"]["selection"]["eps0"] == pytest.approx(2 * large_max)
    # Some cells empty and some not: that group alone is skipped, saying why.
    assert "error" in fits["mixed"] and "constant within each group" in fits["mixed"]["error"]
    assert "skipped group {'model': 'mixed'}" in result.stderr


def test_eps0_below_the_data_is_a_warning_not_a_silent_cap(tmp_path: Path):
    x = np.logspace(2, 5, 12)
    y = 2 * x**-0.3 + 0.1  # 0.60 down to 0.13
    path = write(tmp_path, pd.DataFrame({"n": x, "err": y, "eps0": 0.2}).to_csv(index=False), "low.csv")
    new = write(tmp_path, "n\n100\n400000\n", "new.csv")
    out = tmp_path / "pred.csv"
    result = run_cli("fit", str(path), "--x", "n", "--y", "err", "--eps0-col", "eps0",
                     "--predict", str(new), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "eps0 0.2 is not above the largest y (0.6024)" in result.stderr
    pred = pd.read_csv(out)
    # Before, every prediction was clipped to eps0 (0.2 at n = 100, with a band of width 0).
    assert pred["pred"].iloc[0] == pytest.approx(y[0], rel=1e-3)
    assert pred["pred_upper"].iloc[0] > pred["pred"].iloc[0] > 0.2
    assert pred["pred"].iloc[1] == pytest.approx(2 * 4e5**-0.3 + 0.1, rel=0.02)


def test_parallel_fits_equal_serial_ones(tmp_path: Path, curves: Path):
    """--jobs only spreads groups over processes: same document, same order, same failures."""
    frame = pd.read_csv(curves)
    extra = [{"model": f"m{i}", "shard_size": xi, "val_error": (2.0 + i) * xi**-0.3 + 0.02}
             for i in range(4) for xi in np.logspace(2, 5, 8)]
    frame = pd.concat([frame, pd.DataFrame(extra),
                       pd.DataFrame([{"model": "tiny", "shard_size": 10, "val_error": 0.9}])])
    path = tmp_path / "many.csv"
    frame.to_csv(path, index=False)
    args = ("fit", str(path), "--x", "shard_size", "--y", "val_error", "--group", "model",
            "--bootstrap", "20", "--format", "json")
    serial, parallel = run_cli(*args, "--jobs", "1"), run_cli(*args, "--jobs", "2")
    assert serial.returncode == 0 and parallel.returncode == 0, parallel.stderr
    assert parallel.stdout == serial.stdout
    fits = json.loads(parallel.stdout)["fits"]
    assert [f["group"]["model"] for f in fits] == ["large", "m0", "m1", "m2", "m3", "small", "tiny"]
    assert "error" in fits[-1] and all("error" not in f for f in fits[:-1])


BAD_CASES = {
    "misspelled column": (["--x", "shard_sise", "--y", "val_error"], None, ["'shard_sise'", "Did you mean 'shard_size'"]),
    "missing y column": (["--x", "shard_size", "--y", "loss"], None, ["'loss'", "is not in"]),
    "unknown law": (["--x", "shard_size", "--y", "val_error", "--law", "powr"], None, ["'powr'", "power_floor", "Did you mean 'power'"]),
    "2-D law given one x": (["--x", "shard_size", "--y", "val_error", "--law", "chinchilla"], None, ["chinchilla", "2 input column"]),
    "non-numeric value": (["--x", "n", "--y", "err"], "n,err\n100,0.5\n200,abc\n400,0.3\n", ["'err'", "numeric", "'abc'", "row 2"]),
    "NaN value": (["--x", "n", "--y", "err"], "n,err\n100,0.5\n200,\n400,0.3\n", ["'err'", "finite", "row 2"]),
    "inf value": (["--x", "n", "--y", "err"], "n,err\n100,0.5\n200,inf\n400,0.3\n", ["'err'", "finite"]),
    "x <= 0": (["--x", "n", "--y", "err"], "n,err\n0,0.5\n200,0.4\n400,0.3\n", ["'n'", "> 0", "row 1"]),
    "y <= 0": (["--x", "n", "--y", "err"], "n,err\n100,0.5\n200,-0.4\n400,0.3\n", ["'err'", "> 0", "row 2"]),
    "fewer points than parameters": (["--x", "n", "--y", "err", "--law", "power_floor"], "n,err\n100,0.5\n200,0.4\n", ["at least", "(3)", "Got 2"]),
    "empty file": (["--x", "n", "--y", "err"], "", ["empty"]),
    "header only": (["--x", "n", "--y", "err"], "n,err\n", ["no data rows"]),
    "missing file": (["--x", "n", "--y", "err"], "MISSING", ["does not exist"]),
    "every group fails": (["--x", "n", "--y", "err", "--group", "g", "--law", "power_floor"], "g,n,err\na,1,0.5\nb,2,0.4\n", ["Could not fit any of the 2 groups"]),
    "jobs 0": (["--x", "shard_size", "--y", "val_error", "--jobs", "0"], None, ["'n_jobs'", "-1"]),
    "eps0 twice": (["--x", "n", "--y", "err", "--eps0", "1", "--eps0-col", "err"], "n,err\n1,0.5\n2,0.4\n3,0.3\n", ["not both"]),
}


@pytest.mark.parametrize("case", list(BAD_CASES), ids=list(BAD_CASES))
def test_bad_input_gets_one_line_and_exit_2(case: str, tmp_path: Path, curves: Path):
    args, content, needles = BAD_CASES[case]
    if content is None:
        path = curves
    elif content == "MISSING":
        path = tmp_path / "nowhere.csv"
    else:
        path = write(tmp_path, content)
    assert_one_line_error(run_cli("fit", str(path), *args), *needles)


def test_laws_lists_every_law():
    result = run_cli("laws", "--format", "json")
    assert result.returncode == 0
    names = {d["name"] for d in json.loads(result.stdout)}
    assert names == {"power", "power_floor", "m3", "m4", "envelope", "bnsl", "joint",
                     "chinchilla", "kaplan", "pruning"}
