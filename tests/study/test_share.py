"""Export and import of a study: a faithful, strict-JSON, idempotent round trip."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from scalinglab import InputError
from scalinglab.storage import RunState, open_storage
from scalinglab.study import (
    StudySpec,
    export_study,
    import_study,
    read_export,
    run_study,
    study_curves,
    write_export,
)


def _spec(name: str = "share", seeds: int = 2) -> StudySpec:
    return StudySpec.from_dict({
        "name": name, "task": "synthetic", "seeds": seeds,
        "data": {"min_shard_size": 64, "max_shard_size": 1024, "growth": 2.0},
        "model": {"sizes": [1, 2, 4, 8]},
        "train": {"epochs": 3, "noise": 0.05},
        "search": {"method": "grid"},
    })


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("share") / "source.db"
    run_study(_spec(), storage=path, workers=0, progress=False)
    return path


def _strict(text: str):
    def reject(constant: str):
        raise AssertionError(f"non-JSON constant {constant} in the export")

    return json.loads(text, parse_constant=reject)


def _runs_without_ids(storage, name):
    record = storage.get_study(name)
    out = []
    for run in storage.get_runs(record.id):
        entry = run.to_dict()
        del entry["id"], entry["study_id"]
        entry["curve"] = [p.to_dict() for p in storage.get_curve(run.id)]
        out.append(entry)
    return sorted(out, key=lambda r: (r["shard_index"], r["model_size"], r["seed"]))


def test_round_trip_is_faithful_and_idempotent(source, tmp_path):
    storage = open_storage(source)
    out = write_export(export_study("share", storage), tmp_path / "share.json")
    document = _strict(out.read_text())
    assert document["format"] == "scalinglab-study"
    assert len(document["runs"]) == storage.count_runs(storage.get_study("share").id)[
        RunState.COMPLETE] > 0
    assert all(run["curve"] for run in document["runs"])

    target = open_storage(tmp_path / "target.db")
    first = import_study(read_export(out), target)
    assert (first.n_imported, first.n_already_stored) == (len(document["runs"]), 0)
    assert _runs_without_ids(target, "share") == _runs_without_ids(storage, "share")
    again = import_study(read_export(out), target)
    assert (again.n_imported, again.n_already_stored) == (0, len(document["runs"]))
    assert _runs_without_ids(target, "share") == _runs_without_ids(storage, "share")
    a, b = study_curves("share", storage), study_curves("share", target)
    assert a.to_frame().equals(b.to_frame())


def test_unfinished_runs_come_back_waiting_and_non_finite_numbers_as_null(source, tmp_path):
    document = export_study("share", open_storage(source))
    running, complete = document["runs"][0], document["runs"][1]
    running.update(state="RUNNING", worker="elsewhere-1", finished_at=None)
    complete["curve"][0]["metrics"] = {"train_loss": math.nan}  # as a diverged step reports
    complete["score"] = math.inf
    path = write_export(document, tmp_path / "odd.json")  # must not raise on NaN / inf
    loaded = _strict(path.read_text())
    assert read_export(path).runs[1][0].score is None
    assert loaded["runs"][1]["curve"][0]["metrics"]["train_loss"] is None
    assert loaded["runs"][1]["score"] is None

    target = open_storage(tmp_path / "odd.db")
    import_study(loaded, target)
    runs = target.get_runs(target.get_study("share").id)
    by_key = {(r.shard_index, r.model_size, r.seed): r for r in runs}
    key = (running["shard_index"], float(running["model_size"]), running["seed"])
    assert by_key[key].state is RunState.WAITING and by_key[key].worker is None
    assert target.get_curve(by_key[key].id) == []
    key = (complete["shard_index"], float(complete["model_size"]), complete["seed"])
    assert math.isnan(target.get_curve(by_key[key].id)[0].metrics["train_loss"])
    assert by_key[key].score is None


def test_a_stored_study_with_another_spec_is_refused_and_left_alone(source, tmp_path):
    document = export_study("share", open_storage(source))
    target = tmp_path / "other.db"
    run_study(_spec(seeds=1), storage=target, workers=0, progress=False)
    storage = open_storage(target)
    before = _runs_without_ids(storage, "share")
    with pytest.raises(InputError, match=r"already exists.*different 'seeds'"):
        import_study(document, storage)
    assert _runs_without_ids(storage, "share") == before
    renamed = import_study(document, storage, name="share-copy")
    assert renamed.study == "share-copy" and renamed.n_imported == len(document["runs"])


@pytest.mark.parametrize("content, message", [
    (b"\x00\xff\xfe binary", "not UTF-8 text"),
    (b"{not json", "is not JSON"),
    (b'{"format": "something-else"}', "not a scalinglab study export"),
    (b'{"format": "scalinglab-study", "version": 99}', "'version' field"),
    (b'{"format": "scalinglab-study", "version": 1, "study": {"name": "x", "task": "synthetic",'
     b' "spec": {}}, "runs": [{"shard_index": "zero"}]}', "'shard_index' field of run 0"),
    (b'{"format": "scalinglab-study", "version": 1, "study": {"name": "x", "task": "synthetic",'
     b' "spec": {}}, "runs": []}', "spec in the export file"),
])
def test_cli_bad_export_is_one_line_and_creates_no_storage(tmp_path, content, message):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    db = tmp_path / "never.db"
    result = subprocess.run([sys.executable, "-m", "scalinglab", "import", str(bad),
                             "--storage", str(db)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert not db.exists()


def test_cli_export_then_import(source, tmp_path):
    out = tmp_path / "cli.json"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "scalinglab", *args], capture_output=True,
                              text=True, timeout=120)

    exported = cli("export", "share", "--storage", str(source), "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    missing = cli("export", "share", "--storage", str(source), "-o", str(tmp_path / "no" / "x.json"))
    assert missing.returncode == 2 and "existing directory" in missing.stderr
    imported = cli("import", str(out), "--storage", str(tmp_path / "new.db"), "--format", "json")
    assert imported.returncode == 0, imported.stderr
    summary = _strict(imported.stdout)
    assert summary["n_imported"] == summary["n_runs"] == len(_strict(out.read_text())["runs"])
