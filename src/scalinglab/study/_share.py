"""Sharing a study: export it (spec, every run, every curve) as JSON, import it anywhere.

An export is plain JSON (no pickle, no ``NaN``: a non-finite number is written as ``null``),
so a committed export lets anyone re-analyze a study without re-training it, and an import
into any storage is idempotent: runs already stored (by their key) are left as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalinglab._errors import InputError, invalid_parameter
from scalinglab._json import jsonable
from scalinglab.storage import CurvePoint, RunRecord, RunState, Storage
from scalinglab.study._run import create_study
from scalinglab.study._spec import StudySpec

__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "ImportSummary", "StudyExport", "check_export",
           "export_study", "import_study", "read_export", "write_export"]

#: The ``format`` field every export carries, and the version of its layout.
EXPORT_FORMAT = "scalinglab-study"
EXPORT_VERSION = 1

# Fields of an exported run besides its curve, with the JSON types each accepts (None = null).
_RUN_FIELDS: dict[str, tuple[type, ...]] = {
    "shard_index": (int,), "shard_size": (int,), "model_size": (int, float), "seed": (int,),
    "config_key": (str,), "params": (dict,), "phase": (int,), "state": (str,),
    "worker": (str, type(None)), "created_at": (str,), "started_at": (str, type(None)),
    "finished_at": (str, type(None)), "heartbeat_at": (str, type(None)), "attempts": (int,),
    "failures": (int,), "error": (str, type(None)), "score": (int, float, type(None)),
    "n_params": (int, float, type(None)), "duration_s": (int, float, type(None)),
    "final_metrics": (dict, type(None)),
}


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_study` did: the study it wrote into and how many runs it added."""

    study: str
    n_runs: int
    n_imported: int
    n_already_stored: int

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def export_study(name: str, storage: Storage) -> dict[str, Any]:
    """A stored study as a JSON-ready document: its spec, every run, every training curve.

    Parameters
    ----------
    name : str
        The stored study.
    storage : Storage
        Where it is stored.

    Returns
    -------
    dict
        ``{"format", "version", "exported_at", "study": {name, task, spec, created_at},
        "runs": [{...run fields..., "curve": [{step, val_error, metrics}]}]}``, strict JSON
        (non-finite numbers are ``None``).
    """
    from scalinglab.study._aggregate import _unknown_study

    record = storage.get_study(name)
    if record is None:
        raise _unknown_study(name, storage)
    runs = []
    for run in storage.get_runs(record.id):
        entry = run.to_dict()
        del entry["id"], entry["study_id"]
        entry["curve"] = [
            {"step": p.step, "val_error": p.val_error, **({"metrics": dict(p.metrics)}
                                                          if p.metrics else {})}
            for p in storage.get_curve(run.id)
        ]
        runs.append(entry)
    return jsonable({
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
        "study": {"name": record.name, "task": record.task, "spec": dict(record.spec),
                  "created_at": record.created_at.isoformat()},
        "runs": runs,
    })


