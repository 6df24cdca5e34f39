"""Any scikit-learn classifier on a data set that scikit-learn ships, with a size knob.

The same study machinery that drives a neural network drives a classical estimator: the
shard is a nested subset of the data, the model size is one of the estimator's own
parameters (``hidden_layer_sizes`` of an MLP, ``n_estimators`` of a forest, ...), and the
score is the validation error.

Data (the ``dataset`` hyperparameter)
    ``"digits"`` (default; ``load_digits``, 1,797 8x8 images, 10 classes),
    ``"breast_cancer"``, ``"wine"``, ``"iris"``: the data sets bundled inside scikit-learn,
    so nothing is downloaded. ``"synthetic"``: ``make_classification`` with 200,000
    examples, 20 features (10 informative), 5 classes and 5% flipped labels, generated
    in memory from a fixed seed, for shards beyond the bundled sets' size.
    A fixed validation part (``val_fraction``, default 0.25, at most 10,000 examples, or
    exactly ``validation_size`` examples when the spec sets ``data.validation_size``) is
    split off once with a fixed seed; the rest is the training pool, and the shard is
    :meth:`Trial.shard_indices` of it (nested). Features are standardised with the
    training pool's statistics.

Estimator (the ``estimator`` hyperparameter)
    A short name - ``"mlp"`` (``MLPClassifier``, default), ``"random_forest"``,
    ``"extra_trees"``, ``"gradient_boosting"`` (``HistGradientBoostingClassifier``),
    ``"logistic"``, ``"knn"``, ``"svc"`` - or any ``"module:Class"`` path to a classifier.
    ``size_param`` names the parameter that ``model_size`` sets (default per estimator:
    ``hidden_layer_sizes`` -> ``(model_size,) * depth``, ``n_estimators``, ``max_iter``,
    ``C``, ``n_neighbors``, ``C``). Other constructor arguments go in
    ``estimator_params`` (a table). ``random_state`` is set to the run's seed where the
    estimator has one; BLAS/OpenMP pools are limited to one thread.

Optimizer
    For ``"mlp"``, ``optimizer`` (``"adam"``/``"sgd"``) sets ``solver`` and ``lr`` sets
    ``learning_rate_init``, so optimizer comparisons work as with the torch workloads.

Training length and early stopping
    An estimator with ``partial_fit`` (the MLP, ``SGDClassifier``, ...) is trained one
    epoch at a time for ``max_epochs = ceil(budget * clip(ceil(epochs_budget / max(1, n /
    1000)), 20, 200))`` epochs (defaults: ``epochs_budget`` 2,000, so small shards get 200
    epochs and large shards fewer, the number of gradient steps staying roughly constant;
    ``budget`` is :attr:`Trial.budget`, 1 for a first run, 2, 4, ... when the engine reruns
    a budget-limited cell), with the validation error reported after each and early
    stopping after ``patience`` (default 10) epochs without improvement; ``max_steps`` in
    the final metrics is ``max_epochs``. Any other estimator is fitted once and reports a
    single point; one with an iteration limit ``max_iter`` (``LogisticRegression``, ...,
    unless ``max_iter`` is the size knob) gets ``ceil(budget * max_iter)`` iterations and
    reports its point at the iterations it used (``n_iter_``), with ``max_steps`` its
    limit, so a fit that stopped at the limit is budget-limited and is rerun longer.

Metric
    ``val_error``: 1 - accuracy on the validation part. ``n_params``: the number of
    fitted coefficients (``coefs_``/``coef_``/``intercept_``...) or, for trees and tree
    ensembles, the total number of tree nodes; for other estimators the size knob's value.
"""

from __future__ import annotations

import functools
import importlib
import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from scalinglab._errors import invalid_parameter, require_extra
from scalinglab.tasks._interface import Trial
from scalinglab.tasks._torch_common import ParamReader

__all__ = ["DATASETS", "EPS0", "EPS0_BY_PARAM", "ESTIMATORS", "INIT_SPEC", "load_data", "train"]

