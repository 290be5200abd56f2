"""The feed-forward layers: Linear (an affine map), Embedding (a lookup table) and Dropout."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..engine import no_grad
from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .functional import (
    _check_dropout_probability,
    _dtype_mismatch_message,
    _require_tensor,
    dropout,
    embedding,
)
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
        _require_tensor("Linear", "input", 1, input)
        weight = self.weight
        if input._data.dtype != weight._data.dtype:
            raise RuntimeError(_dtype_mismatch_message("Linear", input._data.dtype, weight._data.dtype))
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
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index,
    as ``torch.nn.Embedding``.

    Shapes: integer indices of any shape ``(*)`` -> ``(*, embedding_dim)``; ``weight`` is
    ``(num_embeddings, embedding_dim)``, initialised N(0, 1) as in torch. An index used
    several times gets the sum of its gradients. ``padding_idx`` (negative counts from the
    end): that row starts at zeros and never gets a gradient. ``max_norm``: each lookup first
    rescales, in place, the rows it reads whose ``norm_type``-norm exceeds ``max_norm``.
    ``scale_grad_by_freq``: gradients divided by the indices' frequencies in the batch.
    See ``functional.embedding``.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        if sparse:
            raise ValueError(
                "Embedding: sparse=True is not supported (there are no sparse gradients); use sparse=False"
            )
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(
                np.empty((num_embeddings, embedding_dim), dtype=np.dtype(dtype or DEFAULT_DTYPE)),
                requires_grad=not _freeze,
            )
            self.reset_parameters()
        else:
            if _weight.shape != (num_embeddings, embedding_dim):
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            weight = Parameter(np.empty(0, dtype=_weight.dtype), requires_grad=not _freeze)
            weight._data = _weight._data  # shares memory, as torch's Parameter(_weight)
            self.weight = weight

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (2-D, shared, not copied), frozen
        (``requires_grad=False``) unless ``freeze=False``."""
        if embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(
            rows,
            cols,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=embeddings,
            _freeze=freeze,
        )

    def forward(self, input: Any) -> Tensor:
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            text += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            text += ", sparse=True"
        return text


class Identity(Module):
    """Returns its input unchanged; accepts (and ignores) any constructor arguments, as
    torch's, so it can stand in for a layer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


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
