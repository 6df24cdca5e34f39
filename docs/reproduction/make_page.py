"""Regenerate docs/reproduction.md, its figures and its numbers from the committed exports.

Issue 17. Every number on the page comes from here: each committed export
(``docs/reproduction/STUDY.json``) is imported into a fresh temporary SQLite database with
``scalinglab.study.import_study`` (what ``scalinglab import`` does) and analysed with the
functions ``scalinglab analyze --format json``, ``scalinglab compare`` and ``scalinglab
pruning`` use. The script writes

- ``docs/reproduction/page.json``: per study the ``analyze --format json`` document, the
  wall times read from the runs' stored timestamps; the optimizer comparison; the pruning
  fit. ``tests/test_reproduction_exports.py`` checks two of its numbers against a fresh
  ``scalinglab import`` + ``scalinglab analyze --format json`` and against the page;
- ``docs/reproduction/figures/STUDY-{learning,model,backtest,joint,joint-backtest}.png``;
- ``docs/reproduction.md``.

Run it with ``make reproduce-docs`` (or ``python docs/reproduction/make_page.py``). The
analysis is deterministic: its bootstraps are seeded (``analyze``'s ``seed = 0``, the one the
command line uses), so the same exports give the same page.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
PAGE = DOCS / "reproduction.md"
NUMBERS = HERE / "page.json"
FIGURES = HERE / "figures"
LEVEL = 0.9
#: The analysis's bootstrap seed: ``analyze``'s default, the one ``scalinglab analyze`` uses.
SEED = 0

#: Published figures the page sets ours beside (Hestness et al. 2017; Rosenfeld et al. 2020, 2021).
HESTNESS_BETA_G = (-0.35, -0.07)
HESTNESS_BETA_P = (0.5, 1.0)
ROSENFELD_JOINT = (-0.045, 0.047)  # ImageNet: mean and std of the relative error
TARGET = 0.05  # issue 17: |mean| <= 5% and std <= 5% ...
COVERAGE = (0.80, 0.97)  # ... with the 90% bands covering 80-97% of the scored cells


@dataclass(frozen=True)
class Study:
    """One reproduction study: its spec and export under docs/reproduction/."""

    name: str
    workload: str
    question: str
    #: What the page must say about the study's size beside its numbers (hand-written prose).
    caveat: str = ""
    #: Worker processes the study ran on (``scalinglab run --workers``).
    workers: int = 1

    @property
    def export(self) -> Path:
        return HERE / f"{self.spec_stem}.json"

    @property
    def spec_stem(self) -> str:
        return {"charlm-lstm": "charlm"}.get(self.name, self.name)


STUDIES = (
    Study("mnist1d-mlp-adam", "MNIST-1D, 2-layer MLP, Adam",
          "learning curve, model-size law and joint law of a tuned MLP"),
    Study("mnist1d-mlp-adam-xl", "MNIST-1D, 2-layer MLP, Adam, larger shards and widths",
          "the joint backtest once its small cells (n <= N/8, m <= M/16) are past the small-data "
          "region: the same MLP and optimizer as mnist1d-mlp-adam on 8x the data (1,024-65,536) and "
          "widths to 1,024, with 4x the validation set (16,384)",
          "Sized to finish within about an hour on 2 workers at nice 19 on the shared machine: one "
          "seed instead of two (a cell's score is one run, best over the 3 learning rates), no "
          "32,768 shard, the top shard 65,536 rather than 131,072, 40 epochs but at most 4,000 steps "
          "(budget-limited cells within 5% of their shard's best rerun at 2x, 4x and 8x: `[budget]`; "
          "the study ran first with max_factor 2, 140 runs in 35 min, and was resumed with 8, 12 more "
          "runs in 46 min), 10 evaluations on 16,384 validation examples (the binomial noise of an error "
          "e is sqrt((1 - e) / (16,384 e)): 3.4% relative at e = 0.05). The spec's comments give "
          "the timings it was sized from. After that, 28 of the 42 cells the joint law reads were still "
          "budget-limited (the engine extends only cells near their shard's best), so the study was "
          "resumed a third time with `[budget] margin = 1000` (every limited cell extended, up to 8x): "
          "174 more runs in 136 min on 2 workers (in two pieces, 16:40-17:18 and 17:34-19:12); 8 cells are still limited at 8x. That changed the "
          "joint backtest from +10.1% +- 21.4% (bands holding 16 of 22 cells) to the figures below: "
          "the small-cell fit's predictions moved by under 2%, but the large shards' cells, trained "
          "longer, fell far below them (65,536 x 23,050 parameters: 0.121 -> 0.058 against 0.132 "
          "predicted). The earlier, smaller error was partly the under-training of the large cells.", workers=2),
    Study("mnist1d-cnn", "MNIST-1D, 1-D CNN (three stride-2 convolutions), Adam",
          "learning curve, model-size law and joint law of a second architecture on the same data: "
          "a tuned CNN on shards of 256-81,920 with 8-256 channels, beside the MLP (Hestness: a better "
          "architecture shifts the curve, the exponent stays)",
          "Sized from a pilot to finish within about an hour on 2 workers at nice 19 on the shared "
          "machine: one seed (a cell's score is one run, best over the 2 learning rates, so the intervals "
          "come from the delta method, not a bootstrap over runs), at most 1,500 steps a run before "
          "budget reruns (`[budget]`: budget-limited cells within 5% of their shard's best rerun with "
          "2x, 4x... the steps; the study ran first with max_factor 2, 87 runs in 47 min, and was resumed "
          "with 8, 3 more runs in 8 min, for the best cells of shards 8,192 and 81,920), no 32,768 shard, "
          "2 learning rates. Channels went up to 128 at first; 128 was the best size on shards 512, 1,024 "
          "and 4,096, so the study was resumed with `[model] max_size = 256` (6 more runs, 4.3 min on 2 "
          "workers), after which every shard's best size is interior. The spec's comments give the pilot's timings.",
          workers=2),
    Study("mnist1d-mlp-sgd", "MNIST-1D, 2-layer MLP, SGD + momentum 0.9",
          "the same grid with another optimizer (Hestness: the curve shifts, the exponent stays)"),
    Study("teacher-student", "noiseless teacher-student (tanh MLP)",
          "a task whose error floor is 0 by construction: is the fitted floor consistent with zero?"),
    Study("charlm-lstm", "character language model (LSTM) on the Python standard library",
          "a third workload, in nats per character (eps0 = ln 98)",
          "This study is much smaller than the issue asks and than Hestness's character-LM study: "
          "it was sized to run in about 45 minutes on one core at nice 19 on the shared machine (the "
          "spec's comments give the measured step times), so its largest shard is a small part of the "
          "training text, its widths stay small and its learning rate is tuned among the few values of "
          "the grid above. Read its numbers as a third workload's first look, not as a measurement of "
          "the char-LM exponent."),
    Study("mnist1d-mlp-prune", "MNIST-1D MLP, iterative magnitude pruning",
          "Rosenfeld et al. 2021's pruning law across densities and widths"),
)
PAIR = ("mnist1d-mlp-adam", "mnist1d-mlp-sgd")
#: The architecture pairs (MLP, CNN) on MNIST-1D with Adam: ``compare`` on each.
ARCHITECTURE = (("mnist1d-mlp-adam", "mnist1d-cnn"), ("mnist1d-mlp-adam-xl", "mnist1d-cnn"))
PRUNING = "mnist1d-mlp-prune"


# -- analysis (the package's own functions) -----------------------------------------------


def _import(export: Path, url: str) -> dict[str, Any]:
    """``scalinglab import``: the export into the storage at ``url``."""
    from scalinglab.storage import open_storage
    from scalinglab.study import import_study, read_export

    store = open_storage(url)
    try:
        return dict(import_study(read_export(export), store).to_dict())
    finally:
        store.close()


def _grid(export: Path) -> dict[str, Any]:
    """The study's grid, read from the spec stored in its export."""
    spec = json.loads(export.read_text(encoding="utf-8"))["study"]["spec"]
    shards = spec["data"]["shard_sizes"]
    return {"shard_sizes": shards, "decades": math.log10(shards[-1] / shards[0]),
            "knob": spec["model"]["knob"], "sizes": spec["model"]["sizes"],
            "max_size": spec["model"].get("max_size"), "seeds": len(spec["seeds"]),
            "search": spec["search"]["method"], "tuned": spec["search"].get("params") or {},
            "param_samples": spec["search"].get("param_samples")}


