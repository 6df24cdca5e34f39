"""Fast batched fits of the 1-input learning-curve forms that ``law="auto"`` combines.

``auto`` fits three forms to a curve and to several of its prefixes (for rolling-origin
validation), from several starts each: about a hundred small least-squares problems per
curve. Solving them one at a time with :func:`scipy.optimize.least_squares` and finite
differences costs 0.1-1 s per curve; here every (start, prefix) pair of a form is one row
of a batch, solved together by a vectorised Levenberg-Marquardt iteration with analytic
Jacobians, which costs a few milliseconds.

Each form works on normalised inputs ``t = ln(x / x_ref)`` (``x_ref`` the largest x), in
unconstrained coordinates ``u`` whose map to the parameters keeps them in their domain;
:meth:`_Form.to_law` converts a solution back to the parameters of the matching
:class:`~scalinglab.laws.Law` in its own units, so the result is an ordinary fit.

Forms (with y the error, eps0 its known bound):

* ``power_floor``: ``y = A e^{-b t} + C`` (Hestness et al. 2017, eq. 2);
* ``m4``: ``(y - E) / (eps0 - y)^a = B e^{c t}`` (Alabdulmohsin et al. 2022, M4), solved
  for y by Newton's method on a logit scale; its Jacobian follows from the implicit
  function theorem;
* ``envelope``: ``y = eps0 e / sqrt(e^2 + eta^2)``, ``e = e^{-alpha t} + C``
  (Rosenfeld et al. 2020, eq. 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scalinglab.laws import M4, Envelope, FloatArray, Law, Power, PowerFloor, m4_solve

__all__ = ["FORMS", "BatchFit", "batch_fit"]

_TINY = 1e-300


#: Largest power-law exponent of a form (per unit ln x): the fit and the law both stop there.
MAX_EXPONENT = 10.0


def _sigmoid(u: FloatArray) -> FloatArray:
    return np.exp(-np.logaddexp(0.0, -u))


def _logit(p: FloatArray) -> FloatArray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class _Data:
    """A curve in normalised units, shared by every row of a batch."""

    t: FloatArray  # ln(x / x_ref), shape (n,)
    log_y: FloatArray  # ln y, shape (n,)
    y: FloatArray
    x_ref: float
    eps0: float
    y_min: float  # the smallest error of the whole curve


class _Form:
    """A form in unconstrained coordinates: log-prediction and its Jacobian, batched."""

    name: str = ""
    k: int = 0

    def log_pred(
        self, u: FloatArray, d: _Data, t: FloatArray | None = None, guess: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """``ln y_hat`` (B, n) and ``d ln y_hat / d u`` (B, n, k) at rows ``u`` (B, k).

        ``guess``, a nearby row's ``ln y_hat`` (B, n), starts forms that solve for y
        iteratively (M4); explicit forms ignore it.
        """
        raise NotImplementedError

    def starts(self, d: _Data, w: FloatArray) -> FloatArray:
        """Starting rows ``u`` (B, S, k) for each weight row of ``w`` (B, n)."""
        raise NotImplementedError

    def law(self, eps0: float) -> Law:
        raise NotImplementedError

    def to_law(self, u: FloatArray, d: _Data) -> FloatArray:
        """Parameters of :meth:`law` (natural units, x not normalised) for one row u."""
        raise NotImplementedError


def _weighted_line(t: FloatArray, z: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted least squares ``z ~ p + q t`` per row; returns (p, q), each (B, ...)."""
    sw = w.sum(-1)
    mt = (w * t).sum(-1) / sw
    mz = (w * z).sum(-1) / sw
    var = (w * (t - mt[..., None]) ** 2).sum(-1)
    cov = (w * (t - mt[..., None]) * (z - mz[..., None])).sum(-1)
    q = cov / np.maximum(var, 1e-300)
    return mz - q * mt, q


