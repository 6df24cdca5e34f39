"""The hidden set's protocol on the 92 benchmark curves: fit ``x <= x_max / 4``, score the rest.

Takes every row of each curve of ``benchmarks/_rnsl.py`` (training and held-out rows
together), fits ``law="auto"`` with and without the learned member
(``_ensemble_fit.LEARNED_MEMBER``) and a plain power law with a floor (M2) to the points with
``x <= x_max / 4``, and prints per group (IC split into its design and held-out halves)
the mean RMSLE on the other points, the fraction of curves on which ``auto`` beats M2 and
the coverage of the 90% band (mean over curves). Curves with fewer than 6 fitted points
are skipped. Skips cleanly when ``../shared`` is absent.

Usage: ``python benchmarks/extrapolation_quarter.py``.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rnsl import ic_half, load_curves

from scalinglab.fitting import _ensemble_fit, fit_law
from scalinglab.fitting._batched_lm import batch_fit


def main() -> int:
    try:
        curves = load_curves()
    except FileNotFoundError as exc:
        print(f"skipped: {exc}")
        return 0
    res: dict[str, dict[str, list[float]]] = {}
    saved = _ensemble_fit.LEARNED_MEMBER
    for c in curves:
        x = np.concatenate([c.x_train, c.x_test])
        y = np.concatenate([c.y_train, c.y_test])
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        fit_mask = x <= x.max() / 4
        if fit_mask.sum() < 6 or (~fit_mask).sum() < 1:
            continue
        group = c.domain if c.domain != "IC" else f"IC {ic_half(curves, c.task)} half"
        r = res.setdefault(group, {})
        truth = np.log(y[~fit_mask])
        score = {}
        for name, on in (("auto", False), ("auto_learned", True)):
            _ensemble_fit.LEARNED_MEMBER = on
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = fit_law("auto", x[fit_mask], y[fit_mask], eps0=c.eps0)
            finally:
                _ensemble_fit.LEARNED_MEMBER = saved
            band = fit.predict(x[~fit_mask], level=0.9)
            score[name] = float(np.sqrt(np.mean((np.log(band.value) - truth) ** 2)))
            inside = (y[~fit_mask] >= band.lower) & (y[~fit_mask] <= band.upper)
            r.setdefault(f"{name} coverage", []).append(float(np.mean(inside)))
        m2 = batch_fit("power_floor", x[fit_mask], y[fit_mask], np.ones((1, int(fit_mask.sum()))), 1.0)
        score["M2"] = float(np.sqrt(np.mean((m2.log_predict(x[~fit_mask])[0] - truth) ** 2)))
        for name, value in score.items():
            r.setdefault(name, []).append(value)
        for name in ("auto", "auto_learned"):
            r.setdefault(f"{name} beats M2", []).append(float(score[name] < score["M2"]))
    pooled: dict[str, list[float]] = {}
    for group in sorted(res):
        r = res[group]
        print(f"{group} ({len(r['auto'])} curves): " + ", ".join(f"{k} {np.mean(v):.4f}" for k, v in r.items()))
        for k, v in r.items():
            pooled.setdefault(k, []).extend(v)
    print(f"all ({len(pooled['auto'])} curves): " + ", ".join(f"{k} {np.mean(v):.4f}" for k, v in pooled.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
