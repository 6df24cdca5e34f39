"""Issue 13: no lost results, no orphans, no tracebacks, a consistent CLI.

Each test reproduces one item of the issue through the command line in a subprocess, as a
user runs it, and asserts the exit code, a one-line stderr without a traceback and that the
stored data are unchanged. Every one of them failed on b812b52.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.cli._helpers import (
    cli,
    fingerprint,
    one_line_error,
    popen,
    run_states,
    spec_text,
    strict_loads,
)

SEVEN = "x,y\n100,0.5\n200,0.4\n400,0.33\n800,0.28\n1600,0.25\n3200,0.23\n6400,0.22\n"


def _wait_for(condition, timeout: float = 120.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _complete(db: Path) -> int:
    try:
        return run_states(db).get("COMPLETE", 0)
    except sqlite3.Error:
        return 0


# -- data and processes ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("how", ["delete", "replace"])
def test_deleting_or_replacing_the_database_stops_the_run(tmp_path, how):
    (tmp_path / "del.toml").write_text(spec_text(name="del", epochs=20, sleep_s=0.05, shards=6))
    db = tmp_path / "scalinglab.db"
    process = popen("run", "del.toml", "--workers", "2", "--no-progress", cwd=tmp_path)
    try:
        _wait_for(lambda: _complete(db) >= 1, what="a completed run")
        if how == "delete":
            for p in tmp_path.glob("scalinglab.db*"):
                p.unlink()
        else:
            other = tmp_path / "other.db"
            other.write_bytes(b"")
            os.replace(other, db)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    line = one_line_error((process.returncode, stdout, stderr), 1)
    assert ("deleted" if how == "delete" else "replaced") in line
    assert "runs complete" not in stdout  # nothing reported as stored


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies (exited, not yet reaped by their parent) still count for killpg.
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path, signum, code):
    (tmp_path / "term.toml").write_text(spec_text(name="term", epochs=20, sleep_s=0.05, shards=6))
    db = tmp_path / "scalinglab.db"
    process = popen("run", "term.toml", "--workers", "2", "--no-progress", cwd=tmp_path)
    try:
        _wait_for(lambda: _complete(db) >= 1, what="a completed run")
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    line = one_line_error((process.returncode, stdout, stderr), code)
    assert "Resume with: scalinglab run term.toml" in line
    states = run_states(db)
    assert states.get("RUNNING", 0) == 0 and states.get("WAITING", 0) > 0
    # No process of the study (its session's process group: the workers too) 10 s later.
    _wait_for(lambda: not _group_alive(process.pid), timeout=10, what="the workers to exit")


def _holders(path: Path) -> list[int]:
    """Processes with ``path`` (or its -wal/-shm files) open, from /proc/<pid>/fd."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) in names for fd in (proc / "fd").iterdir()):
                pids.append(int(proc.name))
        except OSError:  # gone, or not ours to read
            continue
    return pids


@pytest.mark.slow
def test_workers_exit_when_the_study_process_is_killed(tmp_path):
    (tmp_path / "k.toml").write_text(spec_text(name="k", epochs=20, sleep_s=0.05, shards=6))
    db = tmp_path / "scalinglab.db"
    process = popen("run", "k.toml", "--workers", "2", "--no-progress", cwd=tmp_path)
    try:
        _wait_for(lambda: _complete(db) >= 1, what="a completed run")
        os.kill(process.pid, signal.SIGKILL)  # the parent only: the workers must notice
        process.communicate(timeout=30)
        _wait_for(lambda: not _group_alive(process.pid), timeout=10, what="orphaned workers to exit")
    finally:
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
    # Nobody claims runs any more: no process (in the group or out of it) holds the database
    # open, so none can write to it; then the count stays.
    done = run_states(db).get("COMPLETE", 0)
    _wait_for(lambda: not _holders(db), timeout=10, what="every process to close the database")
    assert run_states(db).get("COMPLETE", 0) == done


@pytest.mark.slow
def test_a_study_whose_runs_all_fail_exits_1_and_stops_early(tmp_path):
    (tmp_path / "typo.toml").write_text(spec_text(name="typo", metric="val_eror", shards=6))
    out = cli("run", "typo.toml", "--workers", "0", "--no-progress", cwd=tmp_path)
    line = one_line_error(out, 1)
    assert "Stopped early: the first 3 runs all failed with the same error" in line
    assert "val_eror" in line and "scalinglab runs typo --state FAILED" in line
    states = run_states(tmp_path / "scalinglab.db")
    assert states["FAILED"] == 3 and states["WAITING"] == 18 - 3  # the rest were not burned
    status = cli("status", "typo", cwd=tmp_path)
    assert "(not complete)" in status.stdout
    before = fingerprint(tmp_path)
    for command in (["analyze", "typo"], ["predict", "typo", "--data-size", "1e5"],
                    ["plan", "typo", "--target-error", "0.1"], ["report", "typo"],
                    ["plot", "typo", "-o", "p.png"], ["curve", "typo"]):
        line = one_line_error(cli(*command, cwd=tmp_path), 2)
        assert "no completed run" in line and "--state FAILED" in line
    assert fingerprint(tmp_path) == before


