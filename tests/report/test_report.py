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
# A payload that changes the page if it is ever parsed as markup: a script and an image whose
# error handler both retitle the document, and a tag that would start bold text.
PAYLOAD = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\"><b>"
ESCAPED = "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;"


def _poison(obj, seen: set[int]):
    """A copy-in-place of ``obj`` with PAYLOAD prefixed to every string it holds.

    Walks dataclasses (frozen or not), tuples, lists, dict values, fit selections and the law
    objects (formula, name, parameter names), so a field added later is poisoned too.
    """
    import dataclasses

    from scalinglab.laws import Law

    if isinstance(obj, str):
        return PAYLOAD + obj
    if id(obj) in seen or isinstance(obj, np.ndarray | float | int | bool) or obj is None:
        return obj
    seen.add(id(obj))
    if isinstance(obj, Law):
        obj.formula = PAYLOAD + obj.formula
        obj.name = PAYLOAD + obj.name
        obj.params = tuple(dataclasses.replace(p, name=PAYLOAD + p.name) for p in obj.params)
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "observed" and isinstance(value, dict):  # keys are looked up: keep them
                new = value
            elif f.name == "fits" and isinstance(value, dict):  # keys are shown: poison them too
                new = {_poison(k, seen): _poison(v, seen) for k, v in value.items()}
            else:
                new = _poison(value, seen)
            object.__setattr__(obj, f.name, new)
        return obj
    if isinstance(obj, tuple | list):
        return type(obj)(_poison(v, seen) for v in obj)
    if isinstance(obj, dict):
        return {k: _poison(v, seen) for k, v in obj.items()}
    return obj


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory) -> Path:
    import copy
    import dataclasses

    from scalinglab.study import StudySpec

    law = Joint(eps0=0.9)
    truth = [0.5, 3.0, 0.6, 0.01, 0.2]
    # Through storage: the study name, the metric and a failed run's error come from the database.
    spec_fields = {
        "name": f"s{PAYLOAD}", "description": f"d{PAYLOAD}", "metric": f"m{PAYLOAD}",
        "task": f"evil{PAYLOAD}.module:function", "model": {"knob": f"k{PAYLOAD}", "sizes": [8, 16]},
        "train": {f"key{PAYLOAD}": f"value{PAYLOAD}", "notes": f"note{PAYLOAD}"},
    }
    curves = store_study(
        tmp_path_factory.mktemp("hostile") / "s.db", f"s{PAYLOAD}",
        np.round(64 * 2.0 ** np.arange(10)), np.array([8, 16, 32, 64.0]),
        lambda n, s: float(law.predict(np.array([[n, 100 * s]]), truth)[0]),
        n_params=lambda s: 100 * s, spec_extra={"metric": spec_fields["metric"]},
        failure=f"Traceback: boom{PAYLOAD}",
    )
    assert curves.metric == spec_fields["metric"]
    analysis = analyze(curves, eps0=0.9)
    # Then every string the analysis holds (notes, rules, law names and formulas, messages,
    # selections) gets the payload too, and one fit is marked unconverged so its message shows.
    poisoned = _poison(copy.deepcopy(analysis), set())
    lc = poisoned.learning_curve
    object.__setattr__(lc, "fit", dataclasses.replace(lc.fit, converged=False))
    spec = StudySpec.from_dict({
        "name": "plain", "task": "synthetic", "data": {"min_shard_size": 64, "max_shard_size": 1024},
        "model": {"sizes": [8, 16]},
    }).to_dict()
    spec.update(spec_fields)
    path = tmp_path_factory.mktemp("html") / "hostile.html"
    path.write_text(render_report(poisoned, spec), encoding="utf-8")
    return path


def test_every_field_is_escaped(hostile_file: Path):
    text = hostile_file.read_text()
    lowered = text.lower()
    assert "<script" not in lowered and "<img src=x" not in lowered and "onerror=\"" not in lowered
    assert text.count("<b>") == text.count("</b>")  # no unbalanced bold from a payload
    # Each field shows as text: the metric and title (header), the spec's fields, law formulas,
    # a fit's message, notes, the region rule.
    for shown in ("m" + ESCAPED, "s" + ESCAPED, "d" + ESCAPED, "k" + ESCAPED, "key" + ESCAPED,
                  "value" + ESCAPED, "note" + ESCAPED, "evil" + ESCAPED):
        assert shown in text, shown
    assert text.count(ESCAPED) >= 20
    assert "boom" not in text  # run errors are not part of the report


def test_hostile_report_is_inert_in_the_browser(hostile_file: Path, tmp_path: Path):
    result = _headless(["--dump-dom", hostile_file.as_uri()], tmp_path)
    dom = result.stdout.decode(errors="replace")
    assert "<h1>" in dom, result.stderr.decode(errors="replace")[-2000:]
    # Had any field been parsed as markup, its script or onerror handler would have run.
    assert "pwned</title>" not in dom and "<title>" in dom
    assert "<script" not in dom.lower() and "<img src=\"x\"" not in dom
    assert "&lt;script&gt;document.title" in dom


def test_numbers_that_are_not_finite_are_words():
    from scalinglab.report import format_number

    texts = [format_number(v) for v in (float("inf"), float("-inf"), float("nan"), None)]
    assert texts == ["not bounded by the data", "not bounded below by the data", "n/a", "n/a"]
    assert not any("inf" in t.lower() or "nan" in t.lower() for t in texts)
