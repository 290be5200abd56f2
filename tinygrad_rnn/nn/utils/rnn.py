"""Variable-length batches for the recurrent layers, as ``torch.nn.utils.rnn``.

A batch of sequences of different lengths is either *padded*, a ``(T, B, *)`` tensor whose
column ``b`` holds sequence ``b`` followed by padding, or *packed*, a ``PackedSequence``:
the time steps one after the other, each holding only the sequences still running at that
step, longest sequence first::

    sequences a b c (lengths 3, 2, 1)   packed data: a1 b1 c1 | a2 b2 | a3
                                         batch_sizes: [3, 2, 1]

``RNN``, ``LSTM`` and ``GRU`` accept a ``PackedSequence`` and unroll each step over only the
running sequences, so padding never reaches a hidden state and every sequence's final
state is taken at its own last step. Packing, padding and the layers' per-step slices are
ordinary ops (``getitem``, ``index_add``, ``cat``): gradients flow through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ... import ops
from ...creation import from_numpy
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


def _int_tensor(array: Any) -> Tensor:
    return from_numpy(np.asarray(array, dtype=np.int64))


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation given as an int64 tensor of indices (``None`` stays
    ``None``): ``invert_permutation(p)[p[i]] == i``."""
    if permutation is None:
        return None
    indices = permutation._data
    inverse = np.empty_like(indices)
    inverse[indices] = np.arange(indices.size, dtype=indices.dtype)
    return _int_tensor(inverse)


class _PackedSequenceFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceFields):
    """A packed batch of variable-length sequences (made by ``pack_padded_sequence`` or
    ``pack_sequence``; not meant to be built by hand), a named tuple as in torch:

    * ``data`` ``(N, *)``: the time steps one after the other, step ``t`` holding the
      ``batch_sizes[t]`` sequences still running, longest first; ``N = sum(batch_sizes)``.
    * ``batch_sizes`` int64 ``(T,)``: how many sequences run at each step (non-increasing).
    * ``sorted_indices`` int64 ``(B,)`` or ``None``: column ``j`` of the packed batch is
      sequence ``sorted_indices[j]`` of the original batch (``None``: already sorted).
    * ``unsorted_indices``: the inverse permutation, computed when not given.
    """

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Tensor | None = None,
        sorted_indices: Tensor | None = None,
        unsorted_indices: Tensor | None = None,
    ) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # torch also accepts PackedSequence((data, batch_sizes))
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise TypeError(
                    "PackedSequence: give (data, batch_sizes) as two arguments or as one pair; "
                    "make packed batches with pack_padded_sequence or pack_sequence"
                )
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, dtype: Any) -> PackedSequence:
        """The same packing with ``data`` cast to ``dtype`` (recorded in the graph)."""
        return type(self)(self.data.to(dtype), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def float(self) -> PackedSequence:
        return self.to(np.float32)

    def double(self) -> PackedSequence:
        return self.to(np.float64)


def _lengths_array(lengths: Any, where: str) -> np.ndarray:
    array = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise RuntimeError(
            f"{where}: 'lengths' should be a 1-D sequence of integers, got shape {array.shape} "
            f"and dtype {array.dtype}"
        )
    return array.astype(np.int64)


def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch: ``input`` ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``),
    ``lengths`` the ``B`` sequence lengths (a list or an integer Tensor), each in ``1..T``.

    With ``enforce_sorted=True`` the lengths must be non-increasing (``RuntimeError``
    otherwise); with ``False`` the batch is sorted by decreasing length (ties keep their
    order, as torch's sort does) and the permutation is kept in ``sorted_indices``. Steps
    past a sequence's length are dropped. The packed data is one ``getitem`` of ``input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pack_padded_sequence: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(
            f"pack_padded_sequence: input must have at least 2 dimensions (time and batch), "
            f"got shape {input.shape}"
        )
    lengths_array = _lengths_array(lengths, "pack_padded_sequence")
    time_dim, batch_dim = (1, 0) if batch_first else (0, 1)
    steps, batch = input.shape[time_dim], input.shape[batch_dim]
    if lengths_array.size != batch:
        raise RuntimeError(
            f"pack_padded_sequence: Expected `len(lengths)` to be equal to batch_size, but got "
            f"{lengths_array.size} (batch_size={batch})"
        )
    if batch and lengths_array.min() <= 0:
        raise RuntimeError(
            "pack_padded_sequence: Length of all samples has to be greater than 0, but found an "
            f"element in 'lengths' that is <= 0: {lengths_array.tolist()}"
        )
    if batch and lengths_array.max() > steps:
        raise RuntimeError(
            f"pack_padded_sequence: a length of {lengths_array.max()} exceeds the {steps} time steps "
            f"of the input of shape {input.shape}; pass lengths of at most {steps}"
        )
    if enforce_sorted:
        if np.any(np.diff(lengths_array) > 0):
            raise RuntimeError(
                "pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                f"`enforce_sorted` is True (got {lengths_array.tolist()}). You can pass "
                "`enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to sidestep "
                "this requirement if you do not need ONNX exportability."
            )
        order = np.arange(batch)
        sorted_indices = None
    else:
        order = np.argsort(-lengths_array, kind="stable")
        sorted_indices = _int_tensor(order)
    sorted_lengths = lengths_array[order]
    batch_sizes = np.array(
        [np.count_nonzero(sorted_lengths > t) for t in range(int(sorted_lengths.max(initial=0)))],
        dtype=np.int64,
    )
    time_index = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    column_index = np.concatenate([order[:n] for n in batch_sizes]) if batch_sizes.size else order[:0]
    index = (column_index, time_index) if batch_first else (time_index, column_index)
    data = ops.GetItem.apply(input, index)
    return PackedSequence(data, _int_tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo ``pack_padded_sequence``: returns ``(padded, lengths)``, ``padded`` of shape
    ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``) in the original batch order, with
    ``padding_value`` after each sequence, and ``lengths`` an int64 tensor ``(B,)``.
    ``T`` is the longest length, or ``total_length`` (``ValueError`` if shorter)."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    data, batch_sizes_tensor, sorted_indices, _ = sequence
    batch_sizes = batch_sizes_tensor._data.astype(np.int64)
    steps = batch_sizes.size
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, "
                f"but got total_length={total_length} and max sequence length being {steps}"
            )
        steps = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    order = np.arange(batch) if sorted_indices is None else sorted_indices._data
    time_index = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    column_index = np.concatenate([order[:n] for n in batch_sizes]) if batch_sizes.size else order[:0]
    if batch_first:
        shape, index = (batch, steps, *data.shape[1:]), (column_index, time_index)
    else:
        shape, index = (steps, batch, *data.shape[1:]), (time_index, column_index)
    padded = ops.IndexAdd.apply(data, shape, index, False)  # every position written once
    if padding_value != 0:
        padding = np.full(shape, padding_value, dtype=data.dtype)
        padding[index] = 0
        padded = padded + from_numpy(padding)
    lengths = np.zeros(batch, dtype=np.int64)
    np.add.at(lengths, column_index, 1)
    return padded, _int_tensor(lengths)


