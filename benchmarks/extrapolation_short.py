"""The band of short curves (3-4 fitted points): measured per points bucket, and its prior.

A curve of 3 distinct x has no rolling origin, so it cannot measure how fast its own
extrapolation error grows; a 4-point curve measures it from one forecast error. This script
measures, per number of fitted points (3, 4, 5, 6+), the coverage of ``auto``'s 90% band over
the held-out points (mean over curves), its median width (``ln upper - ln lower``, median over
curves of each curve's median; ``inf`` where the band is open) and the mean RMSLE, under the
hidden set's protocol (fit ``x <= x_max / 4``), on:

* ``real-design`` / ``real-check``: the curves of ``extrapolation_real.py`` by half (all
  families but teacher_student, whose curves fall by orders of magnitude to a floor of 0);
* ``synth-short``: curves of the prior (:func:`sample_curve` with ``default_rng([2031, i])``)
  cut like the suite's sweeps: ``k`` in (3, 4, 5, 6) fitted points (cycling), the points of
  the curve's first quarter of ``x`` nearest to ``k`` log-spaced values, and at most 20
  scored points beyond ``x_max / 4``.

``--measure-kappa`` instead re-measures the prior of the extrapolation rate that
``_ensemble_fit.KAPPA_PRIOR`` / ``KAPPA_PRIOR_DOF`` / ``KAPPA_PRIOR_CURVES`` ship. On each
curve with room for it, the short ensemble (``fit_law("auto")`` on 3 points) is fitted on the
3 distinct x nearest 3 log-spaced values up to ``x_src / r`` (``x_src`` the source's largest
usable x) and its forecast of the later points gives one rate per curve,
``kappa_c = sqrt(sum e^2 / sum d^2)`` (``e`` the log error, ``d = ln(x / x_origin)``), the
formula of the ensemble's own ``kappa``. A Student t with location 0 fitted by maximum
likelihood to the rates (each taken with both signs) gives the scale (``KAPPA_PRIOR``) and
the degrees of freedom (``KAPPA_PRIOR_DOF``): a curve's rate drawn from a
scaled-inverse-chi-square prior, seen through one error, is such a t. Sources:

* ``real-design``: the design half's curves (all but teacher_student), the whole curve,
  ``r = 4`` (the hidden set's protocol; design data, the check half is never read);
* ``real-design-inner``: the same curves' fitted points only (``x_src`` = x_max / 4,
  ``r`` = 4, else 2: forecasts within the fitted range; few curves have room);
* ``synth-prior``: the prior's curves (``default_rng([2030, i])``, ``i < --n-synthetic``),
  ``r`` = 4, else 2;
* ``real-design + synth-prior``: what ships.

Usage: ``python benchmarks/extrapolation_short.py [--variant shipped] [--n-synthetic 400]
[--short-only]``; ``--measure-kappa [--n-synthetic 600]``. Variants as in
``extrapolation_real.py`` plus ``no_prior`` (the open band of before), ``pool`` (a 4-point
curve's own error pooled with the prior) and ``prior_inner`` / ``prior_real`` /
``prior_synth`` (the priors of one source each). About 45 s per variant on the shared 2
cores (10 s with ``--short-only``).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from extrapolation_real import (
    LEVEL,
    VARIANTS,
    RealCurve,
    _patched,
    _sorted,
    half_of,
    load_real_curves,
)

from scalinglab.fitting import fit_law
from scalinglab.fitting._curve_prior import sample_curve

BUCKETS = ("3", "4", "5", "6+")
#: Other priors measured by ``--measure-kappa`` (scale, degrees of freedom, curves), by source;
#: the shipped one (``_ensemble_fit.KAPPA_PRIOR``) pools real-design and synth-prior.
PRIORS = {
    "inner": (0.0600, 6.274, 22),  # real design curves' fitted points only (inner prefixes)
    "real": (0.0625, 1.348, 107),  # real design curves, the protocol's cut
    "synth": (0.0591, 1.121, 549),  # the synthetic prior's curves (600 drawn)
}
SHORT_VARIANTS = {
    **VARIANTS,
    "no_prior": _patched(KAPPA_PRIOR=None),  # the band before: open beyond x_max at 3 points
    "pool": _patched(KAPPA_POOL_SHORT=True),  # 4-point curves: own error pooled with the prior
    **{f"prior_{src}": _patched(KAPPA_PRIOR=k0, KAPPA_PRIOR_DOF=nu0, KAPPA_PRIOR_CURVES=n)
       for src, (k0, nu0, n) in PRIORS.items()},
}


def _bucket(n: int) -> str:
    return str(n) if n < 6 else "6+"


def _nearest_log_spaced(x: np.ndarray, k: int) -> np.ndarray | None:
    """Indices of the distinct x nearest (in ln x) to ``k`` log-spaced values over x's range."""
    ux = np.unique(x)
    if len(ux) < k:
        return None
    targets = np.geomspace(ux[0], ux[-1], k)
    chosen: list[int] = []
    for t in targets:
        order = np.argsort(np.abs(np.log(ux) - np.log(t)))
        chosen.append(int(next(i for i in order if i not in chosen)))
    return np.sort(np.array(chosen))


