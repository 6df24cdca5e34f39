"""StudySpec validation: one clear line per error, round trip, shards."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.study import StudySpec, geometric_shard_sizes, nested_shard_indices

BASE = {
    "name": "s",
    "task": "synthetic",
    "seeds": 2,
    "data": {"min_shard_size": 64, "max_shard_size": 1024},
    "model": {"sizes": [2, 4, 8]},
    "train": {"epochs": 3},
}


def with_(path: str, value: object) -> dict:
    raw = copy.deepcopy(BASE)
    *head, last = path.split(".")
    table = raw
    for key in head:
        table = table.setdefault(key, {})
    table[last] = value
    return raw


def test_defaults_and_round_trip():
    spec = StudySpec.from_dict(BASE)
    assert spec.shard_sizes == (64, 128, 256, 512, 1024)
    assert spec.seeds == (0, 1)
    assert spec.search.method == "hestness"
    assert StudySpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("data.growth", 0.5, "The 'data.growth' parameter of spec.toml must be a number in "
                             "[1.2, 10]. Got 0.5 instead."),
        ("data.max_shard_size", 10, "'data.max_shard_size'"),
        ("data.min_shard_size", "x", "'data.min_shard_size'"),
        ("model.sizes", [4, 2], "strictly increasing"),
        ("model.sizes", [], "'model.sizes'"),
        ("seeds", 0, "'seeds'"),
        ("seeds", [1, 1], "distinct"),
        ("search.method", "random", "one of 'grid', 'hestness'"),
        ("search.samples", 0, "'search.samples'"),
        ("execution.max_attempts", True, "'execution.max_attempts'"),
        ("task", "not a task", "'task'"),
        ("name", "bad name!", "'name'"),
        ("train.when", __import__("datetime").date(2020, 1, 1), "not a date"),
        ("data.grwoth", 2.0, "did you mean 'data.growth'?"),
        ("modle", {}, "did you mean 'model'?"),
    ],
)
def test_errors_name_field_and_rule(path, value, message):
    with pytest.raises(InputError) as info:
        StudySpec.from_dict(with_(path, value), where="spec.toml")
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert text.endswith("instead.")


def test_missing_required_tables():
    raw = copy.deepcopy(BASE)
    del raw["model"]
    with pytest.raises(InputError, match="'model'"):
        StudySpec.from_dict(raw)


def test_from_toml_errors(tmp_path):
    bad = tmp_path / "spec.toml"
    bad.write_text("name = 's'\ntask = 'synthetic'\n[data]\nmin_shard_size = 8\n"
                   "max_shard_size = 64\ngrowth = 0.5\n[model]\nsizes = [1]\n")
    with pytest.raises(InputError, match=r"The 'data.growth' parameter of spec.toml"):
        StudySpec.from_toml(bad)
    bad.write_text("name = \n")
    with pytest.raises(InputError, match="not valid TOML"):
        StudySpec.from_toml(bad)


def test_geometric_shards_hit_both_ends():
    sizes = geometric_shard_sizes(100, 10_000, 2.0)
    assert sizes[0] == 100 and sizes[-1] == 10_000
    ratios = np.diff(np.log(sizes))
    assert np.allclose(ratios, ratios[0], atol=0.01)


def test_shards_are_nested_and_reproducible():
    spec = StudySpec.from_dict(BASE)
    shards = [nested_shard_indices(5000, n, spec.data.data_seed) for n in spec.shard_sizes]
    for small, large in itertools.pairwise(shards):
        assert set(small) <= set(large)
    again = nested_shard_indices(5000, spec.shard_sizes[2], spec.data.data_seed)
    assert np.array_equal(again, shards[2])


def test_identity_ignores_execution():
    a = StudySpec.from_dict(BASE)
    b = StudySpec.from_dict(with_("execution.max_attempts", 5))
    assert a.identity() == b.identity()
    assert a.config_key == b.config_key
