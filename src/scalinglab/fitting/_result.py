"""Read-only results of a fit: parameters with uncertainty, predictions with bands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import stdtrit

from scalinglab._errors import InputError
from scalinglab._json import jsonable as _jsonable
from scalinglab.fitting._numdiff import central_jacobian
from scalinglab.laws import Law
from scalinglab.laws._base import FloatArray

if TYPE_CHECKING:
    from scalinglab.fitting._bootstrap import BootstrapResult

__all__ = ["FitResult", "Inversion", "Prediction"]


def _readonly(a: ArrayLike) -> FloatArray:
    arr = np.array(a, dtype=float)
    arr.setflags(write=False)
    return arr


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise InputError(f"The 'level' parameter must be in (0, 1). Got {level!r} instead.")
    return float(level)


def _first_crossing(
    f: Callable[[FloatArray], FloatArray], target: FloatArray, log_x_range: tuple[float, float]
) -> FloatArray:
    """The smallest x in the range with ``f(x) = target``, per target.

    ``f`` is scanned on a log grid and the first sign change is refined by bisection, so a
    band edge that turns back (bands widen far from the data) gives its first crossing.
    ``inf`` where ``f`` never reaches the target in the range, the range's start where it
    is already past it there.
    """
    grid = np.linspace(log_x_range[0], log_x_range[1], 600)
    values = f(np.exp(grid))
    out = np.empty(target.shape)
    for i, t in enumerate(target):
        g = values - t
        start_sign = np.sign(g[0])
        if start_sign == 0:
            out[i] = np.exp(grid[0])
            continue
        changed = np.flatnonzero(np.sign(g) != start_sign)
        if len(changed) == 0:
            out[i] = np.inf
            continue
        hi_i = int(changed[0])
        if hi_i == 0:
            out[i] = np.exp(grid[0])
            continue
        lo, hi = grid[hi_i - 1], grid[hi_i]
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if np.sign(f(np.array([np.exp(mid)]))[0] - t) == start_sign:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-10:
                break
        out[i] = np.exp(0.5 * (lo + hi))
    return out


@dataclass(frozen=True)
class Prediction:
    """A predicted value with a band at a stated level.

    Attributes
    ----------
    x : array
        Where the law was evaluated.
    value : array
        The point prediction (the fitted law).
    lower, upper : arrays
        The band. With ``interval="prediction"`` it is meant to contain a new measurement
        with probability ``level``; with ``"confidence"`` it contains the law itself.
    level : float
    method : str
        ``"delta"`` (linearised parameter covariance), ``"bootstrap"`` or ``"ensemble"``.
    """

    x: FloatArray
    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float
    method: str
    interval: str = "prediction"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "x": self.x,
                "value": self.value,
                "lower": self.lower,
                "upper": self.upper,
                "level": self.level,
                "method": self.method,
                "interval": self.interval,
            }
        )


@dataclass(frozen=True)
class Inversion:
    """The input needed to reach a target output, with a band.

    ``value`` is ``nan`` where the target cannot be reached (below the fitted floor);
    ``reason`` then says why. ``upper`` is ``inf`` where some plausible parameters put
    the floor above the target: the band is honest about it.
    """

    target: FloatArray
    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float
    feasible: np.ndarray
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "target": self.target,
                "value": self.value,
                "lower": self.lower,
                "upper": self.upper,
                "level": self.level,
                "feasible": self.feasible.astype(bool).tolist(),
                "reason": self.reason,
            }
        )


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
        own_band = getattr(self.law, "log_band_halfwidth", None)
        if own_band is not None:
            half = own_band(x_arr, self.values, level, interval)
        else:
            g = self._log_prediction_gradient(x_arr)
            var = np.einsum("ij,jk,ik->i", g, self.cov_theta, g)
            if interval == "prediction":
                var = var + self.residual_scale**2
            half = self._quantile(level) * np.sqrt(np.clip(var, 0, None))
        return Prediction(
            x=_readonly(x_arr),
            value=_readonly(value),
            lower=_readonly(value * np.exp(-half)),
            upper=_readonly(value * np.exp(half)),
            level=level,
            method="delta" if own_band is None else "ensemble",
            interval=interval,
        )

    def inverse(self, y_target: ArrayLike, level: float = 0.9) -> Inversion:
        """The input needed to reach ``y_target``, with a band.

        The point is the law's inverse (Hestness et al. 2017, section 2:
        m* = ((eps_t - gamma)/alpha)^(1/beta_g)). The band is where the edges of the
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

        Each refit starts from this fit's optimum (warm start). See
        :func:`scalinglab.fitting.bootstrap`.
        """
        if self.law.name == "ensemble":  # law="auto": refit its members per resample
            from scalinglab.fitting._select import bootstrap_ensemble

            return bootstrap_ensemble(self, n=n, seed=seed)
        from scalinglab.fitting._bootstrap import bootstrap

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