def short_synthetic(n: int, seed: int = 2031, ks: tuple[int, ...] = (3, 4, 5, 6)) -> list[tuple[RealCurve, int]]:
    """Prior curves cut like the suite's sweeps: ``k`` fitted points, <= 20 scored ones."""
    out: list[tuple[RealCurve, int]] = []
    for i in range(n):
        k = ks[i % len(ks)]
        s = sample_curve(np.random.default_rng([seed, i]))
        x, y = _sorted(np.concatenate([s.x_context, s.x_target]), np.concatenate([s.y_context, s.y_target]))
        cut = x.max() / 4
        first, ux = x <= cut, np.unique(x[x <= cut])
        idx = _nearest_log_spaced(ux, k)
        if idx is None or (~first).sum() < 1:
            continue
        keep_x = ux[idx]
        fit_mask = np.isin(x, keep_x) & first
        later = np.flatnonzero(~first)
        if len(later) > 20:
            later = later[np.unique(np.linspace(0, len(later) - 1, 20).round().astype(int))]
        sel = np.concatenate([np.flatnonzero(fit_mask), later])
        out.append((RealCurve("synth-short", f"{i}", x[sel], y[sel], s.eps0), int(fit_mask.sum())))
    return out


def real_entries() -> list[tuple[str, RealCurve, int]]:
    """The suite's curves (but teacher_student) with their half and fitted points (quarter)."""
    real = load_real_curves()
    halves = half_of(real)
    out = []
    for c in real:
        if c.family == "teacher_student":
            continue
        n = int(np.sum(c.x <= c.x.max() / 4))
        if n >= 3 and len(c.x) > n:
            out.append((f"real-{halves[f'{c.family}:{c.key}']}", c, n))
    return out


def evaluate(entries: list[tuple[str, RealCurve, int]], variant: str) -> dict[tuple[str, str], list[tuple[float, float, float]]]:
    """Per (group, bucket): a (RMSLE, coverage, median width) per curve."""
    res: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for g, c, n in entries:
        xf, yf, xs, ys = c.x[:n], c.y[:n], c.x[n:], c.y[n:]
        with warnings.catch_warnings(), SHORT_VARIANTS[variant]():
            warnings.simplefilter("ignore")
            fit = fit_law("auto", xf, yf, eps0=c.eps0)
            band = fit.predict(xs, level=LEVEL)
        pred = np.log(np.asarray(band.value))
        score = float(np.sqrt(np.mean((pred - np.log(ys)) ** 2)))
        cov = float(np.mean((ys >= band.lower) & (ys <= band.upper)))
        with np.errstate(divide="ignore"):
            width = float(np.median(np.log(band.upper) - np.log(band.lower)))
        for b in (_bucket(n), "all"):
            res.setdefault((g, b), []).append((score, cov, width))
    return res


