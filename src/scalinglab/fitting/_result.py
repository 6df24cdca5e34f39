"""Read-only results of a fit: parameters with uncertainty, and their resampling.

:class:`FitResult` (one builder, :func:`build_fit_result`, makes every one of them),
:class:`BootstrapResult`, and :func:`bootstrap`, the one entry point of the resampling
(:mod:`scalinglab.fitting._bootstrap` does the refits). What a fit predicts lives in
:mod:`scalinglab.fitting._prediction`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import stdtrit

from scalinglab._errors import InputError
from scalinglab.fitting._bootstrap import refit_resamples
from scalinglab.fitting._numdiff import central_jacobian
from scalinglab.fitting._prediction import (
    CalibratedBand,
    Inversion,
    Prediction,
    _check_level,
    _first_crossing,
    _jsonable,
    _readonly,
)
from scalinglab.laws import FloatArray, Law

__all__ = ["BootstrapResult", "FitResult", "bootstrap", "build_fit_result"]

@dataclass(frozen=True)
class FitResult:
    """The result of :func:`scalinglab.fitting.fit_law`. Read-only.

    Attributes
    ----------
    law : Law
        The fitted law, with its constants.
    loss : str
        The loss minimised.
    values : array
        Best-fit parameters, natural units, in ``law.param_names`` order.
    stderr : array
        Standard errors (delta method from the Jacobian; ``nan`` where undefined).
    cov : array
        Covariance of the parameters, natural units.
    converged : bool
        Whether the optimiser met its convergence criteria.
    message : str
        The optimiser's reason for stopping, and why the fit is not trusted if it is not.
    notes : tuple of str
        Warnings that do not make the fit fail (a parameter at its bound, starts that
        disagree, a singular Jacobian).
    n_points : int
    dof : int
        ``n_points`` minus the number of fitted parameters.
    rmsle : float
        Root mean squared log error on the fitted points.
    divergence_mean, divergence_std : float
        Mean and standard deviation of ``(y_hat - y) / y`` (Rosenfeld et al. 2020).
    """

    law: Law
    loss: str
    values: FloatArray
    stderr: FloatArray
    cov: FloatArray
    theta: FloatArray
    cov_theta: FloatArray
    free: np.ndarray
    converged: bool
    message: str
    notes: tuple[str, ...]
    n_points: int
    dof: int
    residual_scale: float
    cost: float
    rmsle: float
    divergence_mean: float
    divergence_std: float
    x: FloatArray
    y: FloatArray
    huber_delta: float = 1e-3
    n_starts: int = 1
    selection: dict[str, Any] | None = None
    fixed: dict[str, float] = field(default_factory=dict)

    # -- parameters --------------------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        return self.law.param_names

    @property
    def params(self) -> dict[str, float]:
        """Best-fit parameters by name."""
        return {n: float(v) for n, v in zip(self.param_names, self.values, strict=True)}

    @property
    def floor(self) -> float:
        """The error the fitted law approaches with unlimited data (0 if it has none)."""
        return self.law.floor(self.values)

    def intervals(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Confidence intervals of the parameters.

        Normal (Student t with ``dof`` degrees of freedom) in fitted units, mapped back:
        parameters fitted on a log scale get asymmetric intervals that stay positive.
        """
        level = _check_level(level)
        q = self._quantile(level)
        se_theta = np.sqrt(np.clip(np.diag(self.cov_theta), 0, None))
        lo_t, hi_t = self.theta - q * se_theta, self.theta + q * se_theta
        log = np.array([p.log for p in self.law.params])
        lo = np.where(log, np.exp(np.clip(lo_t, -700, 700)), lo_t)
        hi = np.where(log, np.exp(np.clip(hi_t, -700, 700)), hi_t)
        return {n: (float(a), float(b)) for n, a, b in zip(self.param_names, lo, hi, strict=True)}

    def _quantile(self, level: float) -> float:
        dof = max(self.dof, 1)
        return float(stdtrit(dof, 0.5 + level / 2))

    # -- prediction --------------------------------------------------------------------
    def _log_prediction_gradient(self, x: FloatArray) -> FloatArray:
        """d ln y_hat / d theta at each x, by central differences (rows: points)."""
        log_mask = np.array([p.log for p in self.law.params])
        free_idx = np.flatnonzero(self.free)

        def log_prediction(theta: FloatArray) -> FloatArray:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.asarray(np.log(self.law.predict(x, np.where(log_mask, np.exp(theta), theta))))

        grads = np.zeros((len(x), len(self.theta)))
        grads[:, free_idx] = central_jacobian(log_prediction, np.asarray(self.theta, dtype=float), free_idx, 1e-5)
        return np.nan_to_num(grads)

    def predict(
        self, x: ArrayLike, level: float = 0.9, interval: str = "prediction"
    ) -> Prediction:
        """The fitted law at ``x`` with a band.

        Parameters
        ----------
        x : array-like
            Shape ``(n,)``, or ``(n, k)`` for a k-input law.
        level : float
            Probability content of the band.
        interval : {"prediction", "confidence"}
            ``"prediction"`` adds the scatter of the points around the law (the band for a
            new run); ``"confidence"`` is the uncertainty of the law alone.

        Notes
        -----
        Delta method in log space: ``var ln y_hat = g' C g (+ s^2)``, with ``g`` the gradient
        of ``ln y_hat`` in fitted units, ``C`` their covariance and ``s`` the residual scale;
        the band is ``y_hat exp(+-t_q sqrt(var))``, so it never goes negative.
        """
        level = _check_level(level)
        if interval not in ("prediction", "confidence"):
            raise InputError(
                "The 'interval' parameter of FitResult.predict must be 'prediction' or "
                f"'confidence'. Got {interval!r} instead."
            )
        x_arr = self.law.check_x(x)
        value = self.law.predict(x_arr, self.values)
        # A law that carries its own calibrated band (the ensemble of law="auto") gives it.
        if isinstance(self.law, CalibratedBand):
            half = self.law.log_halfwidth(x_arr, self.values, level, interval)
            upper = value * np.exp(half)
            if self.law.upper is not None:
                # The known bound of the loss (eps0): the saturating members never exceed
                # it, so neither does the band (a wide extrapolation band would).
                upper = np.minimum(upper, self.law.upper)
            method = "ensemble"
        else:
            g = self._log_prediction_gradient(x_arr)
            var = np.einsum("ij,jk,ik->i", g, self.cov_theta, g)
            if interval == "prediction":
                var = var + self.residual_scale**2
            half = self._quantile(level) * np.sqrt(np.clip(var, 0, None))
            upper = value * np.exp(half)
            method = "delta"
        return Prediction.of(x_arr, value, value * np.exp(-half), upper, level, method, interval)

    def inverse(self, y_target: ArrayLike, level: float = 0.9) -> Inversion:
        """The input needed to reach ``y_target``, with a band.

        The point is the law's inverse (Hestness et al. 2017, section 2:
        n* = ((eps_t - gamma)/alpha)^(1/beta_g), n the data size). The band is where the edges of the
        ``confidence`` band of :meth:`predict` first cross the target: the optimistic edge
        gives the lower end, the pessimistic one the upper end, ``inf`` where that edge never
        reaches the target. Working from the band makes the inverse consistent with
        :meth:`predict` for every kind of fit, ensembles included. A target at or below the
        fitted floor gets ``nan`` and a ``reason``.
        """
        level = _check_level(level)
        if not self.law.has_inverse:
            raise InputError(
                f"The law {self.law.name!r} has {self.law.n_inputs} inputs, so 'inverse' "
                "needs one of them fixed; use a 1-input law or the planning helpers."
            )
        target = np.atleast_1d(np.asarray(y_target, dtype=float))
        value = np.atleast_1d(self.law.inverse(target, self.values))
        feasible = np.isfinite(value) & (value > 0)
        reason = None
        if not np.all(feasible):
            eps0 = self.law.constants.get("eps0")
            reason = (
                f"target {target[~feasible].tolist()} is not reachable: the fitted "
                f"{self.law.name} law approaches a floor of {self.floor:.4g}"
                + (f" and starts at {eps0:.4g}" if eps0 is not None else "")
                + "; ask for a target above the floor"
            )
        # From well below the data to 10^15 times beyond it: further is not a plan.
        log_x_range = (float(np.log(np.min(self.x))) - 10.0, float(np.log(np.max(self.x))) + 35.0)
        ends = []
        for edge in ("lower", "upper"):
            def band_edge(x: FloatArray, edge: str = edge) -> FloatArray:
                band = self.predict(x, level=level, interval="confidence")
                return np.asarray(getattr(band, edge), dtype=float)

            ends.append(_first_crossing(band_edge, target, log_x_range))
        lower, upper = np.minimum(*ends), np.maximum(*ends)
        lower = np.where(feasible, lower, np.nan)
        upper = np.where(feasible, upper, np.nan)
        return Inversion(
            target=_readonly(target),
            value=_readonly(value),
            lower=_readonly(lower),
            upper=_readonly(upper),
            level=level,
            feasible=feasible,
            reason=reason,
        )

    def _parameter_draws(self, rng: np.random.Generator, n: int) -> FloatArray:
        """Parameter vectors (natural units) drawn from N(theta, C) in fitted units."""
        cov = np.nan_to_num(self.cov_theta)
        theta = rng.multivariate_normal(self.theta, cov, size=n, method="svd", check_valid="ignore")
        log = np.array([p.log for p in self.law.params])
        return np.where(log, np.exp(np.clip(theta, -700, 700)), theta)

    # -- resampling --------------------------------------------------------------------
    def bootstrap(self, n: int = 1000, seed: int = 0, n_jobs: int = 1) -> BootstrapResult:
        """Refit on ``n`` case resamples; percentile intervals for parameters and predictions.

        Each refit starts from this fit's optimum (warm start); an ensemble of
        ``law="auto"`` refits its members. See :func:`scalinglab.fitting.bootstrap`.
        """
        return bootstrap(self, n=n, seed=seed, n_jobs=n_jobs)

    # -- output ------------------------------------------------------------------------
    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """A JSON-ready summary: law, parameters, errors, intervals, convergence, quality."""
        return _jsonable(
            {
                "law": self.law.name,
                "constants": self.law.constants,
                "loss": self.loss,
                "params": self.params,
                "stderr": dict(zip(self.param_names, self.stderr.tolist(), strict=True)),
                "intervals": {
                    k: list(v) for k, v in self.intervals(level).items()
                },
                "interval_level": level,
                "fixed": self.fixed,
                "converged": self.converged,
                "message": self.message,
                "notes": list(self.notes),
                "n_points": self.n_points,
                "dof": self.dof,
                "rmsle": self.rmsle,
                "divergence_mean": self.divergence_mean,
                "divergence_std": self.divergence_std,
                "floor": self.floor,
                "selection": self.selection,
            }
        )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        state = "converged" if self.converged else "NOT converged"
        return f"FitResult({self.law.name}: {params}; {state}, n={self.n_points}, rmsle={self.rmsle:.3g})"


