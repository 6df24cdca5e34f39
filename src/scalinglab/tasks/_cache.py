"""On-disk cache of generated data sets, safe for several worker processes at once.

Built-in workloads generate their data offline (MNIST-1D from its generator, the character
corpus from the Python standard library) and keep the result under a cache directory:
``$SCALINGLAB_CACHE`` if set, else ``~/.cache/scalinglab``. Each entry is one ``.npz`` file.

Several worker processes of one study often ask for the same entry at the same moment, so
an entry is built under an exclusive file lock (the others wait, then read it) and written
to a temporary file that is renamed into place with :func:`os.replace`: a reader never sees
a half-written file, even where locks are unavailable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

__all__ = ["cache_dir", "cached_arrays"]

#: Environment variable that moves the cache.
CACHE_ENV = "SCALINGLAB_CACHE"


def cache_dir(*parts: str) -> Path:
    """The cache directory (created if missing), optionally a subdirectory of it.

    Parameters
    ----------
    *parts : str
        Path components below the cache root, e.g. ``("mnist1d", "v1")``.

    Returns
    -------
    pathlib.Path
        ``$SCALINGLAB_CACHE/<parts>`` if the variable is set, else
        ``~/.cache/scalinglab/<parts>``.
    """
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "scalinglab"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_path`` (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the atomic rename still protects readers
        yield
        return
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def cached_arrays(
    path: Path, build: Callable[[], Mapping[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Load arrays from ``path``, building and storing them first if missing.

    Parameters
    ----------
    path : pathlib.Path
        The ``.npz`` file of the entry. Its name should encode everything the content
        depends on (size, seed, format version), since an existing file is trusted.
    build : callable
        Returns the arrays to store; called at most once per machine for a given path
        (other processes wait on the lock, then read the file).

    Returns
    -------
    dict of str to numpy.ndarray
        The stored arrays.
    """
    if path.exists():
        return _load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(path.with_name(path.name + ".lock")):
        # Another process may have built it while this one waited for the lock.
        if path.exists():
            return _load(path)
        arrays = {key: np.asarray(value) for key, value in build().items()}
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
    return arrays
