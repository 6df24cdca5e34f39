"""Credentials in storage URLs are never printed: status lines, errors, resume hints."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests._services import free_port, postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]

SPEC = """
name = "cred"
task = "synthetic"
[data]
shard_sizes = [64, 128]
[model]
sizes = [1, 2]
[search]
method = "grid"
"""


def cli(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORAGE"}
    return subprocess.run([sys.executable, "-m", "scalinglab", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_unreachable_server_error_hides_password(tmp_path):
    (tmp_path / "s.toml").write_text(SPEC)
    url = f"postgresql+psycopg://alice:Sup3r-s3cret@127.0.0.1:{free_port()}/db"
    for args in (["run", "s.toml", "--storage", url, "--workers", "0"],
                 ["status", "cred", "--storage", url], ["studies", "--storage", url]):
        out = cli(*args, cwd=tmp_path)
        assert out.returncode != 0
        assert "Sup3r-s3cret" not in out.stdout + out.stderr, out.stderr
        assert "alice:***@127.0.0.1" in out.stderr


@pytest.mark.slow
def test_commands_never_print_the_password(postgres_url, tmp_path):
    password = postgres_url.split("://")[1].split("@")[0].split(":")[1]
    assert len(password) >= 16
    (tmp_path / "s.toml").write_text(SPEC)
    outputs = []
    for args in (["run", "s.toml", "--storage", postgres_url, "--workers", "0"],
                 ["status", "cred", "--storage", postgres_url],
                 ["status", "cred", "--storage", postgres_url, "--format", "json"],
                 ["studies", "--storage", postgres_url],
                 ["runs", "cred", "--storage", postgres_url, "--format", "csv"],
                 ["curve", "cred", "--storage", postgres_url]):
        out = cli(*args, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        outputs.append(out)
    assert "***@127.0.0.1" in outputs[0].stdout  # the run's status line shows the storage
    # Errors that name the storage: an unknown study, a different spec under the same name.
    outputs.append(cli("status", "nope", "--storage", postgres_url, cwd=tmp_path))
    (tmp_path / "s.toml").write_text(SPEC.replace("[1, 2]", "[1, 4]"))
    changed = cli("run", "s.toml", "--storage", postgres_url, "--workers", "0", cwd=tmp_path)
    assert changed.returncode != 0 and "already exists in" in changed.stderr
    outputs.append(changed)
    for out in outputs:
        assert password not in out.stdout + out.stderr, out.args
