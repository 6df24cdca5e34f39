"""Refits of published data: Chinchilla (Besiroglu et al. 2024) and the M1 columns of
Alabdulmohsin et al. 2022, through the command line as a user would run them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalinglab.cli import main
from scalinglab.fitting import fit_law

# Besiroglu et al. 2024 on the 240 points: estimate, bootstrap SE, 95% CI.
PUBLISHED = {
    "A": (482.01, 124.52, (285.2, 743.6)),
    "B": (2085.43, 1293.28, (1042.4, 5810.3)),
    "E": (1.8169, 0.0257, (1.769, 1.871)),
    "alpha": (0.3478, 0.0154, (0.317, 0.373)),
    "beta": (0.3658, 0.0206, (0.331, 0.415)),
}


def _chinchilla_points(shared_benchmarks):
    df = pd.read_csv(shared_benchmarks / "chinchilla-epoch" / "svg_extracted_data.csv")
    df = df.sort_values("loss").iloc[:-5]  # drop the 5 highest-loss points, as published
    n = df["Model Size"].to_numpy()
    d = df["Training FLOP"].to_numpy() / (6 * n)
    return np.column_stack([n, d]), df["loss"].to_numpy()


def test_chinchilla_refit_inside_published_intervals(shared_benchmarks):
    x, y = _chinchilla_points(shared_benchmarks)
    assert len(y) == 240
    fit = fit_law("chinchilla", x, y, loss="huber", huber_delta=1e-3)
    assert fit.converged
    for name, (_, _, (lo, hi)) in PUBLISHED.items():
        assert lo <= fit.params[name] <= hi, (name, fit.params[name])
    # Hoffmann's procedure on the same points (benchmarks README): A=477.8, B=2143.9, E=1.817.
    assert fit.params["A"] == pytest.approx(477.8, rel=0.01)
    assert fit.params["B"] == pytest.approx(2143.9, rel=0.01)
    assert fit.params["E"] == pytest.approx(1.817, rel=0.002)


@pytest.mark.slow
def test_chinchilla_bootstrap_standard_errors_match_published(shared_benchmarks):
    x, y = _chinchilla_points(shared_benchmarks)
    fit = fit_law("chinchilla", x, y, loss="huber")
    boot = fit.bootstrap(n=400, seed=0)
    assert boot.n_failed <= 4
    for name, (_, se, _) in PUBLISHED.items():
        ratio = boot.standard_errors[name] / se
        assert 1 / 1.5 <= ratio <= 1.5, (name, ratio)


# Published M1 RMSLE (benchmarks README, Tables 2 and 3) for NMT and BIG-Bench.
M1_NMT = {
    "6 Enc, 6 Dec": "0.26", "28 Enc, 6 Dec": "0.17", "6 Enc, 28 Dec": "0.23",
    "Dec-only": "0.25", "TEnc-LSTM": "0.19",
}
M1_BB = {
    "linguistic_mappings 1-shot": "0.016", "linguistic_mappings 2-shot": "0.017",
    "qa_wikidata 1-shot": "0.0042", "qa_wikidata 2-shot": "0.0044",
    "unit_conversion 1-shot": "0.0083", "unit_conversion 2-shot": "0.011",
    "mult_data_wrangling 1-shot": "0.011", "mult_data_wrangling 2-shot": "0.016",
    "date_understanding 1-shot": "0.032", "date_understanding 2-shot": "0.029",
}


def _within_last_digit(value: float, printed: str) -> bool:
    decimals = len(printed.split(".")[1])
    return abs(value - float(printed)) <= 10.0 ** (-decimals) + 1e-12


def test_power_reproduces_published_m1_columns_through_the_cli(shared_benchmarks, tmp_path, capsys):
    root = shared_benchmarks / "revisiting-neural-scaling-laws"
    frame = pd.concat([pd.read_csv(root / f) for f in ("benchmark.vision.csv", "benchmark.lang.csv")])
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame[frame["Training"] == 1].to_csv(train, index=False)
    frame[frame["Training"] == 0].to_csv(test, index=False)
    out = tmp_path / "pred.csv"
    main([
        "fit", str(train), "--x", "Seen Examples", "--y", "Loss",
        "--group", "Domain", "--group", "Task", "--group", "Model",
        "--law", "power", "--predict", str(test), "--out", str(out), "--format", "json",
    ])
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["fits"]) == 92 and all(f["converged"] for f in doc["fits"])
    pred = pd.read_csv(out)
    assert len(pred) == int((frame["Training"] == 0).sum())
    pred["sq"] = (np.log(pred["pred"]) - np.log(pred["Loss"])) ** 2
    rmsle = pred.groupby(["Domain", "Task", "Model"])["sq"].mean() ** 0.5
    for model, printed in M1_NMT.items():
        assert _within_last_digit(rmsle[("NMT", "log_perplexity", model)], printed), model
    bb = rmsle.loc["BB"]
    for label, printed in M1_BB.items():
        value = _bb_lookup(bb, label)
        assert _within_last_digit(value, printed), (label, value)


def _bb_lookup(bb: pd.Series, label: str) -> float:
    """The BIG-Bench curve of a README label: 'qa_wikidata 1-shot' is task "('qa', '1-shot')"."""
    name, shots = label.split(" ")
    task = f"('{name.split('_')[0][:4]}', '{shots}')"
    values = bb[bb.index.get_level_values("Task") == task]
    assert len(values) == 1, (label, task)
    return float(values.iloc[0])
