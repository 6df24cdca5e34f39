"""A cheap synthetic task with a known answer (numpy only), for tests, demos and benchmarks.

The "model" reaches the error

    eps(n, s) = floor + a * n^-alpha + b * s^-beta + c * s / n^gamma

on a shard of n examples with model size s: more data always helps, a bigger model helps
until it overfits the shard (the last term). The best model size of a shard is therefore
known in closed form, s*(n) = (beta * b * n^gamma / c)^(1 / (beta + 1)), and on a discrete
grid of sizes by :func:`best_model_size`, which is what the ``hestness`` search must find.

A run "trains" for ``epochs`` steps whose validation error decays towards eps(n, s), with
seeded multiplicative noise that is a pure function of (shard, model size, seed, data seed),
so runs are deterministic and a resumed study reproduces an uninterrupted one.

Hyperparameters (``[train]`` table): ``epochs`` (5), ``noise`` (0.01), ``floor`` (0.05),
``a`` (2.0), ``alpha`` (0.35), ``b`` (1.0), ``beta`` (1.0), ``c`` (8.0), ``gamma`` (1.0),
``sleep_s`` (0: seconds slept per epoch), ``burn_s`` (0: seconds of busy CPU per epoch),
and, for fault tests, ``fail_when`` / ``exit_when``: lists of tables such as
``{model_size = 8, seed = 1}``; a run whose config matches every field of one of them raises
``RuntimeError`` (``fail_when``) or kills its own process with ``os._exit(13)``
(``exit_when``). ``flaky_dir``: a directory; a run fails on its first attempt only (it leaves
a marker file there), to test retries.

Two more behaviours, for the engine's budget and hyperparameter tests (off unless named):

Budget that follows the shard (``converge_step``)
    The run trains ``steps * trial.budget`` steps (``steps``: 20) and reports every step; its
    error falls until the step ``t*(n) = converge_step * (n / 100) ** converge_power``
    (``converge_power``: 1), then rises by ``overfit`` (0.05) of the final error per ``t*``
    steps, and the run stops after ``patience`` (3) reports without a new minimum
    (``sleep_s``/``burn_s`` are per step here). Its
    minimum is therefore the true eps(n, s) only with a budget past ``t*(n)``, which grows
    with the shard; the task reads :attr:`Trial.budget` and returns ``max_steps``.

Learning rate with a known optimum per shard (``lr_best``)
    The final error is multiplied by ``1 + lr_width * ln(lr / lr*(n)) ** 2`` with
    ``lr*(n) = lr_best * (n / 100) ** lr_power`` (``lr_width``: 0.1, ``lr_power``: -0.5) and
    ``lr`` from the params (default ``lr*(n)``); :func:`best_lr` gives ``lr*(n)``.
"""

from __future__ import annotations

import math
import os
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scalinglab.tasks._interface import Trial

__all__ = ["DEFAULTS", "EPS0", "INIT_SPEC", "best_lr", "best_model_size", "converge_step",
           "expected_error", "n_params", "train"]

#: The synthetic error has no random-guess bound (it grows without limit as n and s
#: shrink), so the task states none and the eps0 rule (2 x the largest error) applies.
EPS0: float | None = None

DEFAULTS: dict[str, float] = {
    "epochs": 5, "noise": 0.01, "floor": 0.05, "a": 2.0, "alpha": 0.35, "b": 1.0,
    "beta": 1.0, "c": 8.0, "gamma": 1.0, "sleep_s": 0.0, "burn_s": 0.0,
    "steps": 20, "converge_power": 1.0, "overfit": 0.05, "patience": 3,
    "lr_width": 0.1, "lr_power": -0.5,
}

INIT_SPEC = '''\
# A scalinglab study spec (docs/spec.md has every field).
# Runs in about a minute with 2 workers:  scalinglab run THIS_FILE
# Then:  scalinglab curve synthetic-demo
name = "synthetic-demo"
task = "synthetic"        # built-in synthetic task; or "package.module:function" for your code
metric = "val_error"      # the reported metric to minimise
seeds = 3                 # seeds 0, 1, 2; the score of a cell is the median over seeds

[data]                    # nested shards from 128 to 8192 examples, doubling
min_shard_size = 128
max_shard_size = 8192
growth = 2.0
data_seed = 0

[model]                   # the model-size axis
knob = "width"
sizes = [2, 4, 8, 16, 32, 64, 128]

[train]                   # passed to the task as trial.params
epochs = 10
noise = 0.01
sleep_s = 0.05            # pretend each epoch takes 50 ms

[search]
method = "hestness"       # best fit on the smallest and largest shard, Monte Carlo in between
samples = 2               # model sizes sampled per intermediate shard
refine = true             # then walk to the neighbours of the best until it is a local minimum
seed = 0

[execution]
max_attempts = 2          # a failing run is tried twice, then left FAILED with its error
heartbeat_s = 2.0
stale_after_s = 30.0
'''


def _param(params: Mapping[str, Any], name: str) -> float:
    return float(params.get(name, DEFAULTS[name]))