def build_fit_result(
    *,
    law: Law,
    loss: str,
    x: FloatArray,
    y: FloatArray,
    values: FloatArray,
    theta: FloatArray,
    cov_theta: FloatArray,
    free: np.ndarray,
    converged: bool,
    message: str,
    notes: tuple[str, ...],
    dof: int,
    residual_scale: float,
    cost: float,
    huber_delta: float = 1e-3,
    n_starts: int = 1,
    selection: dict[str, Any] | None = None,
    fixed: Mapping[str, float] | None = None,
) -> FitResult:
    """The one way a :class:`FitResult` is made.

    ``cov_theta`` is the parameter covariance in fitted units (``nan`` where the data do not
    determine it; all ``nan`` for a law that carries its own band, and then ``notes`` must
    say so). The covariance in natural units follows by the delta method
    (``d value / d theta = value`` for log parameters), the standard errors from its diagonal,
    and the quality figures (RMSLE, Rosenfeld's divergence) from the law at ``x``.
    """
    scale = np.where([p.log for p in law.params], values, 1.0)
    cov = cov_theta * np.outer(scale, scale)
    stderr = np.sqrt(np.clip(np.diag(cov), 0, None))
    stderr = np.where(np.isnan(np.diag(cov)), np.nan, stderr)
    prediction = law.predict(x, values)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_err = np.log(prediction) - np.log(y)
        divergence = (prediction - y) / y
    return FitResult(
        law=law,
        loss=loss,
        values=_readonly(values),
        stderr=_readonly(stderr),
        cov=_readonly(cov),
        theta=_readonly(theta),
        cov_theta=_readonly(cov_theta),
        free=free,
        converged=converged,
        message=message,
        notes=notes,
        n_points=len(y),
        dof=dof,
        residual_scale=residual_scale,
        cost=cost,
        rmsle=float(np.sqrt(np.mean(log_err**2))),
        divergence_mean=float(np.mean(divergence)),
        divergence_std=float(np.std(divergence)),
        x=_readonly(x),
        y=_readonly(y),
        huber_delta=huber_delta,
        n_starts=n_starts,
        selection=selection,
        fixed=dict(fixed or {}),
    )


