"""Library errors name the option the user typed: one mechanism (``ScalingLabError.parameter``
and the command class), with an alias where an option is not named as its parameter."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scalinglab._errors import InputError
from scalinglab.cli._app import _Command

from ._helpers import cli, spec_text


def _command(error: InputError) -> _Command:
    def run(model_size: float | None, data_size: float | None) -> None:
        raise error

    return _Command(
        "predict", callback=run, parameter_aliases={"n_params": "model_size"},
        params=[click.Option(["--model-size"], type=float), click.Option(["--data-size"], type=float)],
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InputError("The 'n_params' parameter must be a number > 0. Got -1.0 instead.", parameter="n_params"),
         "The '--model-size' option must be a number > 0. Got -1.0 instead."),
        (InputError("The 'data_size' parameter must be a number > 0. Got 0 instead.", parameter="data_size"),
         "The '--data-size' option must be a number > 0. Got 0 instead."),
        # Untagged, or tagged with a parameter the command has no option for: left as it is.
        (InputError("The 'data_size' parameter is named but not tagged."),
         "The 'data_size' parameter is named but not tagged."),
        (InputError("The 'storage' parameter must name a database.", parameter="storage"),
         "The 'storage' parameter must name a database."),
    ],
)
def test_the_command_class_names_its_options_through_aliases(error: InputError, expected: str) -> None:
    result = CliRunner().invoke(_command(error), ["--model-size", "1"])
    assert isinstance(result.exception, InputError)
    assert str(result.exception) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "done", "--data-size", "-5"], "The '--data-size' option must be a number > 0. Got -5.0 instead."),
        (["predict", "done", "--data-size", "1e5", "--model-size", "-1"],
         "The '--model-size' option must be a number > 0. Got -1.0 instead."),
        (["plan", "done", "--target-error", "-1"], "The '--target-error' option must be a number > 0. Got -1.0 instead."),
        (["plan", "done", "--compute", "0"], "The '--compute' option must be a number > 0. Got 0.0 instead."),
    ],
)
def test_analysis_errors_name_the_option(done_study: Path, args: list[str], message: str) -> None:
    out = cli(*args, cwd=done_study)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == f"error: {message}"
    assert "parameter" not in out.stderr and "Traceback" not in out.stderr


def test_a_model_size_without_a_joint_law_names_the_option_to_leave_out(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(spec_text(name="one-size").replace("sizes = [1, 2, 4]", "sizes = [2]"))
    assert cli("run", "s.toml", "--workers", "0", "--no-progress", cwd=tmp_path).returncode == 0
    out = cli("predict", "one-size", "--data-size", "1e4", "--model-size", "4", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "leave out the '--model-size' option" in out.stderr and "n_params" not in out.stderr
