"""Teacher-student regression: a noiseless, realisable task whose error floor is zero.

Rosenfeld's thesis (2021, chapter on the noiseless case) uses a task
where a fixed random "teacher" network labels Gaussian inputs and a "student" of the same
family learns it. There is no label noise and the student can represent the teacher
exactly, so the irreducible error is 0: a scaling-law fit whose floor (``gamma`` or
``c_inf``) comes out clearly above zero here points at the optimiser or the fitting, not
at the data. It is the ground-truth check of a study's floor estimate.

Data
    Inputs ``x ~ N(0, I_d)`` with ``d = input_dim`` (default 16). The teacher is a
    one-hidden-layer tanh network ``d -> teacher_width -> 1`` (default width 8) with
    Gaussian weights (variance ``1 / fan_in``), drawn from ``teacher_seed`` (default 0).
    Targets are the teacher's outputs divided by their standard deviation, so that the
    trivial predictor 0 has error about 1. The training pool is one seeded stream of
    inputs (seed ``[teacher_seed, data_seed]``); a shard of ``n`` examples is its first
    ``n`` rows, so shards are nested. The validation set is 4,096 inputs from a separate
    stream, fixed for a given teacher. Everything is generated in memory in milliseconds;
    nothing is cached.

Model
    A student of the same family with ``model_size`` tanh units per hidden layer
    (``depth`` hidden layers, default 1); it is realisable once ``model_size >=
    teacher_width``.

Metric
    ``val_error``: normalised mean squared error ``MSE / Var(y_val)`` on the validation
    set (0 is perfect, about 1 is the trivial predictor).

Training length
    The shared rule of :mod:`scalinglab.tasks._torch_common` with early stopping.
    Defaults here: Adam, lr 3e-3 with cosine decay (a decaying rate lets the student
    approach the teacher closely instead of hovering at the noise level of the step
    size), batch 128, epochs 200, min_steps 1000, step_cap 6000, 40 evaluations,
    patience 10.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scalinglab._errors import invalid_parameter
from scalinglab.tasks._interface import Trial
from scalinglab.tasks._torch_common import (
    TRAIN_KEYS,
    ParamReader,
    TrainSettings,
    fit,
    import_torch,
    model_width,
    seed_everything,
)

__all__ = ["EPS0", "INIT_SPEC", "make_data", "train"]

#: Normalised MSE of the trivial predictor 0 (targets have unit variance): the eps0 of
#: the saturating laws.
EPS0: float | None = 1.0

_WHERE = "the teacher_student task"
_KEYS = (*TRAIN_KEYS, "input_dim", "teacher_width", "teacher_seed", "depth", "validation_size")
_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 3e-3,
    "lr_schedule": "cosine",
    "batch_size": 128,
    "epochs": 200.0,
    "min_steps": 1000,
    "step_cap": 6000,
    "n_evals": 40,
    "patience": 10,
}
#: Largest shard served (the pool is a stream, this only bounds memory).
MAX_POOL_SIZE = 2**21


def _teacher(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    return np.tanh(x @ w1 + b1) @ w2


def make_data(
    shard_size: int,
    *,
    input_dim: int = 16,
    teacher_width: int = 8,
    teacher_seed: int = 0,
    data_seed: int = 0,
    val_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training shard and validation set of the teacher-student task.

    Parameters
    ----------
    shard_size : int
        Number of training examples; the shard is a prefix of one seeded stream, so the
        shard of ``n`` is contained in the shard of any larger size.
    input_dim, teacher_width, teacher_seed : int
        The teacher network ``input_dim -> teacher_width (tanh) -> 1``, drawn from
        ``teacher_seed``.
    data_seed : int
        Seed of the training-input stream (the study's shard seed).
    val_size : int
        Number of validation examples (their stream depends on the teacher only).

    Returns
    -------
    x_train, y_train, x_val, y_val : numpy.ndarray
        ``float32`` arrays; inputs ``(n, input_dim)``, targets ``(n, 1)`` scaled to unit
        variance.
    """
    if not 1 <= shard_size <= MAX_POOL_SIZE:
        raise invalid_parameter("shard_size", _WHERE, f"in [1, {MAX_POOL_SIZE}]", shard_size)
    rng = np.random.default_rng([teacher_seed, 0])
    w1 = rng.standard_normal((input_dim, teacher_width)) / np.sqrt(input_dim)
    b1 = 0.1 * rng.standard_normal(teacher_width)
    w2 = rng.standard_normal((teacher_width, 1)) / np.sqrt(teacher_width)
    # Target scale from a large reference sample of the teacher's own stream, so that it
    # does not depend on the shard size.
    reference = _teacher(rng.standard_normal((16_384, input_dim)), w1, b1, w2)
    scale = float(reference.std())
    # Each stream yields its first rows identically whatever the count drawn, which is
    # what makes the shards nested.
    x_train = np.random.default_rng([teacher_seed, 1, data_seed]).standard_normal(
        (shard_size, input_dim)
    )
    x_val = np.random.default_rng([teacher_seed, 2]).standard_normal((val_size, input_dim))
    y_train = _teacher(x_train, w1, b1, w2) / scale
    y_val = _teacher(x_val, w1, b1, w2) / scale
    return (
        x_train.astype(np.float32),
        y_train.astype(np.float32),
        x_val.astype(np.float32),
        y_val.astype(np.float32),
    )


