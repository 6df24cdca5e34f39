"""Checks before numbers: each precondition's status, and a failed check makes its number
not estimable (with the reason) in the analysis, its JSON and the command line."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from scalinglab.analysis import (
    analyze,
    budget_limited,
    check_beta_p_identifiable,
    check_converged,
    check_fits_identified,
    check_model_interior,
    check_power_law_window,
    interior_mask,
)
from scalinglab.fitting import fit_law
from tests.analysis.stored import store_study

SHARDS = np.round(128 * 2.0 ** np.arange(9))
CHECKS = ["converged", "model_interior", "power_law_window", "beta_p_identifiable", "fits_identified"]


def test_budget_limited_from_flag_metrics_or_curve():
    assert budget_limited({"budget_limited": 1.0}) is True
    assert budget_limited({"budget_limited": 0}) is False
    # torch tasks: ran to max_steps, or best step in the last 20%.
    assert budget_limited({"best_step": 100, "steps": 3000, "max_steps": 3000}) is True
    assert budget_limited({"best_step": 2900, "steps": 2950, "max_steps": 3000}) is True
    assert budget_limited({"best_step": 1000, "steps": 1600, "max_steps": 3000}) is False
    # stored curve only
    assert budget_limited(None, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5]) is True
    assert budget_limited(None, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 5, 1, 2, 3, 3, 3, 3, 3, 3]) is False
    assert budget_limited(None) is None


def test_interior_and_identifiable():
    grid = np.array([1.0, 2, 4, 8, 16])
    best = np.array([1.0, 2, 4, 8, 16, 16])
    assert interior_mask(best, grid).tolist() == [False, True, True, True, False, False]
    check = check_model_interior(SHARDS[:6], best, grid)
    assert check.status == "fail" and "3 of 6" in check.reason and "upwards" in check.reason
    assert check_model_interior(SHARDS[:3], np.array([2.0, 4, 8]), grid).status == "ok"
    assert check_model_interior(SHARDS[:3], np.array([2.0, 4, 16]), grid).status == "warning"
    assert check_beta_p_identifiable(best, interior_mask(best, grid)).status == "fail"
    wide = np.array([2.0, 4, 8, 16, 32])
    assert check_beta_p_identifiable(wide, np.ones(5, bool)).status == "ok"


def test_power_law_window_needs_four_shards():
    assert check_power_law_window(SHARDS, (200.0, 5000.0)).status == "ok"  # 256..4096: 5 shards
    small = check_power_law_window(SHARDS, (200.0, 1100.0))
    assert small.status == "fail" and "only 3" in small.reason
    assert check_power_law_window(SHARDS, None, "no envelope").status == "fail"


def test_fits_identified_floor_at_zero_warns_other_bounds_fail():
    x = np.logspace(2, 4, 8)
    pure = fit_law("power_floor", x, 3 * x**-0.4)  # no floor: c at its bound 0
    check, bad = check_fits_identified({"beta_g": fit_law("power", x, 3 * x**-0.4), "floor": pure})
    assert check.status == "warning" and not bad and "floor (c) sits at 0" in check.reason
    # A saturating law pinned at a non-floor bound: degenerate.
    stuck = dataclasses.replace(fit_law("power", x, 3 * x**-0.4), notes=("parameter(s) at a bound: a",))
    check, bad = check_fits_identified({"beta_g": stuck})
    assert check.status == "fail" and bad == {"beta_g": "parameter(s) at a bound: a"}


def test_converged_from_runs():
    best = pd.DataFrame({"shard_size": [128, 256], "model_size": [4.0, 8.0]})
    runs = pd.DataFrame({"shard_size": [128, 128, 256, 256, 256], "model_size": [4.0, 4.0, 8.0, 8.0, 16.0],
                         "seed": [0, 1, 0, 1, 0], "budget_limited": [0.0, 0.0, 1.0, np.nan, 1.0]})
    check = check_converged(best, runs)
    assert check.status == "fail" and "1 of 3" in check.reason and "256" in check.reason
    assert "runs of the best-fit models" in check.reason
    assert check_converged(best, runs.assign(budget_limited=[0.0, 0, 0, 0, 1])).status == "ok"
    # One row per shard's best cell (seed -1, the engine's verdict): counted as cells, not runs.
    cells = pd.DataFrame({"shard_size": [128, 256], "model_size": [4.0, 8.0], "seed": [-1, -1],
                          "budget_limited": [0.0, 0.0]})
    ok = check_converged(best, cells)
    assert ok.status == "ok" and "none of the 2 best-fit cells (one per shard" in ok.reason
    assert "runs" not in ok.reason
    bad = check_converged(best, cells.assign(budget_limited=[0.0, 1.0]))
    assert bad.status == "fail" and bad.reason.startswith("1 of 2 best-fit cells")
    assert check_converged(best, None).status == "warning"


@pytest.fixture(scope="module")
def edge_study(tmp_path_factory):
    """Best model always the largest of 3 (the grid stops short); runs budget-limited."""
    path = tmp_path_factory.mktemp("checks") / "s.db"
    curves = store_study(path, "edge", SHARDS, np.array([1.0, 2.0, 4.0]),
                         lambda n, s: 3.0 * n**-0.35 * (1 + 0.3 / s), budget_limited=True)
    return path, curves


def test_failed_checks_make_numbers_not_estimable(edge_study):
    _, curves = edge_study
    runs = pd.DataFrame({"shard_size": curves.shard_size, "model_size": curves.best_model_size,
                         "seed": 0, "budget_limited": 1.0})
    a = analyze(curves, eps0=0.9, runs=runs)
    status = {c.name: c.status for c in a.checks}
    assert [c.name for c in a.checks] == CHECKS
    assert status["converged"] == "fail" and status["model_interior"] == "fail"
    assert status["beta_p_identifiable"] == "fail"
    head = a.to_dict()["headline"]
    assert head["beta_g"] is None and "converged" in head["beta_g_reason"]
    # The demo prints these lines: the checks first, then the numbers or why not.
    from scalinglab.cli._analysis import headline_lines

    lines = headline_lines(a)
    assert lines[0] == "checks:" and lines[1].startswith("  FAIL    converged")
    assert any(line.startswith("beta_g = not estimable") for line in lines[len(CHECKS) + 1:])
    assert head["beta_p"] is None and head["beta_p_interval"] is None
    # Without the budget problem beta_g comes back, with a bootstrap interval.
    b = analyze(curves, eps0=0.9, runs=runs.assign(budget_limited=0.0))
    number = b.number("beta_g")
    assert number["estimable"] and number["method"] == "bootstrap over runs"
    lo, hi = number["interval"]
    assert lo <= -0.35 <= hi


def test_cli_puts_checks_first(edge_study):
    path, _ = edge_study
    out = subprocess.run([sys.executable, "-m", "scalinglab", "analyze", "edge", "--eps0", "0.9",
                          "--format", "json", "--storage", str(path)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert next(iter(doc)) == "checks"
    assert [c["name"] for c in doc["checks"]] == CHECKS
    assert all(set(c) == {"name", "status", "reason"} and c["reason"] for c in doc["checks"])
    by_name = {c["name"]: c["status"] for c in doc["checks"]}
    assert by_name["converged"] == "fail"  # the stored runs say budget_limited
    assert doc["headline"]["beta_p"] is None
    for key in ("mean_relative_error", "std_relative_error", "n_cells"):
        assert key in doc["joint_backtest"]
    table = subprocess.run([sys.executable, "-m", "scalinglab", "analyze", "edge", "--eps0", "0.9",
                            "--storage", str(path)], capture_output=True, text=True, timeout=300, check=False)
    assert table.returncode == 0
    text = table.stdout
    assert text.index("checks") < text.index("beta_g")
    assert "not estimable" in text and "Infinity" not in text and "NaN" not in text


def test_a_backtest_fitted_below_the_power_law_region_says_so() -> None:
    from scalinglab.analysis import backtest_caveat

    window = (441.0, float("inf"))
    # The demo's backtest: 128 and 256 in the small-data region, 512 and 1024 inside.
    caveat = backtest_caveat(np.array([128.0, 256.0, 512.0, 1024.0]), window)
    assert caveat is not None
    assert caveat.startswith("2 of its 4 fitted shards lie in the small-data region (n <= 441)")
    assert "2 inside the power-law region" in caveat
    # Three fitted shards inside the window: the backtest measures the law, no caveat.
    assert backtest_caveat(np.array([256.0, 512.0, 1024.0, 2048.0]), window) is None
    # A finite window: shards beyond its upper end are not inside either.
    assert backtest_caveat(np.array([512.0, 1024.0, 4096.0]), (441.0, 2000.0)) is not None


def test_the_joint_backtest_scores_every_larger_cell_and_says_how_often_its_band_held() -> None:
    """A surface drawn from the joint law itself (2% seed noise): the backtest fitted on the
    small cells predicts the large ones within the noise, and its coverage is the share of
    scored cells inside their own bands."""
    from scalinglab.analysis import joint_backtest
    from scalinglab.laws import Joint

    rng = np.random.default_rng(3)
    n = np.repeat(2.0 ** np.arange(8, 16), 6)
    m = np.tile(4.0 ** np.arange(2, 8), 8)
    truth = Joint(eps0=0.9).predict(np.column_stack([n, m]), [0.5, 3.0, 0.4, 0.02, 0.3])
    y = truth * np.exp(0.02 * rng.standard_normal(len(n)))
    jb = joint_backtest(n, m, y, 0.9, level=0.9)
    assert jb.reason is None
    assert jb.n_cells == len(jb.cells) == int(np.sum((n > 2**15 / 8) | (m > 4.0**7 / 16)))
    rel = np.array([c["relative_error"] for c in jb.cells])
    assert jb.mean_relative_error == pytest.approx(rel.mean()) and jb.std_relative_error == pytest.approx(rel.std())
    held = [c["lower"] <= c["observed"] <= c["upper"] for c in jb.cells]
    assert jb.coverage == pytest.approx(np.mean(held))
    # The law is the truth here: its extrapolation misses by the noise, not by a misfit.
    assert abs(jb.mean_relative_error) < 0.05 and jb.std_relative_error < 0.08
    assert jb.coverage >= 0.7
    assert jb.coverage_words() == f"its 90% bands hold {sum(held)} of {jb.n_cells} cells"
    assert jb.to_dict()["n_banded"] == jb.n_banded == jb.n_cells  # every cell has a finite band here
    # The truth is in the band most of the time (the band is the law's and the noise's).
    truth_test = truth[(n > 2**15 / 8) | (m > 4.0**7 / 16)]
    inside = [c["lower"] <= t <= c["upper"] for c, t in zip(jb.cells, truth_test, strict=True)]
    assert np.mean(inside) >= 0.7


def test_a_joint_backtest_without_finite_bands_does_not_count_them_as_misses() -> None:
    """A surface that depends on n only: the small-cell fit cannot determine the model term,
    its covariance is singular and there is no band; coverage is None with the reason, not
    0% (issue 17: the charlm study's "0 of 16" was this)."""
    from scalinglab.analysis import joint_backtest

    n = np.repeat(2.0 ** np.arange(7, 15), 4)
    m = np.tile([1e3, 4e3, 16e3, 256e3], 8)
    jb = joint_backtest(n, m, 0.5 * n**-0.3, 0.9)
    assert jb.reason is None and jb.n_cells > 0
    assert jb.coverage is None and jb.n_banded == 0
    assert jb.band_reason is not None and "singular" in jb.band_reason
    assert jb.coverage_words().startswith("no 90% bands: coverage not measured: the small-cell fit's covariance is singular")


def test_budget_limited_cells_put_a_caveat_on_the_joint_backtest() -> None:
    from scalinglab.analysis import joint_backtest
    from scalinglab.laws import Joint

    n = np.repeat(2.0 ** np.arange(8, 16), 6)
    m = np.tile(4.0 ** np.arange(2, 8), 8)
    y = Joint(eps0=0.9).predict(np.column_stack([n, m]), [0.5, 3.0, 0.4, 0.02, 0.3])
    assert joint_backtest(n, m, y, 0.9, budget_limited=np.zeros(len(n), bool)).caveat is None
    limited = (n >= 2**14) & (m >= 4.0**6)  # the largest cells ran out of steps
    jb = joint_backtest(n, m, y, 0.9, budget_limited=limited)
    assert (jb.n_limited_train, jb.n_limited_scored) == (0, 4)
    assert jb.caveat is not None and jb.caveat.startswith(
        f"0 of the {jb.n_train} fitted cells and 4 of the {jb.n_cells} scored cells were budget-limited")
    assert "raise [budget] margin and max_factor" in jb.caveat
