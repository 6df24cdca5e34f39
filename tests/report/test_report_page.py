"""The report's page as text: every value, every branch, every field escaped.

The figures are drawn blank here (each display's ``plot`` only writes the display's name on
an axis turned off), so a page renders in milliseconds and these tests can judge every mutant of
``report/_html.py``; the real figures are checked in ``test_report.py`` (pixels, SVG, the
headless browser). What is inlined is still the real ``figure_bytes`` of each display.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Iterator

import numpy as np
import pytest

from scalinglab.analysis import StudyAnalysis
from scalinglab.report import (
    BacktestDisplay,
    JointBacktestDisplay,
    JointDisplay,
    LearningCurveDisplay,
    ModelSizeDisplay,
    figure_bytes,
    render_report,
)
from tests.report._hostile import ESCAPED, hostile_analysis, poisoned

DISPLAYS = (LearningCurveDisplay, ModelSizeDisplay, JointDisplay, JointBacktestDisplay, BacktestDisplay)
#: The analysis each blank figure was drawn from, in drawing order.
DRAWN: list[tuple[type, StudyAnalysis]] = []


@pytest.fixture(scope="module", autouse=True)
def blank_figures() -> Iterator[None]:
    def plot(self, ax=None, **kwargs):
        DRAWN.append((type(self), self.analysis))
        ax.set_axis_off()
        ax.text(0.5, 0.5, type(self).__name__)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    with pytest.MonkeyPatch.context() as patch:
        for display in DISPLAYS:
            patch.setattr(display, "plot", plot)
        yield


@pytest.fixture(scope="module")
def analysis() -> StudyAnalysis:
    """The analysis of the hostile stored study (name, metric, a failed run's error)."""
    return hostile_analysis()


def test_every_field_is_escaped(analysis):
    bad, spec = poisoned(analysis)
    text = render_report(bad, spec)
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
    # And the parsed page gives back every poisoned string exactly (nothing double-escaped).
    page = _page(text)
    assert page["h1"] == [f"Scaling study: {bad.study}"] and page["title"] == f"scalinglab report: {bad.study}"
    assert page["sub"][0].startswith(f"metric {bad.metric}; ")
    assert page["pre"] == [json.dumps(spec, indent=2)]
    assert f"Rule: {bad.learning_curve.regions.rule}." in page["sub"]
    assert page["sub"][2].startswith(f"NOT converged: {bad.learning_curve.fit.message}; ")


def test_the_figures_are_each_displays_png(analysis):
    DRAWN.clear()
    text = render_report(analysis)
    # Each display, of this analysis, in order.
    assert [(d, drawn is analysis) for d, drawn in DRAWN] == [(d, True) for d in DISPLAYS]
    sources = re.findall(r'<img alt="([^"]*)" src="data:image/png;base64,([^"]*)">', text)
    assert [alt for alt, _ in sources] == ["learning curve", "model size", "joint law slices", "joint backtest",
                                          "backtest"]
    for (_, data), display in zip(sources, DISPLAYS, strict=True):
        assert base64.b64decode(data) == figure_bytes(display.from_analysis(analysis), "png")
    assert text.count('<div class="fig"><img alt="') == 5


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
    pct = f"{100 * level:g}"
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
    path.write_text("stale", encoding="utf-8")  # into a folder that exists: overwritten
    assert write_report(path, a, spec) == path and path.read_text(encoding="utf-8") == text
    assert text.startswith("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    assert "<meta name='viewport' content='width=device-width,initial-scale=1'>" in text
    assert text.endswith("</main></body></html>")
    page = _page(text)
    assert page["stray"] == []
    pct = "90"
    assert a.level == 0.9
    assert page["title"] == f"scalinglab report: {a.study}"
    assert page["h1"] == [f"Scaling study: {a.study}"]
    assert page["h2"] == ["Checks", "Headline", "Learning curve", "Model size",
                          "Joint landscape (Rosenfeld et al. 2020)", "Backtest", "Study spec"]
    assert page["footer"] == ["Made by scalinglab. Self-contained: no network requests."]
    assert page["alts"] == ["learning curve", "model size", "joint law slices", "joint backtest", "backtest"]
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
    unconverged = dataclasses.replace(lc.fit, converged=False, message="stopped at max_nfev",
                                      notes=("fit note one", "fit note two"))
    learning = dataclasses.replace(lc, regions=regions, fit=unconverged, notes=("lc note",))
    jb = dataclasses.replace(a.joint.backtest, reason=None, n_train=12, n_cells=28,
                             mean_relative_error=0.012345, std_relative_error=0.045678)
    joint = dataclasses.replace(a.joint, backtest=jb)
    other = dataclasses.replace(a, learning_curve=learning, joint=joint, notes=("study note",),
                                not_estimable={**a.not_estimable, "joint": "too few cells"})
    page = _page(render_report(other))
    assert page["stray"] == []
    assert page["tables"][0][1][3] == "yes" and page["tables"][0][2][3] == "no"
    assert page["h2"][-1] == "Notes" and page["note"][-2:] == ["lc note", "study note"]
    assert "joint law not estimable: too few cells" in page["note"]
    after_regions = len(regions.notes)  # the region notes, then the default fit's, each in its own box
    assert page["note"][after_regions:after_regions + 2] == ["fit note one", "fit note two"]
    assert page["sub"][2] == _fit_sub(unconverged)
    assert page["sub"][2].startswith("NOT converged: stopped at max_nfev; ")
    assert (f"Extrapolation backtest (Rosenfeld et al. 2020): fitted on the cells with n <= "
            f"N/{_g(1 / jb.n_fraction)} and m <= M/{_g(1 / jb.m_fraction)}, scored on the 28 larger "
            f"cells: mean relative error 1.23%, std 4.57%.") in page["sub"]
    card = [c for c in page["cards"] if c[0] == "joint-law backtest (extrapolation)"]
    head = other.headline()["joint_backtest"]
    assert card == [["joint-law backtest (extrapolation)",
                     f"{_g(100 * head['mean_relative_error'], 3)}% +- {_g(100 * head['std_relative_error'], 3)}%",
                     f"fitted on {head['n_train']} cells with n <= N/{_g(1 / head['n_fraction'])}, "
                     f"m <= M/{_g(1 / head['m_fraction'])}; relative error on {head['n_cells']} larger cells"]]
    assert head["reason"] is None and head["n_train"] == 12


def test_the_cards_round_to_three_digits_and_show_an_estimable_beta_p(analysis):
    """Values with more digits than a card shows, beta_p estimable, and a level whose percent
    is not ``int(100 * level)`` (0.58 * 100 = 57.99999999999999)."""
    a = analysis
    ms = dataclasses.replace(a.model_size, beta_p=0.123456, beta_p_interval=(0.0987654, 0.1456789),
                             beta_p_method="delta method")
    bt = a.backtest
    last = np.array([0.2345678, 0.2411111, 0.1987654, 0.2765432])
    tail = {name: np.append(getattr(bt, name)[:-1], value)
            for name, value in zip(("predicted", "observed", "lower", "upper"), last, strict=True)}
    backtest = dataclasses.replace(bt, **tail)
    jb = dataclasses.replace(a.joint.backtest, reason=None, n_train=12, n_cells=28,
                             mean_relative_error=0.012345, std_relative_error=0.045678)
    other = dataclasses.replace(a, model_size=ms, backtest=backtest, level=0.58,
                                joint=dataclasses.replace(a.joint, backtest=jb),
                                not_estimable={k: v for k, v in a.not_estimable.items() if k != "beta_p"})
    assert other.number("beta_p")["estimable"]
    page = _page(render_report(other))
    cards = {c[0]: c[1:] for c in page["cards"]}
    assert cards["model-size exponent beta_p"] == [
        "0.123", "58% interval [0.0988, 0.146] (interior best-fit sizes; delta method)"]
    assert cards["data exponent beta_g"][1].startswith("58% interval [")
    largest = f"{bt.shard_size[-1]:.4g}"
    assert cards[f"backtest at {largest} examples"] == [
        "0.235 vs 0.241", f"predicted from shards <= {bt.max_train_size:.4g}; band [0.199, 0.277]"]
    assert cards["joint-law backtest (extrapolation)"][0] == "1.23% +- 4.57%"
    assert page["sub"][0].endswith("; intervals at 58%")
    for table in page["tables"][1:]:
        assert table[0][-2:] in (["58% lower", "58% upper"], ["58% upper", "relative error"])


def test_the_rarer_fields_of_the_page(analysis, tmp_path):
    """A model-size fit, a selection's winner, no eps0, several region notes, a joint
    backtest with no error at all, and a spec value JSON cannot write by itself."""
    a = analysis
    lc = a.learning_curve
    winner = dataclasses.replace(lc.fit, selection={"winner": "winning law", "weights": {}})
    regions = dataclasses.replace(lc.regions, notes=("region note one", "region note two"))
    ms_fit = dataclasses.replace(lc.fit, notes=())
    jb = dataclasses.replace(a.joint.backtest, reason=None, n_train=12, n_cells=28,
                             mean_relative_error=0.0, std_relative_error=0.0)
    other = dataclasses.replace(
        a, eps0=None, learning_curve=dataclasses.replace(lc, fit=winner, regions=regions),
        model_size=dataclasses.replace(a.model_size, fit=ms_fit), joint=dataclasses.replace(a.joint, backtest=jb))
    spec = {"name": "x", "where": tmp_path}
    page = _page(render_report(other, spec))
    assert page["stray"] == []
    assert ["fitted floor (irreducible error)", _g(lc.fit.floor, 3), "law: winning law"] in page["cards"]
    assert f"; eps0 not set; {len(lc.shard_size)} shards from " in page["sub"][0]
    assert page["note"][:2] == ["region note one", "region note two"]
    caption = "s(n) = sigma n^beta_p (a = sigma, b = beta_p)"
    assert f"{caption}: {ms_fit.law.formula}" in page["h3"]
    index = page["h3"].index(f"{caption}: {ms_fit.law.formula}")
    assert page["tables"][1 + index] == _fit_rows(ms_fit, a.level)
    card = next(c for c in page["cards"] if c[0].startswith("joint-law"))
    assert card[:2] == ["joint-law backtest (extrapolation)", "0% +- 0%"]
    assert any(s.endswith("scored on the 28 larger cells: mean relative error 0%, std 0%.") for s in page["sub"])
    assert page["pre"] == [json.dumps({"name": "x", "where": str(tmp_path)}, indent=2)]
    # A fit that was not a selection names its own law.
    plain = dataclasses.replace(a, learning_curve=dataclasses.replace(
        lc, fit=dataclasses.replace(lc.fit, selection=None)))
    cards = _page(render_report(plain))["cards"]
    assert ["fitted floor (irreducible error)", _g(lc.fit.floor, 3), f"law: {lc.fit.law.name}"] in cards


def test_figure_bytes_is_png_by_default(analysis):
    png = figure_bytes(LearningCurveDisplay.from_analysis(analysis))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