def _times(name: str, url: str) -> dict[str, Any]:
    """Wall time from the runs' stored timestamps: the span of the study (one worker) and the
    sum of its runs' durations (the time on one core; on 2 cores at best half of it)."""
    from scalinglab.storage import open_storage

    store = open_storage(url)
    try:
        record = store.get_study(name)
        assert record is not None
        start, end = store.time_span(record.id)
        frame = store.runs_frame(record.id)
    finally:
        store.close()
    busy = float(frame["duration_s"].fillna(0).sum())
    return {
        "first_start": None if start is None else start.isoformat(),
        "last_end": None if end is None else end.isoformat(),
        "span_s": None if start is None or end is None else (end - start).total_seconds(),
        "run_time_sum_s": busy,
        "two_core_s": busy / 2,
        "runs": len(frame),
        "states": {str(k): int(v) for k, v in frame["state"].value_counts().items()},
    }


def _analysis(name: str, url: str) -> tuple[Any, dict[str, Any]]:
    """What ``scalinglab analyze STUDY --format json`` computes (the same function)."""
    from scalinglab.storage import open_storage
    from scalinglab.study import analyze_study

    store = open_storage(url)
    try:
        analysis = analyze_study(name, store, level=LEVEL)
    finally:
        store.close()
    return analysis, analysis.to_dict()


def _pruning(name: str, url: str) -> dict[str, Any]:
    """What ``scalinglab pruning STUDY --format json`` computes (the same function)."""
    from scalinglab.storage import open_storage
    from scalinglab.study import study_pruning

    store = open_storage(url)
    try:
        return dict(study_pruning(name, store, level=LEVEL).to_dict())
    finally:
        store.close()


def _cell_budgets(name: str, url: str) -> dict[str, int]:
    """How many (n, m) cells, each at its best hyperparameter point and final budget (the cells
    the joint law fits and scores), were still budget-limited, and how many were extended."""
    import numpy as np

    from scalinglab.storage import open_storage
    from scalinglab.study import study_curves

    store = open_storage(url)
    try:
        curves = study_curves(name, store)
    finally:
        store.close()
    return {"cells": len(curves.cell_budget_limited),
            "budget_limited": int(np.sum(curves.cell_budget_limited)),
            "extended": int(np.sum(np.asarray(curves.cell_budget, dtype=float) > 1))}


