"""Aggregation (Hestness et al. 2017, METHOD.md section 1 steps 5-6) on cells whose mean and
median differ, so a mean in place of the median, a max in place of the min, or a tie broken
the wrong way changes the answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalinglab.study import aggregate_runs


def _frame(rows: list[tuple[int, int, float, int, str, float, float]]) -> pd.DataFrame:
    cols = ["shard_index", "shard_size", "model_size", "seed", "state", "score", "n_params"]
    return pd.DataFrame(rows, columns=cols)


# Shard 0: model 1 has seeds 0.10, 0.11, 0.60 (median 0.11, mean 0.27); model 2 has 0.13, 0.14,
# 0.15 (median 0.14, mean 0.14). The median makes model 1 best; a mean would pick model 2.
# Shard 1: model 1 has 0.05, 0.30 (two seeds: median = mean = 0.175); model 4 has 0.08, 0.09,
# 0.40 (median 0.09, mean 0.19) and a FAILED run that must not count.
ROWS = [
    (0, 100, 1.0, 0, "COMPLETE", 0.10, 10), (0, 100, 1.0, 1, "COMPLETE", 0.11, 10),
    (0, 100, 1.0, 2, "COMPLETE", 0.60, 10),
    (0, 100, 2.0, 0, "COMPLETE", 0.13, 20), (0, 100, 2.0, 1, "COMPLETE", 0.14, 20),
    (0, 100, 2.0, 2, "COMPLETE", 0.15, 20),
    (1, 400, 1.0, 0, "COMPLETE", 0.05, 10), (1, 400, 1.0, 1, "COMPLETE", 0.30, 10),
    (1, 400, 4.0, 0, "COMPLETE", 0.08, 40), (1, 400, 4.0, 1, "COMPLETE", 0.09, 40),
    (1, 400, 4.0, 2, "COMPLETE", 0.40, 40), (1, 400, 4.0, 3, "FAILED", 0.01, 40),
    (2, 1600, 8.0, 0, "RUNNING", 0.01, 80),  # nothing complete: the shard is left out
]


def test_cell_score_is_the_median_over_seeds():
    curves = aggregate_runs(_frame(ROWS), study="s", metric="val_loss")
    assert curves.study == "s" and curves.metric == "val_loss"
    np.testing.assert_array_equal(curves.cell_shard_index, [0, 0, 1, 1])
    np.testing.assert_array_equal(curves.cell_model_size, [1.0, 2.0, 1.0, 4.0])
    np.testing.assert_allclose(curves.cell_median_min_val_error, [0.11, 0.14, 0.175, 0.09])
    np.testing.assert_array_equal(curves.cell_n_seeds, [3, 3, 2, 3])
    np.testing.assert_array_equal(curves.cell_n_params, [10, 20, 10, 40])
    np.testing.assert_array_equal(curves.cell_shard_size, [100, 100, 400, 400])


def test_best_model_is_the_lowest_median_not_the_lowest_mean():
    curves = aggregate_runs(_frame(ROWS))
    np.testing.assert_array_equal(curves.shard_index, [0, 1])
    np.testing.assert_array_equal(curves.shard_size, [100, 400])
    np.testing.assert_array_equal(curves.best_model_size, [1.0, 4.0])
    np.testing.assert_array_equal(curves.best_n_params, [10, 40])
    np.testing.assert_allclose(curves.median_min_val_error, [0.11, 0.09])
    x, y = curves.learning_curve
    np.testing.assert_array_equal(x, [100, 400])
    np.testing.assert_allclose(y, [0.11, 0.09])
    np.testing.assert_array_equal(curves.model_size_curve[1], [10, 40])


def test_seed_scores_are_the_minimum_of_each_seed():
    # Seed 0 of one cell ran twice (a retry): its score is the lower of the two.
    rows = [*ROWS[:6], (0, 100, 2.0, 0, "COMPLETE", 0.125, 20)]
    curves = aggregate_runs(_frame(rows), seeds=[0, 1, 2, 3])
    assert curves.cell_seed_scores.shape == (2, 4)
    np.testing.assert_allclose(curves.cell_seed_scores[0, :3], [0.10, 0.11, 0.60])
    np.testing.assert_allclose(curves.cell_seed_scores[1, :3], [0.125, 0.14, 0.15])
    assert np.all(np.isnan(curves.cell_seed_scores[:, 3]))  # seed 3 never ran
    np.testing.assert_array_equal(curves.seeds, [0, 1, 2, 3])
    frame = curves.cells_frame()
    assert list(frame.columns[-4:]) == ["seed_0", "seed_1", "seed_2", "seed_3"]
    assert frame["seed_1"].tolist() == pytest.approx([0.11, 0.14])
    # Default seeds: those present, sorted.
    np.testing.assert_array_equal(aggregate_runs(_frame(ROWS)).seeds, [0, 1, 2])


def test_size_tolerance_takes_the_smallest_model_within_it():
    # Shard 0 medians: 0.11 (model 1) and 0.14 (model 2); make the larger model best by 5%.
    rows = [(0, 100, 1.0, s, "COMPLETE", v, 10) for s, v in enumerate([0.105, 0.106, 0.5])]
    rows += [(0, 100, 2.0, s, "COMPLETE", v, 20) for s, v in enumerate([0.1, 0.101, 0.102])]
    assert aggregate_runs(_frame(rows)).best_model_size[0] == 2.0
    within = aggregate_runs(_frame(rows), size_tolerance=0.1)
    assert within.best_model_size[0] == 1.0
    assert within.median_min_val_error[0] == pytest.approx(0.106)
    assert aggregate_runs(_frame(rows), size_tolerance=0.01).best_model_size[0] == 2.0
    assert aggregate_runs(_frame(rows), size_tolerance=-1.0).best_model_size[0] == 2.0


def test_the_model_axis_brings_its_size_tolerance_and_an_explicit_one_wins():
    from scalinglab.study._spec import ModelAxis

    rows = [(0, 100, 1.0, s, "COMPLETE", v, 10) for s, v in enumerate([0.105, 0.106, 0.5])]
    rows += [(0, 100, 2.0, s, "COMPLETE", v, 20) for s, v in enumerate([0.1, 0.101, 0.102])]
    axis = ModelAxis((1.0, 2.0), size_tolerance=0.1)
    by_axis = aggregate_runs(_frame(rows), model=axis)
    assert by_axis.size_tolerance == 0.1 and by_axis.best_model_size[0] == 1.0
    strict = aggregate_runs(_frame(rows), model=axis, size_tolerance=0.0)
    assert strict.size_tolerance == 0.0 and strict.best_model_size[0] == 2.0
    assert aggregate_runs(_frame(rows)).size_tolerance == 0.0


def test_a_tie_goes_to_the_smaller_model_whatever_the_row_order():
    rows = [(0, 100, m, s, "COMPLETE", 0.25, 10 * m) for m in (4.0, 2.0) for s in range(3)]
    assert aggregate_runs(_frame(rows)).best_model_size[0] == 2.0


def test_frames_and_dict_carry_the_values():
    curves = aggregate_runs(_frame(ROWS))
    shards = curves.to_frame()
    assert list(shards.columns) == ["shard_index", "shard_size", "best_model_size", "best_n_params",
                                    "median_min_val_error", "budget", "budget_limited", "size_status"]
    assert shards["median_min_val_error"].tolist() == pytest.approx([0.11, 0.09])
    d = curves.to_dict()
    assert d["study"] == "" and d["metric"] == "val_error" and d["seeds"] == [0, 1, 2]
    # Without a model axis or budget facts (a bare frame): budget 1, not limited, no status.
    assert d["shards"][1] == {"shard_index": 1, "shard_size": 400, "best_model_size": 4,
                              "best_n_params": 40, "median_min_val_error": 0.09, "budget": 1,
                              "budget_limited": False, "size_status": ""}
    cell = d["cells"][2]
    assert cell["median_min_val_error"] == pytest.approx(0.175) and cell["seed_2"] is None
    assert isinstance(cell["n_seeds"], int) and isinstance(d["shards"][0]["shard_size"], int)
    assert isinstance(d["shards"][0]["median_min_val_error"], float)
    with pytest.raises(ValueError):
        curves.cell_seed_scores[0, 0] = 1.0  # read-only


def test_cells_frame_columns_and_plain_values():
    frame = aggregate_runs(_frame(ROWS)).cells_frame()
    assert list(frame.columns) == ["shard_index", "shard_size", "model_size", "n_params",
                                   "median_min_val_error", "n_seeds", "budget", "budget_limited",
                                   "seed_0", "seed_1", "seed_2"]
    assert frame["model_size"].tolist() == [1.0, 2.0, 1.0, 4.0]
    assert frame["n_params"].tolist() == [10, 20, 10, 40]
    assert frame["shard_size"].tolist() == [100, 100, 400, 400]
    d = aggregate_runs(_frame(ROWS)).to_dict()
    assert isinstance(d["shards"][1]["best_model_size"], int)  # 4.0 is written as 4
    # JSON-ready cells: whole floats to int (below 2^53; tests/test_json.py), NaN to None.
    cell = d["cells"][2]
    assert type(cell["model_size"]) is int and type(cell["median_min_val_error"]) is float
    assert cell["seed_2"] is None and type(cell["budget_limited"]) is bool


def test_study_curves_reads_the_stored_study(tmp_path):
    from scalinglab import InputError
    from scalinglab.storage import open_storage
    from scalinglab.study import study_curves
    from tests.analysis.stored import store_study

    shards = np.array([100.0, 200.0, 400.0])
    stored = store_study(tmp_path / "s.db", "known", shards, np.array([1.0, 2.0]),
                         lambda n, s: 1.0 / n + 0.01 / s, seeds=(0, 1), noise=0.0,
                         spec_extra={"metric": "val_loss"})
    assert stored.metric == "val_loss" and list(stored.seeds) == [0, 1]
    np.testing.assert_allclose(stored.median_min_val_error, 1.0 / shards + 0.005)
    np.testing.assert_array_equal(stored.best_model_size, [2.0, 2.0, 2.0])
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    # A tolerance reaches the aggregation: within 70% of the best, the smaller model 1 is taken.
    again = study_curves("known", storage, size_tolerance=0.7)
    np.testing.assert_array_equal(again.best_model_size, [1.0, 1.0, 1.0])
    with pytest.raises(InputError) as info:
        study_curves("knwn", storage)
    message = str(info.value)
    assert message.startswith("The 'study' parameter must name a study stored in ")
    assert "(did you mean 'known'?)" in message and message.endswith("Got 'knwn' instead.")
    with pytest.raises(InputError, match=r"\(stored: known\)"):
        study_curves("zzzzzz", storage)
    storage.close()
    empty = open_storage(f"sqlite:///{tmp_path / 'e.db'}")
    with pytest.raises(InputError) as info:
        study_curves("known", empty)
    assert str(info.value) == (f"The 'study' parameter must name a study stored in {empty.url} "
                               "(it holds no study). Got 'known' instead.")
    empty.close()


def _budget_frame() -> pd.DataFrame:
    """Runs as :meth:`Storage.runs_frame` gives them: params and final metrics as JSON.

    Shard 0, model 1, point lr=0.1: seeds 0 and 1 at 1x (0.30, 0.32), rerun at 2x (0.35, 0.20;
    the 2x runs count even where worse), and seed 1 at 2x still budget-limited. Point lr=0.2:
    0.25, 0.26 at 1x, converged and budget-aware. Shard 0, model 2: 0.40 (lr=0.1), seed 0 only.
    """
    rows = [
        (0, 0, 1.0, '{"lr": 0.1}', "COMPLETE", 0.30, '{"budget_limited":true,"budget_aware":true}'),
        (0, 1, 1.0, '{"lr": 0.1}', "COMPLETE", 0.32, '{"budget_limited":true,"budget_aware":true}'),
        (0, 0, 1.0, '{"lr": 0.1, "_budget": 2.0}', "COMPLETE", 0.35, '{"budget_aware":true}'),
        (0, 1, 1.0, '{"lr": 0.1, "_budget": 2.0}', "COMPLETE", 0.20,
         '{"budget_limited":true,"budget_aware":true}'),
        (0, 0, 1.0, '{"lr": 0.1, "_budget": 4.0}', "FAILED", None, None),
        (0, 0, 1.0, '{"lr": 0.2}', "COMPLETE", 0.25, '{"budget_aware":true}'),
        (0, 1, 1.0, '{"lr": 0.2}', "COMPLETE", 0.26, '{"budget_aware":true}'),
        (0, 0, 2.0, '{"lr": 0.1}', "COMPLETE", 0.40, None),
    ]
    frame = pd.DataFrame(rows, columns=["shard_index", "seed", "model_size", "params_json", "state",
                                        "score", "final_metrics_json"])
    frame["shard_size"] = 100
    frame["n_params"] = frame["model_size"] * 10
    frame["config_key"] = "unused"
    return frame


def test_budget_reruns_hyperparameter_points_and_budget_facts_from_json_columns():
    curves = aggregate_runs(_budget_frame(), tuned=["lr"])
    cells = curves.cells_frame()
    # One row per (shard, size): model 1's best point is lr=0.1 at 2x (median of 0.35, 0.20 =
    # 0.275 would lose to lr=0.2's 0.255): lr=0.2 wins the cell.
    assert cells["model_size"].tolist() == [1.0, 2.0]
    assert cells["median_min_val_error"].tolist() == pytest.approx([0.255, 0.40])
    assert cells["lr"].tolist() == [0.2, 0.1]
    assert cells["budget"].tolist() == [1.0, 1.0] and cells["budget_limited"].tolist() == [False, False]
    assert cells["seed_0"].tolist() == pytest.approx([0.25, 0.40])
    assert np.isnan(cells["seed_1"].tolist()[1])
    assert curves.best_params == ({"lr": 0.2},) and curves.best_model_size.tolist() == [1.0]
    # Without lr=0.2, the 2x reruns of lr=0.1 count (largest budget per seed, even if worse),
    # and one of them is still budget-limited.
    only = aggregate_runs(_budget_frame().iloc[[0, 1, 2, 3, 4, 7]], tuned=("lr",))
    assert only.cell_median_min_val_error.tolist() == pytest.approx([0.275, 0.40])
    assert only.cell_seed_scores[0].tolist() == pytest.approx([0.35, 0.20])
    assert only.cell_budget.tolist() == [2.0, 1.0]
    assert only.cell_budget_limited.tolist() == [True, False]
    assert only.best_budget.tolist() == [2.0] and only.best_budget_limited.tolist() == [True]
    assert only.cell_n_seeds.tolist() == [2, 1]
    assert only.cell_params == ({"lr": 0.1}, {"lr": 0.1})
    # Untuned: no params reported.
    assert aggregate_runs(_budget_frame()).best_params == ({},)


def test_cell_details_read_budgets_keys_and_flags():
    from scalinglab.study._cells import cell_table, effective_runs, finished, run_details
    from scalinglab.study._spec import params_key

    details = run_details(_budget_frame())
    assert details["cell_key"].tolist()[:4] == [params_key({"lr": 0.1})] * 4
    assert details["budget"].tolist() == [1.0, 1.0, 2.0, 2.0, 4.0, 1.0, 1.0, 1.0]
    assert details["budget_limited"].tolist() == [True, True, False, True, False, False, False, False]
    assert details["budget_aware"].tolist() == [True, True, True, True, False, True, True, False]
    assert details["cell_params"].tolist()[2] == {"lr": 0.1}  # without _budget
    eff = effective_runs(details)
    assert sorted(eff["score"].tolist()) == pytest.approx([0.20, 0.25, 0.26, 0.35, 0.40])
    table = cell_table(details).set_index(["model_size", "cell_key"])
    first = table.loc[(1.0, params_key({"lr": 0.1}))]
    assert first["budget"] == 2.0 and bool(first["budget_limited"]) and bool(first["budget_aware"])
    assert first["n_seeds"] == 2 and first["n_params"] == 10 and first["shard_size"] == 100
    assert not bool(table.loc[(2.0, params_key({"lr": 0.1}))]["budget_aware"])
    assert not finished(details.iloc[:0]) and not finished(details.assign(state="RUNNING"))
    assert finished(details[details["state"].isin(["COMPLETE", "FAILED"])])
    assert finished(details.assign(state="PRUNED"))
    # A frame without the JSON columns: config_key is the cell, every run 1x, not limited.
    bare = run_details(_frame(ROWS).assign(config_key="k"))
    assert set(bare["cell_key"]) == {"k"} and set(bare["budget"]) == {1.0}
    assert not bare["budget_limited"].any() and not bare["budget_aware"].any()
    assert run_details(None).empty and list(run_details(None).columns) == [
        "shard_index", "shard_size", "model_size", "seed", "config_key", "state", "score",
        "n_params", "cell_key", "budget", "cell_params", "budget_limited", "budget_aware"]
    assert aggregate_runs(None, seeds=[0]).to_dict() == {  # type: ignore[arg-type]
        "study": "", "metric": "val_error", "seeds": [0], "shards": [], "cells": []}
    assert run_details(details) is not details and run_details(details).equals(details)


def test_no_complete_run_gives_empty_typed_curves():
    curves = aggregate_runs(_frame([ROWS[-1]]), seeds=[0, 1])
    assert len(curves.shard_index) == 0 and len(curves.cell_shard_index) == 0
    for name in ("shard_index", "shard_size", "cell_shard_index", "cell_shard_size",
                 "cell_n_seeds", "seeds"):
        assert getattr(curves, name).dtype.kind == "i", name
    for name in ("best_model_size", "median_min_val_error", "cell_model_size", "cell_n_params",
                 "cell_median_min_val_error"):
        assert getattr(curves, name).dtype.kind == "f", name
    assert curves.cell_seed_scores.shape == (0, 2)
    assert curves.to_dict() == {"study": "", "metric": "val_error", "seeds": [0, 1],
                                "shards": [], "cells": []}


def test_typed_arrays_from_float_columns():
    # Indices and sizes that arrive as floats (a CSV, a NaN-holding column) come out as ints.
    frame = _frame(ROWS).astype({"shard_index": float, "shard_size": float})
    curves = aggregate_runs(frame, seeds=np.array([0.0, 1.0, 2.0]))
    for name in ("shard_index", "shard_size", "cell_shard_index", "cell_shard_size", "seeds"):
        assert getattr(curves, name).dtype.kind == "i", name
    assert curves.best_budget_limited.dtype == bool and curves.cell_budget_limited.dtype == bool
    assert curves.to_dict()["seeds"] == [0, 1, 2]


def test_unknown_study_message_names_the_storage_and_at_most_ten_studies(tmp_path):
    from scalinglab import InputError
    from scalinglab.storage import open_storage
    from scalinglab.study import study_curves

    storage = open_storage(f"sqlite:///{tmp_path / 'many.db'}")
    for i in range(12):
        storage.create_study(f"study{i:02d}", "synthetic", {"name": f"study{i:02d}"})
    with pytest.raises(InputError) as info:
        study_curves("zzzz", storage)
    listed = ", ".join(f"study{i:02d}" for i in range(10))
    assert str(info.value) == (f"The 'study' parameter must name a study stored in "
                               f"{storage.url} (stored: {listed}). Got 'zzzz' instead.")
    assert "many.db" in storage.url
    storage.close()


def test_a_partially_stored_spec_gives_its_seeds_and_the_default_metric(tmp_path):
    from scalinglab.storage import CurvePoint, PlannedRun, RunState, open_storage
    from scalinglab.study import study_curves

    # Stored through the storage API: the spec names seeds 0, 1, 7 (7 never ran), no metric.
    storage = open_storage(f"sqlite:///{tmp_path / 'p.db'}")
    record = storage.create_study("partial", "synthetic", {"name": "partial", "seeds": [0, 1, 7]})
    storage.add_runs(record.id, [PlannedRun(i, n, 1.0, seed, "default")
                                 for i, n in enumerate((100, 200)) for seed in (0, 1)])
    while (run := storage.claim_run(record.id, "w")) is not None:
        value = 1.0 / run.shard_size + 0.001 * run.seed
        storage.finish_run(run.id, "w", state=RunState.COMPLETE, points=[CurvePoint(0, value)],
                           score=value, n_params=1.0, final_metrics={}, duration_s=0.0)
    curves = study_curves("partial", storage)
    assert curves.study == "partial" and curves.metric == "val_error"
    assert curves.seeds.tolist() == [0, 1, 7] and curves.cell_seed_scores.shape == (2, 3)
    assert np.isnan(curves.cell_seed_scores[:, 2]).all()
    np.testing.assert_allclose(curves.cell_seed_scores[:, :2], [[0.01, 0.011], [0.005, 0.006]])
    # Runs in other states are read too (the size status counts them) but never scored.
    assert curves.cell_n_seeds.tolist() == [2, 2]
    storage.close()


def test_curves_built_directly_get_empty_params_and_default_budget_facts():
    from scalinglab.study import StudyCurves

    one, two = np.array([0]), np.array([0, 0])
    curves = StudyCurves(
        study="d", metric="m", seeds=np.array([0]), shard_index=one, shard_size=np.array([10]),
        best_model_size=np.array([1.0]), best_n_params=np.array([5.0]),
        median_min_val_error=np.array([0.5]), cell_shard_index=two, cell_shard_size=np.array([10, 10]),
        cell_model_size=np.array([1.0, 2.0]), cell_n_params=np.array([5.0, 9.0]),
        cell_median_min_val_error=np.array([0.5, 0.6]), cell_n_seeds=np.array([1, 1]),
        cell_seed_scores=np.array([[0.5], [0.6]]))
    assert curves.best_params == ({},) and curves.cell_params == ({}, {})
    assert curves.best_budget.tolist() == [1.0] and curves.cell_budget.tolist() == [1.0, 1.0]
    assert curves.best_budget_limited.dtype == bool and curves.best_budget_limited.tolist() == [False]
    assert curves.cell_budget_limited.dtype == bool and curves.cell_budget_limited.tolist() == [False, False]
    assert curves.best_size_status.tolist() == [""]
    assert curves.to_dict()["shards"][0]["size_status"] == ""
    assert curves.to_dict()["shards"][0]["budget_limited"] is False
    for name in ("best_budget", "cell_budget_limited", "best_size_status", "shard_size"):
        assert not getattr(curves, name).flags.writeable, name
    # Given params of the wrong length are replaced; the right length is kept.
    kept = StudyCurves(**{**vars(curves), "best_params": ({"lr": 1},), "cell_params": ({"lr": 1},)})
    assert kept.best_params == ({"lr": 1},) and kept.cell_params == ({}, {})


def test_tuned_params_and_true_flags_reach_the_frames_and_dict():
    only = aggregate_runs(_budget_frame().iloc[[0, 1, 2, 3, 4, 7]], tuned=("lr",))
    assert only.to_frame()["lr"].tolist() == [0.1]
    d = only.to_dict()
    assert d["shards"][0]["lr"] == 0.1 and d["shards"][0]["budget_limited"] is True
    assert d["shards"][0]["budget"] == 2 and [c["budget_limited"] for c in d["cells"]] == [True, False]


def _store_full_spec_study(path):
    """A study stored with a full spec (model sizes 1, 2, 4; three seeds, of which 0 and 1 ran):
    shard 0's best size is the smallest, shard 1's the middle one, shard 2's the largest; one run
    of shard 1 fails."""
    from scalinglab.storage import CurvePoint, PlannedRun, RunState, open_storage
    from scalinglab.study import StudySpec

    spec = StudySpec.from_dict({"name": "full", "task": "synthetic", "seeds": 3, "metric": "val_loss",
                                "data": {"shard_sizes": [100, 200, 400]},
                                "model": {"sizes": [1, 2, 4]},
                                "search": {"method": "grid", "params": {"lr": {"choice": [0.1]}}}})
    storage = open_storage(f"sqlite:///{path}")
    record = storage.create_study("full", "synthetic", spec.to_dict())
    best = {0: 1.0, 1: 2.0, 2: 4.0}
    planned = [PlannedRun(i, n, s, seed, spec.config_key, params={**spec.params, "lr": 0.1})
               for i, n in enumerate((100, 200, 400)) for s in (1.0, 2.0, 4.0) for seed in (0, 1)]
    storage.add_runs(record.id, planned)
    while (run := storage.claim_run(record.id, "w")) is not None:
        if run.shard_index == 1 and run.model_size == 4.0 and run.seed == 1:
            storage.fail_run(run.id, "w", "boom", max_attempts=1)
            continue
        value = 0.1 + 0.01 * abs(np.log2(run.model_size / best[run.shard_index])) + 0.001 * run.seed
        storage.finish_run(run.id, "w", state=RunState.COMPLETE, points=[CurvePoint(0, value)],
                           score=value, n_params=10 * run.model_size, final_metrics={},
                           duration_s=0.0)
    return storage


def test_study_curves_and_checks_of_a_study_with_a_full_spec(tmp_path):
    from scalinglab import InputError
    from scalinglab.study import study_checks, study_curves

    storage = _store_full_spec_study(tmp_path / "f.db")
    curves = study_curves("full", storage)
    # The spec's seeds, not only those that ran: seed 2 is a column of NaN.
    assert curves.study == "full" and curves.metric == "val_loss" and curves.seeds.tolist() == [0, 1, 2]
    assert np.isnan(curves.cell_seed_scores[:, 2]).all() and not np.isnan(curves.cell_seed_scores[:, 0]).any()
    # The tuned hyperparameter ([search.params]) is reported per shard and per cell.
    assert curves.best_params == ({"lr": 0.1},) * 3 and curves.cell_params[0] == {"lr": 0.1}
    assert curves.best_model_size.tolist() == [1.0, 2.0, 4.0]
    assert curves.best_size_status.tolist() == ["min_size", "interior", "max_size"]
    assert curves.median_min_val_error.tolist() == pytest.approx([0.1005, 0.1005, 0.1005])
    assert curves.cell_n_seeds.tolist() == [2, 2, 2, 2, 2, 1, 2, 2, 2]  # the failed run is left out
    # A tolerance reaches the aggregation: within 20%, the smallest model of every shard.
    loose = study_curves("full", storage, size_tolerance=0.2)
    assert loose.best_model_size.tolist() == [1.0, 1.0, 1.0]
    assert loose.best_size_status.tolist() == ["min_size"] * 3
    checks = study_checks("full", storage)
    assert checks["shard_size"].tolist() == [100, 200, 400]
    assert checks["best_model_size"].tolist() == [1.0, 2.0, 4.0]
    assert checks["size_status"].tolist() == ["min_size", "interior", "max_size"]
    assert study_checks("full", storage, size_tolerance=0.2)["best_model_size"].tolist() == [1.0] * 3
    with pytest.raises(InputError) as info:
        study_checks("fulll", storage)
    assert str(info.value) == (f"The 'study' parameter must name a study stored in "
                               f"{storage.url} (did you mean 'full'?). Got 'fulll' instead.")
    storage.close()
