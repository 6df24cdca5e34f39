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
    with pytest.raises(InputError, match=r"\(it holds no study\)"):
        study_curves("known", empty)
    empty.close()
