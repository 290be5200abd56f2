"""The benchmark's problem: a character-level model's initial weights and one batch of data.

One training step is: one-hot input (T, B, V) -> recurrent layer (RNN, LSTM or GRU, hidden H,
zero initial state) -> linear head to V logits at every step -> mean softmax cross-entropy over
all T*B targets -> backward through time -> SGD update (lr ``LEARNING_RATE``, no momentum).
Every implementation in ``bench_rnn.py`` starts from the same ``Problem``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEARNING_RATE = 0.1
SEED = 0

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # rows of the recurrent weights, in units of H

# torch's parameter names, prefixed by the submodule that owns them; every implementation
# reports its weights and gradients under these names.
RECURRENT_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
HEAD_NAMES = ("weight", "bias")
PARAMETER_NAMES = tuple(f"rnn.{n}" for n in RECURRENT_NAMES) + tuple(f"head.{n}" for n in HEAD_NAMES)


@dataclass(frozen=True)
class Config:
    name: str  # "<cell>-<size>", e.g. "lstm-small"
    cell: str  # one of CELLS
    vocab: int  # V
    batch: int  # B
    seq_len: int  # T
    hidden: int  # H

    @property
    def size(self) -> str:
        return self.name.split("-", 1)[1]

    def describe(self) -> str:
        return (
            f"{self.name}: {self.cell.upper()} V={self.vocab} B={self.batch} T={self.seq_len} H={self.hidden}"
        )


# (V, B, T, H) of each size; every size runs with every cell.
SIZES = {
    "tiny": (10, 1, 5, 100),
    "small": (65, 32, 50, 128),
    "medium": (65, 64, 100, 512),
}


def make_config(cell: str, size: str) -> Config:
    vocab, batch, seq_len, hidden = SIZES[size]
    return Config(f"{cell}-{size}", cell, vocab, batch, seq_len, hidden)


@dataclass
class Problem:
    """The model's initial weights and one batch of data, shared by every implementation."""

    config: Config
    dtype: np.dtype
    weights: dict[str, np.ndarray]  # PARAMETER_NAMES -> array; gates in torch's order
    inputs: np.ndarray  # (T, B, V) one-hot of the input characters
    targets: np.ndarray  # (T*B,) int64: row t*B + b is the next character of sequence b


def make_problem(config: Config, dtype: str) -> Problem:
    """Weights drawn like torch's default init, U(-1/sqrt(H), 1/sqrt(H)), in float64 and then
    cast, so that the float32 and float64 runs start from the same numbers."""
    rng = np.random.default_rng(SEED)
    rows, hidden, vocab = GATES[config.cell] * config.hidden, config.hidden, config.vocab
    shapes = {
        "rnn.weight_ih_l0": (rows, vocab),
        "rnn.weight_hh_l0": (rows, hidden),
        "rnn.bias_ih_l0": (rows,),
        "rnn.bias_hh_l0": (rows,),
        "head.weight": (vocab, hidden),
        "head.bias": (vocab,),
    }
    bound = 1.0 / np.sqrt(hidden)
    weights = {name: rng.uniform(-bound, bound, shape).astype(dtype) for name, shape in shapes.items()}
    tokens = rng.integers(0, vocab, size=(config.seq_len + 1, config.batch))
    inputs = np.eye(vocab, dtype=dtype)[tokens[:-1]]
    targets = tokens[1:].reshape(-1).astype(np.int64)
    return Problem(config, np.dtype(dtype), weights, inputs, targets)
