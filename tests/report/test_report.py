"""The HTML report: self-contained, escaped, and rendered by a real headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from scalinglab.analysis import analyze
from scalinglab.laws import Joint
from scalinglab.report import (
    BacktestDisplay,
    JointBacktestDisplay,
    JointDisplay,
    LearningCurveDisplay,
    ModelSizeDisplay,
    figure_bytes,
    render_report,
)
from tests.analysis.stored import store_study
from tests.report._hostile import ESCAPED, hostile_analysis, poisoned

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    law = Joint(eps0=0.9)
    truth = [0.5, 3.0, 0.6, 0.01, 0.2]
    curves = store_study(
        tmp_path_factory.mktemp("report") / "s.db", f"study{HOSTILE}",
        np.round(64 * 2.0 ** np.arange(10)), np.array([1, 2, 4, 8, 16, 32, 64.0]),
        lambda n, s: float(law.predict(np.array([[n, 100 * s]]), truth)[0]),
        n_params=lambda s: 100 * s * (1 + 0.0 * s),
    )
    return analyze(curves, eps0=0.9)


@pytest.fixture(scope="module")
def report_file(analysis, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_report(analysis, {"name": f"x{HOSTILE}", "note": "<b>bold?</b>"}), encoding="utf-8")
    return path


def test_report_is_self_contained_and_escaped(report_file: Path):
    text = report_file.read_text()
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "&lt;b&gt;bold?&lt;/b&gt;" in text
    # No network: every image is inline, nothing is fetched.
    assert "http://" not in text and "https://" not in text
    assert text.count("data:image/png;base64,") == 5


@pytest.mark.parametrize("display", [LearningCurveDisplay, ModelSizeDisplay, JointDisplay, JointBacktestDisplay,
                                     BacktestDisplay])
def test_displays_draw_png_and_svg(analysis, display):
    import io

    import matplotlib.image as mpimg

    d = display.from_analysis(analysis)
    png = figure_bytes(d, "png")
    pixels = mpimg.imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (484, 704)  # 6.4 x 4.4 inches at 110 dpi
    assert pixels[..., :3].std() > 0.05, "blank figure"
    svg = figure_bytes(d, "svg").decode()
    assert "<svg" in svg[:2000] and svg.count("<path") > 10
    # What is drawn is the analysis's data, on log axes.
    ax = d.ax_
    assert d.figure_ is ax.figure and ax.get_xscale() == "log" and ax.get_yscale() == "log"
    points = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    a = analysis
    expected = {
        LearningCurveDisplay: np.column_stack([a.learning_curve.shard_size, a.learning_curve.error]),
        ModelSizeDisplay: np.column_stack([a.model_size.shard_size, a.model_size.n_params]),
        JointDisplay: np.column_stack([a.cells["shard_size"], a.cells["score"]]),
        JointBacktestDisplay: np.array([[c["observed"], c["predicted"]] for c in a.joint.backtest.cells]),
        BacktestDisplay: None,
    }[display]
    if expected is None:
        bt = a.backtest
        xs = np.concatenate([line.get_xdata() for line in ax.lines])
        assert np.all(np.isin(bt.observed, xs))
    else:
        for row in expected:
            assert np.any(np.all(np.isclose(points, row, rtol=1e-9), axis=1)), row


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (make test installs Debian's chromium where it can)")


def _headless(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, timeout=120, check=False,
    )


def test_report_renders_in_headless_chromium(report_file: Path, tmp_path: Path):
    shot = tmp_path / "shot.png"
    result = _headless(["--window-size=1200,1600", f"--screenshot={shot}", report_file.as_uri()], tmp_path)
    assert shot.exists(), result.stderr.decode(errors="replace")[-2000:]
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.std() > 0.05, "the screenshot is blank"
    # The fitted curve's colour (#4C72B0) only exists inside the inline figures: if it is on
    # screen, the images loaded and were drawn.
    target = np.array([0x4C, 0x72, 0xB0]) / 255
    close = np.all(np.abs(pixels - target) < 0.04, axis=-1)
    assert close.sum() > 200, "the inline figures did not render"


def test_hostile_text_shows_as_text_in_the_browser(report_file: Path, tmp_path: Path):
    result = _headless(["--dump-dom", report_file.as_uri()], tmp_path)
    dom = result.stdout.decode(errors="replace")
    assert "<h1>" in dom
    assert "&lt;script&gt;alert" in dom
    assert "<script>alert" not in dom


# -- hostile text in every field ------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory) -> Path:
    """The real page (figures drawn) of the hostile study; its text is checked in test_report_page.py."""
    bad, spec = poisoned(hostile_analysis())
    path = tmp_path_factory.mktemp("html") / "hostile.html"
    path.write_text(render_report(bad, spec), encoding="utf-8")
    assert path.read_text(encoding="utf-8").count(ESCAPED) >= 20
    return path


def test_hostile_report_is_inert_in_the_browser(hostile_file: Path, tmp_path: Path):
    result = _headless(["--dump-dom", hostile_file.as_uri()], tmp_path)
    dom = result.stdout.decode(errors="replace")
    assert "<h1>" in dom, result.stderr.decode(errors="replace")[-2000:]
    # Had any field been parsed as markup, its script or onerror handler would have run.
    assert "pwned</title>" not in dom and "<title>" in dom
    assert "<script" not in dom.lower() and "<img src=\"x\"" not in dom
    assert "&lt;script&gt;document.title" in dom


def test_joint_backtest_figure_without_finite_bands_says_so(analysis):
    """No finite band is not 0% coverage (the charlm and CNN figures said '0% in 90% bands')."""
    import dataclasses

    from scalinglab.analysis import joint_backtest

    n = np.repeat(2.0 ** np.arange(7, 15), 4)
    m = np.tile([1e3, 4e3, 16e3, 256e3], 8)
    jb = joint_backtest(n, m, 0.5 * n**-0.3, 0.9)  # depends on n only: a singular small-cell fit
    assert jb.coverage is None
    banded = dataclasses.replace(analysis, joint=dataclasses.replace(analysis.joint, backtest=jb))
    title = JointBacktestDisplay.from_analysis(banded).plot().ax_.get_title()
    assert "no finite 90% bands" in title and "0% in" not in title
    title = JointBacktestDisplay.from_analysis(analysis).plot().ax_.get_title()
    assert f"{100 * analysis.joint.backtest.coverage:.0f}% in 90% bands" in title
