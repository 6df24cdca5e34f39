"""Shared pieces of the built-in workloads: hyperparameter reading and the torch training loop.

Every built-in torch workload trains the same way, so that runs of different workloads are
comparable and the rules are written once:

Training length
    A run gets a budget of optimizer steps tied to the shard size ``n``::

        steps_per_epoch = ceil(n / batch_size)
        max_steps       = ceil(budget * clip(ceil(epochs * steps_per_epoch), min_steps, step_cap))

    so the budget grows with the shard: a small shard is seen about ``epochs`` times (enough
    to overfit it; early stopping then finds the best point) and a large shard gets at most
    ``step_cap`` steps, which bounds the time of a first run. ``budget`` is
    :attr:`Trial.budget`: 1 for a first run; when a run stops at its step budget with its best
    evaluation in the last part of it (budget-limited), the engine reruns it with 2x, 4x, ...
    (``[budget] max_factor``). ``epochs``, ``min_steps`` and ``step_cap`` are
    hyperparameters with per-workload defaults.

Evaluation and early stopping
    The validation error is measured on the workload's fixed held-out set every
    ``eval_every = max(1, max_steps // n_evals)`` steps (and at the last step), reported
    with :meth:`Trial.report`, and training stops after ``patience`` evaluations in a row
    without a new minimum. The study scores a run by the minimum reported error
    (Hestness et al. 2017), so stopping late never hurts the score, it only costs time.

Pruning (the ``prune_rounds`` and ``prune_rate`` options of the workloads that take them)
    Iterative magnitude pruning with rewinding to the initial weights (the lottery-ticket
    procedure of Frankle & Carbin 2019, which Rosenfeld et al. 2021 use): after the dense
    training, ``prune_rounds`` times, remove the fraction ``prune_rate`` of the remaining
    weights of smallest magnitude across all weight matrices together (global; biases are
    kept), rewind the survivors to their initial values and retrain with the same budget rule
    and early stopping (:func:`iterative_magnitude_pruning`). Round ``k`` has density
    ``(1 - prune_rate)^k``. The retrainings are not reported to the engine, so the run's score
    stays the dense network's; each round costs one more training.

Determinism
    One thread per worker (``torch.set_num_threads(1)``: the engine runs one process per
    core), ``torch.manual_seed(seed)`` before the model is built, and a seeded
    :class:`torch.Generator` for the batch order. Batches are drawn by indexing tensors
    directly: a DataLoader costs more per step than a tiny model's forward pass.

This module imports nothing heavy at import time, so the scikit-learn workload can use
:class:`ParamReader` without torch installed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from scalinglab._errors import invalid_parameter, require_extra

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

    from scalinglab.tasks._interface import Trial

__all__ = [
    "OPTIMIZERS",
    "TRAIN_KEYS",
    "ParamReader",
    "TrainSettings",
    "count_parameters",
    "fit",
    "import_torch",
    "initial_weights",
    "iterative_magnitude_pruning",
    "make_optimizer",
    "model_width",
    "prunable_weights",
    "seed_everything",
]

#: Optimizers a spec can name in ``optimizer``.
OPTIMIZERS = ("adam", "adamw", "sgd")
_SCHEDULES = ("constant", "cosine")


class ParamReader:
    """Read a run's hyperparameters with defaults, checking names and ranges once.

    Unknown names are rejected, so that a typo in a spec (``learning_rate`` for ``lr``)
    fails the first run with a clear message instead of being silently ignored.

    Parameters
    ----------
    params : Mapping[str, Any]
        ``trial.params``.
    where : str
        Named in error messages, e.g. ``"the mnist1d task"``.
    allowed : Iterable[str]
        Every hyperparameter name the task understands.
    """

    def __init__(self, params: Mapping[str, Any], where: str, allowed: Iterable[str]) -> None:
        self._params = dict(params)
        self._where = where
        allowed_set = set(allowed)
        unknown = sorted(set(self._params) - allowed_set)
        if unknown:
            raise invalid_parameter(
                unknown[0],
                where,
                f"one of the known hyperparameters ({', '.join(sorted(allowed_set))})",
                self._params[unknown[0]],
            )

    def raw(self, name: str, default: Any) -> Any:
        """The value as given, or ``default``."""
        return self._params.get(name, default)

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
    ) -> float:
        """A real number within ``[minimum, maximum]`` (or ``(minimum, ...`` if exclusive)."""
        value = self._params.get(name, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = float(value)
            ok = math.isfinite(value)
        if ok and minimum is not None:
            ok = value > minimum if exclusive_minimum else value >= minimum
        if ok and maximum is not None:
            ok = value <= maximum
        if not ok:
            low = ""
            if minimum is not None:
                low = f" > {minimum}" if exclusive_minimum else f" >= {minimum}"
            high = "" if maximum is None else f" and <= {maximum}"
            raise invalid_parameter(name, self._where, f"a number{low}{high}", value)
        return float(value)

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        """An integer ``>= minimum`` (a float with an integral value is accepted)."""
        value = self._params.get(name, default)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and float(value).is_integer()
        if ok and minimum is not None:
            ok = value >= minimum
        if not ok:
            rule = "an integer" + ("" if minimum is None else f" >= {minimum}")
            raise invalid_parameter(name, self._where, rule, value)
        return int(value)

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        """One of ``choices`` (case-insensitive), returned in lower case."""
        options = tuple(choices)
        value = self._params.get(name, default)
        if not isinstance(value, str) or value.lower() not in options:
            raise invalid_parameter(name, self._where, f"one of {', '.join(options)}", value)
        return value.lower()

    def optional_number(self, name: str, default: float | None, *, minimum: float) -> float | None:
        """A positive number, or ``None`` when absent/``0``/``false`` (a feature turned off)."""
        value = self._params.get(name, default)
        if value is None or value is False or value == 0:
            return None
        return self.number(name, float(value), minimum=minimum, exclusive_minimum=True)


#: Hyperparameter names :class:`TrainSettings` reads (every torch workload accepts them).
TRAIN_KEYS = (
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "batch_size",
    "epochs",
    "min_steps",
    "step_cap",
    "n_evals",
    "patience",
    "lr_schedule",
    "grad_clip",
)


@dataclass(frozen=True)
class TrainSettings:
    """How a torch workload trains; see the module docstring for the rules.

    Attributes
    ----------
    optimizer : str
        ``"adam"``, ``"adamw"`` or ``"sgd"`` (SGD with ``momentum``).
    lr : float
        Learning rate.
    momentum : float
        SGD momentum (ignored by Adam).
    weight_decay : float
        L2 penalty (decoupled for AdamW).
    batch_size : int
        Examples per step (the whole shard when the shard is smaller).
    epochs : float
        Target passes over the shard.
    min_steps, step_cap : int
        Bounds of the step budget.
    n_evals : int
        Evaluations over the step budget.
    patience : int
        Evaluations without a new minimum before stopping.
    lr_schedule : str
        ``"constant"`` or ``"cosine"`` (decay to 0 over the step budget).
    grad_clip : float or None
        Maximum gradient norm, or ``None`` for no clipping.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: float = 100.0
    min_steps: int = 200
    step_cap: int = 10_000
    n_evals: int = 50
    patience: int = 10
    lr_schedule: str = "constant"
    grad_clip: float | None = None

    @classmethod
    def read(cls, reader: ParamReader, **defaults: Any) -> TrainSettings:
        """Settings from a run's hyperparameters; ``defaults`` are the workload's own."""
        base = asdict(cls(**defaults))
        settings = cls(
            optimizer=reader.choice("optimizer", base["optimizer"], OPTIMIZERS),
            lr=reader.number("lr", base["lr"], minimum=0.0, exclusive_minimum=True),
            momentum=reader.number("momentum", base["momentum"], minimum=0.0, maximum=1.0),
            weight_decay=reader.number("weight_decay", base["weight_decay"], minimum=0.0),
            batch_size=reader.integer("batch_size", base["batch_size"], minimum=1),
            epochs=reader.number("epochs", base["epochs"], minimum=0.0, exclusive_minimum=True),
            min_steps=reader.integer("min_steps", base["min_steps"], minimum=1),
            step_cap=reader.integer("step_cap", base["step_cap"], minimum=1),
            n_evals=reader.integer("n_evals", base["n_evals"], minimum=1),
            patience=reader.integer("patience", base["patience"], minimum=1),
            lr_schedule=reader.choice("lr_schedule", base["lr_schedule"], _SCHEDULES),
            grad_clip=reader.optional_number("grad_clip", base["grad_clip"], minimum=0.0),
        )
        if settings.min_steps > settings.step_cap:
            raise invalid_parameter(
                "min_steps", "the training settings", f"<= step_cap ({settings.step_cap})",
                settings.min_steps,
            )
        return settings

    def max_steps(self, n_train: int, budget: float = 1.0) -> int:
        """The step budget for a shard of ``n_train`` examples (module docstring rule)."""
        steps_per_epoch = math.ceil(n_train / min(self.batch_size, n_train))
        wanted = math.ceil(self.epochs * steps_per_epoch)
        return math.ceil(budget * min(max(wanted, self.min_steps), self.step_cap))


def model_width(trial: Trial, where: str) -> int:
    """The trial's model size as a width: a positive integer (a spec's ``8.0`` is ``8``).

    Raises
    ------
    InputError
        The model size is not a positive integer; the message names ``where`` (the task).
    """
    width = int(trial.model_size)
    if width < 1 or width != trial.model_size:
        raise invalid_parameter("model_size", where, "a positive integer", trial.model_size)
    return width


def import_torch() -> Any:
    """Import torch, or raise :class:`MissingExtraError` naming the ``torch`` extra."""
    return require_extra("torch", "torch")


def seed_everything(seed: int) -> None:
    """One intra-op thread and a seeded torch global generator, before building a model."""
    torch = import_torch()
    # The engine runs one worker process per core; more threads per worker oversubscribe
    # the cores and, for models this small, only add synchronisation overhead.
    torch.set_num_threads(1)
    torch.manual_seed(int(seed))


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable scalars of ``model`` (the ``n_params`` of the model-size law)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def make_optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    """The optimizer ``settings.optimizer`` over the model's parameters."""
    torch = import_torch()
    params = [p for p in model.parameters() if p.requires_grad]
    if settings.optimizer == "sgd":
        return torch.optim.SGD(  # type: ignore[no-any-return]
            params, lr=settings.lr, momentum=settings.momentum,
            weight_decay=settings.weight_decay,
        )
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(  # type: ignore[no-any-return]
            params, lr=settings.lr, weight_decay=settings.weight_decay, foreach=True
        )
    # foreach=True: one fused update over all tensors, about 10% faster per step for the
    # tiny models here (the CPU default is the per-tensor loop).
    return torch.optim.Adam(  # type: ignore[no-any-return]
        params, lr=settings.lr, weight_decay=settings.weight_decay, foreach=True
    )


def fit(
    model: torch.nn.Module,
    *,
    n_train: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    evaluate: Callable[[], Mapping[str, float]],
    trial: Trial,
    settings: TrainSettings,
    fallback_error: float,
) -> dict[str, float]:
    """Train ``model`` with early stopping, reporting the validation error to ``trial``.

    Parameters
    ----------
    model : torch.nn.Module
        The model, already built under :func:`seed_everything`.
    n_train : int
        Number of training examples (the shard size).
    batch_loss : callable
        ``batch_loss(indices)``: the mean training loss on the examples at ``indices``
        (a 1-D int64 tensor into ``range(n_train)``), differentiable.
    evaluate : callable
        ``evaluate()``: metrics on the fixed validation set, ``"val_error"`` among them;
        called under :func:`torch.no_grad` with the model in eval mode.
    trial : Trial
        Receives one :meth:`Trial.report` per evaluation; :meth:`Trial.should_stop` is
        checked after each.
    settings : TrainSettings
        Optimizer, budget and early-stopping rules.
    fallback_error : float
        Error reported if training diverges before the first finite evaluation (the
        random-guess error of the task), so that a diverged run still has a score.

    Returns
    -------
    dict of str to float
        ``val_error`` (last evaluation), ``min_val_error``, ``best_step``, ``steps``,
        ``max_steps``, ``epochs`` (passes over the shard actually made), ``train_loss``
        (mean over the last evaluation interval), ``diverged`` (0 or 1), ``n_params``,
        ``train_time_s``, and the other metrics of the best evaluation prefixed ``best_``.
    """
    torch = import_torch()
    start = time.perf_counter()
    batch = min(settings.batch_size, n_train)
    max_steps = settings.max_steps(n_train, trial.budget)
    eval_every = max(1, max_steps // settings.n_evals)
    optimizer = make_optimizer(model, settings)
    scheduler = None
    if settings.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_steps)
    # The batch order has its own generator, seeded from the global one, so that it does
    # not depend on how many random numbers model construction happened to draw.
    generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, ()).item()))
    order = torch.randperm(n_train, generator=generator)
    position = 0

    best: dict[str, float] = {}
    min_error = math.inf
    best_step = 0
    last_error = math.nan
    evals_since_best = 0
    loss_sum, loss_count = 0.0, 0
    train_loss = math.nan
    diverged = False
    step = 0
    model.train()
    for step in range(1, max_steps + 1):
        if position + batch > n_train:
            # A new epoch: reshuffle; the incomplete tail batch is dropped so that every
            # step has the same batch size (the tail is in the next epoch's order).
            order = torch.randperm(n_train, generator=generator)
            position = 0
        indices = order[position : position + batch]
        position += batch
        optimizer.zero_grad(set_to_none=True)
        loss = batch_loss(indices)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            diverged = True
            break
        loss.backward()
        if settings.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss_value
        loss_count += 1

        if step % eval_every == 0 or step == max_steps:
            train_loss = loss_sum / max(loss_count, 1)
            loss_sum, loss_count = 0.0, 0
            model.eval()
            with torch.no_grad():
                metrics = {k: float(v) for k, v in evaluate().items()}
            model.train()
            error = metrics.pop("val_error")
            if not math.isfinite(error):
                diverged = True
                break
            last_error = error
            trial.report(step, error, train_loss=train_loss, **metrics)
            if error < min_error:
                min_error, best_step, best = error, step, metrics
                evals_since_best = 0
            else:
                evals_since_best += 1
            if evals_since_best >= settings.patience or trial.should_stop():
                break

    if not math.isfinite(min_error):
        # Diverged before any finite evaluation: score the run as a random guess.
        min_error = last_error = float(fallback_error)
        trial.report(step, min_error, diverged=1.0)
    result: dict[str, float] = {
        "val_error": float(last_error),
        "min_val_error": float(min_error),
        "best_step": float(best_step),
        "steps": float(step),
        "max_steps": float(max_steps),
        "epochs": step * batch / n_train,
        "train_loss": float(train_loss),
        "diverged": float(diverged),
        "n_params": float(count_parameters(model)),
        "train_time_s": time.perf_counter() - start,
    }
    result.update({f"best_{k}": v for k, v in best.items()})
    return result


