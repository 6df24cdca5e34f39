"""Training tasks: the interface for users' code and the built-in workloads.

A task is named in a study spec either by a built-in name (``"mnist1d"``) or as
``"package.module:function"`` for the user's own code. Built-in workloads are imported
only when used, so that torch stays an optional dependency. The pieces the built-in workloads
share are public for a user's own task: :class:`ParamReader` (hyperparameters with defaults
and ranges), :class:`TrainSettings` and :func:`fit` (the torch training loop with its budget
and early stopping; torch is imported when it runs) and :func:`cached_arrays` (a data set
downloaded or built once per machine).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from scalinglab._errors import InputError, invalid_parameter
from scalinglab.tasks._cache import cache_dir, cached_arrays
from scalinglab.tasks._interface import Report, RunConfig, TaskFunction, Trial, nested_shard_indices
from scalinglab.tasks._torch_common import TRAIN_KEYS, ParamReader, TrainSettings, fit, model_width

__all__ = [
    "BUILTIN_TASKS",
    "TRAIN_KEYS",
    "ParamReader",
    "Report",
    "RunConfig",
    "TaskFunction",
    "TrainSettings",
    "Trial",
    "cache_dir",
    "cached_arrays",
    "fit",
    "load_task",
    "model_width",
    "nested_shard_indices",
    "task_eps0",
    "task_module",
]

#: Built-in task name -> "module:function". Each module also defines ``INIT_SPEC``, the
#: commented TOML spec that ``scalinglab init --task NAME`` writes.
BUILTIN_TASKS: dict[str, str] = {
    "synthetic": "scalinglab.tasks.synthetic:train",
    "mnist1d": "scalinglab.tasks.mnist1d:train",
    "charlm": "scalinglab.tasks.charlm:train",
    "sklearn": "scalinglab.tasks.sklearn:train",
    "teacher_student": "scalinglab.tasks.teacher_student:train",
}


def task_eps0(name: str, params: Mapping[str, Any] | None = None) -> float | None:
    """The random-guess error (``eps0``) a task states, or ``None`` if it states none.

    A task module states it as ``EPS0``; one whose bound depends on a hyperparameter adds
    ``EPS0_BY_PARAM = {param: {value: eps0}}`` (charlm's ``unit``, sklearn's ``dataset``).
    A task that cannot be imported here states nothing.
    """
    try:
        module = task_module(name)
    except InputError:
        return None
    params = dict(params or {})
    for param, table in dict(getattr(module, "EPS0_BY_PARAM", {})).items():
        if param in params and params[param] in table:
            return float(table[params[param]])
    value = getattr(module, "EPS0", None)
    return None if value is None else float(value)


def _split_reference(name: str) -> tuple[str, str]:
    reference = BUILTIN_TASKS.get(name, name)
    module_name, sep, attr = reference.partition(":")
    if not sep or not module_name or not attr:
        raise invalid_parameter(
            "task", "the study spec",
            f"a built-in task ({', '.join(sorted(BUILTIN_TASKS))}) or 'package.module:function'",
            name, kind="field")
    return module_name, attr


def task_module(name: str) -> ModuleType:
    """Import the module that defines task ``name`` (built-in name or ``module:function``)."""
    module_name, _ = _split_reference(name)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if name in BUILTIN_TASKS and exc.name and not exc.name.startswith("scalinglab"):
            raise InputError(
                f"The built-in task {name!r} needs {exc.name}, which is not installed; "
                f"install it with: pip install 'scalinglab[all]'"
            ) from exc
        raise InputError(
            f"The 'task' parameter of the study spec names module {module_name!r}, which "
            f"cannot be imported ({exc}). Check the spelling and that it is on PYTHONPATH."
        ) from exc


def load_task(name: str) -> TaskFunction:
    """Resolve a task name to its training function.

    Parameters
    ----------
    name : str
        A key of :data:`BUILTIN_TASKS` or ``"package.module:function"``.
    """
    module = task_module(name)
    _, attr = _split_reference(name)
    function = getattr(module, attr, None)
    if not callable(function):
        raise InputError(
            f"The 'task' parameter of the study spec names {attr!r} in {module.__name__}, "
            f"which is not a function there. Check the name after the colon."
        )
    return function  # type: ignore[no-any-return]
