"""The reproduction page states what the committed exports give (issue 17, done-when 1).

Two committed exports are imported with ``scalinglab import`` into fresh SQLite databases and
analysed with ``scalinglab analyze --format json``; two numbers the page states must come
out: beta_g of the Adam study and the joint backtest's mean relative error of the SGD study.
They are compared with the page's numbers file (``docs/reproduction/page.json``, written by
``docs/reproduction/make_page.py`` with the page) and looked up, as the page formats them, in
``docs/reproduction.md``. The test fails when an export changes (the analysis gives other
numbers), when the page or its numbers are edited by hand, or when the page is stale.

The analysis is deterministic (its bootstrap over runs is seeded with 0, the seed the command
line and the page use), so the tolerance only absorbs floating-point differences between
machines; it is below half the last digit the page prints (0.001 for beta_g, 0.1% for the
mean relative error).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NUMBERS = DOCS / "reproduction" / "page.json"
PAGE = DOCS / "reproduction.md"
TOLERANCE = 2e-4


@functools.cache
def _page_script() -> Any:
    """docs/reproduction/make_page.py, for the page's own number formats."""
    spec = importlib.util.spec_from_file_location("make_page", DOCS / "reproduction" / "make_page.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_page", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "scalinglab", *args], capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _import_and_analyze(study: str, tmp: Path) -> dict[str, Any]:
    """``scalinglab import`` of the committed export into a fresh database, then ``analyze --format json``."""
    db = tmp / f"{study}.db"
    assert not db.exists()
    _cli("import", str(DOCS / "reproduction" / f"{study}.json"), "--storage", str(db))
    return dict(json.loads(_cli("analyze", study, "--storage", str(db), "--format", "json")))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("reproduction")
    studies = ("mnist1d-mlp-adam", "mnist1d-mlp-sgd")
    with ThreadPoolExecutor(max_workers=2) as pool:  # two processes: the machine's 2 cores
        results = list(pool.map(lambda s: _import_and_analyze(s, tmp), studies))
    return dict(zip(studies, results, strict=True))


@pytest.fixture(scope="module")
def page() -> tuple[dict[str, Any], str]:
    return json.loads(NUMBERS.read_text(encoding="utf-8")), PAGE.read_text(encoding="utf-8")


def _section(text: str, study: str) -> str:
    """The page's section of one study (its heading to the next)."""
    start = text.index(f"## {study}: ")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_adam_beta_g_is_the_pages(fresh: dict[str, dict[str, Any]], page: tuple[dict[str, Any], str]) -> None:
    numbers, text = page
    got = fresh["mnist1d-mlp-adam"]
    stated = numbers["studies"]["mnist1d-mlp-adam"]["analysis"]["headline"]
    assert got["headline"]["beta_g"] == pytest.approx(stated["beta_g"], abs=TOLERANCE)
    for cli, ours in zip(got["headline"]["beta_g_interval"], stated["beta_g_interval"], strict=True):
        assert cli == pytest.approx(ours, abs=TOLERANCE)
    # The page prints what the command line gives, in the page's own format.
    assert f"beta_g = {_page_script().beta_g_text(got)}**" in _section(text, "mnist1d-mlp-adam")
    assert numbers["seed"] == 0 and got["bootstrap"]["seed"] == 0


def test_sgd_joint_backtest_mean_is_the_pages(fresh: dict[str, dict[str, Any]],
                                              page: tuple[dict[str, Any], str]) -> None:
    numbers, text = page
    got = fresh["mnist1d-mlp-sgd"]["joint_backtest"]
    stated = numbers["studies"]["mnist1d-mlp-sgd"]["analysis"]["joint_backtest"]
    assert got["mean_relative_error"] is not None
    assert got["mean_relative_error"] == pytest.approx(stated["mean_relative_error"], abs=TOLERANCE)
    assert (got["n_train"], got["n_cells"]) == (stated["n_train"], stated["n_cells"])
    assert f"backtest** from n <= N/8 and m <= M/16: {_page_script().joint_mean_text(got)} +-" in _section(
        text, "mnist1d-mlp-sgd")
