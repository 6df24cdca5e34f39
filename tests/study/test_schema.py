"""`scalinglab schema`: the study spec's JSON Schema agrees with the spec's own validation.

Every built-in task's ``init`` spec meets the schema the CLI prints; wrong specs that the CLI
refuses (exit 2, one line, nothing written) the schema refuses too; and nothing the CLI accepts
is refused by the schema (an editor never flags a valid spec).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalinglab import InputError
from scalinglab.study import StudySpec
from scalinglab.tasks import BUILTIN_TASKS
from tests.cli._helpers import cli, fingerprint, one_line_error

DOCS = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("schema")


class Schema:
    """A JSON Schema and its draft 2020-12 validator (with a short repr for failure reports)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        jsonschema.Draft202012Validator.check_schema(schema)
        self.schema = schema
        self._validator = jsonschema.Draft202012Validator(schema)

    def errors(self, raw: dict[str, Any]) -> list[str]:
        return [f"{list(e.absolute_path)}: {e.message}" for e in self._validator.iter_errors(raw)]

    def __repr__(self) -> str:
        return "<the schema of scalinglab schema>"


@pytest.fixture(scope="module")
def validator(folder: Path) -> Schema:
    """The schema exactly as ``scalinglab schema`` prints it, checked against its meta-schema."""
    out = cli("schema", cwd=folder)
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return Schema(schema)


