"""The feed-forward layers: Linear (an affine map), Embedding (a lookup table) and Dropout."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .functional import _check_dropout_probability, _dtype_mismatch_message, dropout
from .module import Module, Parameter


class Linear(Module):
    """``y = x @ weight.T + bias``, as ``torch.nn.Linear``.

    Shapes: input ``(..., in_features)`` -> output ``(..., out_features)``; ``weight`` is
    ``(out_features, in_features)``, ``bias`` is ``(out_features,)``. Both start uniform in
    ``[-1/sqrt(in_features), 1/sqrt(in_features)]`` (torch's default), drawn from the
    library's seeded generator (``tinygrad_rnn.manual_seed``). The layer is one ``linear``
    node in the graph.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.uniform_(self.weight, -bound, bound)
        if bias:
            self.bias: Parameter | None = Parameter(np.empty((out_features,), dtype=dtype))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.bias = None

    def forward(self, input: Tensor) -> Tensor:
        weight = self.weight
        if input._data.dtype != weight._data.dtype:
            raise TypeError(_dtype_mismatch_message("Linear", input._data.dtype, weight._data.dtype))
        if input._data.ndim == 0 or input._data.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: expected input with {self.in_features} features in its last dimension, "
                f"got input of shape {input.shape}"
            )
        return ops.Linear.apply(input, weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
        )


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index.

    Shapes: integer indices of any shape ``(*)`` -> ``(*, embedding_dim)``; ``weight`` is
    ``(num_embeddings, embedding_dim)``, initialised N(0, 1) as in torch. An index used
    several times gets the sum of its gradients (the lookup is an integer-array getitem,
    whose backward scatter-adds).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.weight = Parameter(
            np.empty((num_embeddings, embedding_dim), dtype=np.dtype(dtype or DEFAULT_DTYPE))
        )
        init.normal_(self.weight)

    def forward(self, input: Any) -> Tensor:
        indices = input._data if isinstance(input, Tensor) else np.asarray(input)
        if indices.dtype.kind not in "iu":
            raise TypeError(
                f"Embedding: indices must be integers, got dtype {indices.dtype}; convert them with .long()"
            )
        if indices.size:
            low, high = indices.min(), indices.max()
            if low < 0 or high >= self.num_embeddings:
                bad = low if low < 0 else high
                raise IndexError(
                    f"Embedding: index {bad} is out of range for {self.num_embeddings} embeddings "
                    f"(valid indices are 0 to {self.num_embeddings - 1})"
                )
        return ops.GetItem.apply(self.weight, indices)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale
    the survivors by ``1 / (1 - p)``; in eval mode, the identity. Any shape in, same out.
    The mask is drawn from the library's seeded generator."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        _check_dropout_probability(p)
        self.p = p

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
