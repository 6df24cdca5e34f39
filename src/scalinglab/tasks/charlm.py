"""Character-level language modelling on the Python standard library's own source code.

Hestness et al. 2017 measured a character language model's learning curve (beta_g about
-0.09, the same for SGD and Adam). This workload reproduces that kind of study on a CPU,
on a real text corpus that every Python installation carries, so nothing is downloaded.

Corpus
    Every top-level ``*.py`` module of the running interpreter's standard library
    (``sysconfig.get_paths()["stdlib"]``; about 170 files, 4.7 million characters for
    CPython 3.11), in sorted file order. A file goes to the validation text when
    ``zlib.crc32(name) % 10 == 0`` (about a tenth of the files), otherwise to the training
    text, so validation code is never seen in training. Characters are tab, newline and
    printable ASCII (97 symbols); every other byte maps to one "unknown" symbol (98 in
    all). The corpus depends on the Python version: compare studies made under the same
    interpreter.

Shards
    The training text is cut into non-overlapping windows of ``seq_len + 1`` characters
    (default 64 + 1); ``shard_size`` counts windows, so a shard holds about
    ``shard_size * seq_len`` characters (returned as ``n_train_chars``). Shards are
    :meth:`Trial.shard_indices` of the window pool, hence nested.

Models (the ``model`` hyperparameter; ``model_size`` is the width)
    ``"lstm"``: embedding of ``width``, one LSTM layer (``layers``) of ``width`` units,
    linear read-out. ``"transformer"``: pre-norm causal Transformer, ``layers`` blocks
    (default 2) of ``width`` dimensions, ``heads`` heads (default 2, must divide width),
    feed-forward ``4 * width``, learned positions.

Metric
    ``val_error``: validation cross-entropy per character on ``validation_size`` (default
    128) fixed windows spread evenly over the validation text, in bits (``unit = "bits"``,
    default) or nats. The uniform guess is log2(98) = 6.6 bits.

Training length
    The shared rule of :mod:`scalinglab.tasks._torch_common` with early stopping.
    Defaults here: Adam, lr 3e-3, batch 32 windows, epochs 20, min_steps 200, step_cap
    1500, 20 evaluations, patience 5, gradient clipping at norm 1.
"""

from __future__ import annotations

import functools
import math
import sysconfig
import zlib
from pathlib import Path
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

__all__ = ["EPS0", "EPS0_BY_PARAM", "INIT_SPEC", "VOCAB_SIZE", "load_corpus", "train"]

_WHERE = "the charlm task"
_KEYS = (*TRAIN_KEYS, "model", "layers", "heads", "seq_len", "validation_size", "unit")
_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 3e-3,
    "batch_size": 32,
    "epochs": 20.0,
    "min_steps": 200,
    "step_cap": 1500,
    "n_evals": 20,
    "patience": 5,
    "grad_clip": 1.0,
}

# Byte -> symbol id: tab, newline and printable ASCII keep their own id, the rest share one.
_KEPT = [9, 10, *range(32, 127)]
VOCAB_SIZE = len(_KEPT) + 1
#: Cross-entropy of the uniform guess over the symbols, in bits (the default unit;
#: ``EPS0_BY_PARAM["unit"]`` gives it per unit): the eps0 of the saturating laws.
EPS0: float | None = math.log2(VOCAB_SIZE)
EPS0_BY_PARAM = {"unit": {"bits": math.log2(VOCAB_SIZE), "nats": math.log(VOCAB_SIZE)}}
_TABLE = np.full(256, len(_KEPT), dtype=np.uint8)
_TABLE[_KEPT] = np.arange(len(_KEPT), dtype=np.uint8)


