"""Property-based tests of the command line (issue 13, point 5).

Hypothesis drives ``scalinglab fit`` with generated CSVs (column names, NaN, inf, 0,
negative numbers, 1e300, duplicates, strings; 0-50 rows) and ``scalinglab run`` with
generated TOML specs. Whatever the input: the exit code is 0 or 2, nothing prints a
traceback, and an error writes no file. The examples run in-process through the same
``main()`` the console script calls (fast enough for hundreds of examples); a few
subprocess cases check the real process.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.cli._helpers import cli, fingerprint  # noqa: E402

N_EXAMPLES = 300


def run_main(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``scalinglab ARGV`` in this process; return (exit code, stdout, stderr)."""
    from scalinglab.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def scratch():
    folder = Path(tempfile.mkdtemp(prefix="scalinglab-prop-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- fit ---------------------------------------------------------------------------------------
_VALUES = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "0", "-1", "1e300", "-1e300", "1e-320", "", "abc",
                     "1,5", '"q"', "1e400", "True"]),
    st.floats(min_value=1e-3, max_value=1e6).map(lambda v: f"{v:.6g}"),
    st.integers(min_value=-5, max_value=10**7).map(str),
)
_COLUMN = st.sampled_from(["x", "y", "g", "y ", "X", "", "x,y"])


@st.composite
def csv_cases(draw):
    columns = draw(st.lists(_COLUMN, min_size=0, max_size=4))
    n_rows = draw(st.integers(min_value=0, max_value=50))
    duplicate = draw(st.booleans())
    rows = []
    for _ in range(n_rows):
        if duplicate and rows:
            rows.append(rows[-1])
        else:
            rows.append([draw(_VALUES) for _ in columns])
    text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in rows) if columns else ""
    if draw(st.booleans()) and n_rows >= 3 and {"x", "y"} <= set(columns):
        # A well-formed curve now and then, so that the success path is exercised too.
        ix, iy = columns.index("x"), columns.index("y")
        good = []
        for i in range(n_rows):
            row = ["1"] * len(columns)
            row[ix], row[iy] = str(100 * 2 ** (i % 12)), f"{0.5 * (1 + i % 12) ** -0.4 + 0.05:.6g}"
            good.append(row)
        text = ",".join(columns) + "\n" + "".join(",".join(r) + "\n" for r in good)
    law = draw(st.sampled_from(["power", "power_floor", "power_floor", "m3", "auto", "m4", "nope"]))
    options = []
    if law == "m4" or draw(st.booleans()):
        options += ["--eps0", draw(st.sampled_from(["0.1", "1", "0", "-1", "1e300", "nan"]))]
    if "g" in columns and draw(st.booleans()):
        options += ["--group", "g"]
    if draw(st.booleans()):
        options += ["--format", draw(st.sampled_from(["table", "json", "csv"]))]
    predict = draw(st.booleans())
    return text, law, options, predict


@settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(csv_cases())
def test_fit_never_crashes_and_an_error_writes_nothing(case):
    text, law, options, predict = case
    with scratch() as folder:
        (folder / "d.csv").write_text(text)
        argv = ["fit", "d.csv", "--x", "x", "--y", "y", "--law", law, *options]
        if predict:
            (folder / "p.csv").write_text("x,g\n12800,1\n")
            argv += ["--predict", "p.csv", "--out", "pred.csv"]
        before = fingerprint(folder)
        code, stdout, stderr = run_main(argv, folder)
        event(f"exit code {code}")
        assert code in (0, 2), (code, argv, text[:500], stderr)
        assert "Traceback" not in stdout + stderr
        if code == 2:
            assert fingerprint(folder) == before, argv
            lines = [line for line in stderr.splitlines() if line.strip()]
            assert lines and lines[-1].startswith(("error:", "Error:")), stderr
        if "json" in options and code == 0:
            from tests.cli._helpers import strict_loads

            strict_loads(stdout)


# -- run -----------------------------------------------------------------------------------------
_SCALARS = st.one_of(st.integers(min_value=-3, max_value=300), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=6), st.booleans(), st.just([]), st.just([1, "a"]))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


