"""No output of any command holds Infinity or NaN, nor a plan band edge outside the range (issue 16).

Every study command, in every output format it offers (table, JSON, CSV; the HTML report
and the exported JSON), on two stored studies: a demo-like one (MNIST-1D-like errors
under eps0 = 0.9, widths whose best fit sits at the grid's edge, so checks fail and
numbers are not estimable) and a synthetic one run by the engine (2 seeds, a floor).
A value a number cannot give is written in words ("not estimable", "> X (the data do
not bound it)", "n/a"), never as ``inf``, ``Infinity`` or ``NaN``; a plan's band edges
lie inside its documented search range (``search_range``: the smallest shard / 10 to
1000 x the largest) or are open and say so.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scalinglab.cli import _analysis as cli_analysis
from scalinglab.cli import _register_commands, app, main
from tests.analysis.stored import store_study
from tests.cli._helpers import SEVEN_POINTS, cli, spec_text, strict_loads

#: ``inf``, ``-inf``, ``Infinity``, ``NaN`` as tokens (not inside words like "information").
NON_FINITE = re.compile(r"(?<![A-Za-z_])(?:[-+]?inf(?:inity)?|nan)(?![A-Za-z_])", re.IGNORECASE)


#: Variants of each command (after STUDY): data sizes and targets on both sides of the data,
#: above eps0 and below the floor, the joint law and the bootstrap method.
VARIANTS: dict[str, list[list[str]]] = {
    "status": [[]],
    "runs": [[], ["--state", "COMPLETE"]],
    "curve": [[], ["--cells"]],
    "analyze": [[], ["--size-tolerance", "0.01"]],
    "predict": [["--data-size", "1e6"], ["--data-size", "10"], ["--data-size", "1e30"],
                ["--data-size", "1e6", "--method", "bootstrap"],
                ["--data-size", "1e6", "--model-size", "1e5"]],
    "plan": [["--target-error", t] for t in ("0.5", "0.3", "0.2", "0.1", "0.05", "1e-9", "5")]
    + [["--target-error", "0.3", "--method", "bootstrap"], ["--compute", "1e12"]],
}
STUDY_COMMANDS = [*VARIANTS, "compare"]


def _formats(command: str) -> list[str]:
    """The output formats a command offers, read from its ``--format`` option."""
    _register_commands()
    params = {p.name: p for p in app.commands[command].params}
    choice = params["fmt"].type
    return list(choice.choices)  # type: ignore[attr-defined]


def _assert_finite_text(text: str, where: str) -> None:
    found = NON_FINITE.search(text)
    assert found is None, f"{where}: {found.group(0)!r} in ...{text[max(0, found.start() - 120):found.end() + 60]}..."


def _check_plan_json(doc: dict, where: str) -> None:
    lo_range, hi_range = doc["search_range"]
    lo, hi = doc["data_size_interval"]
    if doc["data_size"] is None:
        assert doc["reason"], f"{where}: no data size and no reason"
        return
    assert lo_range <= doc["data_size"] <= hi_range, where
    for edge, is_open, side in ((lo, doc["lower_open"], "lower"), (hi, doc["upper_open"], "upper")):
        if is_open:
            assert edge is None, f"{where}: an open {side} side has a number"
            assert "the data do not bound it" in doc["band"], f"{where}: open {side} side not in words"
        else:
            assert edge is not None and lo_range * (1 - 1e-9) <= edge <= hi_range * (1 + 1e-9), (
                f"{where}: {side} edge {edge} outside the search range [{lo_range}, {hi_range}]")


def _width_params(w: float) -> float:
    return 40 * w + w * w + 10 * w + 2 * w + 10  # the demo's 2-layer MLP


def _demo_error(n: float, w: float) -> float:
    # Falls from near eps0 = 0.9; wider is better, more so on larger shards (best at the edge).
    data = 0.1 + 0.8 / (1.0 + (n / 400.0) ** 0.6)
    return float(data * (1.0 + 0.15 * (n / 4096.0) ** 0.5 * (64.0 / w) ** 0.5))


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> Iterator[tuple[Path, list[str]]]:
    """The two studies, and the CLI's analysis memoised per argument list.

    Each command recomputes the analysis (bootstrap included); this test checks how every
    command and format *writes* it, so one analysis per study and options is enough.
    """
    folder = tmp_path_factory.mktemp("finite")
    db = folder / "scalinglab.db"
    shards = 128 * 2 ** np.arange(6)
    widths = [16.0, 32.0, 64.0, 128.0, 256.0]
    for name, shift in (("demo-like", 1.0), ("demo-like-b", 1.05)):
        spec = {"eps0": 0.9, "data": {"shard_sizes": [int(n) for n in shards]},
                "model": {"knob": "width", "sizes": widths}, "search": {"method": "grid"}}
        store_study(db, name, shards, np.array(widths),
                    lambda n, w, s=shift: s * _demo_error(n, w), n_params=_width_params,
                    seeds=(0, 1), noise=0.01, spec_extra=spec)
    (folder / "syn.toml").write_text(
        spec_text(name="syn", shards=6).replace("seeds = 1", "seeds = 2"))
    out = cli("run", "syn.toml", "--workers", "0", "--no-progress", cwd=folder)
    assert out.returncode == 0, out.stderr
    (folder / "seven.csv").write_text(SEVEN_POINTS)
    original = cli_analysis.load_analysis
    memo: dict[tuple[object, ...], object] = {}

    def load(*args: object) -> object:
        if args not in memo:
            memo[args] = original(*args)  # type: ignore[arg-type]
        return memo[args]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_analysis, "load_analysis", load)
        yield folder, ["demo-like", "syn"]


def _main(args: list[str]) -> tuple[int, str]:
    """Run the command line in this process as a user does; exit code and stdout + stderr."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
    return (0 if code is None else int(code)), out.getvalue() + err.getvalue()


