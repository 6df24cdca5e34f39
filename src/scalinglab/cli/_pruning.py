"""``pruning``: Rosenfeld et al. 2021's pruning law fitted to a stored study's pruned runs."""

from __future__ import annotations

import math
from typing import Any

import click

from scalinglab.cli._app import app
from scalinglab.cli._common import echo_json, format_option
from scalinglab.cli._study import _open, _record, _storage_option


def _g(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    v = float(value)
    return f"{v:.{digits}g}" if math.isfinite(v) else "n/a"


def _iv(pair: Any) -> str:
    return "[n/a]" if pair is None else f"[{_g(pair[0])}, {_g(pair[1])}]"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%" if math.isfinite(value) else "n/a"


def load_pruning(study: str, storage: str | None, level: float) -> Any:
    """The pruning analysis of a stored study (:func:`scalinglab.study.study_pruning`)."""
    from scalinglab.study import study_pruning

    store = _open(storage)
    try:
        _record(study, store)
        return study_pruning(study, store, level=level)
    finally:
        store.close()


def _fit_lines(fit: Any) -> list[str]:
    params = fit.params
    intervals = fit.intervals()
    names = ("eps_up", "p", "gamma", "psi")
    parts = [f"{n} {_g(params[n])} {_iv(intervals.get(n))}" for n in names if n in params]
    mean_iv = fit.mean_relative_error_interval
    quality = (f"relative error mean {_pct(fit.mean_relative_error)} "
               + ("" if mean_iv is None else f"[{_pct(mean_iv[0])}, {_pct(mean_iv[1])}] ")
               + f"std {_pct(fit.std_relative_error)}; band covers {_pct(fit.band_coverage)} "
               f"of {int((fit.density < 1).sum())} pruned points; "
               + ("converged" if fit.converged else f"NOT converged ({fit.fit.message})"))
    return ["; ".join(parts), quality, *(f"note: {n}" for n in fit.fit.notes)]


@app.command("pruning")
@click.argument("study")
@_storage_option
@format_option()
@click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9,
              show_default=True, help="Level of intervals and bands.")
def pruning_command(study: str, storage: str | None, fmt: str, level: float) -> None:
    """Rosenfeld's pruning law fitted to STUDY's pruned networks, per width and jointly.

    Needs a study trained with [train] prune_rounds = K (iterative magnitude pruning with
    rewinding; docs/workloads.md). Per shard and width: eps(d) = eps_np [(d^2 + p^2 r^2) /
    (d^2 + p^2)]^(gamma/2), r = (eps_up/eps_np)^(1/gamma), eps_np the measured dense error;
    jointly across widths: the same law in m* = (w/w_ref)^psi d. Rosenfeld et al. 2021
    report a mean relative error < 2% with std < 4% (one network), < 6% (joint).
    """
    analysis = load_pruning(study, storage, level)
    if fmt == "json":
        echo_json(analysis.to_dict())
        return
    click.echo(f"Study {study}: Rosenfeld 2021 pruning law, {level:g} intervals "
               "(published fit: mean < 2%, std < 4% single, < 6% joint)")
    for shard in sorted({f.shard_size for f in analysis.single}):
        click.echo(f"shard {shard}:")
        for fit in (f for f in analysis.single if f.shard_size == shard):
            width = fit.widths[0]
            click.echo(f"  width {_g(width)}: eps_np {_g(fit.eps_np[width])} "
                       f"{_iv(fit.eps_np_intervals[width])} (measured), "
                       f"densities {_g(float(fit.density.min()), 3)}..1")
            for line in _fit_lines(fit):
                click.echo(f"    {line}")
        for fit in (f for f in analysis.joint if f.shard_size == shard):
            click.echo(f"  joint, widths {', '.join(_g(w) for w in fit.widths)} "
                       f"(m* = (w/{_g(fit.fit.law.constants['w_ref'])})^psi d):")
            for line in _fit_lines(fit):
                click.echo(f"    {line}")
