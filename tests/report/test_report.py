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
    JointDisplay,
    LearningCurveDisplay,
    ModelSizeDisplay,
    figure_bytes,
    render_report,
)
from tests.analysis.stored import store_study

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    law = Joint(eps0=0.9)
    truth = [0.5, 3.0, 0.6, 0.01, 0.2]
    curves = store_study(
        tmp_path_factory.mktemp("report") / "s.db", f"study{HOSTILE}",
        np.round(64 * 2.0 ** np.arange(10)), np.array([8, 16, 32, 64.0]),
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
    assert text.count("data:image/png;base64,") == 4


@pytest.mark.parametrize("display", [LearningCurveDisplay, ModelSizeDisplay, JointDisplay, BacktestDisplay])
def test_displays_draw_png_and_svg(analysis, display):
    d = display.from_analysis(analysis)
    assert figure_bytes(d, "png").startswith(b"\x89PNG")
    assert b"<svg" in figure_bytes(d, "svg")[:2000]
    assert d.ax_ is not None and d.figure_ is not None


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
