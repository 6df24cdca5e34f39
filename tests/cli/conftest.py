"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._helpers import cli, spec_text


@pytest.fixture(scope="session")
def done_study(tmp_path_factory) -> Path:
    """A folder with a small completed synthetic study "done" in its scalinglab.db."""
    folder = tmp_path_factory.mktemp("done")
    (folder / "s.toml").write_text(spec_text(name="done", shards=6))
    out = cli("run", "s.toml", "--workers", "0", "--no-progress", cwd=folder)
    assert out.returncode == 0, out.stderr
    (folder / "s2.toml").write_text(spec_text(name="done2", shards=6).replace("epochs = 3", "epochs = 4"))
    out = cli("run", "s2.toml", "--workers", "0", "--no-progress", cwd=folder)
    assert out.returncode == 0, out.stderr
    return folder
