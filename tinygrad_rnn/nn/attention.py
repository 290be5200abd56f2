"""Multi-head attention, as ``torch.nn.MultiheadAttention``: project, split into heads,
``softmax(q k^T / sqrt(d)) v`` per head, join, project again."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor
from . import functional, init
from .linear import Linear
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Shapes (``batch_first=False``): query ``(L, N, E)``, key ``(S, N, kdim)``, value
    ``(S, N, vdim)`` -> output ``(L, N, E)`` and weights ``(N, L, S)`` (averaged over heads;
    ``(N, num_heads, L, S)`` with ``average_attn_weights=False``). With ``batch_first=True``
    the batch comes first; unbatched ``(L, E)`` input works too.

    ``key_padding_mask`` ``(N, S)``: True (bool) marks keys to ignore (padding), a float mask
    is added to the scores. ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)``, same
    conventions. Parameters and their initialisation are torch's: ``in_proj_weight``
    ``(3E, E)`` Xavier-uniform (or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when
    ``kdim``/``vdim`` differ from ``E``), ``in_proj_bias`` zeros, ``out_proj`` a Linear whose
    bias starts at zero."""

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise AssertionError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be positive and divisible by "
                f"num_heads ({num_heads})"
            )
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = (
            embed_dim,
            num_heads,
            dropout,
            batch_first,
        )
        self.head_dim = embed_dim // num_heads
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight: Parameter | None = _xavier(np.empty((3 * embed_dim, embed_dim), dtype))
        else:
            self.in_proj_weight = None
            self.q_proj_weight = _xavier(np.empty((embed_dim, embed_dim), dtype))
            self.k_proj_weight = _xavier(np.empty((embed_dim, self.kdim), dtype))
            self.v_proj_weight = _xavier(np.empty((embed_dim, self.vdim), dtype))
        self.in_proj_bias: Parameter | None = Parameter(np.zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        batched = query.ndim == 3
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = _raw(key_padding_mask)[None]
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        n, length, _ = query.shape
        source = key.shape[1]
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(
                f"MultiheadAttention: was expecting embedding dimension of {self.embed_dim}, "
                f"but got {query.shape[-1]} (query of shape {tuple(query.shape)})"
            )
        q, k, v = self._project(query, key, value)
        scores = (q @ k.mT) * (1.0 / math.sqrt(self.head_dim))  # (N, H, L, S)
        if is_causal and attn_mask is None:
            attn_mask = ~np.tril(np.ones((length, source), dtype=bool))
        if attn_mask is not None:
            mask = _raw(attn_mask)
            scores = _apply_mask(
                scores, mask.reshape((n, self.num_heads, length, source)) if mask.ndim == 3 else mask
            )
        if key_padding_mask is not None:
            scores = _apply_mask(scores, _raw(key_padding_mask)[:, None, None, :])
        weights = scores.softmax(-1)
        if self.training and self.dropout > 0.0:
            weights = functional.dropout(weights, self.dropout)
        out = (weights @ v).transpose(1, 2).reshape(n, length, self.embed_dim)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        return out, weights if batched else weights.squeeze(0)

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v of shape ``(N, heads, length, head_dim)``."""
        e = self.embed_dim
        if self.in_proj_weight is not None:
            weights = [self.in_proj_weight[i * e : (i + 1) * e] for i in range(3)]
        else:
            weights = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        biases: list[Any] = [None] * 3
        if self.in_proj_bias is not None:
            biases = [self.in_proj_bias[i * e : (i + 1) * e] for i in range(3)]
        heads = []
        for x, w, b in zip((query, key, value), weights, biases):
            projected = functional.linear(x, w, b)
            heads.append(
                projected.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)
            )
        return heads[0], heads[1], heads[2]

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _xavier(array: np.ndarray) -> Parameter:
    fan_out, fan_in = array.shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return init.uniform_(Parameter(array), -bound, bound)  # type: ignore[return-value]


def _raw(mask: Any) -> np.ndarray:
    return mask._data if isinstance(mask, Tensor) else np.asarray(mask)


def _apply_mask(scores: Tensor, mask: np.ndarray) -> Tensor:
    """A boolean mask marks the positions to leave out (True); a float mask is added."""
    if mask.dtype == np.bool_:
        return scores.masked_fill(mask, float("-inf"))
    return scores + mask.astype(scores.dtype)