def _fit_cells(analysis: Any) -> dict[str, Any] | None:
    """The cells the joint backtest fits on (n <= N/8 and m <= M/16, as ``joint_backtest`` picks
    them from the analysis's cells): their shards, model sizes and error range against eps0."""
    import numpy as np

    if analysis.joint is None:
        return None
    jb, c = analysis.joint.backtest, analysis.cells
    n, m, y = (np.asarray(c[k], dtype=float) for k in ("shard_size", "n_params", "score"))
    ok = np.isfinite(m) & (m > 0) & np.isfinite(y) & (y > 0)
    small = ok & (n <= jb.n_fraction * n[ok].max() * (1 + 1e-9)) & (m <= jb.m_fraction * m[ok].max() * (1 + 1e-9))
    if not small.any():
        return None
    return {"shards": sorted({int(v) for v in n[small]}),
            "model_sizes": sorted({float(v) for v in np.asarray(c["model_size"], dtype=float)[small]}),
            "error_min": float(y[small].min()), "error_max": float(y[small].max()), "eps0": analysis.eps0}


def _figures(name: str, analysis: Any) -> dict[str, str]:
    """The study's plots, drawn by the report's displays (``scalinglab plot``)."""
    from scalinglab import report

    FIGURES.mkdir(exist_ok=True)
    out = {}
    for kind, display in (("learning", report.LearningCurveDisplay), ("model", report.ModelSizeDisplay),
                          ("backtest", report.BacktestDisplay), ("joint", report.JointDisplay),
                          ("joint-backtest", report.JointBacktestDisplay)):
        path = FIGURES / f"{name}-{kind}.png"
        path.write_bytes(report.figure_bytes(display.from_analysis(analysis), "png"))
        out[kind] = str(path.relative_to(DOCS))
    return out