@dataclass(frozen=True)
class BootstrapResult:
    """Parameters refitted on resampled data.

    Attributes
    ----------
    fit : FitResult
        The fit on the full data.
    samples : array, shape (n_ok, n_params)
        Refitted parameters, natural units; failed refits are dropped.
    n_requested : int
    n_failed : int
        Resamples whose refit raised or did not converge.
    """

    fit: FitResult
    samples: FloatArray
    n_requested: int
    n_failed: int

    @property
    def standard_errors(self) -> dict[str, float]:
        """Standard deviation of each parameter over the resamples."""
        sd = np.std(self.samples, axis=0, ddof=1)
        return dict(zip(self.fit.param_names, map(float, sd), strict=True))

    def intervals(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile intervals of the parameters."""
        level = _check_level(level)
        lo = np.quantile(self.samples, 0.5 - level / 2, axis=0)
        hi = np.quantile(self.samples, 0.5 + level / 2, axis=0)
        return {
            n: (float(a), float(b)) for n, a, b in zip(self.fit.param_names, lo, hi, strict=True)
        }

    def predict(self, x: ArrayLike, level: float = 0.9) -> Prediction:
        """Percentile band of the law over the resampled parameters (a confidence band)."""
        level = _check_level(level)
        law = self.fit.law
        x_arr = law.check_x(x)
        curves = np.array([law.predict(x_arr, p) for p in self.samples])
        lower, upper = np.nanquantile(curves, [0.5 - level / 2, 0.5 + level / 2], axis=0)
        return Prediction.of(x_arr, law.predict(x_arr, self.fit.values), lower, upper, level, "bootstrap", "confidence")

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        return _jsonable(
            {
                "n_requested": self.n_requested,
                "n_failed": self.n_failed,
                "stderr": self.standard_errors,
                "intervals": {k: list(v) for k, v in self.intervals(level).items()},
                "interval_level": level,
            }
        )


def bootstrap(fit: FitResult, n: int = 1000, seed: int = 0, n_jobs: int = 1) -> BootstrapResult:
    """Refit ``fit`` on ``n`` case resamples of its data.

    A single law is refitted per resample from the original optimum (a warm start: one
    optimiser run, not a new multi-start search). An ensemble of ``law="auto"`` keeps its
    structure (members, their recency weights, the bound ``eps0``) and refits every member,
    all resamples of a form in one batched fit; its percentile band shows how much the
    points pin the curve down, with no term for extrapolation (use ``fit.predict``'s band
    for a forecast beyond the data).

    Parameters
    ----------
    fit : FitResult
    n : int
        Number of resamples.
    seed : int
        Seed of the resampling; results are repeatable for a given seed and ``n``, whatever
        ``n_jobs``.
    n_jobs : int
        Processes to use; ``-1`` for one per core. Worth it above ~500 refits.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    InputError
        If ``n`` is not an int >= 2, the law has no parameters (``law="learned"``), or every
        refit failed.
    """
    if not (isinstance(n, int) and n >= 2):
        raise InputError(f"The 'n' parameter of bootstrap must be an int >= 2. Got {n!r} instead.")
    if fit.law.n_params == 0:
        raise InputError(
            f"The {fit.law.name!r} fit has no parameters to resample; its band (predict) is its "
            "uncertainty, so drop --bootstrap / bootstrap() for it."
        )
    samples, n_failed = refit_resamples(
        fit.law, np.asarray(fit.x), np.asarray(fit.y), np.asarray(fit.theta),
        loss=fit.loss, huber_delta=fit.huber_delta, fixed=fit.fixed or None,
        n=n, seed=seed, n_jobs=n_jobs,
    )
    return BootstrapResult(fit=fit, samples=_readonly(samples), n_requested=n, n_failed=n_failed)