def prunable_weights(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str]]:
    """The ``(module, "weight")`` pairs that pruning removes weights from.

    The weight matrices (kernels) of every linear and convolutional layer; biases are kept,
    as in Frankle & Carbin 2019 and Rosenfeld et al. 2021.
    """
    torch = import_torch()
    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    return [(module, "weight") for module in model.modules() if isinstance(module, kinds)]


def initial_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every parameter of ``model`` by name: what pruning rewinds to.

    Take it right after the model is built, before training.
    """
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _density(targets: list[tuple[torch.nn.Module, str]]) -> tuple[float, int]:
    """Fraction and number of the prunable weights that are not pruned."""
    kept = total = 0
    for module, name in targets:
        mask = getattr(module, f"{name}_mask", None)
        weight = getattr(module, name)
        total += weight.numel()
        kept += weight.numel() if mask is None else int(mask.sum())
    return kept / total, kept


def iterative_magnitude_pruning(
    model: torch.nn.Module,
    initial: Mapping[str, torch.Tensor],
    *,
    rounds: int,
    rate: float,
    retrain: Callable[[], Mapping[str, float]],
    should_stop: Callable[[], bool] = lambda: False,
) -> dict[str, float]:
    """Prune ``model`` iteratively by global weight magnitude, rewinding and retraining.

    ``rounds`` times: remove the fraction ``rate`` of the remaining weights with the smallest
    magnitude over all of :func:`prunable_weights` together (``torch.nn.utils.prune``'s
    global L1 unstructured pruning: the masks stay on the model, so the pruned weights stay
    zero while it trains), set every surviving parameter back to its value in ``initial``
    (biases included) and call ``retrain()``.

    Parameters
    ----------
    model : torch.nn.Module
        The trained dense model (round 0).
    initial : Mapping[str, torch.Tensor]
        :func:`initial_weights` of ``model`` before its dense training.
    rounds : int
        Number of pruning rounds, ``>= 0``.
    rate : float
        Fraction of the remaining weights removed per round, in ``(0, 1)``.
    retrain : callable
        Trains ``model`` again (fresh optimizer, same budget and early stopping) and returns
        its metrics, ``min_val_error`` among them.
    should_stop : callable
        Checked before each round: ``True`` stops pruning (the rounds done so far are kept).

    Returns
    -------
    dict of str to float
        For each round ``k`` done (``1 <= k <= rounds``): ``prune_density_{k}`` (the measured
        fraction of weights kept, ``(1 - rate)^k`` up to rounding to whole weights),
        ``prune_min_val_error_{k}``, ``prune_steps_{k}``; and ``prune_rounds`` (rounds done),
        ``prune_rate``, ``prune_weights`` (the number of prunable weights) and
        ``prune_train_time_s`` (all retrainings together).
    """
    torch = import_torch()
    prune = require_extra("torch.nn.utils.prune", "torch")
    if int(rounds) != rounds or rounds < 0:
        raise invalid_parameter("prune_rounds", "iterative_magnitude_pruning",
                                "an integer >= 0", rounds)
    if not 0.0 < rate < 1.0:
        raise invalid_parameter("prune_rate", "iterative_magnitude_pruning",
                                "a number > 0 and < 1", rate)
    targets = prunable_weights(model)
    start = time.perf_counter()
    total = sum(getattr(m, n).numel() for m, n in targets)
    out: dict[str, float] = {"prune_rate": float(rate), "prune_weights": float(total)}
    done = 0
    for k in range(1, int(rounds) + 1):
        if should_stop():
            break
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=rate)
        with torch.no_grad():
            for name, param in model.named_parameters():
                param.copy_(initial[name.removesuffix("_orig")])
            for module, name in targets:  # the masked weight now, not at the next forward
                setattr(module, name, getattr(module, f"{name}_orig") * getattr(module, f"{name}_mask"))
        metrics = retrain()
        density, _ = _density(targets)
        out[f"prune_density_{k}"] = density
        out[f"prune_min_val_error_{k}"] = float(metrics["min_val_error"])
        out[f"prune_steps_{k}"] = float(metrics.get("steps", math.nan))
        done = k
    out["prune_rounds"] = float(done)
    out["prune_train_time_s"] = time.perf_counter() - start
    return out