def _pruning_figures(name: str, pruning: dict[str, Any]) -> list[str]:
    """Per shard: error against density, each width's measured points and the joint law's fit
    with its band (the points and band of ``scalinglab pruning --format json``)."""
    import matplotlib.pyplot as plt

    FIGURES.mkdir(exist_ok=True)
    out = []
    for fit in pruning["joint"]:
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
        cmap = plt.get_cmap("viridis")
        widths = sorted({pt["width"] for pt in fit["points"]})
        for i, width in enumerate(widths):
            pts = sorted((pt for pt in fit["points"] if pt["width"] == width), key=lambda pt: pt["density"])
            color = cmap(i / max(len(widths) - 1, 1))
            d = [pt["density"] for pt in pts]
            ax.scatter(d, [pt["observed"] for pt in pts], s=14, color=color, zorder=3)
            ax.plot(d, [pt["predicted"] for pt in pts], color=color, lw=1.4, label=f"width {width:g}")
            if all(pt["lower"] is not None and pt["upper"] is not None for pt in pts):
                ax.fill_between(d, [pt["lower"] for pt in pts], [pt["upper"] for pt in pts], color=color,
                                alpha=0.15)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("density (fraction of weights kept)")
        ax.set_ylabel("val_error (min over training)")
        ax.set_title(f"Pruning law, joint fit, shard {fit['shard_size']} "
                     f"(mean {100 * fit['mean_relative_error']:+.1f}%, std {100 * fit['std_relative_error']:.1f}%)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = FIGURES / f"{name}-pruning-{fit['shard_size']}.png"
        fig.savefig(path)
        plt.close(fig)
        out.append(str(path.relative_to(DOCS)))
    return out


def compute(work: Path) -> dict[str, Any]:
    """Import every committed export, analyse it, draw its figures; the page's numbers."""
    from scalinglab.analysis import compare_exponents

    numbers: dict[str, Any] = {"level": LEVEL, "seed": SEED, "studies": {}, "missing": []}
    analyses = {}
    for study in STUDIES:
        if not study.export.is_file():
            numbers["missing"].append(study.name)
            continue
        url = f"sqlite:///{work / (study.name + '.db')}"
        entry: dict[str, Any] = {"workload": study.workload, "question": study.question,
                                 "export": str(study.export.relative_to(DOCS)),
                                 "spec": f"reproduction/{study.spec_stem}.toml",
                                 "caveat": study.caveat, "workers": study.workers, "grid": _grid(study.export),
                                 "import": _import(study.export, url), "times": _times(study.name, url)}
        try:
            analyses[study.name], entry["analysis"] = _analysis(study.name, url)
            entry["figures"] = _figures(study.name, analyses[study.name])
            entry["joint_fit_cells"] = _fit_cells(analyses[study.name])
            entry["cell_budgets"] = _cell_budgets(study.name, url)
        except Exception as exc:  # a study the learning-curve analysis cannot take (say why)
            entry["analysis"], entry["analysis_error"] = None, f"{type(exc).__name__}: {exc}"
        if study.name == PRUNING:
            entry["pruning"] = _pruning(study.name, url)
            entry["pruning_figures"] = _pruning_figures(study.name, entry["pruning"])
        numbers["studies"][study.name] = entry
        print(f"analysed {study.name}", file=sys.stderr)
    if all(name in analyses for name in PAIR):
        numbers["compare"] = compare_exponents(analyses[PAIR[0]], analyses[PAIR[1]])
    numbers["compare_architecture"] = [_compare_or_reason(analyses, pair) for pair in ARCHITECTURE
                                       if all(name in analyses for name in pair)]
    return numbers


def _compare_or_reason(analyses: dict[str, Any], pair: tuple[str, str]) -> dict[str, Any]:
    """``scalinglab compare`` on the pair, or why it cannot be run (a study without beta_g)."""
    from scalinglab.analysis import compare_exponents

    a, b = (analyses[name] for name in pair)
    missing = [f"{s.study}: {s.not_estimable.get('beta_g', 'no power-law window')}" for s in (a, b)
               if s.learning_curve.window_fit is None]
    if missing:
        return {"studies": list(pair), "verdict": "not estimable: " + "; ".join(missing), "beta_g": None}
    return dict(compare_exponents(a, b))


# -- the page -------------------------------------------------------------------------------


def _g(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.{digits}g}"


def _f(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.{digits}f}"


def _pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{100 * float(value):+.{digits}f}%"


def _iv(pair: Any, fmt: Any = _f) -> str:
    if not pair or pair[0] is None:
        return "[n/a]"
    return f"[{fmt(pair[0])}, {fmt(pair[1])}]"


def _minutes(seconds: Any) -> str:
    return "n/a" if seconds is None else f"{float(seconds) / 60:.0f} min"


def beta_g_text(a: dict[str, Any]) -> str:
    """beta_g as the page states it (the test reads this too)."""
    h = a["headline"]
    if h["beta_g"] is None:
        return "not estimable"
    return f"{_f(h['beta_g'])} {_iv(h['beta_g_interval'])}"


def joint_mean_text(jb: dict[str, Any] | None) -> str:
    """The joint backtest's mean relative error as the page states it (the test reads this)."""
    if not jb or jb.get("mean_relative_error") is None:
        return "n/a"
    return _pct(jb["mean_relative_error"])


def _beta_p_text(a: dict[str, Any]) -> str:
    h = a["headline"]
    return "not estimable" if h["beta_p"] is None else f"{_f(h['beta_p'])} {_iv(h['beta_p_interval'])}"


def _check_text(c: dict[str, Any]) -> str:
    return f"`{c['name']}` {'fails' if c['status'] == 'fail' else 'warns'}: {c['reason']}."


def _joint_text(jb: dict[str, Any] | None) -> str:
    if not jb:
        return "not fitted"
    if jb.get("mean_relative_error") is None:
        return "not scored: " + str(jb.get("reason"))
    return (f"{joint_mean_text(jb)} +- {100 * jb['std_relative_error']:.1f}% "
            f"({jb['n_cells']} cells scored, fitted on {jb['n_train']}; {_joint_coverage_text(jb)})")


def _percent(level: float) -> str:
    """A level as the page prints it (0.9 -> "90"; 0.57 -> "57", not int(56.99...))."""
    from scalinglab._format import level_percent

    return level_percent(level)


def _joint_coverage_text(jb: dict[str, Any] | None) -> str:
    """How many scored cells the small-cell fit's bands held (``joint_backtest.coverage``)."""
    if not jb or jb.get("mean_relative_error") is None:
        return "n/a"
    level = _percent(jb["level"])
    if jb.get("coverage") is None:  # no finite band (a singular small-cell fit): not a miss
        return f"no {level}% bands: {jb['band_reason']}" if jb.get("band_reason") else "n/a"
    held = round(jb["coverage"] * jb["n_banded"])
    return f"{level}% bands hold {held} of {jb['n_banded']} cells ({100 * jb['coverage']:.0f}%)"


def _failed(a: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in a["checks"] if c["status"] != "ok"]


def _verdict_beta_g(value: float | None) -> str:
    if value is None:
        return "not estimable, so not comparable"
    lo, hi = HESTNESS_BETA_G
    if value < lo:
        return f"steeper than Hestness's range ({lo} to {hi})"
    if value > hi:
        return f"flatter than Hestness's range ({lo} to {hi})"
    return f"inside Hestness's range ({lo} to {hi})"


def _verdict_beta_p(value: float | None) -> str:
    if value is None:
        return "not comparable"
    lo, hi = HESTNESS_BETA_P
    if value > hi:
        return f"above Hestness's {lo}-{hi}"
    if value < lo:
        return f"below Hestness's {lo}-{hi}"
    return f"inside Hestness's {lo}-{hi}"


def _joint_meets(jb: dict[str, Any] | None) -> str:
    if not jb or jb.get("mean_relative_error") is None:
        return "no"
    ok = abs(jb["mean_relative_error"]) <= TARGET and jb["std_relative_error"] <= TARGET
    covered = jb.get("coverage") is not None and COVERAGE[0] <= jb["coverage"] <= COVERAGE[1]
    if ok and covered:
        return "yes"
    return "no (" + ", ".join(
        [*([] if ok else ["mean or std above 5%"]),
         *([] if covered else [f"coverage outside {100 * COVERAGE[0]:.0f}-{100 * COVERAGE[1]:.0f}%"])]) + ")"


def _workers_text(workers: int) -> str:
    return "one worker" if workers == 1 else f"{workers} workers"


def _study_section(name: str, entry: dict[str, Any]) -> list[str]:
    t = entry["times"]
    out = [f"## {name}: {entry['workload']}", "",
           f"What it tests: {entry['question']}. Spec [`{entry['spec']}`]({entry['spec']}), export "
           f"[`{entry['export']}`]({entry['export']}): {t['runs']} runs "
           f"({', '.join(f'{v} {k.lower()}' for k, v in t['states'].items())}); {_workers_text(entry.get('workers', 1))} at nice 19 on "
           f"the shared 2-core machine from {t['first_start'][:16]} to {t['last_end'][:16]} "
           f"({_minutes(t['span_s'])}); the runs' durations sum to {_minutes(t['run_time_sum_s'])}, so "
           f"about {_minutes(t['two_core_s'])} on 2 cores (2 workers, at best half; timings noisy: "
           "other jobs loaded the machine).", "", _grid_text(entry["grid"]), ""]
    if entry.get("caveat"):
        out += [f"**Size.** {entry['caveat']}", ""]
    a = entry.get("analysis")
    if a is None:
        out += [f"`scalinglab analyze` gives no learning-curve analysis of this study: "
                f"{str(entry.get('analysis_error')).rstrip('.')}.", ""]
        return out
    out += ["Checks (`scalinglab analyze`, first):", "", "| check | status | reason |", "|---|---|---|"]
    out += [f"| {c['name']} | {c['status'].upper()} | {c['reason']} |" for c in a["checks"]]
    lc, ms = a["learning_curve"], a["model_size"]
    window = lc.get("window_shards") or []
    out += ["", f"- **beta_g = {beta_g_text(a)}** (90%, {a['headline']['beta_g_method'] or 'n/a'}; "
            f"{len(window)} shards in the power-law window"
            + (f", {_g(min(window), 5)}-{_g(max(window), 5)}" if window else "") + "): "
            f"{_verdict_beta_g(a['headline']['beta_g'])}."
            + ("" if a["headline"]["beta_g_reason"] is None else f" Why not: {a['headline']['beta_g_reason']}."),
            f"- **beta_p = {_beta_p_text(a)}**: {_verdict_beta_p(a['headline']['beta_p'])}."
            + ("" if a["headline"]["beta_p_reason"] is None else f" Why not: {a['headline']['beta_p_reason']}.")]
    joint = a.get("joint")
    if joint is not None:
        p, iv = joint["fit"]["params"], joint["fit"]["intervals"]
        out.append(f"- Joint law (Rosenfeld 2020) on all {joint['n_cells']} cells: alpha = {_f(p['alpha'])} "
                   f"{_iv(iv['alpha'])} (data), beta = {_f(p['beta'])} {_iv(iv['beta'])} (model); fit divergence "
                   f"{_pct(joint['divergence_mean'])} +- {100 * joint['divergence_std']:.1f}%, random "
                   f"{joint['cv_folds']}-fold CV {_pct(joint['cv_divergence_mean'])} +- "
                   f"{100 * joint['cv_divergence_std']:.1f}% (interpolation).")
    out.append(f"- **Joint-law backtest** from n <= N/8 and m <= M/16: {_joint_text(a.get('joint_backtest'))}. "
               f"Rosenfeld's ImageNet: {_pct(ROSENFELD_JOINT[0])} +- {100 * ROSENFELD_JOINT[1]:.1f}%.")
    out += _joint_why(entry)
    bt = a.get("backtest")
    if bt is not None:
        out += ["", f"Learning-curve backtest (`{bt['law']}` fitted on the shards <= {_g(bt['max_train_size'], 5)}, "
                f"{int(a['level'] * 100)}% bands):", "",
                "| shard | observed | predicted | band | relative error | in band |", "|---|---|---|---|---|---|"]
        for n, o, pr, lo, hi, r in zip(bt["shard_size"], bt["observed"], bt["predicted"], bt["lower"],
                                       bt["upper"], bt["relative_error"], strict=True):
            out.append(f"| {_g(n, 6)} | {_g(o, 4)} | {_g(pr, 4)} | [{_g(lo, 4)}, {_g(hi, 4)}] | {_pct(r)} | "
                       f"{'yes' if lo <= o <= hi else 'no'} |")
        out += ["", f"Mean |relative error| {100 * bt['mean_abs_relative_error']:.1f}%, coverage "
                f"{100 * bt['coverage']:.0f}% of {bt['coverage_points']} shards."
                + ("" if bt["caveat"] is None else f" Caveat: {bt['caveat']}.")]
    else:
        out += ["", "No learning-curve backtest: " + "; ".join(n for n in a["notes"] if "backtest" in n) + "."]
    fails = _failed(a)
    out += ["", "**Where the laws fail here.** " + (
        " ".join(_check_text(c) for c in fails) if fails
        else "No check fails.")
        + " " + " ".join(f"Note: {n}." for n in (*ms["notes"], *a["notes"]))]
    fig = entry.get("figures", {})
    out += ["", " ".join(f"![{name} {k}]({v})" for k, v in fig.items()), ""]
    return out


def _joint_why(entry: dict[str, Any]) -> list[str]:
    """Where the joint backtest misses issue 17's goal: the first failed check, and which scored
    cells (beyond the small ones in n, in m, or in both) carry the error."""
    a = entry["analysis"]
    jb = a.get("joint_backtest")
    verdict = _joint_meets(jb)
    if verdict == "yes" or not jb or jb.get("mean_relative_error") is None:
        return []
    fails = [c for c in a["checks"] if c["status"] == "fail"]
    first = (f"the first check that failed is `{fails[0]['name']}` ({fails[0]['reason']})" if fails
             else "no check failed, so the analysis did not warn of it first")
    parts = []
    for label, want in (("beyond N/8 in n only", (True, False)), ("beyond M/16 in m only", (False, True)),
                        ("beyond both", (True, True))):
        rel = [c["relative_error"] for c in jb.get("cells", []) if (c["beyond_n"], c["beyond_m"]) == want]
        if rel:
            mean = sum(rel) / len(rel)
            std = math.sqrt(sum((r - mean) ** 2 for r in rel) / len(rel))
            parts.append(f"{label} {_pct(mean)} +- {100 * std:.1f}% ({len(rel)} cells)")
    worst = max(jb.get("cells", []), key=lambda c: abs(c["relative_error"]), default=None)
    worst_text = ("" if worst is None else
                  f"; the worst cell is n = {_g(worst['n'], 6)}, m = {_g(worst['m'], 7)} parameters: observed "
                  f"{_g(worst['observed'], 4)}, predicted {_g(worst['predicted'], 4)} ({_pct(worst['relative_error'])})")
    fc = entry.get("joint_fit_cells")
    fit_text = ("" if not fc else
                f" The fitted cells (shards {_g(fc['shards'][0], 6)}-{_g(fc['shards'][-1], 6)}, sizes "
                f"{_g(fc['model_sizes'][0], 6)}-{_g(fc['model_sizes'][-1], 6)}) have errors "
                f"{_g(fc['error_min'], 3)}-{_g(fc['error_max'], 3)} against eps0 = {_g(fc['eps0'], 3)}.")
    joint = a.get("joint")
    interp_text = ("" if not joint or joint.get("divergence_std") is None
                   or joint["divergence_std"] <= TARGET else
                   f" Even fitted on all {joint['n_cells']} cells the law's divergence is "
                   f"{_pct(joint['divergence_mean'])} +- {100 * joint['divergence_std']:.1f}% (10-fold CV "
                   f"{100 * joint['cv_divergence_std']:.1f}%): the form does not interpolate this landscape "
                   "to the goal's 5% std, so a fit on its small corner is not expected to extrapolate within it.")
    cb = entry.get("cell_budgets")
    budget_text = ("" if not cb or not cb["budget_limited"] else
                   f" {cb['budget_limited']} of the {cb['cells']} cells the joint law uses (each at its best "
                   f"hyperparameter point and final budget; {cb['extended']} extended) were still "
                   "budget-limited: their errors are upper bounds, on both sides of the fit.")
    return [f"- It misses issue 17's goal: {verdict.removeprefix('no (').removesuffix(')')}; {first}. "
            f"By where the scored cells lie: {'; '.join(parts)}{worst_text}.{fit_text}{interp_text}{budget_text}"]


def _grid_text(g: dict[str, Any]) -> str:
    shards, sizes = g["shard_sizes"], g["sizes"]
    def law(v: dict[str, Any]) -> str:
        kind, values = next(iter(v.items()))
        return ("{" + ", ".join(_g(x, 4) for x in values) + "}" if kind == "choice"
                else f"{kind} [{_g(values[0], 4)}, {_g(values[1], 4)}]")

    tuned = "; ".join(f"{k} tuned per shard ({g['param_samples']} points of {law(v)})" for k, v in g["tuned"].items())
    return (f"Grid: {len(shards)} shards from {_g(shards[0], 6)} to {_g(shards[-1], 6)} "
            f"({g['decades']:.1f} decades), {g['knob']} {', '.join(_g(v, 6) for v in sizes)} "
            f"({len(sizes)} sizes"
            + ("" if not g.get("max_size") or g["max_size"] <= sizes[-1] else
               f"; the search may add sizes up to {_g(g['max_size'], 6)} where a shard's best is the largest")
            + f"), {g['seeds']} seed{'' if g['seeds'] == 1 else 's'}, `{g['search']}` search"
            + (f"; {tuned}" if tuned else "") + ".")


#: The floor parameter of each learning-curve law with one.
FLOORS = (("power_floor", "c"), ("envelope", "c_inf"), ("m4", "eps_inf"))


def _floor_section(entry: dict[str, Any]) -> list[str]:
    """The teacher-student's question: is the fitted floor consistent with zero?"""
    a = entry.get("analysis")
    if a is None:
        return []
    fits = a["learning_curve"]["fits"]
    rows = []
    for law, param in FLOORS:
        f = fits.get(law)
        if f is None:
            continue
        rows.append(_floor_row(law, param, f["params"][param], f["intervals"].get(param)))
    joint = a.get("joint")
    if joint is not None:
        rows.append(_floor_row("joint", "c_inf", joint["fit"]["params"]["c_inf"],
                               joint["fit"]["intervals"].get("c_inf")))
    lc = a["learning_curve"]
    floors = [(fits[law], param) for law, param in FLOORS if law in fits]
    values = [f["params"][param] for f, param in floors]
    singular = all(not f["intervals"].get(param) or f["intervals"][param][0] is None for f, param in floors)
    decades = math.log10(max(lc["error"]) / min(lc["error"]))
    verdict = (f"No learning-curve fit gives the floor an interval (singular covariances: the error falls by "
               f"{decades:.1f} decades across the shards, which none of the laws follows), so the analysis "
               "cannot say \"consistent with zero\" in the statistical sense. The floors it fits (at most "
               f"{_g(max(values))}) sit at the smallest errors measured ({_g(min(lc['error']))}): the precision "
               "the training reaches, not a floor of the data." if singular and values else "")
    return [f"Fitted floors of the teacher-student (90% intervals; the true floor is 0; eps0 = {_g(a['eps0'])}, "
            f"the errors fall from {_g(lc['error'][0])} on the smallest shard to {_g(min(lc['error']))}):", "",
            "| law | floor parameter | value | interval | contains 0 |", "|---|---|---|---|---|", *rows, "",
            *([verdict, ""] if verdict else [])]


def _floor_row(law: str, param: str, value: Any, interval: Any) -> str:
    if not interval or interval[0] is None:
        return f"| {law} | {param} | {_g(value)} | none (singular fit: the data do not determine it) | n/a |"
    lo, hi = interval
    return f"| {law} | {param} | {_g(value)} | {_iv([lo, hi], _g)} | {'yes' if lo <= 0 <= hi else 'no'} |"


def _compare_section(cmp: dict[str, Any] | None, studies: dict[str, Any]) -> list[str]:
    if cmp is None:
        return ["## Optimizer comparison", "", "Not available: the pair's exports are missing.", ""]
    hestness = (cmp["difference_interval"] is not None and cmp["difference_interval"][0] <= 0
                <= cmp["difference_interval"][1] and cmp["shifted"])
    return [
        "## Optimizer comparison: Adam against SGD (`scalinglab compare mnist1d-mlp-adam mnist1d-mlp-sgd`)", "",
        f"beta_g: Adam {_f(cmp['beta_g'][0])}, SGD {_f(cmp['beta_g'][1])}; slope difference "
        f"{_f(cmp['difference'])} 90% {_iv(cmp['difference_interval'])} ({cmp['method']}); shift of SGD "
        f"against Adam at {_g(cmp['reference_size'], 5)} examples {_pct(cmp['shift'])} 90% "
        f"{_iv(cmp['shift_interval'], _pct)}. Verdict: **{cmp['verdict']}**.", "",
        ("Hestness's claim (same exponent, shifted curve) holds on this pair." if hestness else
         "Hestness's claim (the optimizer shifts the curve and keeps the exponent) does **not** hold on "
         "this pair: " + ("the slope difference's interval excludes 0" if cmp["differ"] else
                          "the shift's interval contains 0")
         + "." + _edge_note(cmp, studies)), ""]


def _edge_note(cmp: dict[str, Any], studies: dict[str, Any]) -> str:
    """Which of the pair's studies fail ``model_interior``: the grid's edge may bend the slopes."""
    edge = [n for n in cmp["studies"] if any(
        c["name"] == "model_interior" and c["status"] == "fail"
        for c in (studies[n].get("analysis") or {}).get("checks", []))]
    if not edge:
        return ""
    return (f" `model_interior` fails on {' and '.join(edge)} (a best-fit width at the grid's edge "
            "is censored), so part of the slope difference may come from the grid, not the optimizer.")


def _architecture_section(pairs: list[dict[str, Any]]) -> list[str]:
    """MLP against CNN on MNIST-1D (both Adam): does the architecture shift the curve, keep the slope?"""
    if not pairs:
        return []
    out = ["## Architecture comparison: MLP against CNN (`scalinglab compare MLP-STUDY mnist1d-cnn`)", "",
           "Hestness et al. 2017: a better architecture shifts the learning curve and keeps its exponent.", "",
           "| pair | beta_g MLP | beta_g CNN | slope difference (90%) | shift of the CNN (90%) | verdict |",
           "|---|---|---|---|---|---|"]
    for c in pairs:
        mlp, cnn = c["studies"]
        if c.get("beta_g") is None or c.get("not_estimable"):
            # Only the first clause of each reason (the failed check); the study's section has the rest.
            why = "; ".join(":".join(r.split(":", 2)[:2]) for r in c.get("not_estimable") or [])
            out.append(f"| {mlp} / {cnn} | n/a | n/a | n/a | n/a | not estimable ({why or c['verdict']}) |")
            continue
        slope = (f"{_f(c['difference'])} {_iv(c['difference_interval'])}" if c["difference_interval"]
                 else f"{_f(c['difference'])} (z = {_f(c['z'], 2)}, {c['method']})")
        shift = (f"{_pct(c['shift'])} {_iv(c['shift_interval'], _pct)}" if c["shift_interval"]
                 else f"{_pct(c['shift'])} (no interval: {c['method']})")
        out.append(f"| {mlp} / {cnn} | {_f(c['beta_g'][0])} | {_f(c['beta_g'][1])} | {slope} | "
                   f"{shift} at {_g(c['reference_size'], 5)} examples | {c['verdict']} |")
    return [*out, ""]


def _pruning_section(entry: dict[str, Any] | None) -> list[str]:
    head = ["## Pruning law (Rosenfeld et al. 2021; `scalinglab pruning mnist1d-mlp-prune`)", ""]
    if entry is None or "pruning" not in entry:
        return [*head, "The pruning study had not finished when this page was generated; its export is "
                "not committed yet, so there is no fit here (`make reproduce` runs it).", ""]
    p = entry["pruning"]
    rows = ["| fit | shard | widths | eps_up | p | gamma | psi | mean rel. error | std | band coverage |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for f in (*p["single"], *p["joint"]):
        par = f["params"]
        rows.append(f"| {f['kind']} | {f['shard_size']} | {', '.join(_g(w) for w in f['widths'])} | "
                    f"{_g(par.get('eps_up'))} | {_g(par.get('p'))} | {_g(par.get('gamma'))} | "
                    f"{_g(par.get('psi'))} | {_pct(f['mean_relative_error'], 2)} | "
                    f"{100 * f['std_relative_error']:.2f}% | {_pct(f['band_coverage'], 0).lstrip('+')} |")
    figures = " ".join(f"![pruning fit]({f})" for f in entry.get("pruning_figures", []))
    return [*head, f"Published ({p['reference']}).", "", *rows, "", figures, ""]


def _summary(numbers: dict[str, Any]) -> list[str]:
    rows = ["| study | runs | wall-clock span | on 2 cores (sum / 2) | beta_g (90%) | beta_p (90%) | "
            "learning-curve backtest: mean abs err, coverage | joint backtest: mean +- std | "
            "|mean|, std <= 5% | joint band coverage | failed checks |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, e in numbers["studies"].items():
        a, t = e.get("analysis"), e["times"]
        if a is None:
            rows.append(f"| {name} | {t['runs']} | {_minutes(t['span_s'])} | {_minutes(t['two_core_s'])} | "
                        "see below | | | | | | |")
            continue
        bt, jb = a.get("backtest"), a.get("joint_backtest")
        lcb = "n/a" if bt is None else f"{100 * bt['mean_abs_relative_error']:.1f}%, {100 * bt['coverage']:.0f}%"
        fails = ", ".join(c["name"] for c in a["checks"] if c["status"] == "fail") or "none"
        rows.append(f"| {name} | {t['runs']} | {_minutes(t['span_s'])} | {_minutes(t['two_core_s'])} | "
                    f"{beta_g_text(a)} | {_beta_p_text(a)} | {lcb} | "
                    f"{_joint_text(jb) if jb and jb.get('mean_relative_error') is not None else 'not scored (see below)'} | "
                    f"{_joint_meets(jb)} | "
                    f"{_joint_coverage_text(jb)} | " + fails + " |")
    return rows


def render(numbers: dict[str, Any]) -> str:
    """docs/reproduction.md from the numbers (nothing typed by hand)."""
    studies = numbers["studies"]
    cmp = numbers.get("compare")
    lines = [
        "# Reproduction: how predictable is scaling on our own runs? (issue 17)", "",
        "<!-- Generated by docs/reproduction/make_page.py (`make reproduce-docs`) from the committed "
        "exports: do not edit by hand. -->", "",
        "Real training that anyone can rerun offline on a CPU, analysed by scalinglab as it is. Every "
        "number and figure on this page is regenerated from the committed exports by "
        "`make reproduce-docs` (docs/reproduction/make_page.py: each export is imported into a fresh "
        "SQLite database and analysed by the functions `scalinglab analyze --format json`, "
        "`scalinglab compare` and `scalinglab pruning` use; bootstraps seeded with "
        f"{numbers['seed']}; {_percent(numbers['level'])}% intervals). The numbers are also in "
        "[`reproduction/page.json`](reproduction/page.json). `make reproduce` reruns the studies "
        "from their specs through `scalinglab run` (hours on 2 cores; it resumes).", "",
        "To re-analyse one study yourself:", "", "```bash",
        "scalinglab import docs/reproduction/mnist1d-mlp-adam.json --storage repro.db",
        "scalinglab analyze mnist1d-mlp-adam --storage repro.db --format json", "```", "",
        "## Summary", "",
        f"Published references: Hestness et al. 2017 measure beta_g from {HESTNESS_BETA_G[0]} to "
        f"{HESTNESS_BETA_G[1]} (character LM -0.094 SGD / -0.095 Adam) and beta_p from "
        f"{HESTNESS_BETA_P[0]} to {HESTNESS_BETA_P[1]}; Rosenfeld et al. 2020 score the joint law, fitted on "
        f"<= 1/8 of the data and <= 1/16 of the model, at {_pct(ROSENFELD_JOINT[0])} +- "
        f"{100 * ROSENFELD_JOINT[1]:.1f}% on ImageNet. Issue 17 asks, for three studies, |mean| <= 5%, "
        "std <= 5% and 90% bands covering 80-97% of the scored cells.", "",
        *_summary(numbers), "",
    ]
    if numbers["missing"]:
        lines += [f"Not on this page yet (no committed export): {', '.join(numbers['missing'])}.", ""]
    met = [n for n, e in studies.items() if e.get("analysis") and _joint_meets(e["analysis"].get("joint_backtest"))
           .startswith("yes")]
    lines += [
        f"**Done-when 2:** {len(met)} of {sum(1 for e in studies.values() if e.get('analysis'))} analysed "
        f"studies meet |mean| <= 5% and std <= 5% in the joint backtest"
        + (f" ({', '.join(met)})" if met else "")
        + ", with the 90% bands of the small-cell fit (delta method) covering 80-97% of the scored cells "
          "(`joint_backtest.coverage`). Where a study misses, its section says which check failed first.", "",
        "**Done-when 3:** " + ("n/a" if cmp is None else cmp["verdict"] + "."), "",
    ]
    for name, entry in studies.items():
        lines += _study_section(name, entry)
        if name == "teacher-student":
            lines += _floor_section(entry)
    lines += _compare_section(cmp, studies)
    lines += _architecture_section(numbers.get("compare_architecture", []))
    lines += _pruning_section(studies.get(PRUNING))
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="scalinglab-reproduce-docs-") as tmp:
        numbers = compute(Path(tmp))
    NUMBERS.write_text(json.dumps(numbers, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    PAGE.write_text(render(numbers), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(DOCS.parent)}, {NUMBERS.relative_to(DOCS.parent)} and "
          f"{len(list(FIGURES.glob('*.png')))} figures", file=sys.stderr)


if __name__ == "__main__":
    main()
