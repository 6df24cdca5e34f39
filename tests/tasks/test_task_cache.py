"""The data cache: built once, atomic, honours SCALINGLAB_CACHE, safe across processes."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest

from scalinglab.tasks._cache import cache_dir, cached_arrays


def test_cache_dir_follows_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCALINGLAB_CACHE", str(tmp_path / "root"))
    path = cache_dir("a", "b")
    assert path == tmp_path / "root" / "a" / "b"
    assert path.is_dir()


def test_cached_arrays_builds_once_and_leaves_no_temporaries(tmp_path: Path) -> None:
    calls: list[int] = []

    def build() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(5.0), "y": np.array([1, 2])}

    first = cached_arrays(tmp_path / "entry.npz", build)
    second = cached_arrays(tmp_path / "entry.npz", build)
    assert len(calls) == 1
    np.testing.assert_array_equal(first["x"], second["x"])
    np.testing.assert_array_equal(second["y"], [1, 2])
    assert not list(tmp_path.glob("*.tmp"))


def _build_in_process(path: str, log: str) -> None:
    def build() -> dict[str, np.ndarray]:
        with open(log, "a") as handle:
            handle.write("built\n")
        time.sleep(0.3)  # long enough for the other process to arrive meanwhile
        return {"x": np.ones(3)}

    cached_arrays(Path(path), build)


def test_concurrent_processes_build_an_entry_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    log = tmp_path / "log.txt"
    procs = [
        ctx.Process(target=_build_in_process, args=(str(tmp_path / "e.npz"), str(log)))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert log.read_text().count("built") == 1
    np.testing.assert_array_equal(np.load(tmp_path / "e.npz")["x"], np.ones(3))