_WHERE = "the sklearn task"
_KEYS = (
    "dataset",
    "estimator",
    "size_param",
    "depth",
    "estimator_params",
    "val_fraction",
    "validation_size",
    "optimizer",
    "lr",
    "epochs_budget",
    "patience",
)

#: Short estimator name -> (import path, default size parameter).
ESTIMATORS: dict[str, tuple[str, str]] = {
    "mlp": ("sklearn.neural_network:MLPClassifier", "hidden_layer_sizes"),
    "random_forest": ("sklearn.ensemble:RandomForestClassifier", "n_estimators"),
    "extra_trees": ("sklearn.ensemble:ExtraTreesClassifier", "n_estimators"),
    "gradient_boosting": ("sklearn.ensemble:HistGradientBoostingClassifier", "max_iter"),
    "logistic": ("sklearn.linear_model:LogisticRegression", "C"),
    "knn": ("sklearn.neighbors:KNeighborsClassifier", "n_neighbors"),
    "svc": ("sklearn.svm:SVC", "C"),
}
#: Data sets bundled with scikit-learn (plus one generated in memory).
DATASETS = ("digits", "breast_cancer", "wine", "iris", "synthetic")
#: Random-guess error 1 - 1/K of each data set (K classes), the eps0 of the saturating
#: laws; ``EPS0`` is that of the default data set.
EPS0_BY_PARAM = {"dataset": {"digits": 0.9, "breast_cancer": 0.5, "wine": 2 / 3, "iris": 2 / 3, "synthetic": 0.8}}
EPS0: float | None = EPS0_BY_PARAM["dataset"]["digits"]
_INT_SIZE_PARAMS = {"n_estimators", "max_iter", "n_neighbors", "max_depth", "max_leaf_nodes"}


