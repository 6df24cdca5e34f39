"""``analyze``, ``predict``, ``plan``, ``report`` and ``plot``: answers from a stored study."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from scalinglab._errors import InputError, invalid_parameter
from scalinglab._format import level_percent
from scalinglab.cli._app import app
from scalinglab.cli._common import echo_json, format_option
from scalinglab.cli._study import _open, _record, _storage_option

_LEVEL = click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9,
                      show_default=True, help="Level of intervals and bands.")
_EPS0 = click.option("--eps0", type=click.FloatRange(0, min_open=True), default=None,
                     help="Random-guess error of the metric (1 - 1/K for K classes) [default: the spec's, else the task's, else 2 x the largest error].")


_TOLERANCE = click.option(
    "--size-tolerance", type=click.FloatRange(0, 1, max_open=True), default=None,
    help="Best-fit model = smallest whose score is within this relative margin of the lowest "
         "[default: the spec's [model] size_tolerance, the rule the search followed; else 0].")


_METHOD = click.option(
    "--method", type=click.Choice(["auto", "bootstrap"]), default="auto", show_default=True,
    help="auto: the default fit and its calibrated band; bootstrap: the power law of the "
         "power-law window with its bootstrap-over-runs band (seed noise only).")


def _analysis_options(func: Any) -> Any:
    """The options every command that analyses a stored study takes, in one place."""
    for option in (_TOLERANCE, _LEVEL, _EPS0, _storage_option):
        func = option(func)
    return func


def load_analysis(
    study: str, storage: str | None, eps0: float | None, level: float, size_tolerance: float | None = None,
    joint_fractions: tuple[float, float] = (1 / 8, 1 / 16),
) -> tuple[Any, dict[str, Any]]:
    """Analyse a stored study (:func:`scalinglab.study.analyze_study`); return it with the spec."""
    from scalinglab.study import analyze_study

    store = _open(storage)
    try:
        record = _record(study, store)
        analysis = analyze_study(study, store, eps0=eps0, level=level, size_tolerance=size_tolerance,
                                 joint_fractions=joint_fractions)
    finally:
        store.close()
    return analysis, dict(record.spec)


def _interval(pair: Any, digits: int = 4) -> str:
    if pair is None:
        return "[n/a]"
    lo, hi = pair
    return f"[{_g(lo, digits)}, {_g(hi, digits)}]"


def _g(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    v = float(value)
    return f"{v:.{digits}g}" if math.isfinite(v) else "n/a"


def check_lines(analysis: Any) -> list[str]:
    """The checks, one line each: status, name, reason."""
    return [f"{c.status.upper():7s} {c.name}: {c.reason}" for c in analysis.checks]


def _number_line(analysis: Any, name: str, what: str) -> str:
    number = analysis.number(name)
    pct = level_percent(analysis.level)
    if not number["estimable"]:
        return f"{name} = not estimable ({what}): {number['reason']}"
    return (f"{name} = {_g(number['value'], 3)}  {pct}% interval {_interval(number['interval'], 3)}  "
            f"({what}; {number['method']})")


def headline_lines(analysis: Any) -> list[str]:
    """The headline in a few lines of text: the checks first, then the numbers."""
    lc = analysis.learning_curve
    lines = ["checks:"] + ["  " + line for line in check_lines(analysis)]
    lines += [
        _number_line(analysis, "beta_g", f"learning-curve exponent, {lc.beta_g_law}"),
        _number_line(analysis, "beta_p", "best model size ~ data^beta_p"),
    ]
    bt = analysis.backtest
    if bt is not None:
        lines.append(
            f"backtest: fitted on shards <= {_g(bt.max_train_size)}, predicted {_g(bt.predicted[-1], 3)} "
            f"{_interval((bt.lower[-1], bt.upper[-1]), 3)} at {_g(bt.shard_size[-1])} examples; "
            f"observed {_g(bt.observed[-1], 3)} (mean |relative error| {100 * bt.mean_abs_relative_error:.1f}%, "
            f"band held on {round(bt.coverage * len(bt.observed))} of {len(bt.observed)} shards)"
        )
        if bt.caveat:
            lines.append(f"  caveat: {bt.caveat}")
    if analysis.joint is not None and analysis.joint.backtest is not None:
        jb = analysis.joint.backtest
        if jb.reason is None:
            held = jb.coverage_words()
            lines.append(
                f"joint backtest (fit on n <= N/{1 / jb.n_fraction:g}, m <= M/{1 / jb.m_fraction:g}; "
                f"{jb.n_train} cells): relative error on {jb.n_cells} larger cells "
                f"{100 * jb.mean_relative_error:+.1f}% +- {100 * jb.std_relative_error:.1f}%"
                + (f"; {held}" if held else ""))
        else:
            lines.append(f"joint backtest: not run: {jb.reason}")
        if jb.caveat:
            lines.append(f"  caveat: {jb.caveat}")
    return lines


def _fail(message: str) -> None:
    """A number the data cannot support: the reason on stderr, exit status 1."""
    click.echo(f"not estimable: {message}", err=True)
    raise SystemExit(1)


@app.command("analyze")
@click.argument("study")
@_analysis_options
@format_option()
@click.option("--joint-fractions", type=(click.FloatRange(0, 1, min_open=True, max_open=True),
                                          click.FloatRange(0, 1, min_open=True, max_open=True)),
              default=(1 / 8, 1 / 16), show_default=True, metavar="N_FRACTION M_FRACTION",
              help="The joint backtest fits the cells with n <= N * N_FRACTION and m <= M * M_FRACTION.")
def analyze_command(study: str, storage: str | None, eps0: float | None, level: float, size_tolerance: float | None,
                    fmt: str, joint_fractions: tuple[float, float]) -> None:
    """Checks first, then the learning curve, regions, model-size law, joint law and backtests of STUDY."""
    analysis, _ = load_analysis(study, storage, eps0, level, size_tolerance, joint_fractions)
    if fmt == "json":
        echo_json(analysis.to_dict())
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(soft_wrap=True)
    assumed = " assumed" if analysis.eps0_assumed else ""
    rule = (f"best fit: smallest size within {100 * analysis.size_tolerance:g}% of a shard's lowest"
            if analysis.size_tolerance else "best fit: lowest score")
    console.print(f"[bold]Study {escape(study)}[/bold] ({escape(analysis.metric)}, eps0 {_g(analysis.eps0)}{assumed}; {rule})")
    checks = Table(title="checks")
    for col in ("check", "status", "reason"):
        checks.add_column(col)
    for c in analysis.checks:
        checks.add_row(escape(c.name), c.status.upper(), escape(c.reason))
    console.print(checks)
    for line in headline_lines(analysis)[len(analysis.checks) + 1:]:
        console.print("  " + escape(line))
    table = Table(title="learning-curve fits")
    for col in ("law", "parameters", "converged", "RMSLE"):
        table.add_column(col)
    lc = analysis.learning_curve
    for name, fit in {"default (auto)": lc.fit, **lc.fits}.items():
        params = ", ".join(f"{k}={_g(v)}" for k, v in fit.params.items())
        table.add_row(escape(name), escape(params), "yes" if fit.converged else "NO", _g(fit.rmsle, 3))
    console.print(table)
    if lc.regions is not None:
        r = lc.regions
        irreducible = (f"irreducible begins at {_g(r.irreducible_start)} {_interval(r.irreducible_start_interval)}"
                       if math.isfinite(r.irreducible_start) else "no irreducible region (no floor fitted)")
        console.print(escape(
            f"regions: small-data ends at {_g(r.small_data_end)} {_interval(r.small_data_end_interval)}, "
            + irreducible))
        for note in r.notes:
            console.print(f"  note: {escape(note)}")
    if analysis.joint is not None:
        j = analysis.joint
        console.print(escape(
            f"joint law: {', '.join(f'{k}={_g(v)}' for k, v in j.fit.params.items())}; divergence "
            f"{_g(100 * j.fit.divergence_mean, 3)}% +- {_g(100 * j.fit.divergence_std, 3)}% "
            f"(random {j.cv_folds}-fold CV, interpolation: {_g(100 * j.cv_divergence_mean, 3)}% "
            f"+- {_g(100 * j.cv_divergence_std, 3)}%)"))
        if "joint" in analysis.not_estimable:
            console.print(f"  joint law not estimable: {escape(analysis.not_estimable['joint'])}")
    for note in (*lc.notes, *analysis.model_size.notes, *analysis.notes):
        console.print(f"note: {escape(note)}")


@app.command("predict", parameter_aliases={"n_params": "model_size"})
@click.argument("study")
@click.option("--data-size", type=float, required=True, help="Training-set size to predict at.")
@click.option("--model-size", type=float, default=None, help="Parameter count (uses the joint law).")
@_analysis_options
@_METHOD
@format_option()
def predict_command(study: str, data_size: float, model_size: float | None, storage: str | None,
                    eps0: float | None, level: float, size_tolerance: float | None, method: str, fmt: str) -> None:
    """Predicted error of STUDY's task at a data size (and model size), with a band."""
    from scalinglab._json import jsonable
    from scalinglab.analysis import NotEstimableError

    analysis, _ = load_analysis(study, storage, eps0, level, size_tolerance)
    try:
        p = analysis.predict(data_size, model_size, method=method)
    except NotEstimableError as exc:
        _fail(str(exc))
    law = ("joint" if model_size else "power on the power-law window" if method == "bootstrap"
           else (analysis.learning_curve.fit.selection or {}).get("winner"))
    note = band_evidence(analysis) if p.method == "ensemble" else None
    doc = jsonable({"study": study, "data_size": data_size, "model_size": model_size,
                     "predicted": float(p.value[0]), "lower": float(p.lower[0]), "upper": float(p.upper[0]),
                     "level": level, "law": law, "method": p.method, "band_note": note})
    if fmt == "json":
        echo_json(doc)
        return
    where = f"{_g(data_size)} examples" + (f" and {_g(model_size)} parameters" if model_size else " (best-fit model)")
    click.echo(f"{analysis.metric} at {where}: {_g(doc['predicted'])}  {level_percent(level)}% band "
               f"{_interval((doc['lower'], doc['upper']))}")
    if note:
        click.echo(f"note: {note}")


