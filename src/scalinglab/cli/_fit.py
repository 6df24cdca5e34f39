"""``scalinglab fit`` and ``scalinglab laws``: fitting results from any CSV."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd

from scalinglab._errors import InputError
from scalinglab.cli import app
from scalinglab.fitting import LOSSES, FrameFit, fit_frame, prediction_table
from scalinglab.laws import LAWS, get_law


def read_csv(path: str, what: str = "the data file") -> pd.DataFrame:
    """Read a CSV, turning every way it can be unreadable into one clear line."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{what} {path!r} does not exist or is not a file; check the path.")
    try:
        frame = pd.read_csv(file)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{what} {path!r} is empty; give a CSV with a header row and data rows.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{what} {path!r} is not a readable CSV ({first}).") from exc
    if frame.empty:
        raise InputError(f"{what} {path!r} has a header but no data rows; add rows to fit.")
    return frame


def _apply_query(frame: pd.DataFrame, query: str | None, path: str) -> pd.DataFrame:
    if not query:
        return frame
    try:
        selected = frame.query(query)
    except Exception as exc:  # pandas raises many types for a bad expression
        raise InputError(f"The --where expression {query!r} cannot be evaluated on {path} ({exc}).") from exc
    if selected.empty:
        raise InputError(f"The --where expression {query!r} selects no rows of {path}.")
    return selected


def _fmt(value: float) -> str:
    return "nan" if value is None or not math.isfinite(value) else f"{value:.4g}"


def _csv_rows(fits: FrameFit, level: float) -> pd.DataFrame:
    rows = []
    for g in fits.groups:
        row: dict[str, Any] = dict(g.key)
        d = g.to_dict(level)
        if g.fit is None:
            row.update({"law": None, "converged": False, "error": g.error})
        else:
            row.update(
                {
                    "law": d["law"],
                    "converged": d["converged"],
                    "n_points": d["n_points"],
                    "rmsle": d["rmsle"],
                }
            )
            for name, value in d["params"].items():
                row[name] = value
                row[f"{name}_stderr"] = d["stderr"][name]
                row[f"{name}_lower"], row[f"{name}_upper"] = d["intervals"][name]
            row["error"] = None
        rows.append(row)
    return pd.DataFrame(rows)


def _print_table(fits: FrameFit, level: float) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"scalinglab fit ({int(level * 100)}% intervals)")
    for col in fits.group_columns:
        table.add_column(col)
    for col in ("law", escape("parameters: estimate [interval]"), "converged", "n", "RMSLE"):
        table.add_column(col)
    for g in fits.groups:
        keys = [escape(str(g.key[c])) for c in fits.group_columns]
        if g.fit is None:
            table.add_row(*keys, "-", "[red]skipped (reason above)[/red]", "-", "-", "-")
            continue
        d = g.to_dict(level)
        params = "\n".join(
            escape(f"{k} = {_fmt(v)} [{_fmt(d['intervals'][k][0])}, {_fmt(d['intervals'][k][1])}]")
            for k, v in d["params"].items()
        )
        law = d["law"]
        if d.get("selection"):
            law += f" (auto: {d['selection'].get('winner', '')})"
        converged = "yes" if d["converged"] else "[red]NO[/red]"
        table.add_row(*keys, law, params, converged, str(d["n_points"]), _fmt(d["rmsle"]))
    Console(width=max(Console().width, 100)).print(table)


@app.command("fit")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--x", "x_cols", multiple=True, required=True, help="Input column; twice for 2-input laws (in the law's input order).")
@click.option("--y", "y_col", required=True, help="Error or loss column.")
@click.option("--group", "group_cols", multiple=True, help="Column that separates curves; repeatable.")
@click.option("--law", default="auto", show_default=True, help="Law name (see `scalinglab laws`) or auto.")
@click.option("--eps0", type=float, default=None, help="Random-guess error, for m4, envelope and joint.")
@click.option("--eps0-col", default=None, help="Column holding eps0 (constant within a group).")
@click.option("--n-breaks", type=int, default=1, show_default=True, help="Breaks of a bnsl law.")
@click.option("--loss", type=click.Choice(LOSSES), default="log", show_default=True)
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=0, help="Resamples for percentile intervals (0: delta method).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9, show_default=True, help="Level of intervals and bands.")
@click.option("--where", "query", default=None, help="Rows to fit, as a pandas query, e.g. 'Training == 1'.")
@click.option("--predict", "predict_path", type=click.Path(dir_okay=False), default=None, help="CSV of new x values (same group columns) to predict.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Where --predict writes its CSV (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--jobs", "n_jobs", type=int, default=1, show_default=True, help="Processes fitting groups in parallel (-1: every core); the fits do not depend on it.")
def fit_command(
    data: str,
    x_cols: tuple[str, ...],
    y_col: str,
    group_cols: tuple[str, ...],
    law: str,
    eps0: float | None,
    eps0_col: str | None,
    n_breaks: int,
    loss: str,
    n_bootstrap: int,
    seed: int,
    level: float,
    query: str | None,
    predict_path: str | None,
    out_path: str | None,
    fmt: str,
    n_jobs: int,
) -> None:
    """Fit a scaling law to each curve of a CSV and report parameters with uncertainty.

    \b
    Example:
      scalinglab fit runs.csv --x shard_size --y val_error --group model --law power_floor
    """
    if law != "auto":
        get_law(law)  # unknown names fail here, listing the valid ones
    frame = _apply_query(read_csv(data), query, data)
    fits = fit_frame(
        frame,
        x_cols,
        y_col,
        groups=group_cols,
        law=law,
        eps0=eps0,
        eps0_column=eps0_col,
        loss=loss,
        n_bootstrap=n_bootstrap,
        seed=seed,
        source=data,
        n_jobs=n_jobs,
        **({"n_breaks": n_breaks} if law == "bnsl" else {}),
    )
    for g in fits.failed:
        click.echo(f"warning: skipped group {g.key}: {g.error}", err=True)
    for g in fits.fitted:
        if g.fit is not None and not g.fit.converged:
            click.echo(f"warning: the fit of group {g.key} did not converge: {g.fit.message}", err=True)

    predictions = None
    if predict_path:
        predictions = prediction_table(fits, read_csv(predict_path, "the prediction file"), level, predict_path)
        if out_path:
            predictions.to_csv(out_path, index=False)
            click.echo(f"wrote {len(predictions)} predictions to {out_path}", err=True)

    if fmt == "json":
        doc = {
            "format": "scalinglab.fit/1",
            "level": level,
            "fits": [g.to_dict(level) for g in fits.groups],
        }
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
    elif fmt == "csv":
        _csv_rows(fits, level).to_csv(sys.stdout, index=False)
    else:
        _print_table(fits, level)
    if predictions is not None and not out_path:
        predictions.to_csv(sys.stdout, index=False)


@app.command("laws")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def laws_command(fmt: str) -> None:
    """List the scaling laws with their formulas, inputs and parameters."""
    described = [get_law(name).describe() for name in LAWS]
    if fmt == "json":
        click.echo(json.dumps(described, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scalinglab laws")
    for col in ("name", "formula", "inputs", "parameters", "reference"):
        table.add_column(col, overflow="fold")
    for d in described:
        consts = ", ".join(f"{k}={v}" for k, v in d["constants"].items())
        params = ", ".join(p["name"] for p in d["params"]) + (f" (known: {consts})" if consts else "")
        table.add_row(d["name"], d["formula"], ", ".join(d["inputs"]), params, d["reference"])
    Console(width=160).print(table)