def train(trial: Trial) -> dict[str, float]:
    """Train a student network on a nested teacher-labelled shard; see the module docstring.

    Parameters
    ----------
    trial : Trial
        ``shard_size`` examples, ``model_size`` = student hidden width, ``seed``, and
        hyperparameters ``input_dim``, ``teacher_width``, ``teacher_seed``, ``depth``,
        ``validation_size`` plus the shared training settings.

    Returns
    -------
    dict of str to float
        ``val_error`` (normalised MSE), ``min_val_error``, ``n_params``, ``epochs``, ...
    """
    torch = import_torch()
    reader = ParamReader(trial.params, _WHERE, _KEYS)
    input_dim = reader.integer("input_dim", 16, minimum=1)
    teacher_width = reader.integer("teacher_width", 8, minimum=1)
    teacher_seed = reader.integer("teacher_seed", 0, minimum=0)
    depth = reader.integer("depth", 1, minimum=1)
    validation_size = reader.integer("validation_size", 4096, minimum=2)
    settings = TrainSettings.read(reader, **_DEFAULTS)
    width = model_width(trial, _WHERE)

    arrays = make_data(
        trial.shard_size,
        input_dim=input_dim,
        teacher_width=teacher_width,
        teacher_seed=teacher_seed,
        data_seed=trial.config.data_seed,
        val_size=validation_size,
    )
    x, y, x_val, y_val = (torch.from_numpy(a) for a in arrays)
    y_val_var = float(y_val.var())

    seed_everything(trial.seed)
    nn = torch.nn
    layers: list[Any] = []
    width_in = input_dim
    for _ in range(depth):
        layers += [nn.Linear(width_in, width), nn.Tanh()]
        width_in = width
    layers.append(nn.Linear(width_in, 1))
    model = nn.Sequential(*layers)
    mse = torch.nn.functional.mse_loss

    def batch_loss(indices: Any) -> Any:
        return mse(model(x[indices]), y[indices])

    def evaluate() -> dict[str, float]:
        return {"val_error": float(mse(model(x_val), y_val)) / y_val_var}

    return fit(
        model,
        n_train=trial.shard_size,
        batch_loss=batch_loss,
        evaluate=evaluate,
        trial=trial,
        settings=settings,
        fallback_error=1.0,
    )


INIT_SPEC = """\
# A scalinglab study of a noiseless teacher-student task (docs/workloads.md): the error
# floor is 0 by construction, so a fitted floor should come out near zero.
# Runs in a few minutes with 2 workers:  scalinglab run THIS_FILE
# Then:  scalinglab curve teacher-student
name = "teacher-student"
task = "teacher_student"
metric = "val_error"          # normalised MSE on 4,096 fixed inputs (about 1 = predict zero)
seeds = 2

[data]                        # nested shards 64 .. 2048 examples, doubling
min_shard_size = 64
max_shard_size = 2048
growth = 2.0
data_seed = 0

[model]
knob = "width"                # hidden tanh units of the student (realisable from 8 up)
sizes = [8, 32]

[train]                       # passed to the task as trial.params; all optional
input_dim = 16
teacher_width = 8
teacher_seed = 0
optimizer = "adam"
lr_schedule = "cosine"        # decay to 0 over the step budget
batch_size = 128
epochs = 200                  # steps = budget * clip(epochs * ceil(n/batch_size), min_steps, step_cap)
min_steps = 1000
step_cap = 6000

[search]
method = "grid"               # every width on every shard
param_samples = 3             # learning rates tried per cell (Halton, seeded)

[search.params]               # tuned per shard: the best (size, lr) of each shard wins
lr = { log = [0.001, 0.01] }

[budget]                      # budget-limited cells are rerun with 2x, 4x, 8x the steps
max_factor = 8
"""
