"""MNIST-1D: ten-class classification of 1-D signals, small enough for a CPU scaling study.

MNIST-1D (Greydanus 2020) keeps the character of MNIST - a non-trivial learning curve, a
clear gap between an MLP and a CNN - at 40 inputs per example, so that a full learning
curve over shards of 128 to 100k+ examples trains on two cores in minutes.

Data
    Generated offline with ``mnist1d.data.make_dataset`` (never ``get_dataset``, which
    downloads), in chunks of 8,192 examples: chunk ``c`` of the training pool uses mnist1d
    seed ``10_000 + c``; the validation set (``validation_size`` examples, default 4,096) uses
    seed ``9_999``, so it is fixed and disjoint from every shard. Each chunk is generated
    once per machine and cached as ``<cache>/mnist1d/v1/*.npz`` (see
    :func:`scalinglab.tasks._cache.cache_dir`); a chunk takes about 3.5 s to generate.
    mnist1d standardises each chunk by its own mean and standard deviation; with 8,192
    examples per chunk those statistics agree to well under 1%.

Shards
    The training order is chunk 0 in a seeded permutation, then chunk 1 in its own, and
    so on (permutations from the study's ``data_seed``); a shard of ``n`` examples is the
    first ``n`` of that order. Shards are therefore nested - every shard contains every
    smaller one - and a shard only needs the ``ceil(n / 8192)`` chunks it touches, so a
    study of small shards never waits for the whole pool to be generated. The largest
    shard is 262,144 examples.

Models (the ``model`` hyperparameter; ``model_size`` is the size knob)
    ``"mlp"``: 40 -> width -> ... -> 10, ``depth`` hidden layers (default 2) of
    ``model_size`` ReLU units. ``"cnn"``: three 1-D convolutions with ``model_size``
    channels each (kernel 5 then 3, 3; stride 2; ReLU), then a linear classifier.

Metric
    ``val_error``: top-1 classification error on the validation set (random guess 0.9);
    ``val_loss`` (cross-entropy, nats) is reported alongside.

Training length
    The shared rule of :mod:`scalinglab.tasks._torch_common`: ``clip(epochs *
    ceil(n / batch_size), min_steps, step_cap)`` optimizer steps with early stopping.
    Defaults here: Adam, lr 3e-3, batch 128, epochs 100, min_steps 300, step_cap 6000,
    40 evaluations, patience 8.

Pruning
    ``prune_rounds = K`` (default 0: none) and ``prune_rate`` (default 0.2): after the dense
    training, K rounds of iterative magnitude pruning with rewinding
    (:func:`scalinglab.tasks._torch_common.iterative_magnitude_pruning`), each retrained
    with the same budget and early stopping. The run's score stays the dense network's; its
    final metrics add ``prune_density_k`` and ``prune_min_val_error_k`` for k = 1..K (and
    ``prune_density_0 = 1``, ``prune_min_val_error_0`` = the dense error), which
    :func:`scalinglab.analysis.fit_pruning` fits with Rosenfeld et al. 2021's law. A run
    costs K + 1 trainings.
"""

from __future__ import annotations

import functools
import math
import random
from typing import Any

import numpy as np

from scalinglab._errors import invalid_parameter, require_extra
from scalinglab.tasks._cache import cache_dir, cached_arrays
from scalinglab.tasks._interface import Trial
from scalinglab.tasks._torch_common import (
    TRAIN_KEYS,
    ParamReader,
    TrainSettings,
    fit,
    import_torch,
    initial_weights,
    iterative_magnitude_pruning,
    model_width,
    seed_everything,
)

__all__ = ["CHUNK_SIZE", "EPS0", "INIT_SPEC", "MAX_POOL_SIZE", "load_split", "shard_order", "train"]

#: Examples per generated chunk of the training pool.
CHUNK_SIZE = 8192
#: Largest shard the task serves (32 chunks).
MAX_POOL_SIZE = 32 * CHUNK_SIZE
_TRAIN_SEED_BASE = 10_000
_VAL_SEED = 9_999
_CLASSES = 10
#: Random-guess top-1 error (10 classes: 1 - 1/K), the eps0 of the saturating laws.
EPS0: float | None = 1.0 - 1.0 / _CLASSES
_LENGTH = 40
_WHERE = "the mnist1d task"
_KEYS = (*TRAIN_KEYS, "model", "depth", "validation_size", "prune_rounds", "prune_rate")

