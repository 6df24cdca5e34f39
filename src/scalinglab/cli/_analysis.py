"""``analyze``, ``predict``, ``plan``, ``report`` and ``plot``: answers from a stored study."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from scalinglab._errors import InputError
from scalinglab.cli import app
from scalinglab.cli._common import echo_json, format_option
from scalinglab.cli._study import _open, _record, _require_completed, _storage_option

_LEVEL = click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9,
                      show_default=True, help="Level of intervals and bands.")
_EPS0 = click.option("--eps0", type=click.FloatRange(0, min_open=True), default=None,
                     help="Random-guess error of the metric (1 - 1/K for K classes) [default: 1 if every error < 1].")


_TOLERANCE = click.option(
    "--size-tolerance", type=click.FloatRange(0, 1), default=0.0, show_default=True,
    help="Best-fit model = smallest whose score is within this relative margin of the lowest.")


def _analysis_options(func: Any) -> Any:
    """The options every command that analyses a stored study takes, in one place."""
    for option in (_TOLERANCE, _LEVEL, _EPS0, _storage_option):
        func = option(func)
    return func


def load_analysis(
    study: str, storage: str | None, eps0: float | None, level: float, size_tolerance: float = 0.0
) -> tuple[Any, dict[str, Any]]:
    """Aggregate and analyse a stored study; return it with the study's spec."""
    from scalinglab.analysis import analyze
    from scalinglab.study import study_curves

    store = _open(storage)
    try:
        record = _record(study, store)
        _require_completed(study, store)
        curves = study_curves(study, store, size_tolerance=size_tolerance)
        spec = dict(record.spec)
    finally:
        store.close()
    if eps0 is None and isinstance(spec.get("eps0"), int | float):
        eps0 = float(spec["eps0"])
    return analyze(curves, eps0=eps0, level=level), spec


def _interval(pair: Any, digits: int = 4) -> str:
    lo, hi = pair
    return f"[{_g(lo, digits)}, {_g(hi, digits)}]"


