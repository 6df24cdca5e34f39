"""Fixtures of the workload tests: a private data cache for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point SCALINGLAB_CACHE at a session temp dir unless the caller chose one.

    A developer who exports SCALINGLAB_CACHE keeps generated MNIST-1D chunks between
    sessions (the first generation costs a few seconds per chunk).
    """
    if os.environ.get("SCALINGLAB_CACHE"):
        yield
        return
    os.environ["SCALINGLAB_CACHE"] = str(tmp_path_factory.mktemp("scalinglab-cache"))
    try:
        yield
    finally:
        os.environ.pop("SCALINGLAB_CACHE", None)

