"""Running studies: the hestness search, aggregation, resume, identity checks."""

from __future__ import annotations

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.storage import RunState, open_storage
from scalinglab.study import StudySpec, aggregate_runs, plan_runs, run_study, study_curves
from scalinglab.tasks.synthetic import best_model_size

SIZES = [1, 2, 4, 8, 16, 32, 64, 128]


def make(method: str, name: str = "h", **search) -> StudySpec:
    return StudySpec.from_dict({
        "name": name, "task": "synthetic", "seeds": 3,
        "data": {"min_shard_size": 64, "max_shard_size": 16384, "growth": 2.0},
        "model": {"sizes": SIZES},
        "train": {"epochs": 3, "noise": 0.0},
        "search": {"method": method, **search},
    })


def test_hestness_finds_known_best_with_fewer_runs(tmp_path):
    grid = run_study(make("grid"), storage=tmp_path / "g.db", workers=0, progress=False)
    hest = run_study(make("hestness", samples=2), storage=tmp_path / "h.db", workers=0,
                     progress=False)
    assert grid.complete and hest.complete
    spec = make("hestness")
    truth = [best_model_size(n, SIZES, dict(spec.train)) for n in spec.shard_sizes]
    assert len(set(truth)) >= 4  # the optimum moves across the shards
    curves = study_curves("h", open_storage(tmp_path / "h.db"))
    assert list(curves.best_model_size) == truth
    grid_curves = study_curves("h", open_storage(tmp_path / "g.db"))
    assert list(grid_curves.best_model_size) == truth
    np.testing.assert_allclose(curves.median_min_val_error, grid_curves.median_min_val_error)
    assert hest.n_runs < 0.6 * grid.n_runs


def test_plan_is_deterministic_and_phased(tmp_path):
    spec = make("hestness")
    first = plan_runs(spec)
    assert {p.shard_index for p in first} == {0, len(spec.shard_sizes) - 1}
    assert plan_runs(spec) == first


def test_aggregation_median_of_min_and_tie_goes_to_smaller():
    import pandas as pd

    frame = pd.DataFrame({
        "shard_index": [0] * 6 + [1] * 2,
        "shard_size": [10] * 6 + [20] * 2,
        "model_size": [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 2.0],
        "seed": [0, 1, 2, 0, 1, 2, 0, 0],
        "state": ["COMPLETE"] * 5 + ["FAILED"] + ["COMPLETE"] * 2,
        "score": [0.3, 0.1, 0.2, 0.2, 0.2, np.nan, 0.5, 0.5],
        "n_params": [10, 10, 10, 20, 20, np.nan, 10, 20],
    })
    curves = aggregate_runs(frame, study="x", seeds=[0, 1, 2])
    assert list(curves.shard_size) == [10, 20]
    assert list(curves.best_model_size) == [1.0, 1.0]  # 0.2 == 0.2 and 0.5 == 0.5: smaller
    assert list(curves.median_min_val_error) == [0.2, 0.5]
    assert curves.cell_seed_scores.shape == (4, 3)
    assert np.isnan(curves.cell_seed_scores[1, 2])
    assert list(curves.cell_n_seeds) == [3, 2, 1, 1]
    d = curves.to_dict()
    assert d["shards"][0] == {"shard_index": 0, "shard_size": 10, "best_model_size": 1,
                              "best_n_params": 10, "median_min_val_error": 0.2, "budget": 1,
                              "budget_limited": False, "size_status": ""}
    with pytest.raises(ValueError):
        curves.shard_size[0] = 3  # read-only


def test_resume_after_partial_run_gives_same_curve(tmp_path):
    spec = make("hestness", name="r")
    ref = run_study(spec, storage=tmp_path / "ref.db", workers=0, progress=False)
    part = run_study(spec, storage=tmp_path / "p.db", workers=0, progress=False, max_runs=10)
    assert not part.complete
    rest = run_study(spec, storage=tmp_path / "p.db", workers=0, progress=False)
    assert rest.complete and rest.n_runs == ref.n_runs
    a = study_curves("r", open_storage(tmp_path / "ref.db")).to_dict()
    b = study_curves("r", open_storage(tmp_path / "p.db")).to_dict()
    assert a == b


def test_changed_spec_is_refused_and_nothing_written(tmp_path):
    db = tmp_path / "c.db"
    run_study(make("grid", name="c"), storage=db, workers=0, progress=False, max_runs=1)
    store = open_storage(db)
    before = store.count_runs(store.get_study("c").id)
    base = make("grid", name="c").to_dict()
    changed = StudySpec.from_dict({**base, "seeds": [0, 7]})
    with pytest.raises(InputError, match=r"different 'seeds'") as caught:
        run_study(changed, storage=db, workers=0, progress=False)
    assert store.count_runs(store.get_study("c").id) == before
    # The library names its parameter (the CLI names its option, tests/cli/test_study_cli.py)
    # and shows where the study is by the storage's masked URL.
    message = str(caught.value)
    assert f"already exists in {store.url} " in message and "'storage' parameter" in message
    assert "--storage" not in message and caught.value.parameter == "storage"


def test_changed_train_makes_new_runs(tmp_path):
    # docs/spec.md: [train] is part of each run's identity; changing it makes new runs.
    db = tmp_path / "t.db"
    first = run_study(make("grid", name="t"), storage=db, workers=0, progress=False)
    changed = StudySpec.from_dict({**make("grid", name="t").to_dict(),
                                   "train": {"epochs": 4, "noise": 0.0}})
    second = run_study(changed, storage=db, workers=0, progress=False)
    assert second.complete and second.n_runs == 2 * first.n_runs
    store = open_storage(db)
    record = store.get_study("t")
    assert dict(record.spec)["train"]["epochs"] == 4
    fresh = run_study(changed, storage=tmp_path / "fresh.db", workers=0, progress=False)
    assert fresh.n_runs == first.n_runs
    # The curves are those of the current [train] alone, as if run from scratch.
    assert study_curves("t", store).to_dict() == study_curves("t", open_storage(tmp_path / "fresh.db")).to_dict()


def test_unimportable_task_writes_nothing(tmp_path):
    spec = StudySpec.from_dict({**make("grid").to_dict(), "task": "no_such_module:train"})
    with pytest.raises(InputError, match="cannot be imported"):
        run_study(spec, storage=tmp_path / "t.db", workers=0, progress=False)
    assert not (tmp_path / "t.db").exists()


def test_curve_points_stored_in_order(tmp_path):
    spec = make("grid", name="p")
    run_study(spec, storage=tmp_path / "p.db", workers=0, progress=False, max_runs=2)
    store = open_storage(tmp_path / "p.db")
    runs = store.get_runs(store.get_study("p").id, [RunState.COMPLETE])
    curve = store.get_curve(runs[0].id)
    assert [p.step for p in curve] == [0, 1, 2]
    assert runs[0].score == min(p.val_error for p in curve)
