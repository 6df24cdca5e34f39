"""The self-contained HTML report of a study: figures inline, no network, every string escaped."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scalinglab._errors import require_extra
from scalinglab._format import level_percent
from scalinglab.analysis import StudyAnalysis
from scalinglab.fitting import FitResult
from scalinglab.report._plots import (
    BacktestDisplay,
    JointBacktestDisplay,
    JointDisplay,
    LearningCurveDisplay,
    ModelSizeDisplay,
)

__all__ = ["figure_bytes", "render_report", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.2em;margin:28px 0 8px;border-bottom:1px solid #dde1e6;padding-bottom:4px}
.sub{color:#5b6472;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:12px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 14px}
.card .k{color:#5b6472;font-size:.85em} .card .v{font-size:1.5em;font-weight:600;margin:2px 0}
.card .i{color:#5b6472;font-size:.85em}
.fig{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:8px;text-align:center}
.fig img{max-width:100%;height:auto}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.9em}
th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:right} th{background:#eef1f4}
td.l,th.l{text-align:left}
.note{background:#fff8e6;border-left:4px solid #e0a800;padding:6px 10px;margin:6px 0;font-size:.9em}
pre{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px;overflow:auto;font-size:.85em}
footer{color:#5b6472;font-size:.8em;margin-top:28px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: float | None, digits: int = 4) -> str:
    """A number as the report writes it: ``digits`` significant digits, or words, never
    ``inf``/``nan`` (an infinite boundary or band edge means the data do not bound it)."""
    if value is None or not math.isfinite(float(value)):
        if value is None or math.isnan(float(value)):
            return "n/a"
        return "not bounded by the data" if value > 0 else "not bounded below by the data"
    return f"{float(value):.{digits}g}"


def figure_bytes(display: Any, fmt: str = "png") -> bytes:
    """Draw a display on a new figure and return the image file's bytes."""
    plt = require_extra("matplotlib.pyplot", "report")
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    display.plot(ax=ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    plt.close(fig)
    return buffer.getvalue()


def _img(display: Any, alt: str) -> str:
    data = base64.b64encode(figure_bytes(display, "png")).decode("ascii")
    return f'<div class="fig"><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></div>'


def _card(key: str, value: str, interval: str = "") -> str:
    return f'<div class="card"><div class="k">{_e(key)}</div><div class="v">{_e(value)}</div><div class="i">{_e(interval)}</div></div>'


def _number_card(analysis: StudyAnalysis, name: str, key: str, how: str) -> str:
    """A headline number's card: value and interval, or "not estimable" and the reason."""
    number = analysis.number(name)
    if not number["estimable"]:
        return _card(key, "not estimable", str(number["reason"]))
    lo, hi = number["interval"]
    pct = level_percent(analysis.level)
    return _card(key, _num(number["value"], 3),
                 f"{pct}% interval [{_num(lo, 3)}, {_num(hi, 3)}] ({how}; {number['method']})")


def _param_table(fit: FitResult, level: float, caption: str) -> str:
    intervals = fit.intervals(level)
    rows = "".join(
        f"<tr><td class='l'>{_e(name)}</td><td>{_num(value)}</td><td>{_num(se)}</td>"
        f"<td>{_num(intervals[name][0])}</td><td>{_num(intervals[name][1])}</td></tr>"
        for name, value, se in zip(fit.param_names, fit.values, fit.stderr, strict=True)
    )
    status = "converged" if fit.converged else f"NOT converged: {fit.message}"
    notes = "".join(f"<div class='note'>{_e(n)}</div>" for n in fit.notes)
    return (
        f"<h3>{_e(caption)}: <code>{_e(fit.law.formula)}</code></h3>"
        f"<table><tr><th class='l'>parameter</th><th>estimate</th><th>std. error</th>"
        f"<th>{level_percent(level)}% lower</th><th>{level_percent(level)}% upper</th></tr>{rows}</table>"
        f"<p class='sub'>{_e(status)}; {fit.n_points} points; RMSLE {_num(fit.rmsle)}; "
        f"divergence {_num(100 * fit.divergence_mean, 3)}% +- {_num(100 * fit.divergence_std, 3)}%</p>{notes}"
    )


def render_report(analysis: StudyAnalysis, spec: Mapping[str, Any] | None = None, title: str | None = None) -> str:
    """The report as one HTML string (images inline as base64 PNG)."""
    a = analysis
    lc, ms = a.learning_curve, a.model_size
    pct = level_percent(a.level)
    head = a.headline()
    check_cards = [_card(f"check: {c.name}", c.status.upper(), c.reason) for c in a.checks]
    cards = [
        _number_card(a, "beta_g", "data exponent beta_g", lc.beta_g_law),
        _number_card(a, "beta_p", "model-size exponent beta_p",
                     "interior best-fit sizes" + (f" (the smallest within {_num(100 * a.size_tolerance, 3)}% "
                                                  "of a shard's lowest)" if a.size_tolerance else "")),
    ]
    if "joint_backtest" in head:
        jb = head["joint_backtest"]
        cards.append(_card(
            "joint-law backtest (extrapolation)",
            "not run" if jb["reason"] else f"{_num(100 * jb['mean_relative_error'], 3)}% +- {_num(100 * jb['std_relative_error'], 3)}%",
            jb["reason"] or f"fitted on {jb['n_train']} cells with n <= N/{_num(1 / jb['n_fraction'])}, "
            f"m <= M/{_num(1 / jb['m_fraction'])}; relative error on {jb['n_cells']} larger cells"
            + (f"; {level_percent(jb['level'])}% bands held {_num(100 * jb['coverage'], 3)}% of them"
               if jb.get("coverage") is not None else
               (f"; {jb['band_reason']}" if jb.get("band_reason") else ""))
            + (f". Caveat: {jb['caveat']}" if jb.get("caveat") else ""),
        ))
    if "backtest" in head:
        bt = head["backtest"]
        cards.append(_card(
            f"backtest at {_num(bt['largest_shard'])} examples",
            f"{_num(bt['predicted'], 3)} vs {_num(bt['observed'], 3)}",
            f"predicted from shards <= {_num(bt['train_up_to'])}; band [{_num(bt['band'][0], 3)}, {_num(bt['band'][1], 3)}]"
            + (f". Caveat: {bt['caveat']}" if bt.get("caveat") else ""),
        ))
    fit_floor = lc.fit.floor
    cards.append(_card("fitted floor (irreducible error)", _num(fit_floor, 3), f"law: {(lc.fit.selection or {}).get('winner', lc.fit.law.name)}"))

    sections = [
        f"<h1>{_e(title or 'Scaling study: ' + a.study)}</h1>",
        f"<p class='sub'>metric <b>{_e(a.metric)}</b>; eps0 {_e(_num(a.eps0) if a.eps0 else 'not set')}; "
        f"{len(lc.shard_size)} shards from {_num(lc.shard_size.min())} to {_num(lc.shard_size.max())} examples; intervals at {pct}%</p>",
        "<h2>Checks</h2>",
        f"<div class='cards'>{''.join(check_cards)}</div>",
        "<h2>Headline</h2>",
        f"<div class='cards'>{''.join(cards)}</div>",
        "<h2>Learning curve</h2>",
        _img(LearningCurveDisplay.from_analysis(a), "learning curve"),
    ]
    if lc.regions is not None:
        r = lc.regions
        sections.append(
            "<table><tr><th class='l'>region boundary</th><th>data size</th><th>interval</th><th class='l'>seen in the data</th></tr>"
            f"<tr><td class='l'>small-data region ends</td><td>{_num(r.small_data_end)}</td><td>[{_num(r.small_data_end_interval[0])}, {_num(r.small_data_end_interval[1])}]</td><td class='l'>{'yes' if r.observed['small_data'] else 'no'}</td></tr>"
            f"<tr><td class='l'>irreducible-error region begins</td><td>{_num(r.irreducible_start)}</td><td>[{_num(r.irreducible_start_interval[0])}, {_num(r.irreducible_start_interval[1])}]</td><td class='l'>{'yes' if r.observed['irreducible'] else 'no'}</td></tr></table>"
            f"<p class='sub'>Rule: {_e(r.rule)}.</p>"
            + "".join(f"<div class='note'>{_e(n)}</div>" for n in r.notes)
        )
    sections.append(_param_table(lc.fit, a.level, "Default fit"))
    for name, fit in lc.fits.items():
        sections.append(_param_table(fit, a.level, f"Alternative: {name}"))
    sections.append("<h2>Model size</h2><div class='grid2'>" + _img(ModelSizeDisplay.from_analysis(a), "model size") + "</div>")
    if ms.fit is not None:
        sections.append(_param_table(ms.fit, a.level, "s(n) = sigma n^beta_p (a = sigma, b = beta_p)"))
    sections.extend(f"<div class='note'>{_e(n)}</div>" for n in ms.notes)
    if a.joint is not None:
        j = a.joint
        sections.append("<h2>Joint landscape (Rosenfeld et al. 2020)</h2>")
        sections.append("<div class='grid2'>" + _img(JointDisplay.from_analysis(a), "joint law slices")
                        + _img(JointBacktestDisplay.from_analysis(a), "joint backtest") + "</div>")
        sections.append(_param_table(j.fit, a.level, "Joint law"))
        sections.append(
            f"<p class='sub'>Random {j.cv_folds}-fold cross-validated divergence over {j.n_cells} cells "
            f"(interpolation): mean {_num(100 * j.cv_divergence_mean, 3)}%, std {_num(100 * j.cv_divergence_std, 3)}%.</p>"
        )
        if j.backtest is not None:
            jb_ = j.backtest
            held = jb_.coverage_words()
            sections.append(
                f"<p class='sub'>Extrapolation backtest (Rosenfeld et al. 2020): fitted on the cells with "
                f"n &lt;= N/{_num(1 / jb_.n_fraction)} and m &lt;= M/{_num(1 / jb_.m_fraction)}, scored on the "
                + (_e(f"{jb_.n_cells} larger cells: mean relative error {_num(100 * (jb_.mean_relative_error or 0), 3)}%, "
                      f"std {_num(100 * (jb_.std_relative_error or 0), 3)}%"
                      + (f"; {held}" if held else "") + ".")
                   if jb_.reason is None
                   else _e(f"larger cells: not run: {jb_.reason}."))
                + "</p>")
            if jb_.caveat:
                sections.append(f"<div class='note'>joint backtest caveat: {_e(jb_.caveat)}</div>")
        if "joint" in a.not_estimable:
            sections.append(f"<div class='note'>joint law not estimable: {_e(a.not_estimable['joint'])}</div>")
    if a.backtest is not None:
        bt_ = a.backtest
        rows = "".join(
            f"<tr><td>{_num(x)}</td><td>{_num(o)}</td><td>{_num(p)}</td><td>{_num(lo)}</td><td>{_num(hi)}</td><td>{_num(100 * r, 3)}%</td></tr>"
            for x, o, p, lo, hi, r in zip(bt_.shard_size, bt_.observed, bt_.predicted, bt_.lower, bt_.upper, bt_.relative_error, strict=True)
        )
        sections.append(
            "<h2>Backtest</h2>"
            f"<p class='sub'>Fitted on the shards up to {_num(bt_.max_train_size)} examples only "
            f"(law chosen: {_e(bt_.law)}), scored on the larger stored shards.</p>"
            f"<div class='grid2'>{_img(BacktestDisplay.from_analysis(a), 'backtest')}</div>"
            "<table><tr><th>shard size</th><th>observed</th><th>predicted</th>"
            f"<th>{pct}% lower</th><th>{pct}% upper</th><th>relative error</th></tr>{rows}</table>"
        )
    notes = [*lc.notes, *a.notes]
    if notes:
        sections.append("<h2>Notes</h2>" + "".join(f"<div class='note'>{_e(n)}</div>" for n in notes))
    if spec is not None:
        sections.append("<h2>Study spec</h2><pre>" + _e(json.dumps(dict(spec), indent=2, default=str)) + "</pre>")
    sections.append("<footer>Made by scalinglab. Self-contained: no network requests.</footer>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{_e(title or 'scalinglab report: ' + a.study)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>"
    )


def write_report(path: str | Path, analysis: StudyAnalysis, spec: Mapping[str, Any] | None = None) -> Path:
    """Write the report to ``path`` (creating its folder) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(analysis, spec), encoding="utf-8")
    return out
