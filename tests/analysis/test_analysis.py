"""Analysis of synthetic stored studies with known laws: exponents, regions, joint law,
backtest, and planning that inverts prediction."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.analysis import analyze, compare_exponents
from scalinglab.laws import Envelope, Joint
from tests.analysis.stored import store_study

EPS0 = 0.9
JOINT_TRUTH = np.array([0.5, 3.0, 0.6, 0.01, 0.2])  # alpha, b, beta, c_inf, eta
SHARDS = np.round(128 * 2.0 ** np.arange(10))
MODELS = np.array([8, 16, 32, 64, 128, 256.0])


@pytest.fixture(scope="module")
def joint_study(tmp_path_factory):
    law = Joint(eps0=EPS0)
    path = tmp_path_factory.mktemp("joint") / "study.db"
    curves = store_study(
        path, "joint-known", SHARDS, MODELS,
        lambda n, s: float(law.predict(np.array([[n, 100 * s]]), JOINT_TRUTH)[0]),
        n_params=lambda s: 100 * s,
    )
    return analyze(curves, eps0=EPS0, level=0.95)


def test_joint_law_recovered_within_intervals(joint_study):
    joint = joint_study.joint
    assert joint is not None and joint.fit.converged
    intervals = joint.fit.intervals(0.99)
    for name, truth in zip(joint.fit.param_names, JOINT_TRUTH, strict=True):
        lo, hi = intervals[name]
        assert lo <= truth <= hi, (name, truth, lo, hi)
    # Rosenfeld et al. 2020 report fit divergence mean < 1%, std < 5%; with 1% noise:
    assert abs(joint.cv_divergence_mean) < 0.01 and joint.cv_divergence_std < 0.02


def test_learning_curve_exponent_and_regions(joint_study):
    lc = joint_study.learning_curve
    # The best model is always the largest, so eps(m) is an envelope with
    # c = b * m_max^-beta + c_inf and the power-law exponent alpha.
    env = lc.fits["envelope"]
    lo, hi = env.intervals(0.99)["alpha"]
    assert lo <= 0.5 <= hi
    c_expected = 3.0 * 25600 ** -0.6 + 0.01
    regions = lc.regions
    assert regions is not None
    truth_floor_start = c_expected ** (-1 / 0.5)
    lo, hi = regions.irreducible_start_interval
    assert lo <= truth_floor_start <= hi
    truth_small_end = (0.2 - c_expected) ** (-1 / 0.5)
    lo, hi = regions.small_data_end_interval
    assert lo <= truth_small_end <= hi
    # The shards start at 128, past the plateau: the report must say so.
    assert not regions.observed["small_data"] and regions.observed["irreducible"]
    assert any("small-data" in note for note in regions.notes)


def test_regions_all_three_seen_on_a_wide_curve(tmp_path):
    law = Envelope(eps0=EPS0)
    truth = [0.6, 0.002, 0.05]
    shards = np.round(2.0 ** np.arange(0, 22))
    curves = store_study(tmp_path / "wide.db", "wide", shards, np.array([1.0]),
                         lambda n, s: float(law.predict([n], truth)[0]), seeds=(0,))
    regions = analyze(curves, eps0=EPS0).learning_curve.regions
    assert regions is not None
    assert regions.observed == {"small_data": True, "power_law": True, "irreducible": True}
    assert regions.small_data_end == pytest.approx((0.05 - 0.002) ** (-1 / 0.6), rel=0.15)
    assert regions.irreducible_start == pytest.approx(0.002 ** (-1 / 0.6), rel=0.15)


def test_model_size_law_recovered(tmp_path):
    # Error of the synthetic task: the best model grows as s* ~ n^(gamma/(beta+1)) = n^0.5.
    sizes = 2.0 ** np.arange(0, 12, 0.25)

    def error(n: float, s: float) -> float:
        return 0.05 + 2.0 * n**-0.35 + 1.0 / s + 8.0 * s / n

    curves = store_study(tmp_path / "ms.db", "model-size", SHARDS, sizes, error, seeds=(0,), noise=0.0)
    ms = analyze(curves).model_size
    assert ms.fit is not None
    lo, hi = ms.beta_p_interval
    assert lo <= 0.5 <= hi and hi - lo < 0.1


def test_backtest_predicts_larger_shards(joint_study):
    bt = joint_study.backtest
    assert bt is not None
    assert bt.max_train_size <= SHARDS[-1] / 8
    assert list(bt.shard_size) == list(SHARDS[bt.max_train_size < SHARDS])
    # Trained on shards up to 1/8 of the largest, it predicts the three larger shards within 5%.
    assert np.all(np.abs(bt.relative_error) < 0.05), bt.relative_error
    assert bt.mean_abs_relative_error == pytest.approx(np.mean(np.abs(bt.relative_error)))
    # The 95% band holds at least two of the three, and a miss is by less than its half-width
    # again (the first held-out shard misses by 2.1% against a 1.7% half-width).
    assert bt.coverage >= 2 / 3
    half = np.log(bt.upper / bt.predicted)
    assert np.all(np.abs(np.log(bt.observed / bt.predicted)) < 2 * half)
    assert np.all(bt.lower < bt.predicted) and np.all(bt.predicted < bt.upper)


def test_plan_inverts_predict(joint_study):
    for data_size in (5e4, 2e5, 1e6):
        predicted = float(joint_study.predict(data_size).value[0])
        plan = joint_study.plan(predicted)
        assert plan.reason is None
        assert float(plan.data_size.value[0]) == pytest.approx(data_size, rel=1e-4)
        assert plan.data_size.lower[0] <= data_size <= plan.data_size.upper[0]


def test_plan_below_floor_says_so(joint_study):
    plan = joint_study.plan(1e-4)
    assert plan.reason is not None and "floor" in plan.reason
    assert plan.to_dict()["feasible"] is False


def test_predict_with_model_size_uses_joint_law(joint_study):
    p = joint_study.predict(1e5, n_params=12800)
    truth = float(Joint(eps0=EPS0).predict(np.array([[1e5, 12800]]), JOINT_TRUTH)[0])
    assert p.lower[0] <= truth <= p.upper[0]
    with pytest.raises(InputError):
        joint_study.predict(-1.0)


def test_compute_optimal_is_the_fitted_laws_minimum_and_holds_the_truth(joint_study):
    budget = 1e10
    plan = joint_study.compute_optimal(budget)
    fit = joint_study.joint.fit
    # Brute force along m * n = budget on the fitted law: the plan is its minimum ...
    m = np.logspace(-2, 2, 40001) * np.sqrt(budget)
    errors = fit.law.predict(np.column_stack([budget / m, m]), fit.values)
    best = int(np.argmin(errors))
    assert 0 < best < len(m) - 1
    assert float(plan.model_size[0]) == pytest.approx(m[best], rel=1e-3)
    assert float(plan.data_size[0]) == pytest.approx(budget / m[best], rel=1e-3)
    assert float(plan.predicted_error[0]) == pytest.approx(errors[best], rel=1e-6)
    # ... and the true optimum, m* = (beta b / alpha)^(1/(alpha+beta)) K^(alpha/(alpha+beta))
    # (Rosenfeld et al. 2020, section 7) = 1.12e5 parameters, lies in its band.
    alpha, b, beta = JOINT_TRUTH[:3]
    m_true = (beta * b / alpha) ** (1 / (alpha + beta)) * budget ** (alpha / (alpha + beta))
    assert float(plan.model_size_lower[0]) <= m_true <= float(plan.model_size_upper[0])
    assert float(plan.data_size_lower[0]) <= budget / m_true <= float(plan.data_size_upper[0])
    assert plan.model_size[0] == pytest.approx(m_true, rel=0.1)


def test_compare_exponents_shift_vs_slope(tmp_path):
    shards = np.round(128 * 2.0 ** np.arange(9))

    def study(name: str, a: float, beta_g: float):
        curves = store_study(tmp_path / f"{name}.db", name, shards, np.array([1.0]),
                             lambda n, s: a * n**beta_g, noise=0.005)
        return analyze(curves, eps0=EPS0)

    base = study("base", 3.0, -0.3)
    shifted = study("shifted", 2.0, -0.3)  # same exponent, curve shifted down
    steeper = study("steeper", 3.0, -0.4)
    assert not compare_exponents(base, shifted)["differ"]
    assert compare_exponents(base, steeper)["differ"]


def test_cli_analyze_predict_plan_compare(tmp_path):
    import json
    import subprocess
    import sys

    law = Envelope(eps0=EPS0)
    shards = np.round(128 * 2.0 ** np.arange(9))
    for name, alpha in (("curve-a", 0.4), ("curve-b", 0.7)):
        store_study(tmp_path / "s.db", name, shards, np.array([1.0, 2.0]),
                    lambda n, s, alpha=alpha: float(law.predict([n], [alpha, 0.0, 0.5])[0]) * (1 + 0.01 / s),
                    noise=0.005)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scalinglab", *args, "--storage", str(tmp_path / "s.db")],
                              capture_output=True, text=True, timeout=300, check=False)

    out = cli("analyze", "curve-a", "--eps0", "0.9", "--format", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["learning_curve"]["regions"]["rule"]
    pred = json.loads(cli("predict", "curve-a", "--data-size", "1e5", "--eps0", "0.9", "--format", "json").stdout)
    plan = json.loads(cli("plan", "curve-a", "--target-error", str(pred["predicted"]), "--eps0", "0.9",
                          "--format", "json").stdout)
    assert plan["data_size"] == pytest.approx(1e5, rel=1e-3)
    cmp = cli("compare", "curve-a", "curve-b", "--eps0", "0.9", "--format", "json")
    assert json.loads(cmp.stdout)["differ"] is True
    bad = cli("predict", "curve-a", "--data-size", "-5")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--data-size" in bad.stderr
    missing = cli("analyze", "no-such-study")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
