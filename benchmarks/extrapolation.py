"""Extrapolation benchmark: scalinglab's default (``law="auto"``) against single laws.

Runs the protocol of ``../shared/benchmarks/README.md`` on the 92 curves of
Alabdulmohsin et al. 2022 (see ``benchmarks/_rnsl.py``): fit the rows with
``Training == 1``, score RMSLE on the rows with ``Training == 0``. Prints per domain
(IC split into the alphabetical halves of its task names; design decisions were made on
the first) the mean and median RMSLE, the fraction of curves on which each method is best
(errors truncated to 3 decimals, ties split), the coverage of the default's 90% band and
the wall time of each method. Skips cleanly when ``../shared`` is absent.

Methods: ``auto`` (the default); with ``--learned`` also ``auto_learned`` (``auto`` with the learned extrapolator
of ``fitting/_learned.py`` as one more member, ``_ensemble_fit.LEARNED_MEMBER``; not the default,
see ``docs/extrapolation.md``); ``learned`` (the learned extrapolator alone, its mean of
``ln y``); ``power``, ``power_floor``, ``m4`` (eps0 = the domain's
bound, 1.0 where none is known, which is what ``fit_law`` assumes) fitted by log least
squares; ``bnsl`` (one break) by ``fit_law`` with a reduced budget (1 start, 200
evaluations; its full default costs about 2 s per curve and scores IC 0.043, see ``--full-bnsl``).
``power_floor`` and ``m4`` are solved by the same batched Levenberg-Marquardt that
``auto`` uses (their optima agree with ``fit_law``'s; it is 10-50x faster).

Usage: ``python benchmarks/extrapolation.py [--shared PATH] [--full-bnsl] [--learned] [--json OUT]
[--figure PNG]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rnsl import Curve, ic_half, load_curves, rmsle

from scalinglab.fitting import _ensemble_fit, fit_law
from scalinglab.fitting._batched_lm import batch_fit
from scalinglab.fitting._learned import load_extrapolator

METHODS = ("auto", "power", "power_floor", "m4", "bnsl")
#: Added by ``--learned``: the learned extrapolator alone and as a member of ``auto``.
LEARNED_METHODS = ("auto_learned", "learned")
GROUPS = ("IC", "IC first half", "IC second half", "NMT", "LM", "BB")
LEVEL = 0.9


def _batched(name: str) -> Callable[[Curve], tuple[np.ndarray, None]]:
    def run(c: Curve) -> tuple[np.ndarray, None]:
        eps0 = 1.0 if c.eps0 is None else c.eps0
        bf = batch_fit(name, c.x_train, c.y_train, np.ones((1, len(c.x_train))), eps0)
        return np.exp(bf.log_predict(c.x_test)[0]), None

    return run


def _fit_law(name: str, **kwargs: object) -> Callable[[Curve], tuple[np.ndarray, None]]:
    def run(c: Curve) -> tuple[np.ndarray, None]:
        fit = fit_law(name, c.x_train, c.y_train, eps0=c.eps0, **kwargs)  # type: ignore[arg-type]
        return fit.law.predict(c.x_test, fit.values), None

    return run


def _auto(c: Curve) -> tuple[np.ndarray, np.ndarray]:
    fit = fit_law("auto", c.x_train, c.y_train, eps0=c.eps0)
    band = fit.predict(c.x_test, level=LEVEL)
    inside = (c.y_test >= band.lower) & (c.y_test <= band.upper)
    return np.asarray(band.value), inside


def _auto_learned(c: Curve) -> tuple[np.ndarray, None]:
    """``auto`` with the learned extrapolator as one more member (``LEARNED_MEMBER``)."""
    saved = _ensemble_fit.LEARNED_MEMBER
    _ensemble_fit.LEARNED_MEMBER = True
    try:
        fit = fit_law("auto", c.x_train, c.y_train, eps0=c.eps0)
    finally:
        _ensemble_fit.LEARNED_MEMBER = saved
    return np.asarray(fit.predict(c.x_test).value), None


def _learned(c: Curve) -> tuple[np.ndarray, None]:
    """The learned extrapolator alone (its predictive mean of ln y)."""
    mean, _ = load_extrapolator().predict(c.x_train, c.y_train, c.x_test, c.eps0)
    return np.exp(mean), None


def run_benchmark(
    curves: list[Curve], methods: tuple[str, ...] = METHODS, full_bnsl: bool = False
) -> dict[str, object]:
    """Score every method on every curve; returns per-curve scores, coverage and times."""
    runners: dict[str, Callable[[Curve], tuple[np.ndarray, np.ndarray | None]]] = {
        "auto": _auto,
        "auto_learned": _auto_learned,
        "learned": _learned,
        "power": _fit_law("power"),
        "power_floor": _batched("power_floor"),
        "m4": _batched("m4"),
        "bnsl": _fit_law("bnsl") if full_bnsl else _fit_law("bnsl", n_starts=1, max_nfev=200),
    }
    scores: dict[str, dict[str, float]] = {m: {} for m in methods}
    inside: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for method in methods:
        start = time.perf_counter()
        for c in curves:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    pred, ins = runners[method](c)
            except Exception:  # a failed fit scores inf, as the protocol would
                pred, ins = np.full(len(c.x_test), np.nan), None
            scores[method][c.key] = rmsle(pred, c.y_test)
            if ins is not None:
                inside[c.key] = ins
        seconds[method] = time.perf_counter() - start
    return {"scores": scores, "inside": inside, "seconds": seconds}


def _members(curves: list[Curve], group: str) -> list[Curve]:
    if group == "IC first half":
        return [c for c in curves if c.domain == "IC" and ic_half(curves, c.task) == "first"]
    if group == "IC second half":
        return [c for c in curves if c.domain == "IC" and ic_half(curves, c.task) == "second"]
    return [c for c in curves if c.domain == group]


def summarise(curves: list[Curve], result: dict[str, object]) -> dict[str, dict[str, object]]:
    """Per group: mean, median, fraction best (3-decimal truncation, ties split), coverage."""
    scores: dict[str, dict[str, float]] = result["scores"]  # type: ignore[assignment]
    inside: dict[str, np.ndarray] = result["inside"]  # type: ignore[assignment]
    methods = list(scores)
    table: dict[str, dict[str, object]] = {}
    for group in GROUPS:
        members = _members(curves, group)
        if not members:
            continue
        wins = dict.fromkeys(methods, 0.0)
        for c in members:
            trunc = {m: np.floor(scores[m][c.key] * 1000) / 1000 for m in methods}
            best = min(trunc.values())
            tied = [m for m in methods if trunc[m] == best]
            for m in tied:
                wins[m] += 1.0 / len(tied)
        hits = [inside[c.key] for c in members if c.key in inside]
        table[group] = {
            "n_curves": len(members),
            "mean": {m: float(np.mean([scores[m][c.key] for c in members])) for m in methods},
            "median": {m: float(np.median([scores[m][c.key] for c in members])) for m in methods},
            "best": {m: wins[m] / len(members) for m in methods},
            "coverage": float(np.mean(np.concatenate(hits))) if hits else float("nan"),
            "n_points": int(sum(len(h) for h in hits)),
        }
    return table


def format_table(table: dict[str, dict[str, object]], seconds: dict[str, float]) -> str:
    methods = list(next(iter(table.values()))["mean"])  # type: ignore[call-overload]
    lines = [
        "| domain | curves | " + " | ".join(f"{m} mean / median / best" for m in methods)
        + f" | auto {int(LEVEL * 100)}% band coverage |",
        "|---|---|" + "---|" * len(methods) + "---|",
    ]
    for group, row in table.items():
        cells = [
            f"{row['mean'][m]:.4f} / {row['median'][m]:.4f} / {row['best'][m]:.3f}"  # type: ignore[index]
            for m in methods
        ]
        lines.append(
            f"| {group} | {row['n_curves']} | " + " | ".join(cells) + f" | {row['coverage']:.3f} |"
        )
    lines.append("")
    lines.append("wall time (s, all 92 curves): " + ", ".join(f"{m} {s:.2f}" for m, s in seconds.items()))
    return "\n".join(lines)


FIGURE_CURVES = ("IC/bird_10/ViT/B/16", "IC/inet_5/BiT/50/1", "NMT/log_perplexity/6 Enc, 28 Dec",
                 "BB/('date', '2-shot')/262M", "LM/val_loss/1.34e+08", "IC/c_10/ViT/B/16")


def figure(curves: list[Curve], path: Path) -> None:
    """A few curves: fitted points, held-out points, the default's prediction and 90% band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = [c for key in FIGURE_CURVES for c in curves if c.key == key]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for ax, c in zip(axes.ravel(), chosen, strict=False):
        fit = fit_law("auto", c.x_train, c.y_train, eps0=c.eps0)
        grid = np.geomspace(c.x_train.min(), c.x_test.max(), 200)
        band = fit.predict(grid, level=LEVEL)
        ax.fill_between(grid, band.lower, band.upper, color="C0", alpha=0.2, label="90% band")
        ax.plot(grid, band.value, color="C0", label="auto (ensemble)")
        ax.plot(c.x_train, c.y_train, ".", color="k", ms=3, label="fitted")
        ax.plot(c.x_test, c.y_test, ".", color="C3", ms=3, label="held out")
        ax.axvline(c.x_train.max(), color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        score = rmsle(fit.predict(c.x_test).value, c.y_test)
        ax.set_title(f"{c.key}\nRMSLE {score:.4f}", fontsize=9)
        ax.set_xlabel("seen examples")
        ax.set_ylabel("loss")
    axes.ravel()[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=None, help="the shared/ folder")
    parser.add_argument("--full-bnsl", action="store_true", help="bnsl with fit_law's full budget (slow)")
    parser.add_argument("--learned", action="store_true", help="also run auto_learned and learned (slower)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--figure", type=Path, default=None, help="also draw a few curves here (PNG)")
    args = parser.parse_args(argv)
    try:
        curves = load_curves(args.shared)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        return 0
    start = time.perf_counter()
    methods = METHODS[:1] + LEARNED_METHODS + METHODS[1:] if args.learned else METHODS
    result = run_benchmark(curves, methods=methods, full_bnsl=args.full_bnsl)
    table = summarise(curves, result)
    print(format_table(table, result["seconds"]))  # type: ignore[arg-type]
    all_hits = np.concatenate(list(result["inside"].values()))  # type: ignore[attr-defined]
    print(f"auto {int(LEVEL * 100)}% band: {all_hits.mean():.3f} of {len(all_hits)} held-out points inside")
    print(f"total wall time: {time.perf_counter() - start:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"table": table, "seconds": result["seconds"]}, indent=2))
    if args.figure:
        figure(curves, args.figure)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
