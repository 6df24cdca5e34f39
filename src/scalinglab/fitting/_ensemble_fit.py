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
2. **Rolling-origin validation.** Every member is also fitted on prefixes of the curve
   near ``x <= x_max / r``, ``r`` in (1.25, 2), and scored by the RMSLE of its forecast of
   the rest of the curve: the question a user asks (how well does it predict larger scales
   than it has seen?), asked of the curve's own points only. The origins are common to
   all members and distinct (:func:`scalinglab.fitting._rolling_origin.ratio_origins`):
   where two ratios fall between the same points (a curve spaced by factors of 2), they
   give one origin, not the same one twice; each prefix holds the ``k + 2`` distinct x the
   most demanding member needs (``k`` its parameters). A curve too short for that gets
   the origins of the next requirement down, and a member it cannot score is dropped.
3. **Combination.** Members whose validation score is more than 5 times the best, or
   that have no finite score on the common origins, are dropped (a form that cannot follow
   this curve, e.g. the envelope on a curve far below its bound); the rest are averaged
   with equal weights in log space (a geometric mean). Equal weights beat
   score-proportional weights on the design half of the benchmark: the validation scores
   of forms that all fit are too noisy to rank them.
4. **Band.** ``sd(ln y)^2 = s^2 + spread^2 + (kappa ln(x/x_max))^2`` beyond ``x_max``:
   the scatter of the points, the members' disagreement, and an extrapolation term whose
   rate ``kappa`` is the RMS error per unit ``ln x`` of the ensemble's own rolling-origin
   forecasts (factor 1). Its quantile is Student's t with as many degrees of freedom as
   forecast errors went into ``kappa``. When no origin can score any member, nothing
   measures the extrapolation error: the band is marked not validated (``kappa`` None)
   and is unbounded beyond ``x_max`` (but on a 3-point curve, below).

All forms, every prefix and every start are solved together by the batched
Levenberg-Marquardt fit of :mod:`scalinglab.fitting._batched_lm`. The law returned is an
:class:`~scalinglab.fitting._ensemble.Ensemble` carrying an
:class:`~scalinglab.fitting._ensemble.EnsembleRecord` of how it was built.