_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 3e-3,
    "batch_size": 128,
    "epochs": 100.0,
    "min_steps": 300,
    "step_cap": 6000,
    "n_evals": 40,
    "patience": 8,
}


def _generate(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` examples from mnist1d's generator with seed ``seed`` (offline)."""
    data = require_extra("mnist1d.data", "torch")
    args = data.get_dataset_args()
    # make_dataset draws n // 10 examples per class; round up, then keep n.
    args.num_samples = _CLASSES * math.ceil(n / _CLASSES)
    args.train_split = 1.0
    args.seed = seed
    # make_dataset reseeds the global numpy and random generators; put them back so a
    # caller's own random state is not silently changed.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        made = data.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x": np.asarray(made["x"][:n], dtype=np.float32),
        "y": np.asarray(made["y"][:n], dtype=np.int64),
    }


@functools.lru_cache(maxsize=64)
def _chunk(kind: str, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    seed = _VAL_SEED if kind == "val" else _TRAIN_SEED_BASE + index
    path = cache_dir("mnist1d", "v1") / f"{kind}_n{size}_seed{seed}.npz"
    arrays = cached_arrays(path, lambda: _generate(size, seed))
    return arrays["x"], arrays["y"]


def shard_order(n: int, data_seed: int) -> np.ndarray:
    """Indices into the training pool of the nested shard of ``n`` examples.

    Parameters
    ----------
    n : int
        Shard size, ``1 <= n <= MAX_POOL_SIZE``.
    data_seed : int
        The study's shard seed.

    Returns
    -------
    numpy.ndarray
        ``n`` distinct indices; the shard of ``n`` is a prefix of the shard of any larger
        size for the same ``data_seed``.
    """
    if not 1 <= n <= MAX_POOL_SIZE:
        raise invalid_parameter("shard_size", _WHERE, f"in [1, {MAX_POOL_SIZE}]", n)
    n_chunks = math.ceil(n / CHUNK_SIZE)
    parts = [
        c * CHUNK_SIZE + np.random.default_rng([data_seed, c]).permutation(CHUNK_SIZE)
        for c in range(n_chunks)
    ]
    return np.concatenate(parts)[:n]


def load_split(
    shard_size: int, data_seed: int = 0, validation_size: int = 4096
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training shard and the fixed validation set, generating what is missing.

    Parameters
    ----------
    shard_size : int
        Training examples, a prefix of :func:`shard_order`.
    data_seed : int
        The study's shard seed.
    validation_size : int
        Validation examples (the same for every shard and run).

    Returns
    -------
    x_train, y_train, x_val, y_val : numpy.ndarray
        ``float32`` inputs of shape ``(n, 40)`` and ``int64`` labels in ``[0, 10)``.
    """
    order = shard_order(shard_size, data_seed)
    chunks = [_chunk("train", c, CHUNK_SIZE) for c in range(math.ceil(shard_size / CHUNK_SIZE))]
    x_pool = np.concatenate([x for x, _ in chunks])
    y_pool = np.concatenate([y for _, y in chunks])
    x_val, y_val = _chunk("val", 0, validation_size)
    return x_pool[order], y_pool[order], x_val, y_val


def _build_model(kind: str, size: int, depth: int) -> Any:
    torch = import_torch()
    nn = torch.nn
    if kind == "mlp":
        layers: list[Any] = []
        width_in = _LENGTH
        for _ in range(depth):
            layers += [nn.Linear(width_in, size), nn.ReLU()]
            width_in = size
        layers.append(nn.Linear(width_in, _CLASSES))
        return nn.Sequential(*layers)
    # 40 -> 20 -> 10 -> 5 positions; the classifier sees channels x 5.
    return nn.Sequential(
        nn.Unflatten(1, (1, _LENGTH)),
        nn.Conv1d(1, size, 5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv1d(size, size, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv1d(size, size, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(size * 5, _CLASSES),
    )


def train(trial: Trial) -> dict[str, float]:
    """Train an MLP or CNN on a nested MNIST-1D shard; see the module docstring.

    Parameters
    ----------
    trial : Trial
        ``shard_size`` examples, ``model_size`` = width (MLP) or channels (CNN), ``seed``,
        and hyperparameters ``model`` (``"mlp"``/``"cnn"``), ``depth``, ``validation_size`` plus
        the shared training settings (``optimizer``, ``lr``, ``batch_size``, ...).

    Returns
    -------
    dict of str to float
        ``val_error``, ``min_val_error``, ``n_params``, ``epochs``, ``train_time_s``, ...
    """
    torch = import_torch()
    reader = ParamReader(trial.params, _WHERE, _KEYS)
    kind = reader.choice("model", "mlp", ("mlp", "cnn"))
    depth = reader.integer("depth", 2, minimum=1)
    validation_size = reader.integer("validation_size", 4096, minimum=10)
    settings = TrainSettings.read(reader, **_DEFAULTS)
    prune_rounds = reader.integer("prune_rounds", 0, minimum=0)
    prune_rate = reader.number("prune_rate", 0.2, minimum=0.0, exclusive_minimum=True)
    if prune_rate >= 1.0:
        raise invalid_parameter("prune_rate", _WHERE, "a number > 0 and < 1", prune_rate)
    size = model_width(trial, _WHERE)

    x_np, y_np, xv_np, yv_np = load_split(
        trial.shard_size, trial.config.data_seed, validation_size
    )
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    x_val, y_val = torch.from_numpy(xv_np), torch.from_numpy(yv_np)

    seed_everything(trial.seed)
    model = _build_model(kind, size, depth)
    cross_entropy = torch.nn.functional.cross_entropy

    def batch_loss(indices: Any) -> Any:
        return cross_entropy(model(x[indices]), y[indices])

    def evaluate() -> dict[str, float]:
        logits = model(x_val)
        return {
            "val_error": float((logits.argmax(1) != y_val).float().mean()),
            "val_loss": float(cross_entropy(logits, y_val)),
        }

    initial = initial_weights(model) if prune_rounds else {}

    def train_on(target: Trial) -> dict[str, float]:
        return fit(
            model,
            n_train=trial.shard_size,
            batch_loss=batch_loss,
            evaluate=evaluate,
            trial=target,
            settings=settings,
            fallback_error=1.0 - 1.0 / _CLASSES,
        )

    result = train_on(trial)
    if not prune_rounds:
        return result
    # The retrainings report to a trial of their own: the engine's curve (and so the run's
    # score and budget facts) stays the dense network's.
    result.update({"prune_density_0": 1.0, "prune_min_val_error_0": result["min_val_error"]})
    result.update(iterative_magnitude_pruning(
        model, initial, rounds=prune_rounds, rate=prune_rate,
        retrain=lambda: train_on(Trial(trial.config)), should_stop=trial.should_stop,
    ))
    return result


INIT_SPEC = """\
# A scalinglab study of MNIST-1D (docs/workloads.md): an MLP's learning curve.
# Runs in a few minutes with 2 workers:  scalinglab run THIS_FILE
# (the first run on a machine also generates the data, ~10 s, cached afterwards).
# Then:  scalinglab curve mnist1d-mlp
name = "mnist1d-mlp"
task = "mnist1d"
metric = "val_error"          # top-1 validation error on a fixed set of 4,096 examples
seeds = 2                     # the score of a cell is the median over seeds of its min error

[data]                        # nested shards 256 .. 4096 examples, doubling (up to 262,144)
min_shard_size = 256
max_shard_size = 4096
growth = 2.0
data_seed = 0

[model]
knob = "width"                # hidden units per layer of the MLP (channels for the CNN)
sizes = [32, 64, 128]

[train]                       # passed to the task as trial.params; all optional
model = "mlp"                 # "mlp" or "cnn"
depth = 2                     # hidden layers of the MLP
optimizer = "adam"            # "adam", "adamw" or "sgd" (with momentum)
batch_size = 128
epochs = 100                  # steps = budget * clip(epochs * ceil(n/batch_size), min_steps, step_cap)
min_steps = 300
step_cap = 6000
patience = 8                  # evaluations without a new minimum before stopping (40 per run)

[search]
method = "hestness"           # every size on the smallest and largest shard, Monte Carlo between
samples = 2
refine = true
seed = 0
param_samples = 3             # learning rates tried per cell (Halton, seeded)

[search.params]               # tuned per shard: the best (size, lr) of each shard wins
lr = { log = [0.001, 0.01] }

[budget]                      # budget-limited cells are rerun with 2x, 4x, 8x the steps
max_factor = 8
"""