def _invoke(folder: Path, args: list[str]) -> tuple[int, str]:
    return _main([*args, "--storage", str(folder / "scalinglab.db")])


@pytest.mark.parametrize("command", STUDY_COMMANDS)
def test_every_format_of_every_command_is_finite(studies, command):
    folder, names = studies
    for study in names:
        variants = [[f"{study}-b" if study == "demo-like" else study]] if command == "compare" \
            else VARIANTS[command]
        for variant in variants:
            for fmt in _formats(command):
                args = [command, study, *variant, "--format", fmt]
                code, text = _invoke(folder, args)
                where = " ".join(args)
                # 0, or 1 for a number that is not estimable: a reason, never a traceback.
                assert code in (0, 1), f"{where}: exit {code}\n{text[-1500:]}"
                assert "Traceback" not in text, where
                _assert_finite_text(text, where)
                if fmt == "json" and code == 0:
                    doc = strict_loads(text)
                    if command == "plan" and "--target-error" in variant:
                        _check_plan_json(doc, where)
                if fmt == "table" and command == "plan" and "--target-error" in variant and code == 0:
                    _, js = _invoke(folder, [*args[:-1], "json"])
                    doc = json.loads(js)
                    if doc["band"] is not None:
                        assert doc["band"] in text, f"{where}: the table does not show the band {doc['band']}"


def test_studies_fit_and_laws_outputs_are_finite(studies):
    folder, _ = studies
    for args in (["studies"], ["laws"], ["fit", str(folder / "seven.csv"), "--x", "x", "--y", "y"],
                 ["fit", str(folder / "seven.csv"), "--x", "x", "--y", "y", "--law", "power_floor"]):
        command = args[0]
        for fmt in _formats(command):
            extra = ["--storage", str(folder / "scalinglab.db")] if command == "studies" else []
            code, text = _main([*args, *extra, "--format", fmt])
            assert code == 0, (args, fmt, text[-1500:])
            _assert_finite_text(text, " ".join([*args, fmt]))


def _report_text(page: str) -> str:
    """The report's words and numbers: tags, scripts, styles and inline images removed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL | re.IGNORECASE)
    page = re.sub(r"data:[a-z/+]+;base64,[A-Za-z0-9+/=]+", " ", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_report_and_export_are_finite(studies):
    folder, names = studies
    for study in names:
        out = folder / f"{study}.html"
        code, text = _invoke(folder, ["report", study, "-o", str(out)])
        assert code == 0, text
        _assert_finite_text(text, f"report {study} (console)")
        _assert_finite_text(_report_text(out.read_text(encoding="utf-8")), f"report {study}")
        exported = folder / f"{study}.json"
        code, text = _invoke(folder, ["export", study, "-o", str(exported)])
        assert code == 0, text
        body = exported.read_text(encoding="utf-8")
        strict_loads(body)
        _assert_finite_text(body, f"export {study}")


def test_ensemble_note_and_json_reasons_say_it_in_words(studies):
    folder, _ = studies
    texts = [_invoke(folder, ["analyze", "demo-like", "--format", "json"])[1],
             _main(["laws", "--format", "json"])[1]]
    for text in texts:
        _assert_finite_text(text, "the ensemble note and strict-JSON reasons")


def test_the_checker_sees_what_it_must():
    # The token pattern catches each non-finite spelling and leaves words alone.
    for bad in ("inf", "-inf", "Infinity", "NaN", "[0.29, inf]", "nan%", "(stderr are nan)"):
        assert NON_FINITE.search(bad), bad
    for good in ("information", "infeasible", "nano", "finance", "n/a", "> 4.1e+06 (the data do not bound it)"):
        assert NON_FINITE.search(good) is None, good
    with pytest.raises(AssertionError, match="outside the search range"):
        _check_plan_json({"search_range": [10.0, 1e6], "data_size": 100.0, "data_size_interval": [1.7, 500.0],
                          "lower_open": False, "upper_open": False, "band": "[1.7, 500]", "reason": None}, "x")
    with pytest.raises(AssertionError, match="not in words"):
        _check_plan_json({"search_range": [10.0, 1e6], "data_size": 100.0, "data_size_interval": [20.0, None],
                          "lower_open": False, "upper_open": True, "band": "[20, ?]", "reason": None}, "x")


def test_a_resource_warning_does_not_reach_the_output(monkeypatch):
    """An unclosed handle collected during a command (CI saw a sqlite3 connection of an earlier
    in-process call) must not be printed into a JSON document's stream."""
    import warnings

    import scalinglab.laws as laws

    original = laws.get_law

    def leaky(*args, **kwargs):
        warnings.warn("unclosed database <sqlite3.Connection>", ResourceWarning, stacklevel=1)
        return original(*args, **kwargs)

    monkeypatch.setattr(laws, "get_law", leaky)
    code, text = _main(["laws", "--format", "json"])
    assert code == 0
    assert "unclosed" not in text and "warning" not in text
    assert strict_loads(text)
