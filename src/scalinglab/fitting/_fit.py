"""``fit_law``, the one entry point of fitting: a named law or ``"auto"``."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from numpy.typing import ArrayLike

from scalinglab._errors import ConvergenceWarning
from scalinglab.fitting._ensemble_fit import fit_auto
from scalinglab.fitting._learned import fit_learned
from scalinglab.fitting._result import FitResult
from scalinglab.fitting._single import fit_single
from scalinglab.laws import Law

__all__ = ["CURVE_METHODS", "fit_law"]

#: Names ``fit_law`` takes besides the registered laws: methods that read a 1-input learning
#: curve (the ensemble of ``auto``, the learned extrapolator).
CURVE_METHODS = ("auto", "learned")


def fit_law(
    law: str | Law,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: str = "log",
    eps0: float | None = None,
    n_breaks: int = 1,
    fixed: Mapping[str, float] | None = None,
    weights: ArrayLike | None = None,
    n_starts: int = 8,
    huber_delta: float = 1e-3,
    starts: list[ArrayLike] | None = None,
    max_nfev: int | None = None,
) -> FitResult:
    """Fit a scaling law to data.

    Parameters
    ----------
    law : str or Law
        A law name (``scalinglab laws`` lists them), a law object, or ``"auto"`` for the
        default extrapolating fit of a 1-D curve (:func:`scalinglab.fitting.fit_auto`; it
        uses ``loss``, ``eps0`` and ``weights`` only), or ``"learned"`` for the learned
        extrapolator's prediction (:func:`scalinglab.fitting._learned.fit_learned`; it uses
        ``eps0`` only).
    x : array-like
        Inputs, shape ``(n,)``, or ``(n, k)`` for a k-input law (e.g. ``(N, D)``).
    y : array-like
        Observed errors or losses, shape ``(n,)``, all > 0.
    loss : {"log", "huber", "relative"}
        Least squares of log residuals (default), Huber on log residuals (Hoffmann et al.
        2022; threshold ``huber_delta``), or least squares of relative divergence
        (Rosenfeld et al. 2020).
    eps0 : float, optional
        Random-guess error for laws that need it (m4, envelope, joint). Without it, the one
        eps0 rule of :func:`scalinglab.fitting.resolve_eps0` applies: ``2 max(y)``.
    n_breaks : int
        Number of breaks for ``bnsl``.
    fixed : mapping, optional
        Parameters to hold at a value, e.g. ``{"c": 0.0}`` to force a zero floor.
    weights : array-like, optional
        Per-point weights of the squared residuals.
    n_starts : int
        Number of optimiser runs: from the law's data-driven starts and a Latin-hypercube
        grid around the best of them, ranked by their initial cost; the best optimum is
        kept, and whether the runs agree is reported.
    huber_delta : float
        Threshold of the Huber loss, in log units.
    starts : list of array-like, optional
        Starting points to use instead of the law's own (natural units).
    max_nfev : int, optional
        Cap on function evaluations per optimiser run.

    Returns
    -------
    FitResult
        Check ``result.converged``; ``result.notes`` says what else to look at.

    Warns
    -----
    ConvergenceWarning
        When the optimiser stopped without meeting its convergence criteria (the result
        is still returned, with ``converged=False`` and the reason in ``message``).
    """
    if isinstance(law, str) and law == "auto":
        fit = fit_auto(x, y, loss=loss, eps0=eps0, weights=weights)
    elif isinstance(law, str) and law == "learned":
        fit = fit_learned(x, y, eps0=eps0)
    else:
        fit = fit_single(
            law, x, y, loss=loss, eps0=eps0, n_breaks=n_breaks, fixed=fixed, weights=weights,
            n_starts=n_starts, huber_delta=huber_delta, starts=starts, max_nfev=max_nfev,
        )
    if not fit.converged:
        warnings.warn(f"the {fit.law.name} fit: {fit.message}", ConvergenceWarning, stacklevel=2)
    return fit