class _Power(_Form):
    """``y = A e^{b t}`` (Hestness et al. 2017, eq. 1); u = (ln A, b), b signed.

    The pure power law: linear regression of ``ln y`` on ``t``, which its start already is
    (one LM step confirms it). ``law="auto"`` uses it only for curves of 3-4 distinct x,
    beside the power law with a floor (``_ensemble_fit.SHORT_MEMBERS``).
    """

    name = "power"
    k = 2

    def log_pred(
        self, u: FloatArray, d: _Data, t: FloatArray | None = None, guess: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        t = d.t if t is None else t
        b_raw = u[:, 1:2]
        b = np.clip(b_raw, -MAX_EXPONENT, MAX_EXPONENT)
        lp = u[:, 0:1] + b * t
        jac = np.stack([np.ones_like(lp), t * (np.abs(b_raw) < MAX_EXPONENT)], axis=-1)
        return lp, jac

    def starts(self, d: _Data, w: FloatArray) -> FloatArray:
        p, q = _weighted_line(d.t, d.log_y, w)
        return np.stack([p, np.clip(q, -MAX_EXPONENT, MAX_EXPONENT)], -1)[:, None, :]

    def law(self, eps0: float) -> Law:
        return Power()

    def to_law(self, u: FloatArray, d: _Data) -> FloatArray:
        b = float(np.clip(u[1], -MAX_EXPONENT, MAX_EXPONENT))
        # A (x/x_ref)^b = (A x_ref^-b) x^b
        return np.array([math.exp(u[0]) * d.x_ref ** (-b), b])


class _PowerFloor(_Form):
    """``y = A e^{-b t} + C``; u = (ln A, ln b, ln C)."""

    name = "power_floor"
    k = 3

    def log_pred(
        self, u: FloatArray, d: _Data, t: FloatArray | None = None, guess: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        t = d.t if t is None else t
        ln_a, ln_b, ln_c = (u[:, i : i + 1] for i in range(3))
        # The exponent is capped at MAX_EXPONENT here, not only in to_law, so that the law
        # reported (whose prefactor is rescaled by x_ref^b) is the curve that was fitted.
        b_raw = np.exp(ln_b)
        b = np.minimum(b_raw, MAX_EXPONENT)
        with np.errstate(over="ignore"):
            p = np.exp(np.clip(ln_a - b * t, -700, 700))
        c = np.exp(ln_c)
        y = p + c
        inv = 1.0 / y
        jac = np.stack([p * inv, -t * b * p * inv * (b_raw < MAX_EXPONENT), c * inv], axis=-1)
        return np.log(y), jac

    def starts(self, d: _Data, w: FloatArray) -> FloatArray:
        y_min = np.min(np.where(w > 0, d.y, np.inf), axis=-1)  # (B,)
        rows = []
        for frac in (0.0, 0.5, 0.8, 0.95):
            c = frac * y_min
            z = np.log(np.maximum(d.y - c[:, None], _TINY))
            p, q = _weighted_line(d.t, z, w)
            b = np.clip(-q, 1e-3, 10.0)
            rows.append(np.stack([p, np.log(b), np.log(np.maximum(c, 1e-6 * y_min))], -1))
        return np.stack(rows, axis=1)

    def law(self, eps0: float) -> Law:
        return PowerFloor()

    def to_law(self, u: FloatArray, d: _Data) -> FloatArray:
        a, b, c = math.exp(u[0]), math.exp(u[1]), math.exp(u[2])
        # A (x/x_ref)^-b = (A x_ref^b) x^-b
        b = min(b, MAX_EXPONENT)
        return np.array([a * d.x_ref**b, b, c])


class _Envelope(_Form):
    """``y = eps0 e / sqrt(e^2 + eta^2)``, ``e = e^{-alpha t} + C``; u = (ln alpha, ln C, ln eta)."""

    name = "envelope"
    k = 3

    def log_pred(
        self, u: FloatArray, d: _Data, t: FloatArray | None = None, guess: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        t = d.t if t is None else t
        alpha_raw = np.exp(u[:, 0:1])
        alpha = np.minimum(alpha_raw, MAX_EXPONENT)  # capped as in to_law (see _PowerFloor)
        c = np.exp(u[:, 1:2])
        eta = np.exp(u[:, 2:3])
        with np.errstate(over="ignore"):
            p = np.exp(np.clip(-alpha * t, -700, 700))
        e = p + c
        q = e * e + eta * eta
        dlde = eta * eta / (e * q)
        log_y = math.log(d.eps0) + np.log(e) - 0.5 * np.log(q)
        jac = np.stack([dlde * (-t * p) * alpha * (alpha_raw < MAX_EXPONENT), dlde * c, -(eta * eta) / q], axis=-1)
        return log_y, jac

    def starts(self, d: _Data, w: FloatArray) -> FloatArray:
        # For fixed alpha, y / sqrt(eps0^2 - y^2) = (e^{-alpha t} + C) / eta is linear.
        y_c = np.minimum(d.y, d.eps0 * (1 - 1e-6))
        v = y_c / np.sqrt(d.eps0**2 - y_c**2)
        rows = []
        for alpha in (0.1, 0.3, 0.6, 1.0):
            f = np.exp(-alpha * d.t)
            p, q = _weighted_line(f, v, w)  # v ~ p + q f: q = 1/eta, p = C/eta
            q = np.maximum(q, 1e-6)
            eta = 1.0 / q
            c = np.maximum(p * eta, 1e-4)
            rows.append(np.stack([np.full_like(q, math.log(alpha)), np.log(c), np.log(eta)], -1))
        return np.stack(rows, axis=1)

    def law(self, eps0: float) -> Law:
        return Envelope(eps0=eps0)

    def to_law(self, u: FloatArray, d: _Data) -> FloatArray:
        alpha, c, eta = min(math.exp(u[0]), MAX_EXPONENT), math.exp(u[1]), math.exp(u[2])
        # e = (x/x_ref)^-alpha + C = x_ref^alpha (x^-alpha + C x_ref^-alpha): scale out x_ref^alpha.
        s = d.x_ref**alpha
        return np.array([alpha, c / s, eta / s])


class _M4(_Form):
    """``(y - E)/(eps0 - y)^a = B e^{c t}``; u = (ln B, ln(-c), ln a, logit(E / y_min)).

    The law itself (:func:`scalinglab.laws.m4_solve`) solves for y and gives the
    derivatives of ``ln y``; this form only maps them to its coordinates ``u``. The floor
    is searched below the smallest error of the whole curve (``_Data.y_min``, so that every
    row shares one parametrisation): a floor above an observed error is not a floor.
    """

    name = "m4"
    k = 4

    def log_pred(
        self, u: FloatArray, d: _Data, t: FloatArray | None = None, guess: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray]:
        t = d.t if t is None else t
        ln_b = u[:, 0:1]
        c_raw = np.exp(u[:, 1:2])
        c = -np.minimum(c_raw, MAX_EXPONENT)  # capped as in to_law (see _PowerFloor)
        a = np.minimum(np.exp(u[:, 2:3]), 20.0)
        sig_e = _sigmoid(u[:, 3:4])
        e_inf = d.y_min * sig_e
        z0 = None
        if guess is not None:
            with np.errstate(all="ignore"):
                s0 = (np.exp(guess) - e_inf) / (d.eps0 - e_inf)
                z0 = np.where((s0 > 1e-12) & (s0 < 1 - 1e-12), _logit(s0), np.nan)
        sol = m4_solve(ln_b + c * t, a, e_inf, d.eps0, z0)
        d_lnb = sol.dlny_dlin
        d_c = sol.dlny_dlin * t * c * (c_raw < MAX_EXPONENT)
        d_a = sol.dlny_da * a * (np.exp(u[:, 2:3]) < 20.0)
        d_e = sol.dlny_deps_inf * d.y_min * sig_e * (1 - sig_e)
        jac = np.stack(np.broadcast_arrays(d_lnb, d_c, d_a, d_e), axis=-1)
        return np.log(sol.y), jac

    def starts(self, d: _Data, w: FloatArray) -> FloatArray:
        y_c = np.minimum(d.y, d.eps0 * (1 - 1e-9))
        rows = []
        for frac in (0.3, 0.8):
            e_inf = frac * d.y_min
            for a in (0.3, 1.0, 3.0):
                z = np.log(np.maximum(y_c - e_inf, _TINY)) - a * np.log(d.eps0 - y_c)
                p, q = _weighted_line(d.t, z, w)
                c = np.clip(q, -10, -1e-3)
                rows.append(
                    np.stack(
                        np.broadcast_arrays(p, np.log(-c), math.log(a), _logit(np.array(frac))), -1
                    )
                )
        return np.stack(rows, axis=1)

    def law(self, eps0: float) -> Law:
        return M4(eps0=eps0)

    def to_law(self, u: FloatArray, d: _Data) -> FloatArray:
        b, c = math.exp(u[0]), -min(math.exp(u[1]), MAX_EXPONENT)
        a = min(math.exp(u[2]), 20.0)
        e_inf = d.y_min * float(_sigmoid(np.array(u[3])))
        # B (x/x_ref)^c = (B x_ref^-c) x^c
        return np.array([b * d.x_ref ** (-c), c, a, e_inf])


FORMS: dict[str, type[_Form]] = {"power": _Power, "power_floor": _PowerFloor, "m4": _M4, "envelope": _Envelope}


@dataclass(frozen=True)
class BatchFit:
    """Best solution of one form for each weight row.

    Attributes
    ----------
    u : array (B, k)
        Best unconstrained parameters per weight row.
    cost : array (B,)
        Half the weighted sum of squared log residuals there.
    converged : array (B,)
        Whether the LM iteration settled (relative cost change below tolerance).
    agreeing : array (B,)
        How many starts reached the best cost (within 1e-6 relative).
    """

    form: _Form
    data: _Data
    u: FloatArray
    cost: FloatArray
    converged: np.ndarray
    agreeing: np.ndarray

    def log_predict(self, x: FloatArray) -> FloatArray:
        """``ln y_hat`` (B, m) of every row at new inputs ``x`` (m,)."""
        t = np.log(np.asarray(x, dtype=float) / self.data.x_ref)
        out, _ = self.form.log_pred(self.u, self.data, np.broadcast_to(t, (len(self.u), len(t))))
        return out

    def rows(self, which: slice) -> BatchFit:
        """The solutions of a subset of the weight rows."""
        return BatchFit(
            form=self.form,
            data=self.data,
            u=self.u[which],
            cost=self.cost[which],
            converged=self.converged[which],
            agreeing=self.agreeing[which],
        )

    def law_values(self, row: int = 0) -> FloatArray:
        return self.form.to_law(self.u[row], self.data)


def batch_fit(
    name: str,
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    eps0: float,
    *,
    max_iter: int = 100,
    ftol: float = 1e-8,
    prune_after: int = 6,
) -> BatchFit:
    """Fit form ``name`` once per row of ``weights`` (B, n), from several starts each.

    Rows of ``weights`` are the full curve and its prefixes (zero weight beyond an
    origin), possibly reweighted. Every start of every row is one row of a batched
    Levenberg-Marquardt iteration (Marquardt's diagonal scaling, analytic Jacobian).
    """
    form = FORMS[name]()
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    x_ref = float(np.max(x))
    data = _Data(t=np.log(x / x_ref), log_y=np.log(y), y=y, x_ref=x_ref, eps0=float(eps0), y_min=float(np.min(y)))
    n_rows = w.shape[0]
    u0 = form.starts(data, w)  # (B, S, k)
    n_starts = u0.shape[1]
    u = u0.reshape(-1, form.k).copy()
    ww = np.repeat(w, n_starts, axis=0)  # (B*S, n)
    sw = np.sqrt(ww)
    t_full = np.broadcast_to(data.t, ww.shape)

    def evaluate(
        uu: FloatArray, idx: np.ndarray, guess: FloatArray | None = None
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        with np.errstate(all="ignore"):
            lp, jac = form.log_pred(uu, data, t_full[idx], guess)
            r = sw[idx] * (lp - data.log_y)
            jac = jac * sw[idx][:, :, None]
            cost = 0.5 * np.sum(r * r, axis=-1)
            bad = ~np.isfinite(cost) | ~np.isfinite(jac.sum(axis=(1, 2)))
        cost[bad] = np.inf
        r[bad] = 0.0
        jac[bad] = 0.0
        return r, jac, cost, lp

    all_idx = np.arange(len(u))
    r, jac, cost, lp = evaluate(u, all_idx)
    lam = np.full(len(u), 1e-3)
    done = ~np.isfinite(cost)
    eye = np.eye(form.k)
    for it in range(max_iter):
        if it == prune_after and n_starts > 1:
            # Starts far behind the best of their row after a few steps rarely overtake
            # it: stop them, which halves the work of the batch.
            c_m = cost.reshape(n_rows, n_starts)
            lead = np.min(c_m, axis=1, keepdims=True)
            done |= (c_m > 1.5 * lead + 1e-12).ravel()
        idx = np.flatnonzero(~done)
        if len(idx) == 0:
            break
        j_a, r_a = jac[idx], r[idx]
        jt = np.swapaxes(j_a, 1, 2)
        a_mat = jt @ j_a
        g = (jt @ r_a[..., None])[..., 0]
        diag = np.einsum("bkk->bk", a_mat)
        damp = lam[idx, None, None] * (diag[:, :, None] * eye + 1e-12 * eye)
        with np.errstate(all="ignore"):
            try:
                step = -np.linalg.solve(a_mat + damp, g[..., None])[..., 0]
            except np.linalg.LinAlgError:
                step = -g / (diag + lam[idx, None] + 1e-12)
        step = np.clip(np.where(np.isfinite(step), step, 0.0), -5.0, 5.0)
        u_new = u[idx] + step
        # Each trial point starts from its row's accepted solution (M4's Newton solve).
        r_new, jac_new, cost_new, lp_new = evaluate(u_new, idx, lp[idx])
        better = cost_new <= cost[idx]
        rel = np.where(better, (cost[idx] - cost_new) / np.maximum(cost[idx], 1e-300), 0.0)
        acc = idx[better]
        u[acc] = u_new[better]
        r[acc] = r_new[better]
        lp[acc] = lp_new[better]
        jac[acc] = jac_new[better]
        cost[acc] = cost_new[better]
        lam[idx] = np.where(better, np.maximum(lam[idx] / 3.0, 1e-9), lam[idx] * 4.0)
        small_step = np.max(np.abs(step), axis=-1) < 1e-8
        done[idx] = (better & (rel < ftol)) | (~better & (lam[idx] > 1e6)) | small_step
    cost_m = cost.reshape(n_rows, n_starts)
    best = np.argmin(np.where(np.isfinite(cost_m), cost_m, np.inf), axis=1)
    u_best = u.reshape(n_rows, n_starts, form.k)[np.arange(n_rows), best]
    c_best = cost_m[np.arange(n_rows), best]
    agreeing = np.sum(cost_m - c_best[:, None] <= 1e-6 * np.abs(c_best[:, None]) + 1e-15, axis=1)
    conv = done.reshape(n_rows, n_starts)[np.arange(n_rows), best] & np.isfinite(c_best)
    return BatchFit(form=form, data=data, u=u_best, cost=c_best, converged=conv, agreeing=agreeing)