@pytest.mark.slow
def test_failed_runs_make_run_exit_1_with_a_summary(tmp_path):
    text = spec_text(name="some", shards=4).replace(
        "[search]", "fail_when = [{model_size = 4}]\n[search]")
    (tmp_path / "some.toml").write_text(text)
    out = cli("run", "some.toml", "--workers", "0", "--no-progress", "--format", "json", cwd=tmp_path)
    line = one_line_error(out, 1)
    assert line.startswith("4 of 12 runs FAILED; the most common error (1 run): RuntimeError: synthetic failure")
    assert line.endswith("see them with: scalinglab runs some --state FAILED")
    summary = strict_loads(out.stdout)
    assert summary["n_complete"] == 8 and summary["n_failed"] == 4
    again = cli("run", "some.toml", "--workers", "0", "--no-progress", cwd=tmp_path)
    assert again.returncode == 1  # resuming a study with FAILED runs still says so


def test_studies_on_an_empty_or_foreign_file_changes_nothing(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    (tmp_path / "victim.csv").write_text("a,b\n1,2\n")
    before = fingerprint(tmp_path)
    for args in (["studies", "--storage", "empty.db"], ["studies", "--storage", "victim.csv"],
                 ["status", "x", "--storage", "victim.csv"], ["runs", "x", "--storage", "empty.db"]):
        line = one_line_error(cli(*args, cwd=tmp_path), 2)
        assert "unchanged" in line
    (tmp_path / "s.toml").write_text(spec_text())
    line = one_line_error(cli("run", "s.toml", "--storage", "victim.csv", cwd=tmp_path), 2)
    assert "not a SQLite database" in line
    after = fingerprint(tmp_path)
    del after["s.toml"]
    assert after == before


# -- one line instead of a traceback ---------------------------------------------------------
def test_run_on_a_read_only_database_is_one_line_exit_1(tmp_path, done_study):
    shutil.copy(done_study / "scalinglab.db", tmp_path / "ro.db")
    (tmp_path / "s.toml").write_text(spec_text(name="other"))
    before = fingerprint(tmp_path)
    url = f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true"
    line = one_line_error(cli("run", "s.toml", "--storage", url, "--workers", "0", cwd=tmp_path), 1)
    assert "read-only" in line
    after = fingerprint(tmp_path)
    # SQLite's WAL sidecars (-shm, -wal) may appear on reading; the database is unchanged.
    assert {k: v for k, v in after.items() if not k.endswith(("-shm", "-wal"))} == before


def test_a_spec_with_binary_bytes_is_one_line(tmp_path):
    (tmp_path / "bin.toml").write_bytes(bytes(range(256)))
    line = one_line_error(cli("run", "bin.toml", cwd=tmp_path), 2)
    assert "not a UTF-8 text file" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin.toml"]


def test_init_into_a_missing_directory_is_one_line(tmp_path):
    line = one_line_error(cli("init", "--task", "synthetic", str(tmp_path / "no" / "x.toml"),
                              cwd=tmp_path), 2)
    assert "does not exist" in line
    assert list(tmp_path.iterdir()) == []


def test_fit_checks_the_out_path_before_fitting(tmp_path):
    (tmp_path / "d.csv").write_text(SEVEN)
    (tmp_path / "p.csv").write_text("x\n12800\n")
    before = fingerprint(tmp_path)
    out = cli("fit", "d.csv", "--x", "x", "--y", "y", "--predict", "p.csv", "--out",
              str(tmp_path / "no" / "p.csv"), cwd=tmp_path)
    line = one_line_error(out, 2)
    assert "'--out' file" in line and "does not exist" in line
    assert out.stdout == ""  # no fit was printed: it failed before fitting
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize("law", ["auto", "power_floor"])
def test_fit_on_huge_values_is_one_line(tmp_path, law):
    (tmp_path / "big.csv").write_text(
        "x,y\n" + "".join(f"{100 * 2**i},{5e300 / (1 + i)}\n" for i in range(7)))
    line = one_line_error(cli("fit", "big.csv", "--x", "x", "--y", "y", "--law", law, cwd=tmp_path), 2)
    assert "must be in [1e-150, 1e+150]" in line and "rescale" in line


def test_no_runtime_warning_leaks(done_study, tmp_path):
    # On b812b52 this fit printed numpy's "RuntimeWarning: divide by zero encountered".
    (tmp_path / "tiny.csv").write_text("x,y\n" + "".join(f"{2**i},1e-{300 + i}\n" for i in range(7)))
    out = cli("fit", "tiny.csv", "--x", "x", "--y", "y", cwd=tmp_path)
    assert out.returncode in (0, 2) and "Traceback" not in out.stderr
    assert "RuntimeWarning" not in out.stderr, out.stderr
    for args in (["plan", "done", "--compute", "1e12", "--eps0", "2"],
                 ["predict", "done", "--data-size", "1e30"], ["analyze", "done", "--eps0", "2"]):
        out = cli(*args, cwd=done_study)
        assert out.returncode == 0, out.stderr
        assert "Warning" not in out.stderr and "Traceback" not in out.stderr, out.stderr


# -- wrong answers given as valid ------------------------------------------------------------
def test_fit_on_one_distinct_x_is_refused(tmp_path):
    (tmp_path / "one.csv").write_text("x,y\n" + "".join(f"100,{0.5 - 0.03 * i}\n" for i in range(7)))
    line = one_line_error(cli("fit", "one.csv", "--x", "x", "--y", "y", cwd=tmp_path), 2)
    assert "at least 3 distinct values" in line


def test_fit_with_eps0_below_the_data_is_refused(tmp_path):
    (tmp_path / "d.csv").write_text(SEVEN)
    line = one_line_error(cli("fit", "d.csv", "--x", "x", "--y", "y", "--law", "m4", "--eps0", "0.1",
                              cwd=tmp_path), 2)
    assert "'eps0'" in line and "must be above the data" in line and "from 0.22 to 0.5" in line


def test_a_singular_covariance_says_so_instead_of_zero_width_intervals(tmp_path):
    from scalinglab.fitting import fit_law

    x = [100, 200, 400, 800, 1600, 3200, 6400]
    fit = fit_law("power_floor", x, [0.3] * 7)  # flat: the power term is not determined
    assert any("covariance is singular" in note for note in fit.notes)
    widths = [hi - lo for lo, hi in fit.intervals(0.9).values()]
    assert not any(w == 0 for w in widths)  # never a zero-width interval presented as certain
    (tmp_path / "flat.csv").write_text("x,y\n" + "".join(f"{v},0.3\n" for v in x))
    out = cli("fit", "flat.csv", "--x", "x", "--y", "y", "--law", "power_floor", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "[n/a]" in out.stdout and "singular" in out.stdout


def test_laws_and_predict_json_are_strict_json(done_study):
    laws = strict_loads(cli("laws", "--format", "json", cwd=done_study).stdout)
    power = next(d for d in laws if d["name"] == "m4")
    bounds = [p for p in power["params"] if p["upper"] is None]
    assert bounds and all("unbounded" in p["upper_reason"] for p in bounds)
    out = cli("predict", "done", "--data-size", "1e9", "--format", "json", cwd=done_study)
    assert out.returncode == 0, out.stderr
    strict_loads(out.stdout)


def test_fit_auto_shows_members_weights_and_the_extrapolation(tmp_path):
    (tmp_path / "d.csv").write_text(SEVEN)
    out = cli("fit", "d.csv", "--x", "x", "--y", "y", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "nan" not in text.lower()
    assert "weight 0.25" in text and "(2x)" in text and "(10x)" in text
    doc = strict_loads(cli("fit", "d.csv", "--x", "x", "--y", "y", "--format", "json", cwd=tmp_path).stdout)
    ext = doc["fits"][0]["extrapolation"]
    assert [e["x"] for e in ext] == [12800.0, 64000.0]
    assert all(e["lower"] < e["value"] < e["upper"] for e in ext)
    csv = pd.read_csv(io.StringIO(cli("fit", "d.csv", "--x", "x", "--y", "y", "--format", "csv",
                                      cwd=tmp_path).stdout))
    assert csv.loc[0, "m4.weight"] == pytest.approx(0.25)
    assert csv.loc[0, "pred_10x_lower"] < csv.loc[0, "pred_10x"] < csv.loc[0, "pred_10x_upper"]
    assert not csv.drop(columns=["error"]).isna().any(axis=None)  # no column of nan


# -- security --------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "postgresql+psycopg://u@127.0.0.1:1/db?password=S3cretQuery",
    "postgresql+psycopg://u:S3cretQuery@127.0.0.1:1/db",
    "postgresql+psycopg://127.0.0.1:1/db?user=u&password=S3cretQuery&sslmode=disable",
])
def test_password_in_any_url_form_is_masked(tmp_path, url):
    pytest.importorskip("psycopg")
    (tmp_path / "s.toml").write_text(spec_text())
    for args in (["run", "s.toml", "--storage", url, "--workers", "0"], ["studies", "--storage", url]):
        out = cli(*args, cwd=tmp_path)
        assert out.returncode != 0
        assert "S3cretQuery" not in out.stdout + out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_mask_credentials_covers_every_form():
    from scalinglab.storage import RDBStorage, mask_credentials, mask_url

    cases = {
        "postgresql+psycopg://u:p%40ss@h/db": "postgresql+psycopg://u:***@h/db",
        "postgresql://u:pa@ss@h:5432/db": "postgresql://u:***@h:5432/db",
        "postgresql+psycopg://u@h/db?password=S&sslmode=require": "postgresql+psycopg://u@h/db?password=***&sslmode=require",
        "host=h dbname=d password=S user=u": "host=h dbname=d password=*** user=u",
        "dsn='host=h password='two words''": "dsn='host=h password=***",
    }
    for text, masked in cases.items():
        assert mask_credentials(text).startswith(masked), text
    assert "S3" not in mask_url("postgresql+psycopg://u@h/db?password=S3")
    store = RDBStorage("sqlite://")
    assert store.url == "sqlite://"


# -- consistency -----------------------------------------------------------------------------
def test_every_listing_takes_format_table_json_csv(done_study):
    for command in (["studies"], ["runs", "done"], ["curve", "done"], ["laws"]):
        for fmt in ("table", "json", "csv"):
            out = cli(*command, "--format", fmt, cwd=done_study)
            assert out.returncode == 0, (command, fmt, out.stderr)
            if fmt == "json":
                strict_loads(out.stdout)
            if fmt == "csv":
                assert len(pd.read_csv(io.StringIO(out.stdout))) >= 1
    for command in (["status", "done"], ["analyze", "done"], ["predict", "done", "--data-size", "1e4"]):
        for fmt in ("table", "json"):
            out = cli(*command, "--format", fmt, cwd=done_study)
            assert out.returncode == 0, (command, fmt, out.stderr)
        assert cli(*command, "--format", "csv", cwd=done_study).returncode == 2
    run_help = cli("run", "--help", cwd=done_study).stdout
    assert "--format [table|json]" in run_help


def test_status_elapsed_curve_cells_and_integer_sizes(done_study):
    status = strict_loads(cli("status", "done", "--format", "json", cwd=done_study).stdout)
    assert status["elapsed_s"] > 0 and status["complete"]
    cells = strict_loads(cli("curve", "done", "--cells", "--format", "json", cwd=done_study).stdout)
    assert "shards" not in cells and len(cells["cells"]) == 18
    assert all(isinstance(c["model_size"], int) for c in cells["cells"])
    csv = cli("runs", "done", "--format", "csv", cwd=done_study).stdout
    sizes = pd.read_csv(io.StringIO(csv))["model_size"]
    assert set(sizes) == {1, 2, 4} and ",4.0," not in csv
    table = cli("curve", "done", "--cells", cwd=done_study).stdout
    assert " 4.0 " not in table


def test_fit_predict_without_out_keeps_stdout_a_csv_and_warns_for_unfitted_groups(tmp_path):
    rows = "".join(f"{g},{100 * 2**i},{0.5 / (1 + i) ** 0.5 + 0.1}\n" for g in ("a", "b") for i in range(7))
    (tmp_path / "d.csv").write_text("g,x,y\n" + rows)
    (tmp_path / "p.csv").write_text("g,x\na,12800\nzz,12800\n")
    out = cli("fit", "d.csv", "--x", "x", "--y", "y", "--group", "g", "--law", "power_floor",
              "--predict", "p.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(io.StringIO(out.stdout))
    assert list(frame.columns) == ["g", "x", "pred", "pred_lower", "pred_upper"] and len(frame) == 2
    assert "1 of 2 prediction rows belong to groups that were not fitted" in out.stderr
    assert "scalinglab fit" in out.stderr  # the fit table went to stderr
    out = cli("fit", "d.csv", "--x", "x", "--y", "y", "--group", "g", "--predict", "p.csv",
              "--format", "json", cwd=tmp_path)
    assert "pass --out" in one_line_error(out, 2)


def test_piped_run_prints_a_plain_progress_line(tmp_path, capfd):
    from scalinglab.study import run_study

    (tmp_path / "s.toml").write_text(spec_text(name="piped", epochs=5, sleep_s=0.02, shards=4))
    summary = run_study(tmp_path / "s.toml", workers=1, progress=True, progress_interval_s=0.3)
    assert summary.n_complete == 12
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "runs done" in line]
    assert lines, err
    assert all("failed" in line and "running" in line and "ETA" in line for line in lines)