@functools.lru_cache(maxsize=1)
def load_corpus() -> tuple[np.ndarray, np.ndarray]:
    """The training and validation texts as symbol ids.

    Returns
    -------
    train_ids, val_ids : numpy.ndarray
        ``uint8`` arrays of symbol ids in ``[0, VOCAB_SIZE)``.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py"))
    if not files:  # pragma: no cover - an interpreter without its sources
        raise FileNotFoundError(f"No standard-library sources found in {stdlib}.")
    parts: dict[bool, list[bytes]] = {True: [], False: []}
    for path in files:
        is_val = zlib.crc32(path.name.encode()) % 10 == 0
        parts[is_val].append(path.read_bytes())
    # Whole files go to one side; a blank line separates them as in a real code base.
    train_bytes = b"\n\n".join(parts[False])
    val_bytes = b"\n\n".join(parts[True])
    return (
        _TABLE[np.frombuffer(train_bytes, dtype=np.uint8)],
        _TABLE[np.frombuffer(val_bytes, dtype=np.uint8)],
    )


def _windows(ids: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping windows of ``length`` symbols, as an ``(n, length)`` array."""
    n = len(ids) // length
    return ids[: n * length].reshape(n, length)


def _build_model(kind: str, width: int, layers: int, heads: int, seq_len: int) -> Any:
    torch = import_torch()
    nn = torch.nn

    class LSTMModel(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(VOCAB_SIZE, width)
            self.rnn = nn.LSTM(width, width, num_layers=layers, batch_first=True)
            self.head = nn.Linear(width, VOCAB_SIZE)

        def forward(self, tokens: Any) -> Any:
            hidden, _ = self.rnn(self.embed(tokens))
            return self.head(hidden)

    class Block(nn.Module):  # type: ignore[misc, name-defined]
        """Pre-norm causal self-attention and feed-forward, attention written out.

        Written out rather than ``nn.TransformerEncoderLayer`` because the CPU
        scaled-dot-product kernel is several times slower than three small matmuls at the
        head sizes used here (8-32 dimensions).
        """

        def __init__(self) -> None:
            super().__init__()
            self.norm1 = nn.LayerNorm(width)
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)
            self.norm2 = nn.LayerNorm(width)
            self.ff = nn.Sequential(
                nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
            )

        def forward(self, h: Any, mask: Any) -> Any:
            b, t, _ = h.shape
            q, k, v = (
                self.qkv(self.norm1(h)).view(b, t, 3, heads, width // heads).permute(2, 0, 3, 1, 4)
            )
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(width // heads)
            attention = torch.softmax(scores.masked_fill(mask[:t, :t], float("-inf")), dim=-1)
            mixed = (attention @ v).transpose(1, 2).reshape(b, t, width)
            h = h + self.proj(mixed)
            return h + self.ff(self.norm2(h))

    class TransformerModel(nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(VOCAB_SIZE, width)
            self.position = nn.Parameter(0.02 * torch.randn(seq_len, width))
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.norm = nn.LayerNorm(width)
            self.head = nn.Linear(width, VOCAB_SIZE)
            # True above the diagonal: a position never attends to later ones.
            self.register_buffer(
                "mask", torch.ones(seq_len, seq_len, dtype=torch.bool).triu(1), persistent=False
            )

        def forward(self, tokens: Any) -> Any:
            t = tokens.shape[1]
            h = self.embed(tokens) + self.position[:t]
            for block in self.blocks:
                h = block(h, self.mask)
            return self.head(self.norm(h))

    return LSTMModel() if kind == "lstm" else TransformerModel()


def train(trial: Trial) -> dict[str, float]:
    """Train a character-level LSTM or Transformer on a nested shard of the corpus.

    Parameters
    ----------
    trial : Trial
        ``shard_size`` windows of ``seq_len + 1`` characters, ``model_size`` = width,
        ``seed``, and hyperparameters ``model`` (``"lstm"``/``"transformer"``),
        ``layers``, ``heads``, ``seq_len``, ``validation_size`` (windows), ``unit`` (``"bits"``/
        ``"nats"``) plus the shared training settings.

    Returns
    -------
    dict of str to float
        ``val_error`` (cross-entropy per character), ``min_val_error``, ``n_params``,
        ``n_train_chars``, ``epochs``, ``train_time_s``, ...
    """
    torch = import_torch()
    reader = ParamReader(trial.params, _WHERE, _KEYS)
    kind = reader.choice("model", "lstm", ("lstm", "transformer"))
    layers = reader.integer("layers", 1 if kind == "lstm" else 2, minimum=1)
    heads = reader.integer("heads", 2, minimum=1)
    seq_len = reader.integer("seq_len", 64, minimum=2)
    validation_size = reader.integer("validation_size", 128, minimum=1)
    unit = reader.choice("unit", "bits", ("bits", "nats"))
    settings = TrainSettings.read(reader, **_DEFAULTS)
    width = model_width(trial, _WHERE)
    if kind == "transformer" and width % heads:
        raise invalid_parameter(
            "model_size", _WHERE, f"a multiple of heads ({heads}) for the transformer", width
        )

    train_ids, val_ids = load_corpus()
    pool = _windows(train_ids, seq_len + 1)
    if trial.shard_size > len(pool):
        raise invalid_parameter(
            "shard_size", _WHERE, f"<= {len(pool)} windows (the corpus size)", trial.shard_size
        )
    shard = torch.from_numpy(pool[trial.shard_indices(len(pool))].astype(np.int64))
    val_pool = _windows(val_ids, seq_len + 1)
    # Evenly spread windows: a fixed sample of every part of the validation text.
    picks = np.linspace(0, len(val_pool) - 1, min(validation_size, len(val_pool))).astype(int)
    val = torch.from_numpy(val_pool[picks].astype(np.int64))
    per_unit = math.log(2.0) if unit == "bits" else 1.0

    seed_everything(trial.seed)
    model = _build_model(kind, width, layers, heads, seq_len)
    cross_entropy = torch.nn.functional.cross_entropy

    def next_char_loss(windows: Any) -> Any:
        logits = model(windows[:, :-1])
        return cross_entropy(logits.reshape(-1, VOCAB_SIZE), windows[:, 1:].reshape(-1))

    def batch_loss(indices: Any) -> Any:
        return next_char_loss(shard[indices])

    def evaluate() -> dict[str, float]:
        nats = float(next_char_loss(val))
        return {"val_error": nats / per_unit, "val_nats": nats}

    result = fit(
        model,
        n_train=trial.shard_size,
        batch_loss=batch_loss,
        evaluate=evaluate,
        trial=trial,
        settings=settings,
        fallback_error=math.log(VOCAB_SIZE) / per_unit,
    )
    result["n_train_chars"] = float(trial.shard_size * seq_len)
    return result


INIT_SPEC = """\
# A scalinglab study of character-level language modelling on the Python standard
# library's source (docs/workloads.md). Runs in a few minutes with 2 workers:
#   scalinglab run THIS_FILE
# Then:  scalinglab curve charlm-lstm
name = "charlm-lstm"
task = "charlm"
metric = "val_error"          # validation cross-entropy, bits per character
seeds = 1

[data]                        # nested shards: 64 .. 512 windows of 64 chars (4k .. 33k chars)
min_shard_size = 64
max_shard_size = 512
growth = 2.0
data_seed = 0

[model]
knob = "width"                # LSTM hidden units (= embedding size), or Transformer width
sizes = [32, 64]

[train]                       # passed to the task as trial.params; all optional
model = "lstm"                # "lstm" or "transformer" (layers = 2, heads = 2 by default)
seq_len = 64
optimizer = "adam"            # "adam", "adamw" or "sgd": Hestness 2017 compared SGD and Adam
batch_size = 32
epochs = 20                   # steps = budget * clip(epochs * ceil(n/batch_size), min_steps, step_cap)
min_steps = 200
step_cap = 1500
grad_clip = 1.0
unit = "bits"                 # or "nats"

[search]
method = "grid"
param_samples = 3             # learning rates tried per cell (Halton, seeded)

[search.params]               # tuned per shard: the best (size, lr) of each shard wins
lr = { log = [0.001, 0.01] }

[budget]                      # budget-limited cells are rerun with 2x, 4x, 8x the steps
max_factor = 8
"""
