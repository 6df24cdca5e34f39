"""Storage of studies, runs and training curves: one narrow interface, SQLAlchemy backends.

SQLite is the default (a ``scalinglab.db`` file next to the study spec, or ``--storage URL`` /
``$SCALINGLAB_STORAGE``); any SQLAlchemy URL works. The schema is managed by Alembic
migrations shipped in this package (``upgrade``), applied when a storage is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from scalinglab._errors import InputError, invalid_parameter, mask_credentials
from scalinglab.storage._base import (
    CurvePoint,
    PlannedRun,
    RunRecord,
    RunState,
    Storage,
    StudyRecord,
    utcnow,
)
from scalinglab.storage._models import metadata
from scalinglab.storage._rdb import (
    HEAD_REVISION,
    RDBStorage,
    current_revision,
    default_url,
    downgrade,
    mask_url,
    scrub,
    sqlite_file_problem,
    sqlite_path,
    upgrade,
)

__all__ = [
    "HEAD_REVISION",
    "CurvePoint",
    "PlannedRun",
    "RDBStorage",
    "RunRecord",
    "RunState",
    "Storage",
    "StudyRecord",
    "current_revision",
    "default_url",
    "downgrade",
    "mask_credentials",
    "mask_url",
    "metadata",
    "open_storage",
    "scrub",
    "sqlite_file_problem",
    "sqlite_path",
    "storage_url",
    "upgrade",
    "utcnow",
]


def storage_url(
    storage: str | os.PathLike[str] | None, spec_dir: str | os.PathLike[str] | None = None
) -> str:
    """Turn ``None`` / a URL / a file path into a SQLAlchemy URL.

    ``None`` means ``$SCALINGLAB_STORAGE``, else ``scalinglab.db`` next to the spec (or in the
    current directory); a string without ``://`` is a SQLite file path.
    """
    if storage is None:
        return default_url(spec_dir)
    text = os.fspath(storage)
    if "://" in text or text.startswith("sqlite:"):
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def open_storage(
    storage: Storage | str | os.PathLike[str] | None = None,
    *,
    spec_dir: str | os.PathLike[str] | None = None,
    migrate: bool = True,
) -> Storage:
    """Turn ``None | URL | path | Storage`` into a storage backend.

    Parameters
    ----------
    storage : Storage, str, path or None
        An existing backend (returned as is), a SQLAlchemy URL, a SQLite file path, or
        ``None`` for the default (see :func:`storage_url`).
    spec_dir : path, optional
        Where the default SQLite file goes (the directory of the study spec).
    migrate : bool
        Bring the schema up to date (``alembic upgrade head``) when opening.
    """
    if isinstance(storage, Storage):
        return storage
    if storage is not None and not isinstance(storage, str | os.PathLike):
        raise invalid_parameter("storage", "open_storage", "a URL, a path or a Storage", storage)
    url = storage_url(storage, spec_dir)
    try:
        return RDBStorage(url, migrate=migrate)
    except InputError:
        raise
    except Exception as exc:  # bad URL, missing driver, unreachable server
        if isinstance(exc, ImportError | ValueError) or type(exc).__name__ in (
            "ArgumentError", "NoSuchModuleError", "OperationalError"):
            # The driver's message may quote the URL; never its password.
            message = scrub(f"Cannot open the storage {mask_url(url)!r}: {exc}", url)
            raise InputError(message.splitlines()[0]) from None
        raise
