"""Plans within what the data can say: a documented search range, open sides in words,
targets above eps0 answered, a degenerate joint law refused with exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from scalinglab.analysis import PLAN_RANGE, NotEstimableError, analyze
from scalinglab.laws import Envelope
from tests.analysis.stored import store_study

EPS0 = 0.9
SHARDS = np.round(128 * 2.0 ** np.arange(9))


def _error(n: float, s: float) -> float:
    # The model size does not matter: the joint law cannot identify its model terms.
    return float(Envelope(eps0=EPS0).predict([n], [0.5, 0.01, 0.3])[0])


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "s.db"
    curves = store_study(path, "flat-model", SHARDS, np.array([1.0, 2.0, 4.0]), _error)
    return path, analyze(curves, eps0=EPS0)


def test_plan_range_is_the_documented_one(flat):
    _, a = flat
    assert a.plan_range() == pytest.approx((SHARDS[0] * PLAN_RANGE[0], SHARDS[-1] * PLAN_RANGE[1]))
    assert PLAN_RANGE == (0.1, 1000.0)


def test_bands_stay_in_the_range_and_open_sides_say_so(flat):
    _, a = flat
    lo_range, hi_range = a.plan_range()
    floor = a.learning_curve.fit.floor
    seen_open, seen_closed = False, False
    for target in np.geomspace(floor * 1.001, a.learning_curve.error[-1], 15):
        plan = a.plan(float(target))
        doc = plan.to_dict()
        json.dumps(doc, allow_nan=False)
        if plan.value is None:
            assert plan.reason and ("beyond what the data can say" in plan.reason or "floor" in plan.reason)
            continue
        assert lo_range <= plan.value <= hi_range
        for edge in doc["data_size_interval"]:
            assert edge is None or lo_range <= edge <= hi_range
        if plan.upper_open:
            seen_open = True
            assert doc["data_size_interval"][1] is None
            assert f"> {hi_range:.4g} (the data do not bound it)" in plan.describe()
        else:
            seen_closed = True
            assert plan.lower <= plan.value <= plan.upper
    assert seen_open and seen_closed


def test_targets_above_eps0_and_below_the_floor_are_answered_in_words(flat):
    _, a = flat
    above = a.plan(EPS0 * 1.5)
    assert above.value is None and "no data are needed" in above.reason
    between = a.plan(0.5)  # below eps0, above every error seen: answered with a size
    assert between.reason is None or "below what the data can say" in between.reason
    below = a.plan(a.learning_curve.fit.floor * 0.5)
    assert below.value is None and "floor" in below.reason


def test_bootstrap_plan_and_prediction_agree(flat):
    _, a = flat
    p = a.predict(2e4, method="bootstrap")
    assert p.method == "bootstrap" and p.lower[0] <= p.value[0] <= p.upper[0]
    plan = a.plan(float(p.value[0]), method="bootstrap")
    assert plan.value == pytest.approx(2e4, rel=1e-6)
    assert plan.lower <= 2e4 <= plan.upper


def test_degenerate_joint_law_is_not_estimable(flat):
    path, a = flat
    assert "joint" in a.not_estimable
    with pytest.raises(NotEstimableError, match="joint law is not estimable"):
        a.compute_optimal(1e9)
    with pytest.raises(NotEstimableError):
        a.predict(1e4, n_params=2.0)
    out = subprocess.run([sys.executable, "-m", "scalinglab", "plan", "flat-model", "--compute", "1e12",
                          "--eps0", str(EPS0), "--storage", str(path)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "not estimable" in out.stderr and "Traceback" not in out.stderr
    assert "inf" not in out.stdout


def test_no_infinity_or_nan_in_any_analysis_output(flat):
    import re

    path, a = flat
    floor = a.learning_curve.fit.floor
    open_target = next(float(t) for t in np.geomspace(floor * 1.001, a.learning_curve.error[-1], 15)
                       if a.plan(float(t)).upper_open)
    bad = re.compile(r"\b(inf|Infinity|NaN|nan)\b")
    commands = [
        ["analyze", "flat-model", "--format", "json"],
        ["plan", "flat-model", "--target-error", repr(open_target)],
    ]  # each call reanalyses the study (slow): the table of analyze is checked in
    # test_checks.py, compare's JSON in test_analysis.py, plan's JSON through to_dict above
    for args in commands:
        out = subprocess.run([sys.executable, "-m", "scalinglab", *args, "--eps0", str(EPS0),
                              "--storage", str(path)], capture_output=True, text=True, timeout=300, check=False)
        assert out.returncode == 0, (args, out.stderr)
        if "json" in args:  # strict JSON: no NaN or Infinity constants anywhere
            json.loads(out.stdout, parse_constant=lambda c, args=args: pytest.fail(f"{args}: {c} in the JSON"))
        else:
            assert not bad.search(out.stdout), (args, out.stdout[:2000])
        if args[0] == "plan" and "json" not in args:
            assert "(the data do not bound it)" in out.stdout
