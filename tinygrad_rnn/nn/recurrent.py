"""Recurrent layers: RNN, LSTM and GRU, and their cells, named and shaped as in ``torch.nn``.

Back-propagation through time is not written anywhere in this file. A layer is a Python
loop that applies the cell's arithmetic (``rnn_step``, ``lstm_step``, ``gru_step``: the same
functions ``RNNCell``, ``LSTMCell`` and ``GRUCell`` call) once per time step. Each step is
a handful of ordinary Tensor ops, so the forward pass unrolls into one graph, and the
engine's generic backward walk over that graph *is* BPTT.

Scopes (what the renderer draws one cluster for)
------------------------------------------------
Every op the layer creates carries a scope path (``tensor.op.scope``)::

    ("lstm",)                          input transposes, h_0's slice per layer and direction,
                                       dropout between layers, joining the directions,
                                       stacking h_n / c_n
    ("lstm", "l0")                     layer 0, forward direction: the input projection of
                                       all time steps (one matmul) and stacking the outputs
    ("lstm", "l0", "t=3")              layer 0, forward direction, time step 3 (recurrent part)
    ("lstm", "l0_reverse", "t=3")      layer 0, reverse direction, time step 3

The first name is the module's kind in lower case (``"rnn"``, ``"lstm"``, ``"gru"``);
layer scopes are named like the parameters they use (``weight_hh_l0_reverse`` lives in
``l0_reverse``). Steps count from 1. In the reverse direction ``t`` is the position in the
sequence, not the order of computation: its first step is ``t=T`` and its last ``t=1``,
so ``l0/t=3`` and ``l0_reverse/t=3`` read the same input ``x[2]``. The cells open no scope
of their own: wrap a hand-written loop the same way (``with tinygrad_rnn.scope("t=1"):``).

Truncated BPTT
--------------
To train on a long sequence in chunks, carry the final state into the next chunk cut from
the graph, so each backward stops at the chunk boundary::

    hidden = None
    for chunk, target in chunks:                 # chunk: (T, B, input_size)
        output, hidden = rnn(chunk, hidden)       # LSTM: hidden is (h, c)
        loss = loss_fn(head(output), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hidden = hidden.detach()                  # LSTM: (hidden[0].detach(), hidden[1].detach())

Without the ``detach`` the second ``backward`` runs into the first chunk's graph, whose saved
arrays are already freed, and raises an error saying so.

Packed batches
--------------
Given a ``PackedSequence`` (``nn.utils.rnn``), a layer unrolls the same loop over the packed
rows, and step ``t`` works on only the ``batch_sizes[t]`` sequences still running (a slice of
the batch, so a rendered graph shows the batch shrink, or grow in the reverse direction). A
sequence's final state leaves the batch at its own last step; h_0 and h_n are in the
caller's batch order, as in torch.

Differences from torch
----------------------
No ``device``/``dtype`` constructor arguments (call ``.double()``). ``RNNCell`` rejects an
unknown nonlinearity when constructed (torch waits for the first forward). Errors are
torch's texts, prefixed with the layer's name; a dtype mismatch of the input or of hx with
the weights says which call fixes it. The GRU's last line is ``n + z * (h - n)``, equal to
torch's ``(1 - z) * n + z * h`` up to rounding. Unbatched input runs as is (no batch
dimension is added and removed); the inter-layer dropout mask comes from the library's
generator.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Generic, TypeVar, Union, overload

import numpy as np

from ..creation import from_numpy, generator
from ..engine import scope
from ..ops import cat, linalg, stack
from ..tensor import Tensor
from . import functional
from .module import Module, Parameter
from .utils.rnn import PackedSequence

State = Union[Tensor, tuple[Tensor, Tensor]]
# A layer's state type: h for RNN and GRU, (h, c) for LSTM. The base class is generic in it, so
# each layer's step, initial and final states are checked against its own kind of state.
StateT = TypeVar("StateT", Tensor, tuple[Tensor, Tensor])

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "gru_step", "lstm_step", "rnn_step"]


def _named(tensor: Tensor, name: str) -> Tensor:
    """``tensor`` with a name for pictures (a given initial state's slice: ``h_0``)."""
    tensor.name = name
    return tensor


def _label(state: State, step: int) -> None:
    """Name a step's hidden state h_k (and cell state c_k), as a rendered graph shows them."""
    if isinstance(state, tuple):
        state[0].name, state[1].name = f"h_{step}", f"c_{step}"
    else:
        state.name = f"h_{step}"


# --------------------------------------------------------------------------- one time step
#
# ``gates_x`` is the input's contribution ``x @ weight_ih.T + bias_ih``, shape (B, gates*H)
# or (gates*H,). The layers compute it for all time steps in one matmul before the loop
# (as cuDNN does); the cells compute it per call.


def rnn_step(
    gates_x: Tensor, hidden: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, nonlinearity: str
) -> Tensor:
    """Elman step: ``h' = act(gates_x + h @ weight_hh.T + bias_hh)``; hidden (B, H) or (H,)."""
    pre = gates_x + linalg.Linear.apply(hidden, weight_hh, bias_hh)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_step(
    gates_x: Tensor,
    state: tuple[Tensor, Tensor],
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    weight_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """LSTM step with torch's gate order i, f, g, o::

        i, f, o = sigmoid(.), g = tanh(.)    (pre-activations: gates_x + h @ weight_hh.T + bias_hh)
        c' = f * c + i * g
        h' = o * tanh(c')                    (with a projection: h' = (o * tanh(c')) @ weight_hr.T)

    ``state`` is (h, c), each (B, H) or (H,) (h: (B, P) with a projection of size P);
    returns (h', c')."""
    hidden, cell = state
    gates = gates_x + linalg.Linear.apply(hidden, weight_hh, bias_hh)
    in_gate, forget_gate, candidate, out_gate = gates.chunk(4, -1)
    in_gate.name, forget_gate.name, candidate.name, out_gate.name = "i", "f", "g", "o"  # for pictures
    cell = forget_gate.sigmoid() * cell + in_gate.sigmoid() * candidate.tanh()
    hidden = out_gate.sigmoid() * cell.tanh()
    if weight_hr is not None:
        hidden = linalg.Linear.apply(hidden, weight_hr, None)
    return hidden, cell


def gru_step(gates_x: Tensor, hidden: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """GRU step with torch's gate order r, z, n::

        r = sigmoid(x_r + h_r),  z = sigmoid(x_z + h_z)
        n = tanh(x_n + r * h_n)             h_n = W_hn h + b_hn: b_hn is inside the product
        h' = (1 - z) * n + z * h            computed as n + z * (h - n), one op fewer

    where x_* are the slices of ``gates_x`` and h_* those of ``h @ weight_hh.T + bias_hh``."""
    x_reset, x_update, x_new = gates_x.chunk(3, -1)
    h_reset, h_update, h_new = linalg.Linear.apply(hidden, weight_hh, bias_hh).chunk(3, -1)
    # named for pictures: gate letter, then where the slice comes from (input x or state h)
    x_reset.name, x_update.name, x_new.name = "r_x", "z_x", "n_x"
    h_reset.name, h_update.name, h_new.name = "r_h", "z_h", "n_h"
    reset = (x_reset + h_reset).sigmoid()
    update = (x_update + h_update).sigmoid()
    new = (x_new + reset * h_new).tanh()
    return new + update * (hidden - new)


# --------------------------------------------------------------------------- shared checks


def _check_sizes(owner: str, input_size: object, hidden_size: object, bias: object) -> None:
    if not isinstance(bias, bool):
        raise TypeError(f"{owner}: bias should be of type bool, got: {type(bias).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{owner}: {name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{owner}: {name} must be greater than zero")


def _check_nonlinearity(owner: str, nonlinearity: str) -> None:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


_DTYPE_METHODS = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def _check_dtype(
    owner: str, what: str, tensor: Tensor, weight: Tensor, error: type[Exception] = ValueError
) -> None:
    """A dtype mismatch with the weights raises the class torch raises for that call:
    ValueError from a layer's input check, RuntimeError from a cell's matrix product."""
    if tensor.dtype != weight.dtype:
        variable = "x" if what == "input" else what
        model_fix = _DTYPE_METHODS.get(tensor.dtype)
        tensor_fix = _DTYPE_METHODS.get(weight.dtype)
        fix = (
            f"call model.{model_fix}() or {variable}.{tensor_fix}()"
            if model_fix and tensor_fix
            else f"convert it with {variable}.to({weight.dtype})"
        )
        raise error(f"{owner}: {what} dtype {tensor.dtype} but weights {weight.dtype}: {fix}")


def _require_tensor(owner: str, what: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{owner}: {what} must be a Tensor, got {type(value).__name__}")
    return value


_INIT_CHUNK = 1 << 16  # elements drawn at a time


def _uniform_init(module: Module, hidden_size: int) -> None:
    """torch's init for every recurrent weight and bias: U(-1/sqrt(H), 1/sqrt(H)).

    The same numbers as ``init.uniform_`` (the generator draws them in the same order), but
    written into each parameter's own array a chunk at a time: drawing a whole float64 array
    and casting it would briefly need three times a float32 weight's size on top of it
    (4x in all for ``RNN(10, 8000)``'s 8000 x 8000 ``weight_hh``)."""
    bound = 1.0 / math.sqrt(hidden_size)
    rng = generator()
    for p in module.parameters():
        if not (p._data.flags.c_contiguous and p._data.flags.writeable):
            p._data = np.empty(p.shape, dtype=p.dtype)
        flat = p._data.reshape(-1)
        for start in range(0, flat.size, _INIT_CHUNK):
            stop = min(start + _INIT_CHUNK, flat.size)
            flat[start:stop] = rng.uniform(-bound, bound, stop - start)


def _new_parameter(*shape: int) -> Parameter:
    """A float32 parameter whose array ``_uniform_init`` fills; made around an empty array
    rather than from one, since the constructor would copy the whole uninitialised array."""
    parameter = Parameter(np.empty(0, dtype=np.float32))
    parameter._data = np.empty(shape, dtype=np.float32)
    return parameter


# --------------------------------------------------------------------------- cells


class _CellBase(Module):
    """Parameters and input checks shared by the three cells."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size, bias)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = _new_parameter(self.gates * hidden_size, input_size)
        self.weight_hh = _new_parameter(self.gates * hidden_size, hidden_size)
        self.bias_ih = _new_parameter(self.gates * hidden_size) if bias else None
        self.bias_hh = _new_parameter(self.gates * hidden_size) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _check_input(self, input: Tensor) -> None:
        owner = type(self).__name__
        _require_tensor(owner, "input", input)
        if input.ndim not in (1, 2):
            raise ValueError(f"{owner}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{owner}: input has inconsistent input_size: "
                f"got {input.shape[-1]} expected {self.input_size}"
            )
        _check_dtype(owner, "input", input, self.weight_ih, RuntimeError)

    def _check_hidden(self, input: Tensor, hidden: Tensor, what: str) -> None:
        owner = type(self).__name__
        _require_tensor(owner, what, hidden)
        if hidden.ndim != input.ndim:
            shape = "(hidden_size,)" if input.ndim == 1 else "(batch, hidden_size)"
            raise ValueError(
                f"{owner}: Expected {what} to be {input.ndim}D {shape} like the {input.ndim}D input, "
                f"got {hidden.ndim}D instead"
            )
        if input.ndim == 2 and hidden.shape[0] != input.shape[0]:
            raise RuntimeError(
                f"{owner}: Input batch size {input.shape[0]} doesn't match "
                f"{what} batch size {hidden.shape[0]}"
            )
        if hidden.shape[-1] != self.hidden_size:
            raise RuntimeError(
                f"{owner}: {what} has inconsistent hidden_size: got {hidden.shape[-1]}, "
                f"expected {self.hidden_size}"
            )
        _check_dtype(owner, what, hidden, self.weight_ih, RuntimeError)

    def _zeros(self, input: Tensor) -> Tensor:
        return from_numpy(np.zeros(input.shape[:-1] + (self.hidden_size,), input.dtype))

    def _gates_x(self, input: Tensor) -> Tensor:
        return linalg.Linear.apply(input, self.weight_ih, self.bias_ih)


class RNNCell(_CellBase):
    """One Elman step: ``h' = act(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)``.

    ``RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')``; ``nonlinearity`` is
    ``'tanh'`` or ``'relu'``. Parameters: weight_ih (H, in), weight_hh (H, H), bias_ih (H,),
    bias_hh (H,).

    ``forward(input, hx=None)``: input (B, in) or (in,), hx (B, H) or (H,), zeros if None;
    returns h' of hx's shape."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        _check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        return super().extra_repr() + (
            "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        self._check_input(input)
        if hx is None:
            hx = self._zeros(input)
        else:
            self._check_hidden(input, hx, "hx")
        return rnn_step(self._gates_x(input), hx, self.weight_hh, self.bias_hh, self.nonlinearity)


class LSTMCell(_CellBase):
    """One LSTM step (gates i, f, g, o; see ``lstm_step``).

    ``LSTMCell(input_size, hidden_size, bias=True)``. Parameters: weight_ih (4H, in),
    weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).

    ``forward(input, hx=None)``: input (B, in) or (in,), hx = (h, c) each (B, H) or (H,),
    zeros if None; returns (h', c')."""

    gates = 4

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        self._check_input(input)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTMCell: hx must be a tuple (h, c) of two tensors")
            self._check_hidden(input, hx[0], "hx[0]")
            self._check_hidden(input, hx[1], "hx[1]")
        return lstm_step(self._gates_x(input), (hx[0], hx[1]), self.weight_hh, self.bias_hh)


class GRUCell(_CellBase):
    """One GRU step (gates r, z, n; see ``gru_step``).

    ``GRUCell(input_size, hidden_size, bias=True)``. Parameters: weight_ih (3H, in),
    weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,).

    ``forward(input, hx=None)``: input (B, in) or (in,), hx (B, H) or (H,), zeros if None;
    returns h' of hx's shape."""

    gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        self._check_input(input)
        if hx is None:
            hx = self._zeros(input)
        else:
            self._check_hidden(input, hx, "hx")
        return gru_step(self._gates_x(input), hx, self.weight_hh, self.bias_hh)


# --------------------------------------------------------------------------- layers


class _RNNBase(Module, Generic[StateT]):
    """Parameters, checks and the unrolled loop shared by RNN, LSTM and GRU."""

    gates = 1
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    proj_size: int
    weight_ih_l0: Parameter  # one of the parameters registered under generated names
    _scope: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        _check_sizes(owner, input_size, hidden_size, bias)
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError(
                f"{owner}: proj_size should be a positive integer or zero to disable projections, "
                f"got {proj_size!r}"
            )
        if proj_size >= hidden_size:
            raise ValueError(
                f"{owner}: proj_size has to be smaller than hidden_size, got proj_size={proj_size} "
                f"and hidden_size={hidden_size}"
            )
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers <= 0:
            raise ValueError(f"{owner}: num_layers must be an int greater than zero, got {num_layers!r}")
        if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(
                f"{owner}: dropout should be a number in range [0, 1] representing the probability "
                f"of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{owner}: dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2 if type(self).__init__ is _RNNBase.__init__ else 3,  # the caller's line
            )
        for name, flag in (("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(flag, bool):
                raise TypeError(f"{owner}: {name} should be of type bool, got: {type(flag).__name__}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._scope = owner.lower()

        gate_size = self.gates * hidden_size
        directions = 2 if bidirectional else 1
        output_size = self._output_size
        # torch's registration order: per layer, per direction, w_ih, w_hh, b_ih, b_hh, w_hr
        self._layer_names: list[tuple[str, tuple[str, ...]]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else output_size * directions
            for direction in range(directions):
                suffix = f"l{layer}" + ("_reverse" if direction else "")
                names = [f"weight_ih_{suffix}", f"weight_hh_{suffix}"]
                setattr(self, names[0], _new_parameter(gate_size, layer_input))
                setattr(self, names[1], _new_parameter(gate_size, output_size))
                if bias:
                    names += [f"bias_ih_{suffix}", f"bias_hh_{suffix}"]
                    setattr(self, names[2], _new_parameter(gate_size))
                    setattr(self, names[3], _new_parameter(gate_size))
                if proj_size:
                    names.append(f"weight_hr_{suffix}")
                    setattr(self, names[-1], _new_parameter(proj_size, hidden_size))
                self._layer_names.append((suffix, tuple(names)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _output_size(self) -> int:
        """The size of h (and of each direction's output): proj_size if set, else hidden_size."""
        return self.proj_size or self.hidden_size

    def _layer_weights(
        self, index: int
    ) -> tuple[str, Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """(scope suffix, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr) of one (layer,
        direction); the biases and weight_hr are None when the layer has none."""
        suffix, names = self._layer_names[index]
        weights = {name[: -len(suffix) - 1]: getattr(self, name) for name in names}
        return (
            suffix,
            weights["weight_ih"],
            weights["weight_hh"],
            weights.get("bias_ih"),
            weights.get("bias_hh"),
            weights.get("weight_hr"),
        )

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text

    # -- the subclasses' step ------------------------------------------------------------

    def _step(
        self,
        gates_x: Tensor,
        state: StateT,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        weight_hr: Tensor | None = None,
    ) -> StateT:
        raise NotImplementedError

    @staticmethod
    def _output_of(state: StateT) -> Tensor:
        """The step's output: h."""
        raise NotImplementedError

    # -- checks --------------------------------------------------------------------------

    def _check_input(self, input: Tensor) -> bool:
        """Validate the input; return whether it is batched (3-D)."""
        owner = type(self).__name__
        _require_tensor(owner, "input", input)
        if input.ndim not in (2, 3):
            raise ValueError(f"{owner}: Expected input to be 2D or 3D, got {input.ndim}D tensor instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{owner}: input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {input.shape[-1]}"
            )
        _check_dtype(owner, "input", input, self.weight_ih_l0)
        return input.ndim == 3

    def _check_hidden(self, hidden: Tensor, expected: tuple[int, ...], batched: bool, what: str) -> None:
        owner = type(self).__name__
        _require_tensor(owner, what, hidden)
        if hidden.ndim != len(expected):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RuntimeError(
                f"{owner}: For {kind} input, {what} should also be {len(expected)}-D "
                f"but got {hidden.ndim}-D tensor"
            )
        if hidden.shape != expected:
            label = {"hx": "hidden", "hx[0]": "hidden[0]", "hx[1]": "hidden[1]"}[what]
            raise RuntimeError(f"{owner}: Expected {label} size {expected}, got {list(hidden.shape)}")
        _check_dtype(owner, what, hidden, self.weight_ih_l0)

    def _initial_states(
        self, hx: StateT | None, input: Tensor, batch: tuple[int, ...], batched: bool
    ) -> list[StateT]:
        """One initial state per (layer, direction), from hx or zeros."""
        raise NotImplementedError

    # -- the unrolled forward ------------------------------------------------------------

    @overload
    def forward(self, input: Tensor, hx: StateT | None = None) -> tuple[Tensor, StateT]: ...
    @overload
    def forward(self, input: PackedSequence, hx: StateT | None = None) -> tuple[PackedSequence, StateT]: ...
    def forward(
        self, input: Tensor | PackedSequence, hx: StateT | None = None
    ) -> tuple[Tensor | PackedSequence, StateT]:
        """``(output, h_n)``, or ``(output, (h_n, c_n))`` for an LSTM: see the class docstring.
        A PackedSequence input gives a PackedSequence output."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        batched = self._check_input(input)
        with scope(self._scope):
            x = input.transpose(0, 1) if batched and self.batch_first else input
            batch = x.shape[1:2] if batched else ()
            initial = self._initial_states(hx, x, batch, batched)
            finals: list[StateT] = []
            directions = self.num_directions
            for layer in range(self.num_layers):
                outputs = []
                for direction in range(directions):
                    index = layer * directions + direction
                    suffix, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr = self._layer_weights(index)
                    with scope(suffix):
                        sequence, final = self._run_direction(
                            x,
                            initial[index],
                            weight_ih,
                            weight_hh,
                            bias_ih,
                            bias_hh,
                            bool(direction),
                            weight_hr,
                        )
                    outputs.append(sequence)
                    finals.append(final)
                x = outputs[0] if directions == 1 else cat(outputs, -1)
                if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                    x = functional.dropout(x, self.dropout)
            output = x.transpose(0, 1) if batched and self.batch_first else x
            return output, self._final_state(finals)

    def _run_direction(
        self,
        x: Tensor,
        state: StateT,
        weight_ih: Tensor,
        weight_hh: Tensor,
        bias_ih: Tensor | None,
        bias_hh: Tensor | None,
        reverse: bool,
        weight_hr: Tensor | None = None,
    ) -> tuple[Tensor, StateT]:
        """Unroll one direction of one layer over x (T, B, in) or (T, in); return the outputs
        (T, B, H) or (T, H) and the final state."""
        steps = x.shape[0]
        gates_x = linalg.Linear.apply(x, weight_ih, bias_ih)  # (T, B, gates*H): every step in one matmul
        gates_x.name = "x W_ih^T + b_ih"  # names for pictures, in the docs' notation
        outputs: list[Tensor | None] = [None] * steps
        for t in reversed(range(steps)) if reverse else range(steps):
            with scope(f"t={t + 1}"):
                step_input = gates_x[t]
                step_input.name = f"x_{t + 1} W_ih^T + b_ih"
                state = self._step(step_input, state, weight_hh, bias_hh, weight_hr)
            _label(state, t + 1)
            outputs[t] = self._output_of(state)
        return stack(outputs, 0), state

    # -- the unrolled forward over a packed batch ----------------------------------------

    def _forward_packed(self, packed: PackedSequence, hx: StateT | None) -> tuple[PackedSequence, StateT]:
        """Run over a PackedSequence: each step sees only the sequences still running, so
        each sequence's final state is taken at its own last step. hx and h_n are in the
        original batch order (permuted by sorted_indices / unsorted_indices, as torch)."""
        owner = type(self).__name__
        data, batch_sizes_tensor, sorted_indices, unsorted_indices = packed
        _require_tensor(owner, "input", data)
        if data.ndim != 2:
            raise RuntimeError(
                f"{owner}: input must have 2 dimensions (the data of a PackedSequence is "
                f"(sum of lengths, input_size)), got {data.ndim}"
            )
        if data.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{owner}: input.size(-1) must be equal to input_size. "
                f"Expected {self.input_size}, got {data.shape[-1]}"
            )
        _check_dtype(owner, "input", data, self.weight_ih_l0)
        batch_sizes = [int(n) for n in batch_sizes_tensor._data]
        with scope(self._scope):
            initial = self._initial_states(hx, data, (batch_sizes[0],), True)
            if sorted_indices is not None:
                order = sorted_indices._data
                initial = [_index_state(state, order) for state in initial]
            finals: list[StateT] = []
            x = data
            directions = self.num_directions
            for layer in range(self.num_layers):
                outputs = []
                for direction in range(directions):
                    index = layer * directions + direction
                    suffix, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr = self._layer_weights(index)
                    with scope(suffix):
                        # (N, gates*H): all steps at once
                        gates_x = linalg.Linear.apply(x, weight_ih, bias_ih)
                        run = self._run_packed_reverse if direction else self._run_packed_forward
                        sequence, final = run(
                            gates_x, initial[index], batch_sizes, weight_hh, bias_hh, weight_hr
                        )
                    outputs.append(sequence)
                    finals.append(final)
                x = outputs[0] if directions == 1 else cat(outputs, -1)
                if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                    x = functional.dropout(x, self.dropout)
            final_state = self._final_state(finals)
            if unsorted_indices is not None:
                back = unsorted_indices._data
                final_state = _index_state(final_state, (slice(None), back))
        return PackedSequence(x, batch_sizes_tensor, sorted_indices, unsorted_indices), final_state

    def _run_packed_forward(
        self,
        gates_x: Tensor,
        state: StateT,
        batch_sizes: list[int],
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        weight_hr: Tensor | None,
    ) -> tuple[Tensor, StateT]:
        """Steps 1..T over packed rows; when sequences end, their states leave the batch
        (the running ones stay at the front) and are kept as their final states."""
        outputs: list[Tensor] = []
        ended: list[StateT] = []  # final states of sequences that stopped, last columns first
        offset = 0
        for t, running in enumerate(batch_sizes):
            with scope(f"t={t + 1}"):
                active = _batch_of(state)
                if running < active:
                    ended.append(_index_state(state, slice(running, active)))
                    state = _index_state(state, slice(running))
                state = self._step(gates_x[offset : offset + running], state, weight_hh, bias_hh, weight_hr)
            _label(state, t + 1)
            outputs.append(self._output_of(state))
            offset += running
        ended.append(state)
        return cat(outputs, 0), _join_states(ended[::-1])

    def _run_packed_reverse(
        self,
        gates_x: Tensor,
        state: StateT,
        batch_sizes: list[int],
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        weight_hr: Tensor | None,
    ) -> tuple[Tensor, StateT]:
        """Steps T..1 over packed rows; a sequence joins the batch at its own last step,
        starting from its initial state."""
        initial = state
        offsets = np.cumsum([0, *batch_sizes]).tolist()
        outputs: list[Tensor | None] = [None] * len(batch_sizes)
        active = 0
        for t in reversed(range(len(batch_sizes))):
            running = batch_sizes[t]
            with scope(f"t={t + 1}"):
                if running > active:
                    joining = _index_state(initial, slice(active, running))
                    state = joining if active == 0 else _join_states([state, joining])
                    active = running
                state = self._step(gates_x[offsets[t] : offsets[t + 1]], state, weight_hh, bias_hh, weight_hr)
            _label(state, t + 1)
            outputs[t] = self._output_of(state)
        return cat(outputs, 0), state

    def _final_state(self, finals: list[StateT]) -> StateT:
        raise NotImplementedError

    def _expected_hidden(self, batch: tuple[int, ...], size: int | None = None) -> tuple[int, ...]:
        return (self.num_layers * self.num_directions, *batch, size or self.hidden_size)

    def _zeros(
        self, input: Tensor, batch: tuple[int, ...], size: int | None = None, name: str = "h_0"
    ) -> Tensor:
        """A defaulted initial state; its own tensor per use, so a picture draws h_0 and c_0 apart."""
        zeros = from_numpy(np.zeros(batch + (size or self.hidden_size,), input.dtype))
        zeros.name = name
        return zeros


def _index_state(state: StateT, index: Any) -> StateT:
    """``h[index]`` (and ``c[index]``) of a state: a slice of the batch, or a permutation."""
    if isinstance(state, tuple):
        return state[0][index], state[1][index]
    return state[index]


def _batch_of(state: State) -> int:
    return (state[0] if isinstance(state, tuple) else state).shape[0]


def _join_states(states: list[StateT]) -> StateT:
    """Concatenate states along the batch dimension (one state: itself)."""
    if len(states) == 1:
        return states[0]
    if isinstance(states[0], tuple):
        return cat([s[0] for s in states], 0), cat([s[1] for s in states], 0)
    return cat(states, 0)


class _SingleStateBase(_RNNBase[Tensor]):
    """RNN and GRU: the state is one tensor h."""

    @staticmethod
    def _output_of(state: Tensor) -> Tensor:
        return state

    def _final_state(self, finals: list[Tensor]) -> Tensor:
        return stack(finals, 0)

    def _initial_states(
        self, hx: Tensor | None, input: Tensor, batch: tuple[int, ...], batched: bool
    ) -> list[Tensor]:
        count = self.num_layers * self.num_directions
        if hx is None:
            return [self._zeros(input, batch) for _ in range(count)]
        if isinstance(hx, tuple):
            raise TypeError(
                f"{type(self).__name__}: hx must be a Tensor, got a tuple (that is an LSTM's (h, c))"
            )
        self._check_hidden(hx, self._expected_hidden(batch), batched, "hx")
        return [_named(hx[i], "h_0") for i in range(count)]


class RNN(_SingleStateBase):
    """Multi-layer Elman RNN: for each layer and time step,
    ``h_t = act(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh)``.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``nonlinearity`` is ``'tanh'`` or
    ``'relu'``. Parameters per layer k (suffix ``_reverse`` for the reverse direction):
    weight_ih_l{k} (H, in) (in = D*H for k > 0), weight_hh_l{k} (H, H), bias_ih_l{k} (H,),
    bias_hh_l{k} (H,), all U(-1/sqrt(H), 1/sqrt(H)), float32.

    ``forward(input, hx=None) -> (output, h_n)``, with D = 2 if bidirectional else 1:
    input (T, B, in), or (B, T, in) if batch_first, or unbatched (T, in), or a PackedSequence
    (then output is one too, and B is the batch's size); hx (num_layers*D, B, H)
    or (num_layers*D, H), zeros if None; output (T, B, D*H) (batch_first: (B, T, D*H);
    unbatched: (T, D*H)); h_n like hx."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        _check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        return super().extra_repr() + (
            "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}"
        )

    def _step(
        self,
        gates_x: Tensor,
        state: Tensor,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        weight_hr: Tensor | None = None,
    ) -> Tensor:
        return rnn_step(gates_x, state, weight_hh, bias_hh, self.nonlinearity)


class GRU(_SingleStateBase):
    """Multi-layer GRU (gates r, z, n; see ``gru_step``).

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``. Parameters as ``RNN``'s with 3H rows: weight_ih_l{k} (3H, in),
    weight_hh_l{k} (3H, H), bias_ih_l{k} (3H,), bias_hh_l{k} (3H,).

    ``forward(input, hx=None) -> (output, h_n)`` with the shapes of ``RNN.forward``."""

    gates = 3

    def _step(
        self,
        gates_x: Tensor,
        state: Tensor,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        weight_hr: Tensor | None = None,
    ) -> Tensor:
        return gru_step(gates_x, state, weight_hh, bias_hh)


class LSTM(_RNNBase[tuple[Tensor, Tensor]]):
    """Multi-layer LSTM (gates i, f, g, o; see ``lstm_step``).

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0)``. Parameters as ``RNN``'s with 4H rows: weight_ih_l{k}
    (4H, in), weight_hh_l{k} (4H, H), bias_ih_l{k} (4H,), bias_hh_l{k} (4H,). With
    ``0 < proj_size < H`` each step's h is projected, ``h = (o * tanh(c)) @ weight_hr_l{k}.T``
    with weight_hr_l{k} (proj_size, H), and h_0, h_n, output and weight_hh_l{k} use proj_size
    where they used H (c keeps H).

    ``forward(input, hx=None) -> (output, (h_n, c_n))``: hx = (h_0, c_0), each
    (num_layers*D, B, H) or (num_layers*D, H) for unbatched input, zeros if None; output
    as ``RNN.forward``'s; h_n and c_n like h_0."""

    gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size
        )

    def _step(
        self,
        gates_x: Tensor,
        state: tuple[Tensor, Tensor],
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        weight_hr: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        return lstm_step(gates_x, state, weight_hh, bias_hh, weight_hr)

    @staticmethod
    def _output_of(state: tuple[Tensor, Tensor]) -> Tensor:
        return state[0]

    def _initial_states(
        self, hx: tuple[Tensor, Tensor] | None, input: Tensor, batch: tuple[int, ...], batched: bool
    ) -> list[tuple[Tensor, Tensor]]:
        count = self.num_layers * self.num_directions
        if hx is None:
            return [
                (self._zeros(input, batch, self.proj_size or None), self._zeros(input, batch, None, "c_0"))
                for _ in range(count)
            ]
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of two tensors")
        self._check_hidden(hx[0], self._expected_hidden(batch, self._output_size), batched, "hx[0]")
        self._check_hidden(hx[1], self._expected_hidden(batch), batched, "hx[1]")
        h0, c0 = hx
        return [(_named(h0[i], "h_0"), _named(c0[i], "c_0")) for i in range(count)]

    def _final_state(self, finals: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        return stack([h for h, _ in finals], 0), stack([c for _, c in finals], 0)