def band_evidence(analysis: Any) -> str | None:
    """Why the learning curve's auto band is wide beyond the data, when it rests on few errors.

    The band's extrapolation rate is estimated from the curve's own rolling-origin forecasts;
    with 1 or 2 forecast errors its Student-t quantile is large (6.3 and 2.9 at 90%), and the
    user should see that the width is the evidence's, not the law's.
    """
    band = getattr(analysis.learning_curve.fit.law, "band", None)
    if band is None:
        return None
    n = band.n_errors
    if band.source == "prior":
        return ("the curve is too short for a rolling origin: the band's extrapolation rate is a "
                "prior measured on other curves (docs/extrapolation.md, 'The band of short curves'); "
                "--method bootstrap gives the seed-noise band of the window's power law")
    if not band.validated:
        return ("no rolling origin could validate the extrapolation of this curve, so the band "
                "is open beyond the largest shard; --method bootstrap gives the seed-noise band "
                "of the window's power law")
    if n is not None and n <= 2:
        return (f"the band's extrapolation rate rests on {n} rolling-origin forecast error(s) of "
                f"this curve, hence its width (Student's t with {n} degree(s) of freedom); more "
                "shards make it narrower; --method bootstrap gives the seed-noise band of the "
                "window's power law")
    return None


@app.command("plan")
@click.argument("study")
@click.option("--target-error", type=float, default=None, help="Error to reach.")
@click.option("--compute", type=float, default=None, help="Budget as parameters x examples (joint law).")
@_analysis_options
@_METHOD
@format_option()
def plan_command(study: str, target_error: float | None, compute: float | None, storage: str | None,
                 eps0: float | None, level: float, size_tolerance: float | None, method: str, fmt: str) -> None:
    """Data and model size needed for a target error, or the compute-optimal split.

    The data size is searched from the smallest shard / 10 to 1000 x the largest; a band
    edge beyond that prints as "> X (the data do not bound it)".
    """
    from scalinglab.analysis import NotEstimableError

    if (target_error is None) == (compute is None):
        raise InputError("Give exactly one of --target-error and --compute.")
    analysis, _ = load_analysis(study, storage, eps0, level, size_tolerance)
    pct = level_percent(level)
    if compute is not None:
        try:
            plan = analysis.compute_optimal(compute)
        except NotEstimableError as exc:
            _fail(str(exc))
        if fmt == "json":
            echo_json(plan.to_dict())
            return
        click.echo(
            f"compute {_g(compute)}: {_g(plan.model_size[0])} parameters {pct}% "
            f"{_interval((plan.model_size_lower[0], plan.model_size_upper[0]))}, "
            f"{_g(plan.data_size[0])} examples {_interval((plan.data_size_lower[0], plan.data_size_upper[0]))}; "
            f"predicted {analysis.metric} {_g(plan.predicted_error[0])}")
        return
    assert target_error is not None
    try:
        result = analysis.plan(target_error, method=method)
    except NotEstimableError as exc:
        _fail(str(exc))
    if fmt == "json":
        echo_json(result.to_dict())
        return
    if result.reason:
        click.echo(f"{analysis.metric} {_g(target_error)}: {result.reason}")
        return
    line = (f"{analysis.metric} {_g(target_error)} needs {_g(result.value)} examples "
            f"({pct}% {result.describe()})")
    if result.n_params is not None:
        line += (f" and a model of {_g(result.n_params.value[0])} parameters "
                 f"{_interval((result.n_params.lower[0], result.n_params.upper[0]))}")
    elif result.n_params_reason:
        line += f"; model size: {result.n_params_reason}"
    click.echo(line)


