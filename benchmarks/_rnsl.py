"""Loader and protocol of the "Revisiting Neural Scaling Laws" benchmark.

Alabdulmohsin, Neyshabur & Zhai, "Revisiting Neural Scaling Laws in Language and Vision"
(NeurIPS 2022); the data sit in ``../shared/benchmarks/revisiting-neural-scaling-laws/``
beside the checkout (see that folder's README). Shared by ``benchmarks/extrapolation.py``,
the pinning test and the CLI test, so that all of them run the same protocol:

* one curve = one ``(Domain, Task, Model)``; x = ``Seen Examples``, y = ``Loss``;
* fit on the rows with ``Training == 1``, score on the rows with ``Training == 0``;
* score per curve: ``RMSLE = sqrt(mean((ln y_pred - ln y_true)^2))`` over held-out rows;
* LM rows appear 4 times in the released file: exact duplicate rows are dropped (they
  carry no information and would only re-weight nothing, since every row is repeated the
  same number of times; dropping them keeps point counts honest);
* the bound ``eps0`` given to the saturating laws is the one the README states for the
  domain: IC is an error rate, BB an error and LM a loss rescaled to [0, 1], so 1.0;
  NMT is a log-perplexity, unbounded, so ``None`` (unknown).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DATA_DIR",
    "DOMAIN_EPS0",
    "Curve",
    "default_shared",
    "ic_half",
    "load_curves",
    "rmsle",
]

#: Folder of the benchmark inside ``shared/benchmarks``.
DATA_DIR = "revisiting-neural-scaling-laws"
FILES = ("benchmark.vision.csv", "benchmark.lang.csv")

#: The known bound of each domain's loss (README of the data); None where it has none.
DOMAIN_EPS0: dict[str, float | None] = {"IC": 1.0, "BB": 1.0, "LM": 1.0, "NMT": None}


@dataclass(frozen=True)
class Curve:
    """One learning curve, split as the protocol says."""

    domain: str
    task: str
    model: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.task}/{self.model}"

    @property
    def eps0(self) -> float | None:
        """The known bound of this curve's loss, or None (unbounded)."""
        return DOMAIN_EPS0.get(self.domain)


def default_shared() -> Path:
    """``../shared`` beside this checkout (the repository root's parent)."""
    return Path(__file__).resolve().parents[1].parent / "shared"


def load_curves(shared: Path | None = None) -> list[Curve]:
    """Every curve of the benchmark, sorted by (domain, task, model).

    Parameters
    ----------
    shared : Path, optional
        The ``shared`` folder (default: beside the checkout).

    Raises
    ------
    FileNotFoundError
        If the data are absent; callers skip on it.
    """
    folder = (shared or default_shared()) / "benchmarks" / DATA_DIR
    paths = [folder / name for name in FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"benchmark data not found: {', '.join(missing)}")
    frame = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True).drop_duplicates()
    curves = []
    for (domain, task, model), rows in frame.groupby(["Domain", "Task", "Model"], sort=True):
        rows = rows.sort_values("Seen Examples", kind="stable")
        train = rows[rows["Training"] == 1]
        test = rows[rows["Training"] == 0]
        curves.append(
            Curve(
                domain=str(domain),
                task=str(task),
                model=str(model),
                x_train=train["Seen Examples"].to_numpy(float),
                y_train=train["Loss"].to_numpy(float),
                x_test=test["Seen Examples"].to_numpy(float),
                y_test=test["Loss"].to_numpy(float),
            )
        )
    return curves


def iter_domain(curves: list[Curve], domain: str) -> Iterator[Curve]:
    return (c for c in curves if c.domain == domain)


def ic_half(curves: list[Curve], task: str) -> str:
    """``"first"`` or ``"second"``: which alphabetical half of the IC task names holds ``task``.

    Design decisions were made on the first half only; the second half is reported apart.
    """
    tasks = sorted({c.task for c in curves if c.domain == "IC"})
    return "first" if tasks.index(task) < len(tasks) // 2 else "second"


def rmsle(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared log error; inf where a prediction is not positive and finite."""
    pred = np.asarray(pred, dtype=float)
    if not np.all(np.isfinite(pred) & (pred > 0)):
        return float("inf")
    return float(np.sqrt(np.mean((np.log(pred) - np.log(truth)) ** 2)))