A curve of 5 distinct x gets the members with a degree of freedom to spare (``k < n``: the
three-parameter ones), scored from the prefix of ``k + 1`` points where no prefix holds
``k + 2``. A curve of 3-4 distinct x gets ``SHORT_MEMBERS``, the pure power law and the
power law with a floor, averaged with equal weights and never trimmed (their scores, from
one prefix of 3 points, rest on one forecast error each); a 3-point curve has no origin, so
its band is not validated: its extrapolation rate is the prior ``KAPPA_PRIOR`` measured on
other curves, with Student's t on ``KAPPA_PRIOR_DOF`` degrees of freedom. A curve of more
than ``LONG_CURVE_POINTS`` points (a training trajectory) is fitted on ``LONG_CURVE_BINS``
bins of ``ln x`` (:func:`bin_curve`); the band's scatter is still that of every point. For losses other than ``"log"`` and for curves
of fewer than 3 distinct x, ``auto`` falls back to choosing one law by the same
rolling-origin criterion (:func:`scalinglab.fitting._rolling_origin.select_law`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from scalinglab._errors import InputError
from scalinglab.fitting._batched_lm import FORMS, batch_fit
from scalinglab.fitting._binning import LONG_CURVE_BINS, LONG_CURVE_POINTS, bin_curve
from scalinglab.fitting._data import validate_data
from scalinglab.fitting._ensemble import LEARNED_FORM, Band, Ensemble, EnsembleMember, EnsembleRecord
from scalinglab.fitting._eps0 import UNKNOWN_BOUND_FACTOR, resolve_eps0
from scalinglab.fitting._learned import LearnedLaw
from scalinglab.fitting._result import FitResult, build_fit_result
from scalinglab.fitting._rolling_origin import AUTO_CANDIDATES, forecast_score, ratio_origins, select_law
from scalinglab.laws import FloatArray, get_law

__all__ = ["AUTO_CANDIDATES", "AUTO_MEMBERS", "UNKNOWN_BOUND_FACTOR", "fit_auto"]

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
#: Kept members are weighted by score^-WEIGHT_POWER (0: equal weights).
WEIGHT_POWER = 0.0
#: Scale of the extrapolation term of the band, calibrated on the design half of IC.
KAPPA_FACTOR = 1.0
#: Lower bound of the extrapolation rate kappa (log error per unit ln x).
KAPPA_MIN = 0.01
#: Fewest points for the learned member (the network's context).
MIN_POINTS = 6
#: Fewest distinct x for the ensemble of AUTO_MEMBERS. A curve of 5 points gets the members
#: with at least one degree of freedom (``k < n``).
ENSEMBLE_MIN_POINTS = 5
#: Members for a curve of SHORT_MIN_POINTS to ENSEMBLE_MIN_POINTS - 1 distinct x (3-4: a
#: model-size or token sweep, or a trajectory, cut at a quarter of its range): the pure power
#: law and the power law with a floor, with equal weights in log space. The first keeps
#: falling, the second levels off; with no prefix long enough to tell them apart (a 4-point
#: curve has one origin, one forecast error), their geometric mean hedges between the two and
#: their disagreement enters the band. Before, such curves went to the single-law fallback,
#: which could only score the pure power law and so always chose it.
SHORT_MEMBERS: tuple[tuple[str, str, float], ...] = (
    ("power", "power", 0.0),
    ("power_floor", "power_floor", 0.0),
)
#: Fewest distinct x for the short-curve ensemble; below it the single-law fallback is used.
SHORT_MIN_POINTS = 3
#: The rolling origin of a short curve: its prefix holds this many distinct x (the pure power
#: law then has one degree of freedom; the power law with a floor interpolates it).
SHORT_PREFIX = 3
#: The prior of the extrapolation rate, for a curve of 3 distinct x, which has no rolling
#: origin and so cannot measure its own: the band's kappa is KAPPA_PRIOR and its quantile
#: Student's t on KAPPA_PRIOR_DOF degrees of freedom (a scaled-inverse-chi-square prior on
#: kappa^2, scale KAPPA_PRIOR^2, KAPPA_PRIOR_DOF degrees of freedom: one curve's rate is then
#: t-distributed with that scale). Measured by ``python benchmarks/extrapolation_short.py
#: --measure-kappa``: on each of 656 curves (the 107 curves of the design half of
#: ``benchmarks/extrapolation_real.py`` but teacher_student, under the hidden set's protocol,
#: and the 549 of 600 curves of the synthetic prior, ``sample_curve(default_rng([2030, i]))``,
#: that have 3 distinct x up to x_max / 4, else x_max / 2), the short ensemble is fitted on 3
#: points (nearest 3 log-spaced values up to that cut) and its forecast of the later points
#: gives one rate, sqrt(sum e^2 / sum ln(x / x_origin)^2) (the formula of
#: the ensemble's own kappa); a t with location 0 fitted to the rates by maximum likelihood
#: gives the scale and the degrees of freedom (heavy-tailed: real curves alone 0.0625 / 1.35,
#: synthetic alone 0.0591 / 1.12). None: no prior (the band is open beyond x_max).
KAPPA_PRIOR: float | None = 0.0601
KAPPA_PRIOR_DOF = 1.161
#: How many curves KAPPA_PRIOR and KAPPA_PRIOR_DOF were fitted on (provenance, in the note).
KAPPA_PRIOR_CURVES = 656
#: Whether a 4-point curve's own kappa (one forecast error) is pooled with the prior
#: (conjugate update: kappa^2 = (nu0 k0^2 + n k^2) / (nu0 + n), t on nu0 + n degrees of freedom).
#: Off: measured on the design half, it halves the 4-point bands' median width (0.97 to 0.45)
#: but their coverage goes from 0.970 to 0.977, not toward 90% (docs/extrapolation.md, "The
#: band of short curves").
KAPPA_POOL_SHORT = False
#: Whether the learned extrapolator (``fitting/_learned.py``) joins the kept members with an
#: equal weight. Off: on the benchmark the second network helps IC (0.0305 to 0.0295) but makes
#: NMT, LM and BB worse, and no gating by its rolling-origin score helps the design half of IC
#: without that (``docs/extrapolation.md``, "The learned extrapolator").
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
    n_distinct = len(np.unique(x_arr[w_user > 0]))
    if loss != "log" or n_distinct < SHORT_MIN_POINTS:
        return select_law(
            x_arr, y_arr, w_user if weights is not None else None, loss=loss, eps0=eps0,
            candidates=candidates, n_origins=n_origins,
        )
    if len(x_arr) > LONG_CURVE_POINTS:
        xb, yb, wb = bin_curve(x_arr, y_arr, w_user, LONG_CURVE_BINS)
        return _fit_ensemble(xb, yb, eps0, wb, user_weights=weights is not None, full=(x_arr, y_arr, w_user))
    return _fit_ensemble(x_arr, y_arr, eps0, w_user, user_weights=weights is not None,
                         short=n_distinct < ENSEMBLE_MIN_POINTS)


def _fit_ensemble(
    x: FloatArray, y: FloatArray, eps0: float | None, w_user: FloatArray, *, user_weights: bool = False,
    full: tuple[FloatArray, FloatArray, FloatArray] | None = None, short: bool = False,
) -> FitResult:
    # The bound rule reads the points themselves (not a long curve's bins).
    y_seen = y if full is None else full[1]
    y_max = float(np.max(y_seen))
    resolved = resolve_eps0(eps0, y_seen)
    assumed_bound, bound = resolved.assumed, resolved.value
    usable = w_user > 0
    n_distinct = len(np.unique(x[usable]))
    x_max = float(np.max(x))
    rel = x / x_max
    if short:
        # A curve of 3-4 distinct x: the pure power law and the power law with a floor
        # (which may interpolate it), scored from the one prefix of SHORT_PREFIX points.
        members = [m for m in SHORT_MEMBERS if FORMS[m[1]].k <= n_distinct]
    else:
        # Every member needs one degree of freedom on the whole curve (k < n).
        members = [m for m in AUTO_MEMBERS if (m[1] == "power_floor" or bound > y_max) and FORMS[m[1]].k < n_distinct]
    # Common origins: distinct prefixes with the points the most demanding member needs
    # (k + 2: two degrees of freedom). Where the curve is too short for that, the origins
    # are built for the next requirement down and the members that need more are dropped;
    # on a curve too short for any prefix of k + 2 points (5 points), the least
    # demanding members are scored from prefixes of k + 1.
    cuts: list[float] = []
    need, slack = 0, 2
    if short:
        cuts = ratio_origins(x, ORIGIN_RATIOS, SHORT_PREFIX, usable)
        # Every member is scored from that prefix, the power law with a floor with no
        # degree of freedom to spare (there is no longer one).
        need, slack = SHORT_PREFIX, SHORT_PREFIX - max(FORMS[form].k for _, form, _ in members)
    else:
        k_min = min(FORMS[form].k for _, form, _ in members)
        levels = [(k + 2, 2) for k in sorted({FORMS[form].k for _, form, _ in members}, reverse=True)]
        levels.append((k_min + 1, 1))
        for level_need, level_slack in levels:
            cuts = ratio_origins(x, ORIGIN_RATIOS, level_need, usable)
            if cuts:
                need, slack = level_need, level_slack
                break
    masks = [x <= c for c in cuts]

    # Rows of one batched fit per form: for each member of that form, the full curve and
    # its prefixes (zero weight beyond the origin).
    plan: dict[str, list[tuple[str, bool, list[FloatArray]]]] = {}
    for label, form, recency in members:
        base = w_user * rel**recency
        fits_origins = bool(cuts) and FORMS[form].k + slack <= need
        rows = [base] + [base * m if fits_origins else base for m in masks]
        plan.setdefault(form, []).append((label, fits_origins, rows))
    fits: dict[str, Any] = {}
    scores: dict[str, float] = {}
    why: dict[str, str] = {}
    for form, entries in plan.items():
        bf_all = batch_fit(form, x, y, np.array([r for _, _, rows in entries for r in rows]), bound)
        log_all = bf_all.log_predict(x)
        for j, (label, fits_origins, _) in enumerate(entries):
            sl = slice(j * (1 + len(masks)), (j + 1) * (1 + len(masks)))
            bf = bf_all.rows(sl)
            log_fit = log_all[sl]
            fits[label] = (bf, fits_origins, log_fit)
            if not np.isfinite(bf.cost[0]):
                scores[label], why[label] = math.inf, "its fit to the whole curve failed"
            elif not fits_origins:
                scores[label] = math.nan
                why[label] = (
                    f"not scored: it needs {FORMS[form].k + slack} points before an origin"
                    + (f", the origins have {need}" if cuts else ", no origin has them")
                )
            else:
                scores[label] = forecast_score(
                    [log_fit[i + 1][~m & usable] - np.log(y[~m & usable]) for i, m in enumerate(masks)]
                )
                if not math.isfinite(scores[label]):
                    why[label] = "not scored: a forecast from an origin is not finite"

    finite = [v for v in scores.values() if math.isfinite(v)]
    best = min(finite) if finite else math.nan
    validated = bool(finite)
    if validated:
        # A member without a finite score on the common origins cannot be compared: dropped.
        for label, _, _ in members:
            # A short curve's scores rest on one forecast error each: they cannot rank its
            # two members, so none is trimmed (a member whose forecast is not finite still is).
            if not short and math.isfinite(scores[label]) and scores[label] > TRIM_FACTOR * best:
                why[label] = f"rolling-origin RMSLE {scores[label]:.3g} > {TRIM_FACTOR:g}x the best ({best:.3g})"
        kept = [label for label, _, _ in members if label not in why]
    else:
        # Nothing could be scored: every member that fits the whole curve is kept, unvalidated.
        kept = [label for label, _, _ in members if math.isfinite(fits[label][0].cost[0])]
        for label in kept:
            why.pop(label, None)
    if not kept:
        raise InputError("Every member of law='auto' failed to fit this curve; check the data.")
    learned = _learned_member(x, y, eps0, masks) if LEARNED_MEMBER and validated else None
    if learned is not None:
        fits[LEARNED_FORM], scores[LEARNED_FORM] = learned[0], learned[1]
        # The same rule as the fitted members: dropped when it forecasts the curve's own
        # later points more than LEARNED_TRIM times worse than the best fitted member.
        if not math.isfinite(scores[LEARNED_FORM]):
            why[LEARNED_FORM] = "not scored: too few points before an origin"
        elif LEARNED_TRIM is not None and scores[LEARNED_FORM] > LEARNED_TRIM * best:
            why[LEARNED_FORM] = f"rolling-origin RMSLE > {LEARNED_TRIM:g}x the best fitted member's"
        else:
            kept.append(LEARNED_FORM)
    raw = [scores[lb] ** -WEIGHT_POWER if WEIGHT_POWER and math.isfinite(scores.get(lb, math.nan)) and scores[lb] > 0
           else 1.0 for lb in kept]
    weights = np.asarray(raw) / float(np.sum(raw))

    # The ensemble's own rolling-origin forecasts set the extrapolation rate of the band;
    # every kept member has a finite forecast from every origin (or nothing was scored).
    num = den = 0.0
    n_errors = 0
    for i, m in enumerate(masks if validated else []):
        ahead = ~m & usable
        log_ens = np.average([fits[lb][2][i + 1][ahead] for lb in kept], axis=0, weights=weights)
        num += float(np.sum((log_ens - np.log(y[ahead])) ** 2))
        den += float(np.sum(np.log(x[ahead] / np.max(x[m])) ** 2))
        n_errors += int(np.sum(ahead))
    kappa = max(KAPPA_FACTOR * math.sqrt(num / den), KAPPA_MIN) if den > 0 else None
    band_dof: float | None = None
    kappa_source = "own"
    if short and KAPPA_PRIOR is not None and (kappa is None or KAPPA_POOL_SHORT):
        # Too few points to measure the rate: the prior's (kappa None, a 3-point curve), or the
        # curve's few errors pooled with it as extra degrees of freedom (a 4-point curve).
        nu0, k0 = KAPPA_PRIOR_DOF, KAPPA_PRIOR
        if kappa is None:
            kappa, band_dof, kappa_source = k0, nu0, "prior"
        else:
            pooled = (nu0 * k0**2 + n_errors * KAPPA_FACTOR**2 * num / den) / (nu0 + n_errors)
            kappa, band_dof, kappa_source = max(math.sqrt(pooled), KAPPA_MIN), nu0 + n_errors, "pooled"
    # The scatter of the band is that of single points: on a binned long curve, of every
    # point around the ensemble (the bins' means scatter less).
    x_pts, y_pts, w_pts = (x, y, w_user) if full is None else full
    if full is None:
        log_full = np.average([fits[lb][2][0] for lb in kept], axis=0, weights=weights)
    else:
        log_full = np.average([fits[lb][0].log_predict(x_pts)[0] for lb in kept], axis=0, weights=weights)
    resid = log_full - np.log(y_pts)
    scatter = float(np.sqrt(np.sum(w_pts * resid**2) / max(np.sum(w_pts), 1e-300)))

    dropped = [lb for lb in [*(m[0] for m in members), LEARNED_FORM] if lb in why]
    origins_text = ", ".join(f"x <= {c:.4g}" for c in cuts)
    reason = (
        (f"geometric mean with equal weights of {', '.join(kept)}" if not WEIGHT_POWER else
         f"geometric mean of {', '.join(kept)} weighted by their rolling-origin RMSLE^-{WEIGHT_POWER:g}")
        + "".join(f"; dropped {lb} ({why[lb]})" for lb in dropped)
        + (
            f"; rolling-origin forecasts from {origins_text} (near x_max/r, r in {list(ORIGIN_RATIOS)}, "
            f"distinct prefixes of at least {need} points)"
            if validated
            else "; not validated: no rolling origin could score a member, so the band beyond "
            + ("the largest x grows at the prior rate measured on other curves" if kappa_source == "prior"
               else "the largest x is unbounded")
        )
        + (f"; the band's rate pools this curve's {n_errors} forecast error(s) with the prior's"
           if kappa_source == "pooled" else "")
    )
    weight_of = {lb: float(weights[i]) for i, lb in enumerate(kept)}
    candidates = [(lb, form, recency) for lb, form, recency in members]
    if learned is not None:
        candidates.append((LEARNED_FORM, LEARNED_FORM, 0.0))
    record = EnsembleRecord(
        members=tuple(
            EnsembleMember(
                label=lb,
                form=form,
                recency=recency,
                weight=weight_of.get(lb, 0.0),
                score=scores[lb],
                dropped=why.get(lb),
                params={} if form == LEARNED_FORM else dict(
                    zip(fits[lb][0].form.law(bound).param_names, fits[lb][0].law_values(0).tolist(), strict=True)
                ),
            )
            for lb, form, recency in candidates
        ),
        eps0=bound,
        eps0_assumed=assumed_bound,
        user_weights=w_pts.copy() if user_weights else None,
        reason=reason,
        origins=tuple(cuts),
    )
    member_laws = []
    values = []
    for lb in kept:
        bf = fits[lb][0]
        if lb == LEARNED_FORM:
            member_laws.append((lb, bf))
            values.append(np.zeros(0))
            continue
        member_laws.append((lb, bf.form.law(bound)))
        values.append(bf.law_values(0))
    band = Band(scatter, kappa, x_max, n_errors or None, dof=band_dof, source=kappa_source)
    # A given eps0 that the data pass is no bound of this curve: nothing is capped at it.
    contradiction = resolved.contradiction(
        y_max, "the saturating members (m4, envelope), which need every y below the bound, were left "
        "out, and the band is not capped at it")
    law = Ensemble(member_laws, weights.tolist(), band,
                   upper=None if assumed_bound or contradiction else bound, record=record)
    values_arr = np.concatenate(values)
    log_mask = np.array([p.log for p in law.params])
    theta = np.where(log_mask, np.log(np.maximum(values_arr, 1e-300)), values_arr)
    converged = all(bool(fits[lb][0].converged[0]) for lb in kept if lb != LEARNED_FORM)
    notes = [
        "ensemble: the band comes from the members' spread and the curve's own rolling-origin "
        "forecasts, not from parameter standard errors (it has no parameter standard errors)"
    ]
    if kappa_source != "own":
        notes.append(
            ("not validated: this curve is too short for a rolling origin, so" if kappa_source == "prior" else
             f"short curve: its {n_errors} rolling-origin forecast error(s) are pooled with the prior, and")
            + f" the band's extrapolation rate comes from other curves (kappa_prior {KAPPA_PRIOR:.3g} with "
            f"{KAPPA_PRIOR_DOF:.3g} degrees of freedom, measured on {KAPPA_PRIOR_CURVES} curves; "
            "docs/extrapolation.md, 'The band of short curves')"
        )
    if kappa is None:
        notes.append(
            "not validated: no rolling origin could score a member of the ensemble, so the band "
            "has no estimate of the extrapolation error and is unbounded beyond the largest x"
        )
    if full is not None:
        notes.append(
            f"long curve: the members were fitted to {len(x)} bins of ln x (weighted means of ln y) "
            f"summarising its {len(x_pts)} points; the band's scatter is that of the points"
        )
    if contradiction:
        notes.append(contradiction)
    if assumed_bound:
        notes.append(
            f"no eps0 given: the saturating members assume the loss starts at most at "
            f"{bound:.4g} (= {UNKNOWN_BOUND_FACTOR:g} max y); give eps0 if the loss has a known bound"
        )
    n_par = law.n_params
    return build_fit_result(
        law=law,
        loss="log",
        x=x_pts,
        y=y_pts,
        values=values_arr,
        theta=theta,
        # No parameter covariance: the band is the law's own (the first note says so).
        cov_theta=np.full((n_par, n_par), np.nan),
        free=np.ones(n_par, dtype=bool),
        converged=converged,
        message="ensemble of converged member fits" if converged else "not converged: a member fit did not settle",
        notes=tuple(notes),
        dof=len(y_pts) - max(FORMS[f].k for _, f, _ in members),
        residual_scale=scatter,
        cost=float(0.5 * np.sum(w_pts * resid**2)),
        n_starts=1,
        selection=record.selection(law.band),
    )


def _learned_member(
    x: FloatArray, y: FloatArray, eps0: float | None, masks: list[Any]
) -> tuple[tuple[LearnedLaw, bool, list[FloatArray]], float] | None:
    """The learned extrapolator as a member: its law, and its forecasts from every origin.

    Returns what ``_fit_ensemble`` keeps per member (the law in place of a batched fit,
    whether it was scored on every origin, the log predictions on the whole curve and from
    each origin) and its rolling-origin score (``nan`` when a prefix has fewer than
    ``MIN_POINTS`` distinct x, which the network needs: it is then not scored on the common
    origins); None when the shipped weights are missing.
    """
    try:
        law = LearnedLaw(x, y, eps0)
    except InputError:
        return None
    rows = [law.log_predict(x)[0]]
    errors = []
    scored = True
    for m in masks:
        row = np.full(len(x), np.nan)
        if len(np.unique(x[m])) >= MIN_POINTS:
            row[~m] = law.net.predict(x[m], y[m], x[~m], eps0)[0]
            errors.append(row[~m] - np.log(y[~m]))
        else:
            scored = False
        rows.append(row)
    return (law, scored, rows), forecast_score(errors) if scored else math.nan