@app.command("report")
@click.argument("study")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="HTML file to write [default: STUDY-report.html].")
@_analysis_options
def report_command(study: str, output: Path | None, storage: str | None, eps0: float | None, level: float,
                   size_tolerance: float | None) -> None:
    """Write the self-contained HTML report of STUDY."""
    from scalinglab.report import write_report

    analysis, spec = load_analysis(study, storage, eps0, level, size_tolerance)
    path = write_report(output or Path(f"{study}-report.html"), analysis, spec)
    click.echo(f"wrote {path}")


_KINDS = {"learning": "LearningCurveDisplay", "model": "ModelSizeDisplay",
          "joint": "JointDisplay", "joint-backtest": "JointBacktestDisplay", "backtest": "BacktestDisplay"}


@app.command("plot")
@click.argument("study")
@click.option("--kind", type=click.Choice(list(_KINDS)), default="learning", show_default=True)
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image file; the format follows the suffix (.png or .svg).")
@_analysis_options
def plot_command(study: str, kind: str, output: Path, storage: str | None, eps0: float | None, level: float,
                 size_tolerance: float | None) -> None:
    """Draw one plot of STUDY as PNG or SVG."""
    from scalinglab import report

    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise invalid_parameter("--output", "scalinglab plot", "in .png or .svg", str(output),
                                kind="option", verb="end")
    analysis, _ = load_analysis(study, storage, eps0, level, size_tolerance)
    display = getattr(report, _KINDS[kind]).from_analysis(analysis)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(report.figure_bytes(display, fmt))
    click.echo(f"wrote {output}")