def write_export(document: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write an export atomically (a temporary file, then a rename): never a partial file."""
    target = Path(path)
    if not target.parent.is_dir():
        raise InputError(
            f"The export file {str(target)!r} is in {str(target.parent)!r}, which is not a "
            f"directory; create it or choose another path.")
    text = json.dumps(jsonable(document), indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        # mkstemp makes the file private; an export is meant to be shared (the umask applies).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_export(path: str | os.PathLike[str], *, name: str | None = None) -> StudyExport:
    """Read an export file written by :func:`write_export` and check all of it
    (:func:`check_export`); ``name`` renames the study."""
    source = Path(path)
    where = f"the export file {str(source)!r}"
    if not source.is_file():
        raise InputError(f"{_upper_first(where)} does not exist or is not a file.")
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{_upper_first(where)} is not UTF-8 text; "
                         f"give a file written by 'scalinglab export'.") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{_upper_first(where)} is not JSON ({exc.msg} at line "
                         f"{exc.lineno}); give a file written by 'scalinglab export'.") from None
    return check_export(document, name=name, where=where)


def _check_document(document: Any, where: str) -> None:
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise InputError(f"{_upper_first(where)} is not a scalinglab study export "
                         f"(its 'format' field must be {EXPORT_FORMAT!r}).")
    version = document.get("version")
    if version != EXPORT_VERSION:
        raise invalid_parameter("version", where, str(EXPORT_VERSION), version, kind="field",
                                hint=" (export it again with this scalinglab)")
    study = document.get("study")
    if (not isinstance(study, dict) or not isinstance(study.get("name"), str)
            or not isinstance(study.get("task"), str) or not isinstance(study.get("spec"), dict)):
        raise InputError(f"The 'study' field of {where} must be an object with a string "
                         f"'name' and 'task' and an object 'spec'.")
    runs = document.get("runs")
    if not isinstance(runs, list):
        raise invalid_parameter("runs", where, "a list", type(runs).__name__, kind="field")
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise InputError(f"Run {i} of {where} must be an object.")
        for key, types in _RUN_FIELDS.items():
            value = run.get(key)
            if key not in run or not isinstance(value, types) or isinstance(value, bool):
                raise invalid_parameter(
                    key, f"run {i} of {where}",
                    " or ".join("null" if t is type(None) else t.__name__ for t in types), value,
                    kind="field")
        if run["state"] not in RunState.__members__:
            raise invalid_parameter("state", f"run {i} of {where}",
                                    f"one of {', '.join(RunState.__members__)}", run["state"],
                                    kind="field")
        curve = run.get("curve")
        if not isinstance(curve, list) or not all(
                isinstance(p, dict) and isinstance(p.get("step"), int)
                and isinstance(p.get("val_error"), int | float)
                and not isinstance(p.get("val_error"), bool)
                and isinstance(p.get("metrics", {}), dict) for p in curve):
            raise InputError(f"The 'curve' field of run {i} of {where} must be a list of "
                             f"{{step, val_error[, metrics]}} objects with an integer step and a "
                             f"finite val_error.")


def _time(text: str | None, field: str, where: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise invalid_parameter(field, where, "an ISO 8601 time", text, kind="field") from None


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _restored(run: Mapping[str, Any], where: str) -> tuple[RunRecord, list[CurvePoint]]:
    created = _time(run["created_at"], "created_at", where)
    assert created is not None
    record = RunRecord(
        id=0, study_id=0, shard_index=run["shard_index"], shard_size=run["shard_size"],
        model_size=float(run["model_size"]), seed=run["seed"], config_key=run["config_key"],
        params=run["params"], phase=run["phase"], state=RunState(run["state"]),
        worker=run["worker"], created_at=created,
        started_at=_time(run["started_at"], "started_at", where),
        finished_at=_time(run["finished_at"], "finished_at", where),
        heartbeat_at=_time(run["heartbeat_at"], "heartbeat_at", where),
        attempts=run["attempts"], failures=run["failures"], error=run["error"],
        score=run["score"], n_params=run["n_params"], duration_s=run["duration_s"],
        final_metrics=run["final_metrics"],
    )
    curve = [CurvePoint(int(p["step"]), float(p["val_error"]),
                        {k: _number(v) for k, v in p.get("metrics", {}).items()})
             for p in run["curve"]]
    return record, curve


@dataclass(frozen=True)
class StudyExport:
    """A checked export, ready to import: the study's spec and its runs with their curves."""

    spec: StudySpec
    runs: tuple[tuple[RunRecord, list[CurvePoint]], ...]


def check_export(
    document: Mapping[str, Any], *, name: str | None = None, where: str = "the export"
) -> StudyExport:
    """Check every field of an export (layout, run fields, times, the spec) before anything is
    written; ``name`` renames the study."""
    _check_document(document, where)
    raw_spec = dict(document["study"]["spec"])
    if name is not None:
        raw_spec["name"] = name
    spec = StudySpec.from_dict(raw_spec, where=f"the spec in {where}")
    runs = tuple(_restored(run, f"run {i} of {where}") for i, run in enumerate(document["runs"]))
    return StudyExport(spec=spec, runs=runs)


def import_study(
    document: Mapping[str, Any] | StudyExport, storage: Storage, *, name: str | None = None,
    where: str = "the export",
) -> ImportSummary:
    """Load an export into ``storage``: the study (created, or the stored one of that name
    if its spec is the same) and every run not stored yet, with its state, results and curve.

    Parameters
    ----------
    document : mapping or StudyExport
        What :func:`export_study` returned, or :func:`read_export` read and checked.
    storage : Storage
        Where to import; nothing already stored there is changed.
    name : str, optional
        Store the study under this name instead of the exported one (for a mapping).
    where : str
        How messages name the document (e.g. its file).

    Raises
    ------
    InputError
        The document is not a valid export, or a study of that name exists with another spec.
    """
    checked = (document if isinstance(document, StudyExport)
               else check_export(document, name=name, where=where))
    record = create_study(checked.spec, storage)
    inserted = storage.restore_runs(record.id, checked.runs)
    return ImportSummary(study=record.name, n_runs=len(checked.runs), n_imported=inserted,
                         n_already_stored=len(checked.runs) - inserted)