def pad_sequence(
    sequences: Iterable[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into ``(T, B, *)`` (``(B, T, *)`` if
    ``batch_first``), ``T = max L_i``, filling with ``padding_value`` after each sequence
    (``padding_side="left"``: before it). One ``cat`` and one ``index_add`` in the graph."""
    if isinstance(sequences, Tensor) or not isinstance(sequences, Iterable):
        raise RuntimeError(
            "pad_sequence: Expected iterable for input sequences, but got arg of type: "
            f"{type(sequences).__name__}"
        )
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"pad_sequence: Expected padding_side to be one of left or right, but got {padding_side}."
        )
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequence {i} is a {type(s).__name__}, not a Tensor")
        if s.ndim == 0 or s.shape[1:] != sequences[0].shape[1:]:
            raise RuntimeError(
                f"pad_sequence: every sequence must have shape (L, *) with the same trailing "
                f"dimensions; sequence 0 has shape {sequences[0].shape}, sequence {i} {s.shape}"
            )
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps, batch = int(lengths.max()), len(sequences)
    starts = steps - lengths if padding_side == "left" else np.zeros_like(lengths)
    time_index = np.concatenate([np.arange(n) + start for n, start in zip(lengths, starts)])
    column_index = np.repeat(np.arange(batch), lengths)
    trailing = sequences[0].shape[1:]
    data = sequences[0] if batch == 1 else ops.cat(sequences, 0)
    if batch_first:
        shape, index = (batch, steps, *trailing), (column_index, time_index)
    else:
        shape, index = (steps, batch, *trailing), (time_index, column_index)
    padded = ops.IndexAdd.apply(data, shape, index, False)
    if padding_value != 0:
        padding = np.full(shape, padding_value, dtype=data.dtype)
        padding[index] = 0
        padded = padded + from_numpy(padding)
    return padded


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch ``(T, B, *)`` (``(B, T, *)`` if ``batch_first``) into the list of
    its ``B`` sequences ``(L_i, *)``; the inverse of ``pad_sequence``."""
    lengths_array = _lengths_array(lengths, "unpad_sequence")
    if batch_first:
        return [padded_sequences[b, : int(n)] for b, n in enumerate(lengths_array)]
    return [padded_sequences[: int(n), b] for b, n in enumerate(lengths_array)]


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors ``(L_i, *)``: ``pack_padded_sequence(pad_sequence(sequences),
    lengths, enforce_sorted=enforce_sorted)``."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences ``(L_i, *)`` in a packed batch, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
