"""Independent fits spread over worker processes, results in their original order.

Used by the bootstrap (one refit per resample) and by :func:`~scalinglab.fitting.fit_frame`
(one fit per group). Each item is computed exactly as it would be in one process, so results
never depend on the number of processes.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

import numpy as np

__all__ = ["map_chunks", "worker_count"]

T = TypeVar("T")
R = TypeVar("R")


def worker_count(n_jobs: int, n_items: int) -> int:
    """Processes for ``n_jobs`` (scikit-learn's convention: ``-1`` is one per core), at most one per item."""
    wanted = (os.cpu_count() or 1) if n_jobs == -1 else max(1, n_jobs)
    return max(1, min(wanted, n_items))


def map_chunks(
    func: Callable[[Sequence[T]], list[R]], items: Sequence[T], workers: int, chunks_per_worker: int = 1
) -> list[R]:
    """``func`` over contiguous chunks of ``items``, flattened back into item order.

    Parameters
    ----------
    func : callable
        Maps a chunk (a slice of ``items``) to one result per item; must be picklable
        (a module-level function or a :func:`functools.partial` of one).
    items : sequence
    workers : int
        Processes; 1 runs ``func`` on all items in this process.
    chunks_per_worker : int
        More chunks than workers balance items of uneven cost, at the price of more transfers.
    """
    if workers <= 1 or len(items) <= 1:
        return func(items)
    # fork starts a worker in milliseconds with every module already imported; it is only
    # safe while this process runs a single thread, otherwise forkserver is used.
    method = "fork" if os.name == "posix" and threading.active_count() == 1 else "forkserver"
    if method not in multiprocessing.get_all_start_methods():
        method = "spawn"
    n_chunks = min(len(items), workers * chunks_per_worker)
    bounds = np.linspace(0, len(items), n_chunks + 1).astype(int)
    chunks = [items[a:b] for a, b in itertools.pairwise(bounds)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        return [result for part in pool.map(func, chunks) for result in part]
