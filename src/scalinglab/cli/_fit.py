"""``scalinglab fit`` and ``scalinglab laws``: fitting results from any CSV."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from scalinglab._errors import InputError
from scalinglab._format import level_percent
from scalinglab._json import to_strict
from scalinglab.cli._app import app
from scalinglab.cli._common import echo_json, format_option

if TYPE_CHECKING:
    import pandas as pd

    from scalinglab.fitting import FrameFit

#: The fitting losses (scalinglab.fitting.LOSSES, which a test keeps equal); spelled out here
#: so that building the commands does not import scipy.
LOSS_CHOICES = ("log", "huber", "relative")
#: Where ``fit`` shows the extrapolation of each curve: these multiples of its largest x.
EXTRAPOLATE_AT = (2.0, 10.0)


def read_csv(path: str, what: str = "the data file") -> pd.DataFrame:
    """Read a CSV, turning every way it can be unreadable into one clear line."""
    import pandas as pd

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
    except (ValueError, OverflowError, MemoryError) as exc:  # e.g. a malformed quoted field
        raise InputError(f"{what} {path!r} is not a readable CSV ({str(exc).strip()[:200]}).") from exc
    except OSError as exc:
        raise InputError(f"Cannot read {what} {path!r}: {exc.strerror or exc}.") from exc
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
    import pandas as pd

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
            members = (d.get("selection") or {}).get("members") if d["law"] == "ensemble" else None
            for m in members or []:
                # The ensemble's uncertainty is its band: members' weights, no parameter intervals.
                row[f"{m['label']}.weight"] = m.get("weight")
            for name, value in d["params"].items():
                row[name] = value
                if not members:
                    row[f"{name}_stderr"] = d["stderr"][name]
                    row[f"{name}_lower"], row[f"{name}_upper"] = d["intervals"][name]
            for e in _extrapolation(g, level):  # the curve at 2x and 10x its largest x
                tag = f"pred_{e['times_x_max']:g}x"
                row[f"{tag}_x"], row[tag] = e["x"], e["value"]
                row[f"{tag}_lower"], row[f"{tag}_upper"] = e["lower"], e["upper"]
            row["error"] = None
        rows.append(row)
    return pd.DataFrame(rows)


def _extrapolation(g: Any, level: float) -> list[dict[str, Any]]:
    """The fitted curve at 2x and 10x its largest x, with the band (1-input laws)."""
    import numpy as np

    fit = g.fit
    if fit is None or fit.law.n_inputs != 1:
        return []
    x_max = float(np.max(fit.x))
    xs = np.array([m * x_max for m in EXTRAPOLATE_AT])
    p = g.predict(xs, level)
    return [{"x": float(x), "times_x_max": m, "value": float(v), "lower": float(lo), "upper": float(hi),
             "level": level, "method": p.method}
            for x, m, v, lo, hi in zip(xs, EXTRAPOLATE_AT, p.value, p.lower, p.upper, strict=True)]


def _group_doc(g: Any, level: float) -> dict[str, Any]:
    doc = g.to_dict(level)
    if g.fit is not None:
        doc["extrapolation"] = _extrapolation(g, level)
    return doc


def _params_cell(d: dict[str, Any]) -> str:
    from rich.markup import escape

    selection = d.get("selection") or {}
    if d["law"] == "ensemble" and selection.get("members"):
        # The ensemble's uncertainty is its band, not per-parameter intervals: list the
        # members with their weights and parameters.
        lines = []
        for m in selection["members"]:
            params = ", ".join(f"{k}={_fmt(v)}" for k, v in (m.get("params") or {}).items())
            weight = m.get("weight") or 0.0
            state = f"weight {weight:.2f}" if weight > 0 else "dropped"
            lines.append(escape(f"{m['label']} ({state}): {params}"))
        return "\n".join(lines)
    lines = []
    for k, v in d["params"].items():
        lo, hi = d["intervals"][k]
        interval = "[n/a]" if lo is None or hi is None else f"[{_fmt(lo)}, {_fmt(hi)}]"
        lines.append(escape(f"{k} = {_fmt(v)} {interval}"))
    return "\n".join(lines)


def _print_table(fits: FrameFit, level: float, err: bool = False) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    pct = f"{level_percent(level)}%"
    table = Table(title=f"scalinglab fit ({pct} intervals)")
    for col in fits.group_columns:
        table.add_column(escape(str(col)))
    for col in ("law", escape("parameters: estimate [interval]"), "converged", "n", "RMSLE",
                escape(f"extrapolation: value [{pct} band]")):
        table.add_column(col)
    notes: list[str] = []
    for g in fits.groups:
        keys = [escape(str(g.key[c])) for c in fits.group_columns]
        if g.fit is None:
            table.add_row(*keys, "-", "[red]skipped (reason above)[/red]", "-", "-", "-", "-")
            continue
        d = to_strict(g.to_dict(level))
        law = d["law"]
        if d.get("selection") and d["selection"].get("winner") not in (None, law):
            law += f" (auto: {d['selection']['winner']})"
        converged = "yes" if d["converged"] else "[red]NO[/red]"
        extrapolation = "\n".join(
            escape(f"x={_fmt(e['x'])} ({e['times_x_max']:g}x): {_fmt(e['value'])} "
                   f"[{_fmt(e['lower'])}, {_fmt(e['upper'])}]")
            for e in _extrapolation(g, level))
        table.add_row(*keys, escape(law), _params_cell(d), converged, str(d["n_points"]),
                      _fmt(d["rmsle"]), extrapolation or "-")
        notes.extend(f"{g.key or 'fit'}: {note}" for note in d.get("notes") or [] if "singular" in note)
    console = Console(width=max(Console().width, 120), stderr=err)
    console.print(table)
    for note in notes:
        console.print(escape(f"note: {note}"))


@app.command("fit")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--x", "x_cols", multiple=True, required=True, help="Input column; twice for 2-input laws (in the law's input order).")
@click.option("--y", "y_col", required=True, help="Error or loss column.")
@click.option("--group", "group_cols", multiple=True, help="Column that separates curves; repeatable.")
@click.option("--law", default="auto", show_default=True, help="Law name (see `scalinglab laws`), auto, or learned (the learned extrapolator).")
@click.option("--eps0", type=float, default=None, help="Random-guess error, for m4, envelope and joint.")
@click.option("--eps0-col", default=None, help="Column holding eps0 (constant within a group).")
@click.option("--n-breaks", type=int, default=1, show_default=True, help="Breaks of a bnsl law.")
@click.option("--loss", type=click.Choice(LOSS_CHOICES), default="log", show_default=True)
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=0, help="Resamples for percentile intervals (0: delta method).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9, show_default=True, help="Level of intervals and bands.")
@click.option("--where", "query", default=None, help="Rows to fit, as a pandas query, e.g. 'Training == 1'.")
@click.option("--predict", "predict_path", type=click.Path(dir_okay=False), default=None, help="CSV of new x values (same group columns) to predict.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, help="Where --predict writes its CSV [default: stdout, and the fit goes to stderr].")
@format_option(csv=True)
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

    The table shows, for each curve, the parameters with their intervals (for law=auto:
    the ensemble's members and weights) and the extrapolation to 2x and 10x the largest x
    with its band.

    \b
    Example:
      scalinglab fit runs.csv --x shard_size --y val_error --group model --law power_floor
    """
    from scalinglab.fitting import CURVE_METHODS, Eps0, fit_frame, prediction_table
    from scalinglab.laws import get_law

    if law not in CURVE_METHODS:
        law_obj = get_law(law)  # unknown names fail here, listing the valid ones
        if law_obj.n_inputs != len(x_cols):  # fit_frame checks it too, in its parameters' words
            raise InputError(
                f"The law {law!r} takes {law_obj.n_inputs} input column(s) "
                f"({', '.join(law_obj.inputs)}); give --x {law_obj.n_inputs} time(s). "
                f"Got {len(x_cols)} ({', '.join(x_cols)}) instead."
            )
    if out_path and not predict_path:
        raise InputError("The '--out' option is where --predict writes its CSV; give --predict too.")
    if out_path:
        from scalinglab.cli._study import _check_writable_target

        _check_writable_target(Path(out_path), "'--out' file")  # before the fit, not after
    prediction_frame = read_csv(predict_path, "the prediction file") if predict_path else None
    to_stdout = predict_path is not None and not out_path
    if to_stdout and fmt != "table":
        raise InputError(
            f"--predict without --out writes the predictions CSV to stdout, so the fit cannot "
            f"also go there as {fmt}; pass --out FILE for the predictions.")
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
        # A given eps0 not above the group's own errors (Eps0.contradiction): the column is likely wrong.
        for note in (g.fit.notes if g.fit is not None else ()):
            if Eps0.CONTRADICTED in note:
                click.echo(f"warning: group {g.key}: {note}", err=True)

    predictions = None
    if prediction_frame is not None:
        predictions = prediction_table(fits, prediction_frame, level, str(predict_path))
        unfitted = predictions["pred"].isna()
        if bool(unfitted.any()):
            keys = sorted({str(tuple(r)) for r in predictions.loc[unfitted, list(fits.group_columns)].itertuples(index=False)}) if fits.group_columns else []
            click.echo(
                f"warning: {int(unfitted.sum())} of {len(predictions)} prediction rows belong to groups "
                f"that were not fitted{(' ' + ', '.join(keys[:5])) if keys else ''}; their pred columns are empty.",
                err=True)
        if out_path:
            try:
                predictions.to_csv(out_path, index=False)
            except OSError as exc:
                raise InputError(f"Cannot write {out_path!r}: {exc.strerror}; choose another --out.") from exc
            click.echo(f"wrote {len(predictions)} predictions to {out_path}", err=True)

    if fmt == "json":
        echo_json({"format": "scalinglab.fit/1", "level": level,
                   "fits": [_group_doc(g, level) for g in fits.groups]})
    elif fmt == "csv":
        _csv_rows(fits, level).to_csv(sys.stdout, index=False)
    else:
        _print_table(fits, level, err=to_stdout)
    if predictions is not None and to_stdout:
        predictions.to_csv(sys.stdout, index=False)


@app.command("laws")
@format_option(csv=True)
def laws_command(fmt: str) -> None:
    """List the scaling laws with their formulas, inputs and parameters."""
    from scalinglab.laws import LAWS, get_law

    described = [get_law(name).describe() for name in LAWS]
    if fmt == "json":
        echo_json(described)
        return
    rows = []
    for d in described:
        consts = ", ".join(f"{k}={v}" for k, v in d["constants"].items())
        params = ", ".join(p["name"] for p in d["params"]) + (f" (known: {consts})" if consts else "")
        rows.append({"name": d["name"], "formula": d["formula"], "inputs": ", ".join(d["inputs"]),
                     "parameters": params, "reference": d["reference"]})
    if fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="scalinglab laws")
    for col in rows[0]:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(v)) for v in row.values()))
    Console(width=160).print(table)