@app.command("compare")
@click.argument("study_a")
@click.argument("study_b")
@_analysis_options
@format_option()
def compare_command(study_a: str, study_b: str, storage: str | None, eps0: float | None, level: float,
                    size_tolerance: float | None, fmt: str) -> None:
    """Do two studies' learning-curve exponents differ beyond their uncertainty?

    Hestness et al. 2017: better models and optimizers shift the curve but keep the exponent.
    """
    from scalinglab.analysis import compare_exponents

    a, _ = load_analysis(study_a, storage, eps0, level, size_tolerance)
    b, _ = load_analysis(study_b, storage, eps0, level, size_tolerance)
    result = compare_exponents(a, b)
    if fmt == "json":
        echo_json(result)
        return
    pct = level_percent(level)
    click.echo(f"beta_g: {study_a} {_g(result['beta_g'][0], 3)}, {study_b} {_g(result['beta_g'][1], 3)}; "
               f"slope difference {_g(result['difference'], 3)} {pct}% {_interval(result['difference_interval'], 3)}"
               + (f" (z = {_g(result['z'], 3)})" if result["z"] is not None else ""))
    click.echo(f"shift of {study_b} against {study_a} at {_g(result['reference_size'])} examples: "
               f"{_g(100 * result['shift'], 3)}% {pct}% "
               + (_interval([100 * v for v in result["shift_interval"]], 3) + "%" if result["shift_interval"]
                  else "[n/a: single-seed studies]"))
    click.echo(result["verdict"])