def _g(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    v = float(value)
    return f"{v:.{digits}g}" if math.isfinite(v) else ("inf" if v > 0 else "n/a")


def headline_lines(analysis: Any) -> list[str]:
    """The headline in a few lines of text."""
    lc, ms = analysis.learning_curve, analysis.model_size
    pct = int(analysis.level * 100)
    lines = [
        f"beta_g = {_g(lc.beta_g, 3)}  {pct}% interval {_interval(lc.beta_g_interval, 3)}  (learning-curve exponent, {lc.beta_g_law})",
        f"beta_p = {_g(ms.beta_p, 3)}  {pct}% interval {_interval(ms.beta_p_interval, 3)}  (best model size ~ data^beta_p)",
    ]
    bt = analysis.backtest
    if bt is not None:
        lines.append(
            f"backtest: fitted on shards <= {_g(bt.max_train_size)}, predicted {_g(bt.predicted[-1], 3)} "
            f"{_interval((bt.lower[-1], bt.upper[-1]), 3)} at {_g(bt.shard_size[-1])} examples; "
            f"observed {_g(bt.observed[-1], 3)} (mean |relative error| {100 * bt.mean_abs_relative_error:.1f}%, "
            f"band coverage {100 * bt.coverage:.0f}%)"
        )
    return lines


@app.command("analyze")
@click.argument("study")
@_analysis_options
@format_option()
def analyze_command(study: str, storage: str | None, eps0: float | None, level: float, size_tolerance: float,
                    fmt: str) -> None:
    """Fit the learning curve, regions, model-size law, joint law and backtest of STUDY."""
    analysis, _ = load_analysis(study, storage, eps0, level, size_tolerance)
    if fmt == "json":
        echo_json(analysis.to_dict())
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(soft_wrap=True)
    console.print(f"[bold]Study {escape(study)}[/bold] ({escape(analysis.metric)}, eps0 {_g(analysis.eps0)})")
    for line in headline_lines(analysis):
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
        console.print(escape(
            f"regions: small-data ends at {_g(r.small_data_end)} {_interval(r.small_data_end_interval)}, "
            f"irreducible begins at {_g(r.irreducible_start)} {_interval(r.irreducible_start_interval)}"))
        for note in r.notes:
            console.print(f"  note: {escape(note)}")
    if analysis.joint is not None:
        j = analysis.joint
        console.print(escape(
            f"joint law: {', '.join(f'{k}={_g(v)}' for k, v in j.fit.params.items())}; divergence "
            f"{100 * j.fit.divergence_mean:.2f}% +- {100 * j.fit.divergence_std:.2f}% "
            f"({j.cv_folds}-fold CV {100 * j.cv_divergence_mean:.2f}% +- {100 * j.cv_divergence_std:.2f}%)"))
    for note in (*lc.notes, *analysis.model_size.notes, *analysis.notes):
        console.print(f"note: {escape(note)}")


@app.command("predict")
@click.argument("study")
@click.option("--data-size", type=float, required=True, help="Training-set size to predict at.")
@click.option("--model-size", type=float, default=None, help="Parameter count (uses the joint law).")
@_analysis_options
@format_option()
def predict_command(study: str, data_size: float, model_size: float | None, storage: str | None,
                    eps0: float | None, level: float, size_tolerance: float, fmt: str) -> None:
    """Predicted error of STUDY's task at a data size (and model size), with a band."""
    analysis, _ = load_analysis(study, storage, eps0, level, size_tolerance)
    p = analysis.predict(data_size, model_size)
    doc = {"study": study, "data_size": data_size, "model_size": model_size,
           "predicted": float(p.value[0]), "lower": float(p.lower[0]), "upper": float(p.upper[0]),
           "level": level, "law": "joint" if model_size else (analysis.learning_curve.fit.selection or {}).get("winner")}
    if fmt == "json":
        echo_json(doc)
        return
    where = f"{_g(data_size)} examples" + (f" and {_g(model_size)} parameters" if model_size else " (best-fit model)")
    click.echo(f"{analysis.metric} at {where}: {_g(doc['predicted'])}  {int(level * 100)}% band "
               f"{_interval((doc['lower'], doc['upper']))}")


@app.command("plan")
@click.argument("study")
@click.option("--target-error", type=float, default=None, help="Error to reach.")
@click.option("--compute", type=float, default=None, help="Budget as parameters x examples (joint law).")
@_analysis_options
@format_option()
def plan_command(study: str, target_error: float | None, compute: float | None, storage: str | None,
                 eps0: float | None, level: float, size_tolerance: float, fmt: str) -> None:
    """Data and model size needed for a target error, or the compute-optimal split."""
    if (target_error is None) == (compute is None):
        raise InputError("Give exactly one of --target-error and --compute.")
    analysis, _ = load_analysis(study, storage, eps0, level, size_tolerance)
    pct = int(level * 100)
    if compute is not None:
        plan = analysis.compute_optimal(compute)
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
    result = analysis.plan(target_error)
    if fmt == "json":
        echo_json(result.to_dict())
        return
    if result.reason:
        click.echo(f"{analysis.metric} {_g(target_error)} cannot be planned: {result.reason}")
        return
    inv = result.data_size
    line = (f"{analysis.metric} {_g(target_error)} needs {_g(inv.value[0])} examples "
            f"({pct}% {_interval((inv.lower[0], inv.upper[0]))})")
    if result.n_params is not None:
        line += (f" and a model of {_g(result.n_params.value[0])} parameters "
                 f"{_interval((result.n_params.lower[0], result.n_params.upper[0]))}")
    click.echo(line)


@app.command("report")
@click.argument("study")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="HTML file to write [default: STUDY-report.html].")
@_analysis_options
def report_command(study: str, output: Path | None, storage: str | None, eps0: float | None, level: float,
                   size_tolerance: float) -> None:
    """Write the self-contained HTML report of STUDY."""
    from scalinglab.report import write_report

    analysis, spec = load_analysis(study, storage, eps0, level, size_tolerance)
    path = write_report(output or Path(f"{study}-report.html"), analysis, spec)
    click.echo(f"wrote {path}")


_KINDS = {"learning": "LearningCurveDisplay", "model": "ModelSizeDisplay",
          "joint": "JointDisplay", "backtest": "BacktestDisplay"}


@app.command("plot")
@click.argument("study")
@click.option("--kind", type=click.Choice(list(_KINDS)), default="learning", show_default=True)
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image file; the format follows the suffix (.png or .svg).")
@_analysis_options
def plot_command(study: str, kind: str, output: Path, storage: str | None, eps0: float | None, level: float,
                 size_tolerance: float) -> None:
    """Draw one plot of STUDY as PNG or SVG."""
    from scalinglab import report

    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise InputError(f"The '--output' option of scalinglab plot must end in .png or .svg. Got {str(output)!r} instead.")
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
                    size_tolerance: float, fmt: str) -> None:
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
    click.echo(f"beta_g: {study_a} {_g(result['beta_g'][0], 3)}, {study_b} {_g(result['beta_g'][1], 3)}; "
               f"difference {_g(result['difference'], 3)} +- {_g(result['stderr'], 3)} (z = {_g(result['z'], 3)})")
    click.echo(result["verdict"])