def table(res: dict[tuple[str, str], list[tuple[float, float, float]]]) -> list[str]:
    lines = ["| group | fitted points | curves | RMSLE | coverage | median width |", "|---|---|---|---|---|---|"]
    for g in sorted({g for g, _ in res}):
        for b in (*BUCKETS, "all"):
            v = np.array(res.get((g, b), []), dtype=float)
            if v.size:
                lines.append(f"| {g} | {b} | {len(v)} | {np.mean(v[:, 0]):.4f} | {np.mean(v[:, 1]):.3f} | "
                             f"{np.median(v[:, 2]):.3f} |")
    return lines


def _prefix_rate(x: np.ndarray, y: np.ndarray, eps0: float | None, ratios: tuple[float, ...] = (4.0, 2.0)) -> float | None:
    """One curve's rate: the 3-point short ensemble's forecast of its later points."""
    for r in ratios:
        inner = x <= x.max() / r
        idx = _nearest_log_spaced(np.unique(x[inner]), 3)
        if idx is not None:
            break
    else:
        return None
    ux = np.unique(x[inner])[idx]
    origin = ux[-1]
    fit_mask = np.isin(x, ux)
    ahead = x > origin
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_law("auto", x[fit_mask], y[fit_mask], eps0=eps0)
    e = np.log(np.asarray(fit.predict(x[ahead]).value)) - np.log(y[ahead])
    d = np.log(x[ahead] / origin)
    if not np.all(np.isfinite(e)):
        return None
    return float(np.sqrt(np.sum(e**2) / np.sum(d**2)))


def measure_kappa(n_synthetic: int = 600) -> list[str]:
    """The prior's scale and degrees of freedom per source (see the module docstring)."""
    rates: dict[str, list[float]] = {"real-design-inner": [], "real-design": [], "synth-prior": []}
    with SHORT_VARIANTS["no_prior"]():
        for g, c, n in real_entries():
            if g == "real-design":
                r = _prefix_rate(c.x[:n], c.y[:n], c.eps0)
                if r is not None:
                    rates["real-design-inner"].append(r)
                r = _prefix_rate(c.x, c.y, c.eps0, (4.0,))
                if r is not None:
                    rates["real-design"].append(r)
        for i in range(n_synthetic):
            s = sample_curve(np.random.default_rng([2030, i]))
            x, y = _sorted(np.concatenate([s.x_context, s.x_target]), np.concatenate([s.y_context, s.y_target]))
            r = _prefix_rate(x, y, s.eps0)
            if r is not None:
                rates["synth-prior"].append(r)
    lines = []
    rates["real-design + synth-prior (shipped)"] = rates["real-design"] + rates["synth-prior"]
    for src, v in rates.items():
        a = np.array(v)
        dof, _, scale = stats.t.fit(np.concatenate([a, -a]), floc=0)
        lines.append(f"{src}: {len(a)} curves, rate RMS {np.sqrt(np.mean(a**2)):.4f}, median {np.median(a):.4f}, "
                     f"90th percentile {np.quantile(a, 0.9):.4f}; t fit: scale {scale:.4f}, dof {dof:.3f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="shipped", choices=sorted(SHORT_VARIANTS))
    parser.add_argument("--n-synthetic", type=int, default=None,
                        help="synthetic curves (default 400; 600 with --measure-kappa)")
    parser.add_argument("--short-only", action="store_true", help="only curves of 3-4 fitted points")
    parser.add_argument("--measure-kappa", action="store_true", help="re-measure the shipped prior instead")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.measure_kappa:
        print("\n".join(measure_kappa(args.n_synthetic or 600)))
    else:
        entries = real_entries() + [("synth-short", c, n) for c, n in short_synthetic(args.n_synthetic or 400)]
        if args.short_only:
            entries = [e for e in entries if e[2] < 5]
        print(f"variant {args.variant}")
        print("\n".join(table(evaluate(entries, args.variant))))
    print(f"total wall time: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