def best_lr(shard_size: float, params: Mapping[str, Any]) -> float:
    """The learning rate with the lowest error on a shard, ``lr_best * (n / 100) ** lr_power``."""
    return float(params["lr_best"]) * (float(shard_size) / 100) ** _param(params, "lr_power")


def converge_step(shard_size: float, params: Mapping[str, Any]) -> float:
    """The step where the error stops falling, ``converge_step * (n / 100) ** converge_power``."""
    return float(params["converge_step"]) * (float(shard_size) / 100) ** _param(
        params, "converge_power")


def expected_error(shard_size: float, model_size: float,
                   params: Mapping[str, Any] | None = None) -> float:
    """The noise-free final error eps(n, s) of the synthetic task (see the module docstring).

    With ``lr_best`` in ``params`` the learning-rate factor is included (``lr`` from the
    params, default the best one).
    """
    p = params or {}
    n, s = float(shard_size), float(model_size)
    error = (_param(p, "floor") + _param(p, "a") * n ** -_param(p, "alpha")
             + _param(p, "b") * s ** -_param(p, "beta")
             + _param(p, "c") * s / n ** _param(p, "gamma"))
    if p.get("lr_best") is not None:
        lr_star = best_lr(n, p)
        lr = float(p.get("lr", lr_star))
        error *= 1 + _param(p, "lr_width") * math.log(lr / lr_star) ** 2
    return error


def best_model_size(shard_size: float, model_sizes: Sequence[float],
                    params: Mapping[str, Any] | None = None) -> float:
    """The model size of ``model_sizes`` with the lowest noise-free error on a shard."""
    errors = [expected_error(shard_size, s, params) for s in model_sizes]
    return model_sizes[int(np.argmin(errors))]


def n_params(model_size: float) -> int:
    """Parameter count of the synthetic model of size ``model_size`` (a 2-layer MLP shape)."""
    s = float(model_size)
    return round(s * s + 10 * s)


def _matches(config: Mapping[str, Any], rules: Any) -> bool:
    if not rules:
        return False
    for rule in rules if isinstance(rules, list | tuple) else [rules]:
        if all(float(config.get(k, math.nan)) == float(v) for k, v in dict(rule).items()):
            return True
    return False


def _burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(1000):
            x += i * i


def train(trial: Trial) -> dict[str, float]:
    """Train the synthetic model: report ``epochs`` validation errors, return final metrics."""
    params = trial.params
    config = trial.config.to_dict()
    if _matches(config, params.get("exit_when")):
        os._exit(13)
    if _matches(config, params.get("fail_when")):
        raise RuntimeError(
            f"synthetic failure for model_size={trial.model_size} seed={trial.seed} "
            f"shard_size={trial.shard_size}"
        )
    flaky = params.get("flaky_dir")
    if flaky:
        marker = Path(str(flaky)) / (
            f"run-{trial.config.shard_index}-{trial.model_size}-{trial.seed}.marker")
        if not marker.exists():
            marker.touch()
            raise RuntimeError("synthetic flaky failure (first attempt only)")

    key = f"{trial.config.shard_index}|{float(trial.model_size)!r}|{trial.seed}|"
    key += str(trial.config.data_seed)
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    final = expected_error(trial.shard_size, trial.model_size, params)
    if params.get("converge_step") is not None:
        return _train_converging(trial, final, rng)
    epochs = max(1, int(_param(params, "epochs")))
    noise = _param(params, "noise")
    sleep_s, burn_s = _param(params, "sleep_s"), _param(params, "burn_s")
    start = 1.0 + final
    error = start
    for epoch in range(epochs):
        if sleep_s > 0:
            time.sleep(sleep_s)
        if burn_s > 0:
            _burn(burn_s)
        progress = (epoch + 1) / epochs
        clean = final + (start - final) * math.exp(-5.0 * progress) * (1 - progress)
        error = clean * float(np.exp(noise * rng.standard_normal()))
        trial.report(epoch, error)
        if trial.should_stop():
            break
    return {"val_error": error, "n_params": float(n_params(trial.model_size))}


def _train_converging(trial: Trial, final: float, rng: np.random.Generator) -> dict[str, float]:
    # The budget-aware mode of the module docstring: falls until t*, then overfits.
    params = trial.params
    max_steps = max(1, round(_param(params, "steps") * trial.budget))
    t_star = max(1e-9, converge_step(trial.shard_size, params))
    noise, overfit = _param(params, "noise"), _param(params, "overfit")
    patience = max(1, int(_param(params, "patience")))
    sleep_s, burn_s = _param(params, "sleep_s"), _param(params, "burn_s")
    start = 1.0 + final
    best, since, error = math.inf, 0, start
    for step in range(1, max_steps + 1):
        if sleep_s > 0:
            time.sleep(sleep_s)
        if burn_s > 0:
            _burn(burn_s)
        x = step / t_star
        clean = final + (start - final) * max(0.0, 1 - x) ** 2 + final * overfit * max(0.0, x - 1)
        error = clean * float(np.exp(noise * rng.standard_normal()))
        trial.report(step, error)
        if error < best:
            best, since = error, 0
        else:
            since += 1
        if since >= patience or trial.should_stop():
            break
    return {"val_error": error, "n_params": float(n_params(trial.model_size)),
            "max_steps": float(max_steps)}
