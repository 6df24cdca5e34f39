"""Each built-in workload ships an example spec that validates."""

from __future__ import annotations

import tomllib

import pytest

from scalinglab.tasks import task_module

study = pytest.importorskip("scalinglab.study")


@pytest.mark.parametrize("task", ["mnist1d", "charlm", "sklearn", "teacher_student"])
def test_init_spec_validates_and_names_its_task(task: str) -> None:
    pytest.importorskip("sklearn" if task == "sklearn" else "torch")
    spec = study.StudySpec.from_dict(tomllib.loads(task_module(task).INIT_SPEC))
    assert spec.task == task
    assert len(spec.shard_sizes) >= 3
