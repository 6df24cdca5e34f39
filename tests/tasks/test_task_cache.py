"""The data cache: built once, atomic, honours SCALINGLAB_CACHE, safe across processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from scalinglab.tasks import cache_dir, cached_arrays


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


N_PROCS = 3


def _build_in_process(path: str, log: str, arrived, cond) -> None:
    """One process's call of ``cached_arrays``, with the cache's own lock step instrumented.

    Every process counts itself in as it reaches the lock (past the "file exists?" check), and
    the builder, holding the lock, waits until all have: so the others are certain to queue on
    the lock while the entry is built, then find it on the re-check. No sleeps.
    """
    import contextlib

    from scalinglab.tasks import _cache

    real_lock = _cache._exclusive_lock

    @contextlib.contextmanager
    def counted_lock(lock_path):
        with cond:
            arrived.value += 1
            cond.notify_all()
        with real_lock(lock_path):
            yield

    _cache._exclusive_lock = counted_lock

    def build() -> dict[str, np.ndarray]:
        with open(log, "a") as handle:
            handle.write("built\n")
        with cond:
            assert cond.wait_for(lambda: arrived.value == N_PROCS, timeout=60), arrived.value
        return {"x": np.ones(3)}

    cached_arrays(Path(path), build)


def test_concurrent_processes_build_an_entry_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    log = tmp_path / "log.txt"
    arrived = ctx.Value("i", 0)
    cond = ctx.Condition()
    procs = [
        ctx.Process(target=_build_in_process, args=(str(tmp_path / "e.npz"), str(log), arrived, cond))
        for _ in range(N_PROCS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert arrived.value == N_PROCS  # all of them went through the lock while the entry was built
    assert log.read_text().count("built") == 1
    np.testing.assert_array_equal(np.load(tmp_path / "e.npz")["x"], np.ones(3))
