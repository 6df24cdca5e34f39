"""The study commands, end to end in subprocesses (as a user runs them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def cli(*args: str, cwd, env=None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORAGE"}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "scalinglab", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_init_run_curve_status_runs(tmp_path):
    out = cli("init", "--task", "synthetic", "s.toml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = (tmp_path / "s.toml").read_text()
    # Make the demo quicker for the test; the file stays the one init wrote otherwise.
    (tmp_path / "s.toml").write_text(text.replace("sleep_s = 0.05", "sleep_s = 0.0"))
    out = cli("run", "s.toml", "--workers", "2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "scalinglab.db").exists()
    out = cli("curve", "synthetic-demo", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    curve = json.loads(out.stdout)
    assert len(curve["shards"]) == 7 and curve["cells"]
    out = cli("curve", "synthetic-demo", "--format", "csv", cwd=tmp_path)
    assert out.stdout.splitlines()[0].startswith("shard_index,shard_size,best_model_size")
    out = cli("status", "synthetic-demo", cwd=tmp_path)
    assert "(complete)" in out.stdout
    out = cli("runs", "synthetic-demo", "--format", "csv", cwd=tmp_path)
    assert out.returncode == 0 and "COMPLETE" in out.stdout
    out = cli("runs", "synthetic-demo", "--format", "json", cwd=tmp_path)
    assert all(r["state"] == "COMPLETE" for r in json.loads(out.stdout))
    out = cli("studies", cwd=tmp_path)
    assert "synthetic-demo" in out.stdout
    # Running again resumes: nothing left to do.
    out = cli("run", "s.toml", "--workers", "1", cwd=tmp_path)
    assert out.returncode == 0 and "0 failed" in out.stdout


def test_bad_spec_is_one_line_exit_2_nothing_written(tmp_path):
    (tmp_path / "bad.toml").write_text(
        'name = "b"\ntask = "synthetic"\n[data]\nmin_shard_size = 8\nmax_shard_size = 64\n'
        'growth = 0.5\n[model]\nsizes = [1, 2]\n')
    out = cli("run", "bad.toml", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: The 'data.growth' parameter of bad.toml must be a number in [1.2, 10]. "
        "Got 0.5 instead."]
    assert not (tmp_path / "scalinglab.db").exists()


def test_unknown_field_and_unknown_study(tmp_path):
    (tmp_path / "bad.toml").write_text(
        'name = "b"\ntask = "synthetic"\n[data]\nmin_shard_size = 8\nmax_shard_size = 64\n'
        '[model]\nsizes = [1, 2]\nsize = 3\n')
    out = cli("run", "bad.toml", cwd=tmp_path)
    assert out.returncode == 2 and "did you mean 'model.sizes'?" in out.stderr
    out = cli("status", "nope", cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1


def test_init_specs_of_builtin_tasks_are_valid(tmp_path):
    import tomllib

    from scalinglab.study import StudySpec
    from scalinglab.tasks import synthetic

    spec = StudySpec.from_dict(tomllib.loads(synthetic.INIT_SPEC))
    assert spec.name == "synthetic-demo" and spec.task == "synthetic" and spec.metric == "val_error"
    assert list(spec.seeds) == [0, 1, 2]
    assert list(spec.shard_sizes) == [128 * 2**i for i in range(7)]  # 128 .. 8192, doubling
    assert spec.model.knob == "width" and list(spec.model.sizes) == [2, 4, 8, 16, 32, 64, 128]
    assert spec.train["epochs"] == 10 and spec.train["sleep_s"] == 0.05


def test_errors_name_the_option_the_user_typed(tmp_path):
    """A library error about a parameter names the command's option for it."""
    spec = ('name = "o"\ntask = "synthetic"\n[data]\nshard_sizes = [64, 128]\n'
            '[model]\nsizes = [1, 2]\n[train]\nepochs = 1\n')
    (tmp_path / "o.toml").write_text(spec)
    assert cli("run", "o.toml", "--storage", "o.db", "--workers", "0", "--no-progress",
               cwd=tmp_path).returncode == 0
    (tmp_path / "o.toml").write_text(spec.replace("[1, 2]", "[1, 4]"))
    out = cli("run", "o.toml", "--storage", "o.db", "--workers", "0", cwd=tmp_path)
    assert out.returncode == 2
    line = out.stderr.strip()
    assert line.startswith("error: The study 'o' already exists in sqlite:///") and "\n" not in line
    assert line.endswith("with a different 'model.sizes'; give the study a new name or choose another "
                         "storage with the '--storage' option.")
    # Where the option is not the command's, the message keeps the parameter's name.
    out = cli("status", "nope", "--storage", "o.db", cwd=tmp_path)
    assert out.returncode == 2 and "The 'study' parameter must name a study stored in" in out.stderr