_FIELDS = [("", "name"), ("", "task"), ("", "seeds"), ("", "metric"), ("", "eps0"), ("", "nmae"),
           ("data", "shard_sizes"), ("data", "min_shard_size"), ("data", "max_shard_size"),
           ("data", "growth"), ("data", "growht"), ("data", "data_seed"), ("model", "sizes"),
           ("model", "size"), ("model", "knob"), ("train", "epochs"), ("train", "noise"),
           ("search", "method"), ("search", "samples"), ("search", "refine"),
           ("execution", "max_attempts"), ("execution", "heartbeat_s"), ("execution", "stale_after_s")]
_SPECIAL = {
    "task": st.sampled_from(["synthetic", "nope", "os:getcwd", "a.b:c", "", "sklearn_nope"]),
    "shard_sizes": st.lists(st.integers(min_value=-2, max_value=300), min_size=0, max_size=4),
    "sizes": st.lists(st.one_of(st.integers(min_value=-1, max_value=6), st.floats(min_value=0.5, max_value=8)),
                      min_size=0, max_size=3),
    "method": st.sampled_from(["grid", "hestness", "random"]),
}


@st.composite
def spec_cases(draw):
    """A valid small spec, then 0-2 fields replaced by generated values (or removed)."""
    tables: dict[str, dict] = {
        "": {"name": "p", "task": "synthetic", "seeds": 1},
        "data": {"shard_sizes": [64, 128, 256]},
        "model": {"sizes": [1, 2]},
        "train": {"epochs": 1},
        "search": {"method": "grid"},
        "execution": {},
    }
    for _ in range(draw(st.integers(0, 2))):
        table, key = draw(st.sampled_from(_FIELDS))
        if draw(st.integers(0, 4)) == 0:
            tables[table].pop(key, None)
        else:
            tables[table][key] = draw(_SPECIAL.get(key, _SCALARS))
    if "shard_sizes" in tables["data"] and len(tables["data"]) > 1 and draw(st.booleans()):
        del tables["data"]["shard_sizes"]
    lines = [f"{k} = {_toml_value(v)}" for k, v in tables[""].items()]
    for name in ("data", "model", "train", "search", "execution"):
        if name in ("data", "model") and not draw(st.integers(0, 19)):
            continue  # now and then a required table is missing
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in tables[name].items()]
    text = "\n".join(lines) + "\n"
    mangle = draw(st.integers(0, 29))
    if mangle == 0:
        text = text.replace("=", "", 1)  # not TOML
    elif mangle == 1:
        return text.encode() + b"\xff\xfe\x00", draw(st.booleans())  # binary bytes
    return text.encode(), draw(st.booleans())


@settings(max_examples=N_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(spec_cases())
def test_run_never_crashes_and_an_error_writes_nothing(case):
    data, as_json = case
    with scratch() as folder:
        (folder / "spec.toml").write_bytes(data)
        before = fingerprint(folder)
        argv = ["run", "spec.toml", "--workers", "0", "--no-progress", "--storage", "s.db"]
        if as_json:
            argv += ["--format", "json"]
        code, stdout, stderr = run_main(argv, folder)
        event(f"exit code {code}")
        assert "Traceback" not in stdout + stderr
        # 1 only for runs that FAILED (a valid spec whose metric the task does not report).
        assert code in (0, 2) or (code == 1 and "FAILED" in stderr), (code, data[:600], stderr)
        if code == 2:
            assert fingerprint(folder) == before, (data[:600], stderr)
            assert len([line for line in stderr.splitlines() if line.strip()]) == 1, stderr
        if code == 0:
            assert (folder / "s.db").exists()


# -- a few real processes ------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "",
    "x,y\n",
    "x,y\nnan,inf\n1e300,-1\nabc,0\n",
    "x,y\n100,1e300\n200,1e300\n400,1e300\n",
    "x,y\n100,0.5\n100,0.4\n100,0.3\n",
])
def test_fit_in_a_real_process(tmp_path, text):
    (tmp_path / "d.csv").write_text(text)
    before = fingerprint(tmp_path)
    out = cli("fit", "d.csv", "--x", "x", "--y", "y", "--predict", "d.csv", "--out", "o.csv", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize("data", [b"\x00\x01\xff", b"name = 1\n", b"[[[", b'name = "p"\ntask = "synthetic"\n'])
def test_run_in_a_real_process(tmp_path, data):
    (tmp_path / "spec.toml").write_bytes(data)
    before = fingerprint(tmp_path)
    out = cli("run", "spec.toml", "--workers", "0", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert fingerprint(tmp_path) == before