@functools.lru_cache(maxsize=8)
def load_data(
    dataset: str, val_fraction: float = 0.25, validation_size: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training pool and the fixed validation part of a bundled data set.

    Parameters
    ----------
    dataset : str
        One of :data:`DATASETS`.
    val_fraction : float
        Fraction held out for validation (at most 10,000 examples).
    validation_size : int, optional
        Number held out instead (the spec's ``data.validation_size``); must leave at
        least one training example.

    Returns
    -------
    x_pool, y_pool, x_val, y_val : numpy.ndarray
        Standardised ``float64`` features and integer labels.
    """
    datasets = require_extra("sklearn.datasets", "sklearn")
    if dataset == "synthetic":
        x, y = datasets.make_classification(
            n_samples=200_000, n_features=20, n_informative=10, n_redundant=5,
            n_classes=5, flip_y=0.05, random_state=0,
        )
    else:
        x, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    # The split is fixed (seed 0) and independent of the run seed and shard.
    order = np.random.default_rng(0).permutation(len(y))
    n_val = (
        min(10_000, max(1, round(val_fraction * len(y))))
        if validation_size is None
        else validation_size
    )
    if not 1 <= n_val < len(y):
        raise invalid_parameter(
            "validation_size", _WHERE, f"in [1, {len(y) - 1}] for {dataset}", n_val
        )
    val, pool = order[:n_val], order[n_val:]
    mean, std = x[pool].mean(0), x[pool].std(0)
    std[std == 0] = 1.0
    x = (x - mean) / std
    return x[pool], y[pool], x[val], y[val]


def _estimator_class(name: str) -> tuple[type, str | None]:
    path, size_param = ESTIMATORS.get(name, (name, None))
    module_name, sep, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr) if sep else None
    except (ImportError, AttributeError):
        cls = None
    if cls is None:
        raise invalid_parameter(
            "estimator", _WHERE,
            f"one of {', '.join(ESTIMATORS)} or an importable 'module:Class'", name,
        )
    return cls, size_param


def count_fitted_parameters(estimator: Any) -> int | None:
    """Fitted numbers of an estimator: coefficients, or tree nodes of an ensemble."""
    if hasattr(estimator, "coefs_"):  # MLP: weight matrices and bias vectors
        weights = sum(a.size for a in estimator.coefs_)
        return int(weights + sum(b.size for b in estimator.intercepts_))
    if hasattr(estimator, "coef_"):
        return int(np.size(estimator.coef_) + np.size(getattr(estimator, "intercept_", 0)))
    if hasattr(estimator, "tree_"):
        return int(estimator.tree_.node_count)
    if hasattr(estimator, "estimators_"):
        trees = np.ravel(estimator.estimators_)
        if all(hasattr(t, "tree_") for t in trees):
            return int(sum(t.tree_.node_count for t in trees))
    if hasattr(estimator, "_predictors"):  # HistGradientBoosting: nodes of every tree
        return int(sum(p.nodes.size for row in estimator._predictors for p in row))
    if hasattr(estimator, "support_vectors_"):
        return int(estimator.support_vectors_.size)
    return None


def train(trial: Trial) -> dict[str, float]:
    """Fit a scikit-learn classifier on a nested shard; see the module docstring.

    Parameters
    ----------
    trial : Trial
        ``shard_size`` examples, ``model_size`` = value of the size parameter, ``seed``,
        and hyperparameters ``dataset``, ``estimator``, ``size_param``, ``depth``,
        ``estimator_params``, ``val_fraction``, ``optimizer``, ``lr``,
        ``epochs_budget``, ``patience``.

    Returns
    -------
    dict of str to float
        ``val_error``, ``min_val_error``, ``n_params``, ``epochs``, ``train_time_s``.
    """
    threadpoolctl = require_extra("threadpoolctl", "sklearn")
    require_extra("sklearn", "sklearn")
    reader = ParamReader(trial.params, _WHERE, _KEYS)
    dataset = reader.choice("dataset", "digits", DATASETS)
    name = str(reader.raw("estimator", "mlp"))
    cls, default_size_param = _estimator_class(name)
    size_param = str(reader.raw("size_param", default_size_param or ""))
    if not size_param:
        raise invalid_parameter(
            "size_param", _WHERE, "the estimator parameter that model_size sets", None
        )
    depth = reader.integer("depth", 1, minimum=1)
    val_fraction = reader.number("val_fraction", 0.25, minimum=0.0, maximum=0.9,
                                 exclusive_minimum=True)
    validation_size = (
        reader.integer("validation_size", 1, minimum=1)
        if "validation_size" in trial.params
        else None
    )
    epochs_budget = reader.number("epochs_budget", 2000.0, minimum=1.0)
    patience = reader.integer("patience", 10, minimum=1)
    extra = reader.raw("estimator_params", {})
    if not isinstance(extra, Mapping):
        raise invalid_parameter("estimator_params", _WHERE, "a table of constructor arguments",
                                extra)

    x_pool, y_pool, x_val, y_val = load_data(dataset, val_fraction, validation_size)
    if trial.shard_size > len(y_pool):
        raise invalid_parameter(
            "shard_size", _WHERE, f"<= {len(y_pool)} (the {dataset} training pool)",
            trial.shard_size,
        )
    shard = trial.shard_indices(len(y_pool))
    x, y = x_pool[shard], y_pool[shard]

    size: Any = trial.model_size
    if size_param == "hidden_layer_sizes":
        size = (int(trial.model_size),) * depth
    elif size_param in _INT_SIZE_PARAMS:
        size = int(trial.model_size)
    kwargs: dict[str, Any] = {**dict(extra), size_param: size}
    accepted = cls().get_params()
    if "random_state" in accepted:
        kwargs.setdefault("random_state", trial.seed)
    # n_jobs is left alone: its default (None) already means one job outside a joblib
    # context, and some estimators deprecate setting it.
    if name == "mlp":
        kwargs.setdefault("solver", reader.choice("optimizer", "adam", ("adam", "sgd")))
        kwargs.setdefault("learning_rate_init", reader.number("lr", 1e-3, minimum=0.0,
                                                              exclusive_minimum=True))
    estimator = cls(**kwargs)
    # The budget (Trial.budget) scales the epochs of a partial_fit estimator, or the
    # iteration limit of one fitted once; an estimator with neither has no budget to extend.
    partial = hasattr(estimator, "partial_fit")
    iter_limit = None
    base_iter = estimator.get_params().get("max_iter")
    if partial:
        budget = trial.budget
    elif (size_param != "max_iter" and isinstance(base_iter, int)
          and not isinstance(base_iter, bool) and base_iter > 0):
        iter_limit = math.ceil(trial.budget * base_iter)
        estimator.set_params(max_iter=iter_limit)

    start = time.perf_counter()
    classes = np.unique(y_pool)
    epochs = 0
    errors: list[float] = []
    # One BLAS/OpenMP thread per worker, as for torch: the engine runs one process per core.
    with threadpoolctl.threadpool_limits(limits=1):
        if partial:
            base_epochs = int(np.clip(math.ceil(epochs_budget / max(1.0, len(y) / 1000)), 20, 200))
            max_epochs = math.ceil(budget * base_epochs)
            since_best = 0
            for epoch in range(1, max_epochs + 1):
                estimator.partial_fit(x, y, classes=classes)
                epochs = epoch
                error = float(np.mean(estimator.predict(x_val) != y_val))
                trial.report(epoch, error)
                since_best = 0 if error < min(errors, default=math.inf) else since_best + 1
                errors.append(error)
                if since_best >= patience or trial.should_stop():
                    break
        else:
            with warnings.catch_warnings():
                # Stopping at max_iter is what the budget facts record; no warning needed.
                warnings.simplefilter("ignore", category=_convergence_warning())
                estimator.fit(x, y)
            error = float(np.mean(estimator.predict(x_val) != y_val))
            used = _iterations(estimator) if iter_limit is not None else None
            trial.report(0 if used is None else used, error)
            errors.append(error)
            epochs = 1
    n_params = count_fitted_parameters(estimator)
    out = {
        "val_error": errors[-1],
        "min_val_error": min(errors),
        "n_params": float(n_params if n_params is not None else trial.model_size),
        "epochs": float(epochs),
        "train_time_s": time.perf_counter() - start,
    }
    if partial:
        out["max_steps"] = float(max_epochs)
    elif iter_limit is not None and _iterations(estimator) is not None:
        out["max_steps"] = float(iter_limit)
    return out


def _convergence_warning() -> type[Warning]:
    exceptions = require_extra("sklearn.exceptions", "sklearn")
    return exceptions.ConvergenceWarning  # type: ignore[no-any-return]


def _iterations(estimator: Any) -> int | None:
    """Iterations a fitted estimator used (the largest ``n_iter_``), or None."""
    n_iter = getattr(estimator, "n_iter_", None)
    if n_iter is None:
        return None
    value = int(np.max(np.asarray(n_iter)))
    return value if value > 0 else None


INIT_SPEC = """\
# A scalinglab study of a scikit-learn estimator on load_digits (docs/workloads.md).
# Runs in about a minute with 2 workers:  scalinglab run THIS_FILE
# Then:  scalinglab curve sklearn-digits-mlp
name = "sklearn-digits-mlp"
task = "sklearn"
metric = "val_error"          # 1 - accuracy on a fixed quarter of the data (449 images)
seeds = 3

[data]                        # nested shards 64 .. 1024 of the 1,348 training images
min_shard_size = 64
max_shard_size = 1024
growth = 2.0
data_seed = 0

[model]
knob = "hidden_layer_sizes"   # model_size sets the estimator parameter named by size_param
sizes = [8, 16, 32, 64, 128]

[train]                       # passed to the task as trial.params; all optional
dataset = "digits"            # digits, breast_cancer, wine, iris, synthetic
estimator = "mlp"             # mlp, random_forest, extra_trees, gradient_boosting, logistic,
                              # knn, svc, or any "module:Class" classifier
size_param = "hidden_layer_sizes"
optimizer = "adam"            # MLP only: "adam" or "sgd" (the solver)
lr = 0.001
patience = 10                 # epochs without a new minimum before stopping (partial_fit)
# estimator_params = { alpha = 1e-4 }   # any other constructor arguments

[search]
method = "hestness"
samples = 2
refine = true
seed = 0
"""
