"""Shared helpers of the CLI tests: run the command line, fingerprint files, read a study."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

TINY_SPEC = """\
name = "{name}"
task = "synthetic"
metric = "{metric}"
seeds = 1
[data]
shard_sizes = [64, 128, 256, 512]
[model]
sizes = [1, 2, 4]
[train]
epochs = {epochs}
sleep_s = {sleep_s}
[search]
method = "grid"
[execution]
heartbeat_s = 0.2
stale_after_s = 5.0
"""


def spec_text(name: str = "tiny", metric: str = "val_error", epochs: int = 3,
              sleep_s: float = 0.0, shards: int = 4) -> str:
    text = TINY_SPEC.format(name=name, metric=metric, epochs=epochs, sleep_s=sleep_s)
    if shards != 4:
        sizes = [64 * 2**i for i in range(shards)]
        text = text.replace("[64, 128, 256, 512]", str(sizes))
    return text


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "SCALINGLAB_STORAGE"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    out["PYTHONPATH"] = src + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    return out


def cli(*args: str, cwd: Path, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scalinglab", *args], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def popen(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scalinglab", *args], cwd=cwd, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def one_line_error(out: subprocess.CompletedProcess[str] | tuple[int, str, str], code: int) -> str:
    """Assert exit ``code`` and a single stderr line without a traceback; return the line."""
    rc, stdout, stderr = (out.returncode, out.stdout, out.stderr) if not isinstance(out, tuple) else out
    assert rc == code, (rc, stdout[-2000:], stderr[-2000:])
    assert "Traceback" not in stdout + stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def fingerprint(folder: Path) -> dict[str, str]:
    """Name -> sha256 of every file under ``folder``: to assert nothing was written."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_states(db: Path) -> dict[str, int]:
    """Counts of runs by state, read with sqlite3 in read-only mode (no scalinglab code)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = conn.execute("SELECT state, COUNT(*) FROM runs GROUP BY state").fetchall()
    finally:
        conn.close()
    return {str(state): int(n) for state, n in rows}


def strict_loads(text: str):
    """``json.loads`` that refuses NaN, Infinity and -Infinity."""
    def refuse(name: str):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


SEVEN_POINTS = "x,y\n100,0.5\n200,0.4\n400,0.33\n800,0.28\n1600,0.25\n3200,0.23\n6400,0.22\n"
