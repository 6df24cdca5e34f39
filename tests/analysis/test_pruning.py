"""fit_pruning and pruning_table: Rosenfeld et al. 2021's pruning law on known surfaces."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalinglab import InputError
from scalinglab.analysis import PruningJoint, fit_pruning, pruning_table
from scalinglab.laws import Pruning

WIDTHS = (16, 32, 64, 128)
EPS_NP = {16: 0.30, 32: 0.20, 64: 0.15, 128: 0.12}
TRUE = {"eps_up": 0.88, "gamma": 2.5, "p": 0.02, "psi": 0.7}
W_REF = float(np.exp(np.mean(np.log(WIDTHS))))


def surface(noise: float = 0.02, rounds: int = 30, seeds: int = 2, rng_seed: int = 0) -> pd.DataFrame:
    """Per-seed errors of the joint law at d = 0.8^k, log-normal noise on the pruned points."""
    rng = np.random.default_rng(rng_seed)
    law = PruningJoint(W_REF)
    params = [TRUE[n] for n in law.param_names]
    rows = []
    for w in WIDTHS:
        for k in range(rounds + 1):
            d = 0.8**k
            value = float(law.predict([[w, d, EPS_NP[w]]], params)[0])
            for seed in range(seeds):
                error = EPS_NP[w] if k == 0 else value * float(np.exp(noise * rng.standard_normal()))
                rows.append({"shard_size": 4096, "width": float(w), "seed": seed, "round": k,
                             "density": d, "error": error})
    return pd.DataFrame(rows)


def test_the_joint_law_is_the_single_law_with_p_rescaled_by_width() -> None:
    joint = PruningJoint(W_REF)
    d = 0.8 ** np.arange(30)
    for w in WIDTHS:
        p_w = TRUE["p"] * (W_REF / w) ** TRUE["psi"]
        single = Pruning().predict(d, [EPS_NP[w], TRUE["eps_up"], TRUE["gamma"], p_w])
        x = np.column_stack([np.full_like(d, w), d, np.full_like(d, EPS_NP[w])])
        np.testing.assert_allclose(joint.predict(x, [TRUE[n] for n in joint.param_names]), single,
                                   rtol=1e-12)


def test_single_fits_recover_each_width_within_their_standard_errors() -> None:
    result = fit_pruning(surface())
    assert len(result.single) == len(WIDTHS)
    for fit in result.single:
        (w,) = fit.widths
        assert fit.converged
        assert fit.eps_np[w] == pytest.approx(EPS_NP[int(w)], rel=1e-12)
        # eps_np is measured, not fitted: held at the dense error, not among the parameters.
        assert fit.fit.fixed == {"eps_np": fit.eps_np[w]}
        assert fit.fit.params["eps_np"] == pytest.approx(fit.eps_np[w], rel=1e-12)
        assert "eps_np" not in fit.params
        truth = {"eps_up": TRUE["eps_up"], "gamma": TRUE["gamma"],
                 "p": TRUE["p"] * (W_REF / w) ** TRUE["psi"]}
        stderr = dict(zip(fit.fit.param_names, fit.fit.stderr, strict=True))
        for name, value in truth.items():
            assert np.isfinite(stderr[name]) and stderr[name] > 0
            assert abs(fit.params[name] - value) <= 4 * stderr[name], (w, name)
            lo, hi = fit.intervals()[name]
            assert lo < fit.params[name] < hi
        # Rosenfeld's figure: mean ~ 0, std ~ the noise of a median of two seeds.
        assert abs(fit.mean_relative_error) < 0.01
        assert 0.005 < fit.std_relative_error < 0.03


def test_joint_fit_recovers_psi_and_the_shared_parameters() -> None:
    result = fit_pruning(surface())
    (joint,) = result.joint
    assert joint.kind == "joint" and joint.converged
    assert joint.widths == tuple(float(w) for w in WIDTHS)
    assert joint.fit.law.constants["w_ref"] == pytest.approx(W_REF)
    stderr = dict(zip(joint.fit.param_names, joint.fit.stderr, strict=True))
    for name, value in TRUE.items():
        assert abs(joint.params[name] - value) <= 4 * stderr[name], name
    assert stderr["psi"] < 0.05
    assert 0.7 <= joint.band_coverage <= 1.0
    assert abs(joint.mean_relative_error) < 0.01
    # The band is a band: it contains the law and is strictly wider than a point.
    assert np.all(joint.band.lower < joint.band.value) and np.all(joint.band.value < joint.band.upper)


def test_relative_error_is_taken_over_the_pruned_points() -> None:
    result = fit_pruning(surface())
    fit = result.single[0]
    pruned = fit.density < 1
    by_hand = fit.band.value[pruned] / fit.observed[pruned] - 1
    assert fit.mean_relative_error == pytest.approx(np.mean(by_hand))
    assert fit.std_relative_error == pytest.approx(np.std(by_hand))
    lo, hi = fit.mean_relative_error_interval
    assert lo < fit.mean_relative_error < hi


def test_a_width_that_prunes_differently_breaks_the_joint_law() -> None:
    # The widest network's curve is moved by hand: no single psi serves every width.
    table = surface(noise=0.005)
    wide = (table["width"] == 128) & (table["round"] > 0)
    table.loc[wide, "error"] = np.minimum(table.loc[wide, "error"] * 1.5, 0.95)
    result = fit_pruning(table)
    assert result.joint[0].std_relative_error > 3 * fit_pruning(surface(noise=0.005)).joint[0].std_relative_error


def test_unidentified_fits_say_so_and_the_json_is_strict() -> None:
    # Flat errors: pruning costs nothing over these densities, so the plateau is not seen.
    rows = [{"width": w, "density": 0.8**k, "error": 0.2} for w in (16.0, 32.0) for k in range(6)]
    result = fit_pruning(pd.DataFrame(rows))
    doc = result.to_dict()
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text)["single"][0]["kind"] == "single"
    notes = [n for f in (*result.single, *result.joint) for n in f.fit.notes]
    assert notes, "an unidentified fit must carry a note"


def test_bad_tables_give_one_line_errors_naming_the_parameter() -> None:
    good = surface(rounds=5, seeds=1)
    cases = [
        ([1, 2], "'table'"),
        (good.drop(columns="density"), "'table'.*'density'"),
        (good.iloc[:0], "'table'.*no pruned network"),
        (good.assign(density=good["density"] * 2), "'table'.*'density'"),
        (good.assign(error=-good["error"]), "'table'.*'error'"),
        (good[good["round"] > 0], "'table'.*dense point"),
        (good[good["round"] < 3], "'table'.*>= 4 densities"),
    ]
    for table, message in cases:
        with pytest.raises(InputError, match=message) as info:
            fit_pruning(table)  # type: ignore[arg-type]
        assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="'level'"):
        fit_pruning(good, level=1.5)
    with pytest.raises(InputError, match="'loss'"):
        fit_pruning(good, loss="l1")
    with pytest.raises(InputError, match="'runs'"):
        pruning_table(pd.DataFrame({"shard_size": [1]}))


def _run(shard: int, width: float, seed: int, errors: list[float], *, state: str = "COMPLETE",
         params: dict | None = None) -> dict:
    metrics = {"min_val_error": errors[0]}
    for k, e in enumerate(errors):
        metrics[f"prune_density_{k}"] = 0.8**k
        metrics[f"prune_min_val_error_{k}"] = e
    return {"shard_size": shard, "model_size": width, "seed": seed, "state": state,
            "score": errors[0], "params_json": json.dumps(params or {"lr": 0.003}),
            "final_metrics_json": json.dumps(metrics)}


def test_pruning_table_reads_the_runs_the_aggregation_would() -> None:
    runs = pd.DataFrame([
        _run(256, 16, 0, [0.3, 0.31, 0.35]),
        _run(256, 16, 1, [0.32, 0.33, 0.36]),
        # The same cell rerun with twice the budget: it replaces the 1x run of seed 1.
        _run(256, 16, 1, [0.28, 0.29, 0.30], params={"lr": 0.003, "_budget": 2.0}),
        # A worse hyperparameter point of the same cell: left out.
        _run(256, 16, 0, [0.5, 0.6, 0.7], params={"lr": 0.1}),
        # Not complete, or without pruning metrics: left out.
        _run(256, 32, 0, [0.2, 0.2, 0.2], state="FAILED"),
        {**_run(256, 32, 1, [0.2]), "final_metrics_json": json.dumps({"min_val_error": 0.2})},
    ])
    table = pruning_table(runs)
    assert list(table.columns) == ["shard_size", "width", "seed", "round", "density", "error"]
    assert set(table["width"]) == {16.0}
    seed0 = table[table["seed"] == 0]["error"].tolist()
    seed1 = table[table["seed"] == 1]["error"].tolist()
    assert seed0 == [0.3, 0.31, 0.35] and seed1 == [0.28, 0.29, 0.30]
    assert table["density"].tolist()[:3] == [1.0, 0.8, 0.8**2]
    empty = pruning_table(runs.iloc[5:])
    assert empty.empty and list(empty.columns) == list(table.columns)
