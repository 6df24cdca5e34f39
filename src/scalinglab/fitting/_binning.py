"""Long curves summarised for a fit: weighted means in equal bins of ``ln x``.

A training trajectory of thousands of evaluations is fitted by ``law="auto"`` on
``LONG_CURVE_BINS`` bins (:func:`bin_curve`) instead of its points: the fit's cost then does
not grow with the curve, and each bin weighs its stretch of the curve as its points would.
Its bootstrap bins each resample the same way (:mod:`scalinglab.fitting._bootstrap`), so
that the refits are fits of the same kind as the fit.
"""

from __future__ import annotations

import numpy as np

from scalinglab.laws import FloatArray

__all__ = ["LONG_CURVE_BINS", "LONG_CURVE_POINTS", "bin_curve"]

#: Curves of more points than this (training trajectories) are fitted on LONG_CURVE_BINS
#: bins of ln x (:func:`bin_curve`); every point still counts in the band's scatter.
LONG_CURVE_POINTS = 500
LONG_CURVE_BINS = 200


def bin_curve(x: FloatArray, y: FloatArray, w: FloatArray, n_bins: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A long curve summarised for the fit: weighted means in equal bins of ``ln x``.

    Parameters
    ----------
    x, y, w : arrays
        The curve sorted by x, and per-point weights (>= 0).
    n_bins : int
        Number of equal bins of ``ln x`` over the curve's range, the largest x apart.

    Returns
    -------
    tuple of arrays
        Per non-empty bin: ``exp`` of the weighted mean of ``ln x`` and of ``ln y``, and the
        sum of the weights (so that a least-squares fit in ``ln y`` to the bins weighs each
        stretch of the curve as a fit to all its points would). The point at the largest
        x is kept as it is (its own bin), so that the fit ends where the data end.
    """
    lx, ly = np.log(x), np.log(y)
    last = lx >= lx[-1]
    edges = np.linspace(lx[0], lx[-1], n_bins + 1)
    idx = np.clip(np.searchsorted(edges, lx, side="right") - 1, 0, n_bins - 1)
    idx = np.where(last, n_bins, idx)
    total = np.bincount(idx, weights=w, minlength=n_bins + 1)
    count = np.bincount(idx, minlength=n_bins + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        wx = np.bincount(idx, weights=w * lx, minlength=n_bins + 1) / total
        wy = np.bincount(idx, weights=w * ly, minlength=n_bins + 1) / total
        # A bin whose points all have zero weight keeps their plain means (weight 0).
        px = np.bincount(idx, weights=lx, minlength=n_bins + 1) / np.maximum(count, 1)
        py = np.bincount(idx, weights=ly, minlength=n_bins + 1) / np.maximum(count, 1)
    keep = count > 0
    bx = np.where(total > 0, wx, px)[keep]
    by = np.where(total > 0, wy, py)[keep]
    out_x = np.exp(bx)
    out_x[-1] = x[-1]  # the last bin holds the points at the largest x only: exact
    return out_x, np.exp(by), np.asarray(total[keep], dtype=float)
