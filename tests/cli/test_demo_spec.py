"""The demo's study spec is valid and is what the README describes (the run itself: make demo)."""

from __future__ import annotations

import tomllib

from scalinglab.cli._demo import DEMO_SIZE_TOLERANCE, DEMO_SPEC
from scalinglab.study import StudySpec


def test_demo_spec_is_valid_and_grows_its_grid_from_8_to_1024():
    spec = StudySpec.from_dict(tomllib.loads(DEMO_SPEC))
    assert list(spec.shard_sizes) == [128, 256, 512, 1024, 2048, 4096]
    assert list(spec.model.ladder()) == [8, 16, 32, 64, 128, 256, 512, 1024]
    assert [p["lr"] for p in spec.search.points()] == [0.003621, 0.009349]
    assert spec.budget.max_factor == 4 and spec.search.method == "hestness"
    # The analysis picks the best fit by the rule the search grows the grid by.
    assert DEMO_SIZE_TOLERANCE == 0.0
