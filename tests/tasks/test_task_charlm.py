"""The charlm workload: a real corpus with a fixed split, LSTM and Transformer, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalinglab import InputError
from scalinglab.tasks import Trial

pytest.importorskip("torch")
charlm = pytest.importorskip("scalinglab.tasks.charlm")

FAST = {"min_steps": 15, "step_cap": 15, "n_evals": 3, "seq_len": 32, "validation_size": 32}


def stable(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if not k.endswith("_time_s")}


def test_corpus_is_the_standard_library_split_by_file() -> None:
    train_ids, val_ids = charlm.load_corpus()
    assert len(train_ids) > 1_000_000
    assert 0.02 < len(val_ids) / (len(train_ids) + len(val_ids)) < 0.3
    assert int(train_ids.max()) < charlm.VOCAB_SIZE
    # Mostly real characters, few unknown symbols.
    assert np.mean(train_ids == charlm.VOCAB_SIZE - 1) < 0.01


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_same_seed_same_metrics_and_seeds_differ(model: str) -> None:
    def run(seed: int) -> dict[str, float]:
        params = {**FAST, "model": model}
        return stable(charlm.train(Trial.standalone(shard_size=32, model_size=16, seed=seed,
                                                    params=params)))

    first, again, other = run(0), run(0), run(1)
    assert first == again
    assert first != other
    assert first["n_params"] > 0
    assert first["n_train_chars"] == 32 * 32


def test_training_beats_the_uniform_guess_in_bits_and_nats() -> None:
    params = {**FAST, "min_steps": 60, "step_cap": 60, "lr": 0.01}
    bits = charlm.train(Trial.standalone(shard_size=64, model_size=32, params=params))
    nats = charlm.train(Trial.standalone(shard_size=64, model_size=32,
                                         params={**params, "unit": "nats"}))
    assert bits["min_val_error"] < math.log2(charlm.VOCAB_SIZE) - 1.0
    assert nats["min_val_error"] == pytest.approx(bits["min_val_error"] * math.log(2))


def test_transformer_width_must_divide_into_heads() -> None:
    with pytest.raises(InputError, match="'model_size'"):
        charlm.train(Trial.standalone(shard_size=8, model_size=15,
                                      params={"model": "transformer", "heads": 2}))
