"""The HTML report: self-contained, escaped, and rendered by a real headless Chromium."""

from __future__ import annotations

import json
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


# -- what the page says, field by field ------------------------------------------------------
def _page(text: str) -> dict:
    """The report's parts as text: title, headings, cards, tables, sub-lines, notes, spec, alts."""
    from html.parser import HTMLParser

    class Parts(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.out: dict = {"title": "", "h1": [], "h2": [], "h3": [], "cards": [], "tables": [],
                              "sub": [], "note": [], "pre": [], "alts": [], "footer": [], "stray": []}
            self.stack: list[tuple[str, str]] = []
            self.buffer: list[str] = []

        def handle_starttag(self, tag, attrs):
            cls = dict(attrs).get("class") or ""
            if tag == "img":
                self.out["alts"].append(dict(attrs)["alt"])
                return
            if tag == "div" and cls == "card":
                self.out["cards"].append([])
            if tag == "table":
                self.out["tables"].append([])
            if tag == "tr":
                self.out["tables"][-1].append([])
            if tag in ("td", "th", "h1", "h2", "h3", "title", "pre", "footer") or (
                    tag == "p" and cls == "sub") or (tag == "div" and cls in ("k", "v", "i", "note")):
                self.buffer = []
            self.stack.append((tag, cls))

        def handle_endtag(self, tag):
            opened, cls = self.stack.pop()
            assert opened == tag, (opened, tag)  # well-formed: every tag closed in order
            text = "".join(self.buffer)
            if tag in ("td", "th"):
                self.out["tables"][-1][-1].append(text)
            elif tag in ("h1", "h2", "h3", "pre", "footer"):
                self.out[tag].append(text)
            elif tag == "title":
                self.out["title"] = text
            elif tag == "p" and cls == "sub":
                self.out["sub"].append(text)
            elif tag == "div" and cls in ("k", "v", "i"):
                self.out["cards"][-1].append(text)
            elif tag == "div" and cls == "note":
                self.out["note"].append(text)

        def handle_startendtag(self, tag, attrs):
            self.handle_starttag(tag, attrs)
            if tag != "img":
                self.stack.pop()

        def handle_data(self, data):
            self.buffer.append(data)
            inner = self.stack[-1] if self.stack else ("", "")
            between = inner[0] in ("html", "head", "body", "main", "table", "tr", "") or (
                inner[0] == "div" and inner[1] in ("cards", "grid2", "fig", "card"))
            if data.strip() and between:
                self.out["stray"].append(data)  # text between the page's blocks

    parser = Parts()
    # Void elements (meta, img) have no end tag: drop them from the stack as they open.
    parser.handle_starttag_orig = parser.handle_starttag  # type: ignore[attr-defined]

    def start(tag, attrs):
        parser.handle_starttag_orig(tag, attrs)  # type: ignore[attr-defined]
        if tag in ("meta", "img") and parser.stack and parser.stack[-1][0] == tag:
            parser.stack.pop()

    parser.handle_starttag = start  # type: ignore[method-assign]
    parser.feed(text)
    parser.close()
    assert [t for t, _ in parser.stack] == [], parser.stack
    return parser.out


def _g(value: float, digits: int = 4) -> str:
    """The page's number format (words for what is not finite: test_numbers_... pins them)."""
    value = float(value)
    if np.isnan(value):
        return "n/a"
    if np.isinf(value):
        return "not bounded by the data" if value > 0 else "not bounded below by the data"
    return f"{value:.{digits}g}"


def _fit_rows(fit, level: float) -> list[list[str]]:
    intervals = fit.intervals(level)
    pct = int(level * 100)
    return [["parameter", "estimate", "std. error", f"{pct}% lower", f"{pct}% upper"]] + [
        [name, _g(value), _g(se), _g(intervals[name][0]), _g(intervals[name][1])]
        for name, value, se in zip(fit.param_names, fit.values, fit.stderr, strict=True)]


def _fit_sub(fit) -> str:
    status = "converged" if fit.converged else f"NOT converged: {fit.message}"
    return (f"{status}; {fit.n_points} points; RMSLE {_g(fit.rmsle)}; divergence "
            f"{_g(100 * fit.divergence_mean, 3)}% +- {_g(100 * fit.divergence_std, 3)}%")


def test_the_page_shows_every_value_of_the_analysis(analysis, tmp_path):
    from scalinglab.report import write_report

    a = analysis
    lc = a.learning_curve
    spec = {"name": "x", "note": "n", "train": {"epochs": 3}}
    path = write_report(tmp_path / "two" / "deep" / "r.html", a, spec)
    assert path == tmp_path / "two" / "deep" / "r.html"
    text = path.read_text(encoding="utf-8")
    assert text == render_report(a, spec)
    assert text.startswith("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    assert "<meta name='viewport' content='width=device-width,initial-scale=1'>" in text
    assert text.endswith("</main></body></html>")
    page = _page(text)
    assert page["stray"] == []
    pct = int(a.level * 100)
    assert pct == 90
    assert page["title"] == f"scalinglab report: {a.study}"
    assert page["h1"] == [f"Scaling study: {a.study}"]
    assert page["h2"] == ["Checks", "Headline", "Learning curve", "Model size",
                          "Joint landscape (Rosenfeld et al. 2020)", "Backtest", "Study spec"]
    assert page["footer"] == ["Made by scalinglab. Self-contained: no network requests."]
    assert page["alts"] == ["learning curve", "model size", "joint law slices", "backtest"]
    sizes = lc.shard_size
    assert page["sub"][0] == (f"metric {a.metric}; eps0 {_g(a.eps0)}; {len(sizes)} shards from "
                              f"{_g(sizes.min())} to {_g(sizes.max())} examples; intervals at {pct}%")
    # Cards: the checks, then the headline numbers.
    checks = [[f"check: {c.name}", c.status.upper(), c.reason] for c in a.checks]
    assert page["cards"][:len(checks)] == checks and len(checks) >= 3
    head = a.headline()
    beta_g, beta_p = a.number("beta_g"), a.number("beta_p")
    lo, hi = beta_g["interval"]
    jb, bt = head["joint_backtest"], head["backtest"]
    assert jb["reason"] and not beta_p["estimable"]  # the fixture's branches
    assert page["cards"][len(checks):] == [
        ["data exponent beta_g", _g(beta_g["value"], 3),
         f"{pct}% interval [{_g(lo, 3)}, {_g(hi, 3)}] ({lc.beta_g_law}; {beta_g['method']})"],
        ["model-size exponent beta_p", "not estimable", beta_p["reason"]],
        ["joint-law backtest (extrapolation)", "not run", jb["reason"]],
        [f"backtest at {_g(bt['largest_shard'])} examples",
         f"{_g(bt['predicted'], 3)} vs {_g(bt['observed'], 3)}",
         f"predicted from shards <= {_g(bt['train_up_to'])}; band [{_g(bt['band'][0], 3)}, "
         f"{_g(bt['band'][1], 3)}]"],
        ["fitted floor (irreducible error)", _g(lc.fit.floor, 3),
         f"law: {(lc.fit.selection or {}).get('winner', lc.fit.law.name)}"],
    ]
    # The region table and rule.
    r = lc.regions
    assert page["tables"][0] == [
        ["region boundary", "data size", "interval", "seen in the data"],
        ["small-data region ends", _g(r.small_data_end),
         f"[{_g(r.small_data_end_interval[0])}, {_g(r.small_data_end_interval[1])}]",
         "yes" if r.observed["small_data"] else "no"],
        ["irreducible-error region begins", _g(r.irreducible_start),
         f"[{_g(r.irreducible_start_interval[0])}, {_g(r.irreducible_start_interval[1])}]",
         "yes" if r.observed["irreducible"] else "no"],
    ]
    assert {r.observed["small_data"], r.observed["irreducible"]} == {True, False}
    assert page["sub"][1] == f"Rule: {r.rule}."
    # One parameter table per fit: default, the alternatives, the joint law (no s(m) fit here).
    fits = [("Default fit", lc.fit), *((f"Alternative: {k}", f) for k, f in lc.fits.items()),
            ("Joint law", a.joint.fit)]
    assert a.model_size.fit is None
    assert page["h3"] == [f"{caption}: {fit.law.formula}" for caption, fit in fits]
    assert page["tables"][1:1 + len(fits)] == [_fit_rows(fit, a.level) for _, fit in fits]
    assert page["sub"][2:2 + len(fits)] == [_fit_sub(fit) for _, fit in fits]
    j = a.joint
    jbt = j.backtest
    assert page["sub"][2 + len(fits):] == [
        f"Random {j.cv_folds}-fold cross-validated divergence over {j.n_cells} cells "
        f"(interpolation): mean {_g(100 * j.cv_divergence_mean, 3)}%, std {_g(100 * j.cv_divergence_std, 3)}%.",
        f"Extrapolation backtest (Rosenfeld et al. 2020): fitted on the cells with n <= "
        f"N/{_g(1 / jbt.n_fraction)} and m <= M/{_g(1 / jbt.m_fraction)}, scored on the larger "
        f"cells: not run: {jbt.reason}.",
        f"Fitted on the shards up to {_g(a.backtest.max_train_size)} examples only (law chosen: "
        f"{a.backtest.law}), scored on the larger stored shards.",
    ]
    b = a.backtest
    assert page["tables"][-1] == [["shard size", "observed", "predicted", f"{pct}% lower",
                                   f"{pct}% upper", "relative error"]] + [
        [_g(x), _g(o), _g(p), _g(lo_), _g(hi_), f"{_g(100 * e, 3)}%"]
        for x, o, p, lo_, hi_, e in zip(b.shard_size, b.observed, b.predicted, b.lower, b.upper,
                                         b.relative_error, strict=True)]
    assert len(page["tables"]) == 2 + len(fits)
    notes = [*(f.notes for _, f in fits[:-1])]
    expected_notes = [*r.notes, *[n for fit_notes in notes[:1] for n in fit_notes]]
    assert page["note"][:len(expected_notes)] == expected_notes
    assert set(a.model_size.notes) <= set(page["note"]) and a.model_size.notes
    assert page["pre"] == [json.dumps(spec, indent=2)]
    # Without a spec, no spec section; a title replaces the study's in the page's title and h1.
    bare = _page(render_report(a, title="T"))
    assert bare["title"] == "T" and bare["h1"] == ["T"] and "Study spec" not in bare["h2"]


def test_the_other_branches_of_the_page(analysis):
    """What the fixture's analysis does not reach: regions seen the other way round, notes, a
    joint law not estimable, a joint backtest that ran, an unconverged fit."""
    import dataclasses

    a = analysis
    lc = a.learning_curve
    regions = dataclasses.replace(lc.regions, observed={"small_data": True, "power_law": True,
                                                       "irreducible": False})
    unconverged = dataclasses.replace(lc.fit, converged=False, message="stopped at max_nfev")
    learning = dataclasses.replace(lc, regions=regions, fit=unconverged, notes=("lc note",))
    jb = dataclasses.replace(a.joint.backtest, reason=None, n_train=12, n_cells=28,
                             mean_relative_error=0.0123, std_relative_error=0.0456)
    joint = dataclasses.replace(a.joint, backtest=jb)
    other = dataclasses.replace(a, learning_curve=learning, joint=joint, notes=("study note",),
                                not_estimable={**a.not_estimable, "joint": "too few cells"})
    page = _page(render_report(other))
    assert page["stray"] == []
    assert page["tables"][0][1][3] == "yes" and page["tables"][0][2][3] == "no"
    assert page["h2"][-1] == "Notes" and page["note"][-2:] == ["lc note", "study note"]
    assert "joint law not estimable: too few cells" in page["note"]
    assert page["sub"][2] == _fit_sub(unconverged)
    assert page["sub"][2].startswith("NOT converged: stopped at max_nfev; ")
    assert (f"Extrapolation backtest (Rosenfeld et al. 2020): fitted on the cells with n <= "
            f"N/{_g(1 / jb.n_fraction)} and m <= M/{_g(1 / jb.m_fraction)}, scored on the 28 larger "
            f"cells: mean relative error 1.23%, std 4.56%.") in page["sub"]
    card = [c for c in page["cards"] if c[0] == "joint-law backtest (extrapolation)"]
    head = other.headline()["joint_backtest"]
    assert card == [["joint-law backtest (extrapolation)",
                     f"{_g(100 * head['mean_relative_error'], 3)}% +- {_g(100 * head['std_relative_error'], 3)}%",
                     f"fitted on {head['n_train']} cells with n <= N/{_g(1 / head['n_fraction'])}, "
                     f"m <= M/{_g(1 / head['m_fraction'])}; relative error on {head['n_cells']} larger cells"]]
    assert head["reason"] is None and head["n_train"] == 12
