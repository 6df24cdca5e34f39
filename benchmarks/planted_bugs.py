"""Plant issue 19's six realistic bugs one at a time and show which tests catch each.

Not part of CI (several minutes). For each bug a scratch copy of ``src/`` and ``tests/`` gets
one exact string replacement (it fails loudly when the pattern is not found exactly once: the
code has moved and the table below needs updating), the relevant test files run against that
copy, and the failing tests are listed. The same files are first run on an unmodified copy, so
a test that fails anyway is not counted as a catch. Exit status 1 when a planted bug is not
caught (or the unmodified copy fails), 0 otherwise.

Usage::

    nice -n 10 python benchmarks/planted_bugs.py            # all six, markdown table on stdout
    python benchmarks/planted_bugs.py --only median-to-mean  # one of them
    python benchmarks/planted_bugs.py --no-baseline          # skip the unmodified run
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@dataclass(frozen=True)
class Bug:
    """One planted bug: ``old`` -> ``new`` in ``path`` (under src/scalinglab), judged by ``tests``."""

    key: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


BUGS = (
    Bug("m3-floor", "M3 floor `g**(-c)` -> `g**c`", "laws/_alabdulmohsin.py",
        "b * g ** (-c)", "b * g ** c", ("tests/laws/test_law_contract.py",)),
    Bug("ensemble-z", "ensemble band's quantile at `level`, not `0.5 + level/2`", "fitting/_ensemble.py",
        "p = 0.5 + level / 2", "p = level", ("tests/fitting/test_coverage.py",)),
    Bug("frontier-swap", "model and data sizes swapped in the joint law's compute-optimal split",
        "fitting/_frontier.py", "else [data, model]", "else [model, data]", ("tests/analysis/test_analysis.py",)),
    Bug("metric-unescaped", "metric name unescaped in the report header", "report/_html.py",
        "<b>{_e(a.metric)}</b>", "<b>{a.metric}</b>",
        ("tests/report/test_report_page.py", "tests/report/test_report.py")),
    Bug("median-to-mean", "cell score median over seeds -> mean", "study/_cells.py",
        'grouped["score"].median()', 'grouped["score"].mean()',
        ("tests/study/test_aggregate.py", "tests/study/test_run.py")),
    Bug("t-at-level", "t quantile `0.5 + level/2` -> `level`", "fitting/_result.py",
        "stdtrit(dof, 0.5 + level / 2)", "stdtrit(dof, level)",
        ("tests/fitting/test_coverage.py", "tests/fitting/test_recovery.py")),
)


def copy_tree(dest: Path) -> Path:
    """A scratch copy of src/, tests/ and pyproject.toml (pytest's settings), with ``shared`` beside it."""
    tree = dest / "tree"
    for sub in ("src", "tests"):
        shutil.copytree(ROOT / sub, tree / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
    if SHARED.exists():  # the tests find the shared data beside the checkout's root
        (dest / "shared").symlink_to(SHARED)
    return tree


def plant(tree: Path, bug: Bug) -> None:
    """Apply ``bug`` to the copy; SystemExit naming the file when the pattern is not there once."""
    target = tree / "src" / "scalinglab" / bug.path
    text = target.read_text("utf-8")
    found = text.count(bug.old)
    if found != 1:
        raise SystemExit(f"planted bug {bug.key!r}: {bug.old!r} occurs {found} times in src/scalinglab/{bug.path} "
                         "(expected once): the code has moved; update BUGS in benchmarks/planted_bugs.py")
    target.write_text(text.replace(bug.old, bug.new), "utf-8")


def failing_tests(tree: Path, tests: tuple[str, ...]) -> tuple[list[str], int, str]:
    """Run ``tests`` in the copy: (failing test ids, tests run, pytest's summary line)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "--tb=no",
                           *tests], cwd=tree, env=env, capture_output=True, text=True, check=False)
    out = done.stdout
    failed = sorted({m.group(1) for m in re.finditer(r"^(?:FAILED|ERROR) (\S+)", out, re.MULTILINE)})
    summary = next((line.strip("= ") for line in reversed(out.splitlines()) if " in " in line), out[-200:])
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|errors?)", summary)}
    return failed, sum(counts.values()), summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=[b.key for b in BUGS], action="append", help="plant only these")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run on an unmodified copy")
    args = parser.parse_args(argv)
    bugs = [b for b in BUGS if not args.only or b.key in args.only]
    ok = True
    rows = []
    with tempfile.TemporaryDirectory(prefix="planted-bugs-") as scratch:
        if not args.no_baseline:
            clean = copy_tree(Path(scratch) / "clean")
            files = tuple(dict.fromkeys(t for b in bugs for t in b.tests))
            failed, run, summary = failing_tests(clean, files)
            print(f"unmodified copy: {summary}", file=sys.stderr, flush=True)
            if failed or run == 0:
                print(f"the unmodified copy fails: {', '.join(failed) or summary}", file=sys.stderr)
                return 1
        for bug in bugs:
            tree = copy_tree(Path(scratch) / bug.key)
            plant(tree, bug)
            failed, run, summary = failing_tests(tree, bug.tests)
            print(f"{bug.key}: {summary}", file=sys.stderr, flush=True)
            ok &= bool(failed)
            shown = ", ".join(f"`{t}`" for t in failed) if failed else "**not caught**"
            rows.append(f"| {bug.what} (`{bug.path}`) | {len(failed)} of {run} | {shown} |")
    print("| planted bug | failing tests | which |")
    print("|---|---|---|")
    print("\n".join(rows))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
