"""``law="auto"``: the default extrapolating fit of a 1-D learning curve.

What it does (details in ``docs/extrapolation.md``):

1. **Members.** Three forms that can bend from a plateau to a floor are fitted by log
   least squares: M4 (Alabdulmohsin, Neyshabur & Zhai 2022), Rosenfeld's envelope
   (Rosenfeld et al. 2020, eq. 5) and a power law with a floor (Hestness et al. 2017,
   eq. 2); the power law with a floor is fitted a second time with weights ``(x/x_max)^2``
   that favour the largest points, whose local slope is what an extrapolation continues.
   The saturating forms need the loss's bound ``eps0``; when it is not given, they use
   ``2 max(y)`` (an assumption stated in ``selection``), since a loss is then only known to
   start no lower than the highest value seen.
2. **Rolling-origin validation.** Every member is also fitted on the prefixes
   ``x <= x_max / r``, ``r`` in (1.25, 2), and scored by the RMSLE of its forecast of
   the rest of the curve: the question a user asks (how well does it predict larger scales
   than it has seen?), asked of the curve's own points only.
3. **Combination.** Members whose validation score is more than 5 times the best are
   dropped (a form that cannot follow this curve, e.g. the envelope on a curve far below
   its bound); the rest are averaged with equal weights in log space (a geometric mean).
   Equal weights beat score-proportional weights on the design half of the benchmark: the
   validation scores of forms that all fit are too noisy to rank them.
4. **Band.** ``sd(ln y)^2 = s^2 + spread^2 + (kappa ln(x/x_max))^2`` beyond ``x_max``:
   the scatter of the points, the members' disagreement, and an extrapolation term whose
   rate ``kappa`` is the RMS error per unit ``ln x`` of the ensemble's own rolling-origin
   forecasts (factor 1: it gave 88% on the design half of the benchmark untuned).

All forms, every prefix and every start are solved together by the batched
Levenberg-Marquardt fit of :mod:`scalinglab.fitting._extrapolate`.

For losses other than ``"log"`` and for curves of fewer than 6 points, ``auto`` falls
back to choosing one law by the same rolling-origin criterion (``_fit_select``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab.fitting._ensemble import Band, Ensemble
from scalinglab.fitting._extrapolate import FORMS, batch_fit
from scalinglab.fitting._fit import fit_law, validate_data
from scalinglab.fitting._learned import LearnedLaw
from scalinglab.fitting._result import FitResult, _readonly
from scalinglab.laws import get_law
from scalinglab.laws._base import FloatArray

__all__ = ["AUTO_CANDIDATES", "AUTO_MEMBERS", "bootstrap_ensemble", "fit_auto"]

#: Laws the fallback selector considers, simplest first (ties go to the simpler law).
AUTO_CANDIDATES: tuple[str, ...] = ("power", "power_floor", "m3", "m4", "envelope")

#: Ensemble members: (label, form, recency exponent of the weights (x / x_max)^p).
AUTO_MEMBERS: tuple[tuple[str, str, float], ...] = (
    ("power_floor", "power_floor", 0.0),
    ("m4", "m4", 0.0),
    ("envelope", "envelope", 0.0),
    ("power_floor_recent", "power_floor", 2.0),
)
#: Prefixes for rolling-origin validation: fit x <= x_max / r, forecast the rest.
ORIGIN_RATIOS: tuple[float, ...] = (1.25, 2.0)
#: A member is dropped when its validation score exceeds this multiple of the best.
TRIM_FACTOR = 5.0
#: Scale of the extrapolation term of the band, calibrated on the design half of IC.
KAPPA_FACTOR = 1.0
#: Lower bound of the extrapolation rate kappa (log error per unit ln x).
KAPPA_MIN = 0.01
#: Bound assumed for the saturating forms when none is given: this multiple of max(y).
UNKNOWN_BOUND_FACTOR = 2.0
#: Fewest points for the ensemble; below it the single-law fallback is used.
MIN_POINTS = 6
#: Whether the learned extrapolator (``fitting/_learned.py``) joins the kept members with an
#: equal weight. Off: on the benchmark it helps IC (0.0305 to 0.0296) but makes NMT, LM and
#: BB worse (``docs/extrapolation.md``, "The learned extrapolator").
LEARNED_MEMBER = False
#: The learned member is dropped when its rolling-origin score exceeds this multiple of the
#: best fitted member's (None: always kept).
LEARNED_TRIM: float | None = TRIM_FACTOR


def fit_auto(
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "log",
    eps0: float | None = None,
    weights: ArrayLike | None = None,
    candidates: tuple[str, ...] = AUTO_CANDIDATES,
    n_origins: int = 3,
) -> FitResult:
    """The default extrapolating fit: a validated geometric-mean ensemble.

    Parameters
    ----------
    x, y : array-like
        A learning curve (1-D ``x``), all values > 0.
    loss : str
        ``"log"`` (the ensemble); other losses use the single-law fallback.
    eps0 : float, optional
        The known bound of the loss (the error of random guessing; 1.0 for error rates
        and losses rescaled to [0, 1]). If not given, the saturating forms assume
        ``2 max(y)`` and ``selection`` says so.
    weights : array-like, optional
        Per-point weights, multiplied into every member's weights.
    candidates, n_origins
        Used only by the single-law fallback.

    Returns
    -------
    FitResult
        Its law is an :class:`~scalinglab.fitting._ensemble.Ensemble`; ``predict`` gives
        the ensemble's prediction and calibrated band; ``selection`` holds the members,
        their validation scores and weights, and the reason.

    References
    ----------
    Alabdulmohsin, Neyshabur & Zhai 2022 (M4 and the extrapolation protocol); Rosenfeld
    et al. 2020 (envelope); Hestness et al. 2017 (power law with a floor); Hyndman &
    Athanasopoulos, "Forecasting: Principles and Practice" (rolling forecasting origin).
    """
    x_arr, y_arr = validate_data(get_law("power"), x, y, where="fit_law(law='auto')")
    order = np.argsort(x_arr, kind="stable")
    x_arr, y_arr = x_arr[order], y_arr[order]
    w_user = np.ones_like(y_arr) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w_user.shape != y_arr.shape or np.any(~np.isfinite(w_user)) or np.any(w_user < 0):
        raise InputError("The 'weights' parameter of fit_law must be finite, >= 0 and one per point.")
    w_user = w_user[order]
    if loss != "log" or len(x_arr) < MIN_POINTS or len(np.unique(x_arr)) < MIN_POINTS:
        return _fit_select(
            x_arr, y_arr, loss=loss, eps0=eps0, weights=w_user if weights is not None else None,
            candidates=candidates, n_origins=n_origins,
        )
    return _fit_ensemble(x_arr, y_arr, eps0, w_user, user_weights=weights is not None)


def _fit_ensemble(
    x: FloatArray, y: FloatArray, eps0: float | None, w_user: FloatArray, *, user_weights: bool = False
) -> FitResult:
    y_max = float(np.max(y))
    assumed_bound = eps0 is None
    bound = UNKNOWN_BOUND_FACTOR * y_max if eps0 is None else float(eps0)
    members = [m for m in AUTO_MEMBERS if m[1] == "power_floor" or bound > y_max]
    x_max = float(np.max(x))
    cuts = [x_max / r for r in ORIGIN_RATIOS]
    masks = [x <= c for c in cuts]
    rel = x / x_max

    # Rows of one batched fit per form: for each member of that form, the full curve and
    # its prefixes (zero weight beyond the origin).
    plan: dict[str, list[tuple[str, list[bool], list[FloatArray]]]] = {}
    for label, form, recency in members:
        base = w_user * rel**recency
        k = FORMS[form].k
        # Prefixes with too few points to fit the form (k + 2) are not used as origins.
        valid = [bool(np.sum(m & (base > 0)) >= k + 2) for m in masks]
        rows = [base] + [base * m if ok else base for m, ok in zip(masks, valid, strict=True)]
        plan.setdefault(form, []).append((label, valid, rows))
    fits: dict[str, Any] = {}
    scores: dict[str, float] = {}
    for form, entries in plan.items():
        bf_all = batch_fit(form, x, y, np.array([r for _, _, rows in entries for r in rows]), bound)
        log_all = bf_all.log_predict(x)
        for j, (label, valid, _) in enumerate(entries):
            sl = slice(j * (1 + len(masks)), (j + 1) * (1 + len(masks)))
            bf = bf_all.rows(sl)
            log_fit = log_all[sl]
            errs = []
            for i, (m, ok) in enumerate(zip(masks, valid, strict=True)):
                if ok and np.any(~m):
                    e = log_fit[i + 1][~m] - np.log(y[~m])
                    errs.append(float(np.sqrt(np.mean(e**2))) if np.all(np.isfinite(e)) else math.inf)
            full_ok = bool(np.isfinite(bf.cost[0]))
            scores[label] = float(np.mean(errs)) if errs and full_ok else (math.nan if full_ok else math.inf)
            fits[label] = (bf, valid, log_fit)

    finite = [v for v in scores.values() if math.isfinite(v)]
    best = min(finite) if finite else math.nan
    kept = [
        label for label, _, _ in members
        if scores[label] != math.inf and (math.isnan(best) or math.isnan(scores[label]) or scores[label] <= TRIM_FACTOR * best)
    ]
    if not kept:
        raise InputError("Every member of law='auto' failed to fit this curve; check the data.")
    learned = _learned_member(x, y, eps0, masks) if LEARNED_MEMBER else None
    if learned is not None:
        fits["learned"], scores["learned"] = learned[0], learned[1]
        # The same rule as the fitted members: dropped when it forecasts the curve's own
        # later points more than LEARNED_TRIM times worse than the best fitted member.
        if LEARNED_TRIM is None or math.isnan(best) or not scores["learned"] > LEARNED_TRIM * best:
            kept.append("learned")
    weights = np.full(len(kept), 1.0 / len(kept))

    # The ensemble's own rolling-origin forecasts set the extrapolation rate of the band.
    num = den = 0.0
    for i, m in enumerate(masks):
        if not all(fits[lb][1][i] for lb in kept) or not np.any(~m):
            continue
        log_ens = np.mean([fits[lb][2][i + 1][~m] for lb in kept], axis=0)
        e = log_ens - np.log(y[~m])
        dist = np.log(x[~m] / np.max(x[m]))
        if np.all(np.isfinite(e)):
            num += float(np.sum(e**2))
            den += float(np.sum(dist**2))
    kappa_hat = math.sqrt(num / den) if den > 0 else math.nan
    kappa = max(KAPPA_FACTOR * kappa_hat, KAPPA_MIN) if math.isfinite(kappa_hat) else 0.1
    log_full = np.mean([fits[lb][2][0] for lb in kept], axis=0)
    resid = log_full - np.log(y)
    scatter = float(np.sqrt(np.sum(w_user * resid**2) / max(np.sum(w_user), 1e-300)))

    member_laws = []
    values = []
    for lb in kept:
        bf = fits[lb][0]
        if lb == "learned":
            member_laws.append((lb, bf))
            values.append(np.zeros(0))
            continue
        member_laws.append((lb, bf.form.law(bound)))
        values.append(bf.law_values(0))
    law = Ensemble(member_laws, weights.tolist(), Band(scatter, kappa, x_max),
                   upper=None if assumed_bound else bound)
    values_arr = np.concatenate(values)
    log_mask = np.array([p.log for p in law.params])
    theta = np.where(log_mask, np.log(np.maximum(values_arr, 1e-300)), values_arr)
    n_par = law.n_params
    nan_cov = np.full((n_par, n_par), np.nan)
    prediction = law.predict(x, values_arr)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_err = np.log(prediction) - np.log(y)
        divergence = (prediction - y) / y
    converged = all(bool(fits[lb][0].converged[0]) for lb in kept if lb != "learned")
    notes = [
        "ensemble: the band comes from the members' spread and the curve's own rolling-origin "
        "forecasts, not from parameter standard errors (stderr are nan)"
    ]
    if assumed_bound:
        notes.append(
            f"no eps0 given: the saturating members assume the loss starts at most at "
            f"{bound:.4g} (= {UNKNOWN_BOUND_FACTOR:g} max y); give eps0 if the loss has a known bound"
        )
    dropped = [lb for lb, _, _ in members if lb not in kept]
    reason = (
        f"geometric mean with equal weights of {', '.join(kept)}"
        + (f"; dropped {', '.join(dropped)} (rolling-origin RMSLE > {TRIM_FACTOR:g}x the best)" if dropped else "")
        + f"; rolling-origin forecasts from x <= x_max/r, r in {list(ORIGIN_RATIOS)}"
    )
    selection: dict[str, Any] = {
        "method": "ensemble",
        "winner": "ensemble",
        "members": [
            {
                "label": lb,
                "law": form,
                "recency": recency,
                "weight": float(weights[kept.index(lb)]) if lb in kept else 0.0,
                "score": scores[lb],
                "params": dict(
                    zip(fits[lb][0].form.law(bound).param_names, fits[lb][0].law_values(0).tolist(), strict=True)
                ),
            }
            for lb, form, recency in members
        ]
        + ([{"label": "learned", "law": "learned", "recency": 0.0,
             "weight": float(weights[-1]) if "learned" in kept else 0.0,
             "score": scores["learned"], "params": {}}] if learned is not None else []),
        "scores": scores,
        "eps0": bound,
        "eps0_assumed": assumed_bound,
        "band": law.band.to_dict() if law.band else None,
        "user_weights": w_user.tolist() if user_weights else None,
        "reason": reason,
    }
    n = len(y)
    return FitResult(
        law=law,
        loss="log",
        values=_readonly(values_arr),
        stderr=_readonly(np.full(n_par, np.nan)),
        cov=_readonly(nan_cov),
        theta=_readonly(theta),
        cov_theta=_readonly(nan_cov),
        free=np.ones(n_par, dtype=bool),
        converged=converged,
        message="ensemble of converged member fits" if converged else "not converged: a member fit did not settle",
        notes=tuple(notes),
        n_points=n,
        dof=n - max(FORMS[f].k for _, f, _ in members),
        residual_scale=scatter,
        cost=float(0.5 * np.sum(w_user * resid**2)),
        rmsle=float(np.sqrt(np.mean(log_err**2))),
        divergence_mean=float(np.mean(divergence)),
        divergence_std=float(np.std(divergence)),
        x=_readonly(x),
        y=_readonly(y),
        n_starts=1,
        selection=selection,
    )


def _learned_member(
    x: FloatArray, y: FloatArray, eps0: float | None, masks: list[Any]
) -> tuple[tuple[LearnedLaw, list[bool], list[FloatArray]], float] | None:
    """The learned extrapolator as a member: its law, and its forecasts from every origin.

    Returns what ``_fit_ensemble`` keeps per member (the law in place of a batched fit,
    which origins are usable, the log predictions on the whole curve and from each origin)
    and its rolling-origin score; None when the shipped weights are missing.
    """
    try:
        law = LearnedLaw(x, y, eps0)
    except InputError:
        return None
    rows = [law.log_predict(x)[0]]
    valid, errs = [], []
    for m in masks:
        ok = bool(len(np.unique(x[m])) >= MIN_POINTS and np.any(~m))
        valid.append(ok)
        row = np.full(len(x), np.nan)
        if ok:
            row[~m] = law.net.predict(x[m], y[m], x[~m], eps0)[0]
            errs.append(float(np.sqrt(np.mean((row[~m] - np.log(y[~m])) ** 2))))
        rows.append(row)
    return (law, valid, rows), float(np.mean(errs)) if errs else math.nan


def _rolling_origin_score(
    name: str, x: FloatArray, y: FloatArray, loss: str, eps0: float, n_origins: int
) -> float:
    n_params = get_law(name, eps0=eps0).n_params
    errors = []
    for k in range(len(x) - n_origins, len(x)):
        if k < n_params + 1:
            continue
        try:
            fit = fit_law(name, x[:k], y[:k], loss=loss, eps0=eps0, n_starts=2)
        except InputError:
            return math.inf
        with np.errstate(divide="ignore", invalid="ignore"):
            pred = fit.law.predict(x[k:], fit.values)
            err = np.log(pred) - np.log(y[k:])
        if not np.all(np.isfinite(err)):
            return math.inf
        errors.append(float(np.sqrt(np.mean(err**2))))
    return float(np.mean(errors)) if errors else math.inf


def _fit_select(
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "log",
    eps0: float | None = None,
    weights: ArrayLike | None = None,
    candidates: tuple[str, ...] = AUTO_CANDIDATES,
    n_origins: int = 3,
) -> FitResult:
    """Fit the 1-input law that best predicts the largest points of its own curve.

    Parameters
    ----------
    x, y : array-like
        A learning curve (1-D ``x``).
    loss : str
        Loss used for every fit.
    eps0 : float, optional
        Random-guess error for m4 and envelope. If not given and every y is below 1,
        1.0 is used (error rates are <= 1); otherwise those laws are skipped.
    candidates : tuple of str
        Law names to consider.
    n_origins : int
        How many of the largest points serve as validation origins.

    Returns
    -------
    FitResult
        The winner refitted on all points; ``result.selection`` holds every candidate's
        score, the winner and the reason.
    """
    x_arr, y_arr = validate_data(get_law("power"), x, y, where="fit_law(law='auto')")
    order = np.argsort(x_arr, kind="stable")
    x_arr, y_arr = x_arr[order], y_arr[order]
    usable = [c for c in candidates if eps0 is not None or c not in ("m4", "envelope")]
    usable = [c for c in usable if get_law(c, eps0=eps0 or 1.0).n_params < len(x_arr)]
    if not usable:
        raise InputError(
            f"law='auto' needs at least 3 points to choose a law. Got {len(x_arr)} instead."
        )
    scores = {
        name: _rolling_origin_score(name, x_arr, y_arr, loss, eps0 or 1.0, n_origins)
        for name in usable
    }
    finite = {k: v for k, v in scores.items() if math.isfinite(v)}
    winner = min(finite, key=lambda k: finite[k]) if finite else "power"
    reason = (
        f"lowest mean RMSLE when predicting the last {n_origins} points from the points "
        f"before them (rolling origin): {finite[winner]:.4g}"
        if finite
        else "no candidate could be validated (too few points); fell back to power"
    )
    weights_arr = None if weights is None else np.asarray(weights, dtype=float)[order]
    fit = fit_law(winner, x_arr, y_arr, loss=loss, eps0=eps0 or 1.0, weights=weights_arr)
    selection: dict[str, Any] = {
        "method": "rolling_origin",
        "winner": winner,
        "scores": scores,
        "reason": reason,
    }
    return _with_selection(fit, selection)


def _with_selection(fit: FitResult, selection: dict[str, Any]) -> FitResult:
    return dataclasses.replace(fit, selection=selection)


def bootstrap_ensemble(fit: FitResult, n: int = 1000, seed: int = 0) -> Any:
    """Case-resampling bootstrap of a ``law="auto"`` ensemble (``FitResult.bootstrap``).

    Each resample keeps the ensemble's structure (its members, their recency weights and
    the bound ``eps0``) and refits every member on the resampled points, all resamples of
    a form in one batched fit (a resample is a row of integer multiplicities). The result
    is an ordinary :class:`~scalinglab.fitting.BootstrapResult`: percentile intervals of
    the members' parameters and a percentile confidence band of the ensemble's curve.
    That band shows how much the fitted points pin the curve down; it has no term for
    extrapolation, so for a forecast beyond the data use ``fit.predict``'s band.

    Raises
    ------
    InputError
        If ``fit`` is not an ensemble fit, ``n`` is not an int >= 2, or every refit failed.
    """
    from scalinglab.fitting._bootstrap import BootstrapResult

    if not (isinstance(n, int) and n >= 2):
        raise InputError(f"The 'n' parameter of bootstrap must be an int >= 2. Got {n!r} instead.")
    sel = fit.selection
    law = fit.law
    if not isinstance(law, Ensemble) or sel is None or sel.get("method") != "ensemble":
        raise InputError("bootstrap_ensemble needs a fit of law='auto' that returned an ensemble.")
    x = np.asarray(fit.x, dtype=float)
    y = np.asarray(fit.y, dtype=float)
    rng = np.random.default_rng(seed)
    counts = np.array([np.bincount(rng.integers(0, len(x), len(x)), minlength=len(x)) for _ in range(n)], float)
    w_user = np.asarray(sel["user_weights"], dtype=float) if sel.get("user_weights") is not None else np.ones(len(x))
    rel = x / np.max(x)
    spec = {m["label"]: (m["law"], float(m["recency"])) for m in sel["members"]}
    parts = []
    ok = np.ones(n, dtype=bool)
    for label, _ in law.members:
        form, recency = spec[label]
        if form == "learned":  # no parameters to refit: the network reads the original points
            parts.append(np.zeros((n, 0)))
            continue
        with np.errstate(all="ignore"):
            bf = batch_fit(form, x, y, counts * (w_user * rel**recency), float(sel["eps0"]))
            values = np.array([bf.law_values(i) for i in range(n)])
        ok &= np.isfinite(bf.cost) & np.all(np.isfinite(values), axis=1)
        parts.append(values)
    if not np.any(ok):
        raise InputError("Every bootstrap refit failed; the fit itself is probably not usable.")
    samples = np.concatenate(parts, axis=1)[ok]
    return BootstrapResult(fit=fit, samples=_readonly(samples), n_requested=n, n_failed=int(n - np.sum(ok)))
