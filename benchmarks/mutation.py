"""Mutation testing with mutmut, one module at a time, in a scratch copy of the tree.

Not part of CI: it takes tens of minutes per module. ``make mutation`` runs every module in
``[tool.scalinglab.mutation]`` of pyproject.toml; ``make mutation MODULES="laws report"`` runs
some. Each module gets its own scratch copy (``$MUTATION_DIR``, default
``/tmp/scalinglab-mutation/<module>``) holding ``src/``, ``tests/``, a ``pyproject.toml`` whose
``[tool.mutmut]`` table is the shared one plus that module's ``only_mutate`` and test files, and a
``shared`` link to the benchmark data. mutmut keeps its results in the copy's ``mutants/``, so an
interrupted run resumes where it stopped. The summary (killed / survived / other per module, and
every survivor's name) is printed and written to ``<scratch>/<module>/summary.json``.

Usage::

    nice -n 10 python benchmarks/mutation.py laws report --max-children 2
    python benchmarks/mutation.py --survivors laws   # after adding tests: re-test the survivors
    python benchmarks/mutation.py --survivors result --match Band --match _quantile  # only some
    python benchmarks/mutation.py --summary laws     # only report a finished run
    nice -n 10 python benchmarks/mutation.py report --sample 60   # a random sample, on a slow machine

mutmut keeps its verdicts while the judging test files change inside (``--survivors`` then
re-tests the survivors with the new tests), but a change to a module's list of judging files in
pyproject.toml changes mutmut's configuration and it starts the module again from scratch.

``--sample N`` tests N mutants drawn at random (``--seed``) from all of a module's mutants (those
already decided keep their verdict) and reports the sample's killed fraction with its 95%
Wilson interval: an unbiased estimate when the whole module does not fit in the time (a
partial run in file order is not one: it scores the first functions only). It needs the
mutants generated (one run without ``--sample``, interrupted or not).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _toml_value(value: object) -> str:
    """A TOML literal for the small values the mutmut table holds (str, bool, number, list)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _config() -> tuple[dict[str, object], dict[str, dict[str, list[str]]]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    base = dict(data["tool"]["mutmut"])
    modules = data["tool"]["scalinglab"]["mutation"]
    return base, modules


def prepare(module: str, scratch: Path) -> Path:
    """Copy the tree into ``scratch/module`` and write that module's mutmut table."""
    base, modules = _config()
    spec = modules[module]
    work = scratch / module
    work.mkdir(parents=True, exist_ok=True)
    for sub in ("src", "tests"):
        # copytree with dirs_exist_ok keeps mutants/ and refreshes the sources; mutmut notices
        # changed files by their mtime and regenerates their mutants.
        shutil.copytree(ROOT / sub, work / sub, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    table = {**base, "only_mutate": spec["only_mutate"], "pytest_add_cli_args_test_selection": spec["tests"]}
    # The project's own pyproject (pytest's settings) less its [tool.mutmut] table, then this module's.
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    start = text.index("[tool.mutmut]")
    end = text.index("\n[", start + 1)
    lines = ["[tool.mutmut]"] + [f"{key} = {_toml_value(value)}" for key, value in table.items()]
    (work / "pyproject.toml").write_text(text[:start] + text[end + 1:] + "\n" + "\n".join(lines) + "\n", "utf-8")
    # The tests find the shared data beside the checkout's root; inside mutants/ that root is `work`.
    link = work / "shared"
    if SHARED.exists() and not link.exists():
        link.symlink_to(SHARED)
    return work


KILLED = ("killed", "timeout", "caught by type check")


def verdicts(work: Path) -> dict[str, str]:
    """mutmut's verdict of every generated mutant of the copy ``work`` (``not checked`` too)."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=work,
                         capture_output=True, text=True, check=False).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    return found


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion k/n (95% by default)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def draw(names: list[str], size: int, seed: int) -> list[str]:
    """``size`` of ``names`` at random, the same ones for the same seed and names."""
    return sorted(random.Random(seed).sample(sorted(names), min(size, len(names))))


def summarise_sample(module: str, work: Path, sample: list[str]) -> dict[str, object]:
    """The killed fraction of a drawn sample of mutants, with its 95% interval."""
    found = verdicts(work)
    statuses = Counter(found.get(name, "not checked") for name in sample)
    decided = [n for n in sample if found.get(n, "not checked") not in ("not checked", "skipped")]
    killed = sum(1 for n in decided if found[n] in KILLED)
    low, high = wilson(killed, len(decided))
    summary = {
        "module": module, "sample": len(sample), "of": len(found), "counts": dict(statuses),
        "killed_fraction": killed / len(decided) if decided else None, "interval_95": [low, high],
        "survivors": sorted(n for n in decided if found[n] in ("survived", "no tests")),
    }
    (work / "sample.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return summary


def summarise(module: str, work: Path) -> dict[str, object]:
    """Count mutmut's verdicts for ``module`` and list the survivors."""
    found = verdicts(work)
    counts = Counter(found.values())
    scored = sum(counts.values()) - counts.get("not checked", 0) - counts.get("skipped", 0)
    killed = sum(counts.get(k, 0) for k in KILLED)
    summary = {
        "module": module,
        "counts": dict(counts),
        "killed_fraction": killed / scored if scored else None,
        "survivors": sorted(k for k, v in found.items() if v in ("survived", "no tests")),
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    _, modules = _config()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"modules to mutate (default all: {' '.join(modules)})")
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--summary", action="store_true", help="only summarise finished runs")
    parser.add_argument("--survivors", action="store_true",
                        help="re-test only the survivors of the last run (after adding tests)")
    parser.add_argument("--fresh", action="store_true",
                        help="forget earlier results (mutmut keeps 'no tests' verdicts when tests are added)")
    parser.add_argument("--match", action="append", default=[], metavar="TEXT",
                        help="with --survivors: re-test only the survivors whose name contains TEXT "
                             "(repeatable), e.g. the functions that just got tests")
    parser.add_argument("--sample", type=int, default=0, metavar="N",
                        help="test N mutants drawn at random and estimate the killed fraction")
    parser.add_argument("--seed", type=int, default=19, help="seed of the --sample draw")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in modules]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r}; choose from {', '.join(modules)}")
    scratch = Path(os.environ.get("MUTATION_DIR", "/tmp/scalinglab-mutation"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.setdefault("OMP_NUM_THREADS", "1")
    for module in args.modules or list(modules):
        if args.fresh and not args.summary:
            shutil.rmtree(scratch / module / "mutants", ignore_errors=True)
        work = prepare(module, scratch) if not args.summary else scratch / module
        if args.sample:
            _run_sample(module, work, args, env)
            continue
        if not args.summary:
            names: list[str] = []
            if args.survivors:
                names = list(summarise(module, work)["survivors"])  # type: ignore[arg-type]
                if args.match:
                    names = [n for n in names if any(text in n for text in args.match)]
                if not names:
                    print(f"{module}: no survivors to re-test", flush=True)
            if names or not args.survivors:
                subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children),
                                *names], cwd=work, env=env, check=False)
        summary = summarise(module, work)
        fraction = summary["killed_fraction"]
        shown = f"{fraction:.1%}" if isinstance(fraction, float) else "n/a"
        print(f"{module}: killed {shown} {summary['counts']}", flush=True)
        for name in summary["survivors"]:  # type: ignore[union-attr]
            print(f"    survived: {name}", flush=True)
    return 0


def _run_sample(module: str, work: Path, args: argparse.Namespace, env: dict[str, str]) -> None:
    found = verdicts(work)
    if not found:
        raise SystemExit(f"{module}: no mutants generated yet in {work}; run it once without --sample")
    sample = draw(list(found), args.sample, args.seed)
    if not args.summary:
        todo = [n for n in sample if found[n] == "not checked"]
        if args.survivors:
            todo += [n for n in sample if found[n] in ("survived", "no tests")]
        if todo:
            subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children),
                            *todo], cwd=work, env=env, check=False)
    summary = summarise_sample(module, work, sample)
    fraction, (low, high) = summary["killed_fraction"], summary["interval_95"]  # type: ignore[misc]
    shown = f"{fraction:.1%} [{low:.1%}, {high:.1%}]" if isinstance(fraction, float) else "n/a"
    print(f"{module}: sample of {summary['sample']} of {summary['of']} mutants: killed {shown} "
          f"{summary['counts']}", flush=True)
    for name in summary["survivors"]:  # type: ignore[union-attr]
        print(f"    survived: {name}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
