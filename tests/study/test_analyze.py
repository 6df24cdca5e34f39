"""analyze_study and study_pruning: the analysis of a stored study, from Python, is the
command line's (one code path), with the spec's eps0 and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scalinglab import InputError
from scalinglab.storage import open_storage
from scalinglab.study import StudySpec, analyze_study, create_study, run_study, study_pruning


def _spec(name: str, **over: object) -> StudySpec:
    return StudySpec.from_dict({
        "name": name, "task": "synthetic", "seeds": 2,
        "data": {"shard_sizes": [100, 200, 400, 800, 1600]},
        "model": {"sizes": [2, 4, 8, 16]}, "train": {"noise": 0.02, "epochs": 3},
        "search": {"method": "grid"}, **over,
    })


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("analyze") / "s.db"
    run_study(_spec("s", eps0=0.7), storage=path, workers=0, progress=False)
    return path


def _analyze(db, name: str = "s", **kwargs):
    store = open_storage(db)
    try:
        return analyze_study(name, store, **kwargs)
    finally:
        store.close()


def test_the_python_analysis_is_the_command_lines(db):
    doc = _analyze(db).to_dict()
    out = subprocess.run(
        [sys.executable, "-m", "scalinglab", "analyze", "s", "--storage", str(db), "--format", "json"],
        capture_output=True, text=True, check=True)
    cli = json.loads(out.stdout)
    assert doc["eps0"] == cli["eps0"] == 0.7  # the spec's eps0, not the task's or the 2x rule
    assert doc["learning_curve"]["beta_g"] == cli["learning_curve"]["beta_g"]
    assert doc["learning_curve"]["beta_g_interval"] == cli["learning_curve"]["beta_g_interval"]
    assert [c["status"] for c in doc["checks"]] == [c["status"] for c in cli["checks"]]


def test_an_explicit_eps0_overrides_the_spec(db):
    assert _analyze(db, eps0=0.95).to_dict()["eps0"] == 0.95


def test_an_unknown_study_names_the_close_one(db):
    with pytest.raises(InputError, match=r"did you mean 's'\?"):
        _analyze(db, name="ss")


def test_a_study_without_completed_runs_says_how_to_run_it(tmp_path):
    path = tmp_path / "w.db"
    store = open_storage(path)
    try:
        create_study(_spec("w"), store)
        with pytest.raises(InputError, match=r"no completed run to analyse: it has 0 runs, 0 waiting; run it with scalinglab run"):
            analyze_study("w", store)
    finally:
        store.close()


def test_pruning_of_a_study_that_did_not_prune_names_the_setting(db):
    store = open_storage(db)
    try:
        with pytest.raises(InputError, match=r"set \[train\] prune_rounds = K"):
            study_pruning("s", store)
    finally:
        store.close()