def main(*argv: str, cwd: Path) -> tuple[int, str, str]:
    """``scalinglab ARGV`` through the console script's entry point, in this process (fast)."""
    from scalinglab.cli import main as entry_point

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            entry_point(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def synthetic(folder: Path) -> str:
    code, _, err = main("init", "--task", "synthetic", "base.toml", cwd=folder)
    assert code == 0, err
    return (folder / "base.toml").read_text()


@pytest.mark.parametrize("task", sorted(BUILTIN_TASKS))
def test_every_init_spec_meets_the_schema(validator, folder: Path, task: str) -> None:
    code, _, err = main("init", "--task", task, f"{task}.toml", cwd=folder)
    assert code == 0, err
    raw = tomllib.loads((folder / f"{task}.toml").read_text())
    assert raw["task"] == task
    assert validator.errors(raw) == []


def test_out_writes_what_schema_prints(validator, folder: Path) -> None:
    out = cli("schema", "--out", "study.schema.json", cwd=folder)
    assert out.returncode == 0, out.stderr
    assert "#:schema ./study.schema.json" in out.stdout
    assert json.loads((folder / "study.schema.json").read_text()) == validator.schema
    line = one_line_error(cli("schema", "--out", "no/such/dir/s.json", cwd=folder), 2)
    assert "'no/such/dir'" in line and "does not exist" in line


def test_schema_describes_the_toml_layout(validator) -> None:
    props = validator.schema["properties"]
    defs = validator.schema["$defs"]
    assert set(props) == {"name", "task", "metric", "description", "eps0", "seeds", "data",
                          "model", "train", "search", "budget", "execution"}
    assert validator.schema["required"] == ["name", "task", "data", "model"]
    # Every field carries its description (the editor's hover text); no "null" (TOML has none).
    for table in [validator.schema, *defs.values()]:
        for name, prop in table["properties"].items():
            assert prop.get("description"), name
    assert "null" not in json.dumps(validator.schema)
    entry = defs["ParamRange"]
    assert set(entry["properties"]) == {"log", "uniform", "int", "choice"}
    assert (entry["minProperties"], entry["maxProperties"]) == (1, 1)
    assert defs["BudgetTable"]["properties"]["tail"]["exclusiveMaximum"] == 1


def _toml(text: str, edit: tuple[str, str] | None, tail: str = "") -> str:
    if edit is not None:
        old, new = edit
        assert old in text, old
        text = text.replace(old, new, 1)
    return text + tail


# (edit of the synthetic init spec, text appended, the field the CLI names)
WRONG = [
    (("growth = 2.0", "grwoth = 2.0"), "", "data.grwoth"),  # misspelt key
    (("[model]", "[modle]"), "", "modle"),
    (("seeds = 3", 'seeds = "3"'), "", "seeds"),  # wrong type
    (None, "[budget]\nmax_factor = true\n", "budget.max_factor"),
    (("sizes = [2, 4, 8,", "sizes = [-2, 4, 8,"), "", "model.sizes"),  # negative size
    (("min_shard_size = 128", "min_shard_size = -128"), "", "data.min_shard_size"),
    (("growth = 2.0", "growth = 2.0\nshard_sizes = [128, 256]"), "", "data.min_shard_size"),
    (None, "[search.params]\nlr = { loguniform = [1e-4, 1e-1] }\n", "search.params.lr"),
    (None, "[search.params]\nlr = { log = [1e-4, 1e-1], int = [1, 2] }\n", "search.params.lr"),
    (None, "[search.params]\nlr = { log = [0, 1e-1] }\n", "search.params.lr.log"),
    (None, "[search.params]\n_lr = { log = [1e-4, 1e-1] }\n", "search.params._lr"),
    (("method = \"hestness\"", "method = \"random\""), "", "search.method"),
    (("max_attempts = 2", "max_attempts = 0"), "", "execution.max_attempts"),
]


@pytest.mark.parametrize(("edit", "tail", "field"), WRONG)
def test_the_schema_and_the_cli_refuse_the_same_wrong_specs(
        validator, synthetic: str, tmp_path: Path, edit, tail: str, field: str) -> None:
    text = _toml(synthetic, edit, tail)
    assert validator.errors(tomllib.loads(text)), "the schema accepts it"
    (tmp_path / "bad.toml").write_text(text)
    before = fingerprint(tmp_path)
    line = one_line_error(main("run", "bad.toml", "--workers", "0", "--no-progress",
                               cwd=tmp_path), 2)
    assert line.startswith(f"error: The '{field}' parameter of bad.toml must be "), line
    assert line.endswith(" instead.") and "pydantic" not in line and "http" not in line
    assert fingerprint(tmp_path) == before


def test_the_docs_example_is_valid_for_both(validator) -> None:
    block = re.search(r"## Example\n\n```toml\n(.*?)```", DOCS.read_text(), re.S)
    assert block is not None
    raw = tomllib.loads(block.group(1))
    assert validator.errors(raw) == []
    assert StudySpec.from_dict(raw).search.params[0].name == "lr"


# -- nothing valid is refused: random edits of a full spec ---------------------------------------
FULL: dict[str, Any] = {
    "name": "p", "task": "synthetic", "seeds": 2, "metric": "val_error", "description": "d",
    "eps0": 0.5,
    "data": {"min_shard_size": 64, "max_shard_size": 1024, "growth": 2.0, "data_seed": 0,
             "validation_size": 10},
    "model": {"knob": "width", "sizes": [2, 4, 8], "min_size": 1, "max_size": 64},
    "train": {"epochs": 3, "x": {"y": [1, 2]}},
    "search": {"method": "hestness", "samples": 3, "refine": True, "margin": 0, "seed": 0,
               "params": {"lr": {"log": [1e-4, 1e-1]}, "d": {"int": [1, 3]},
                          "o": {"choice": ["a", 1, 1.0]}, "w": {"uniform": [0, 0.1]}},
               "param_samples": 4, "sampler": "halton"},
    "budget": {"max_factor": 8, "tail": 0.2, "margin": 0.05},
    "execution": {"max_attempts": 2, "heartbeat_s": 5.0, "stale_after_s": 60.0,
                  "cpus_per_run": 1, "gpus_per_run": 0},
}


def _paths(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in table.items():
        out.append((*prefix, key))
        if isinstance(value, dict):
            out += _paths(value, (*prefix, key))
    return out


PATHS = [*_paths(FULL), ("data", "shard_sizes"), ("nmae",), ("model", "size"),
         ("search", "params", "_q"), ("train", "_b"), ("search", "params", "epochs")]
VALUES = st.sampled_from([
    0, 1, -1, 3, 0.5, 1.5, 2.0, 1e9, True, "", " ", "a", "grid", "sobol", "a.b:c", [], [1],
    [1, 2], [2, 1], [1, 1], [0, 1], [1.5, 3], [1, "a"], [64, 128, 256], {}, {"log": [1, 2]},
    {"int": [1, 2], "log": [1, 2]}, {"choice": []}, {"choice": [1, 1.0]}, {"uniform": [0, 1]},
])


@st.composite
def edited_specs(draw: st.DrawFn) -> dict[str, Any]:
    raw = copy.deepcopy(FULL)
    if draw(st.booleans()):
        raw["data"] = {"shard_sizes": [64, 128, 256]}
    for _ in range(draw(st.integers(1, 2))):
        *head, last = draw(st.sampled_from(PATHS))
        table: Any = raw
        for key in head:
            table = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict):
            if draw(st.integers(0, 5)) == 0:
                table.pop(last, None)
            else:
                table[last] = copy.deepcopy(draw(VALUES))
    return raw


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edited_specs())
def test_what_the_spec_accepts_the_schema_accepts(validator, raw: dict[str, Any]) -> None:
    try:
        StudySpec.from_dict(raw)
    except InputError as exc:
        message = str(exc)
        assert "\n" not in message and message.endswith(" instead."), message
        return
    assert validator.errors(raw) == []
