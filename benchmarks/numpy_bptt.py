"""Hand-written numpy training steps of the benchmark's RNN, LSTM and GRU: the floor for any
numpy engine.

Each model writes out its forward pass and its backward through time by hand, in torch's
layout and gate order (LSTM i, f, g, o; GRU r, z, n with ``b_hn`` inside ``r * (...)``), with
preallocated buffers and the input projection of all steps in one matmul. ``forward`` leaves
exactly the arrays ``backward`` reads (``saved_arrays``), so that what a graph engine retains
per time step can be compared with what a hand-written step needs. tests/benchmarks/ checks
every model against torch in float64.
"""

from __future__ import annotations

import numpy as np

from benchmarks.problem import LEARNING_RATE, Problem


def _sigmoid_(x: np.ndarray) -> None:
    """In-place logistic sigmoid, 1 / (1 + exp(-x))."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    np.reciprocal(x, out=x)


class NumpyCharModel:
    """What the three cells share: weights, buffers, the head, the loss and SGD."""

    def __init__(self, problem: Problem) -> None:
        config = problem.config
        self.seq_len, self.batch, self.hidden = config.seq_len, config.batch, config.hidden
        self.params = {name: w.copy() for name, w in problem.weights.items()}
        self.grads = {name: np.empty_like(w) for name, w in problem.weights.items()}
        self.inputs = problem.inputs.reshape(-1, config.vocab)  # (T*B, V)
        self.targets = problem.targets
        self.rows = np.arange(self.targets.size)
        self.states = np.empty((self.seq_len, self.batch, self.hidden), problem.dtype)  # h_1..h_T
        self.probs = np.empty((self.targets.size, config.vocab), problem.dtype)  # softmax, (T*B, V)

    # One step is forward (recurrence, head, loss), backward, update.
    def step(self) -> float:
        loss = self.forward()
        self.backward()
        self.sgd()
        return loss

    def forward(self) -> float:
        self.recurrence_forward()
        return self.head_forward()

    def backward(self) -> None:
        self.recurrence_backward(self.head_backward())

    def recurrence_forward(self) -> None:
        raise NotImplementedError

    def recurrence_backward(self, grad_states: np.ndarray) -> None:
        raise NotImplementedError

    def saved_arrays(self) -> list[np.ndarray]:
        """The arrays forward fills and backward reads."""
        return [self.states, self.probs]

    def head_forward(self) -> float:
        """Logits, softmax (kept in ``probs``) and mean cross-entropy."""
        flat_states = self.states.reshape(-1, self.hidden)
        logits = np.matmul(flat_states, self.params["head.weight"].T, out=self.probs)
        logits += self.params["head.bias"]
        logits -= logits.max(axis=1, keepdims=True)
        target_logits = logits[self.rows, self.targets]
        probs = np.exp(logits, out=logits)
        sums = probs.sum(axis=1, keepdims=True)
        probs /= sums
        return float(np.mean(np.log(sums[:, 0]) - target_logits))

    def head_backward(self) -> np.ndarray:
        """Gradients of the head's weights; returns dL/dh_t from the head, (T, B, H)."""
        count = self.targets.size
        grad_logits = self.probs
        grad_logits /= count  # softmax / N ...
        grad_logits[self.rows, self.targets] -= 1.0 / count  # ... minus one-hot / N
        flat_states = self.states.reshape(-1, self.hidden)
        np.matmul(grad_logits.T, flat_states, out=self.grads["head.weight"])
        np.sum(grad_logits, axis=0, out=self.grads["head.bias"])
        grad_states = grad_logits @ self.params["head.weight"]
        return grad_states.reshape(self.seq_len, self.batch, self.hidden)

    def weight_grads(self, grad_x: np.ndarray, grad_h: np.ndarray) -> None:
        """Gradients of W_ih, W_hh and both biases from dL/d(x W_ih^T + b_ih) and
        dL/d(h W_hh^T + b_hh), each (T, B, G*H); the same array for RNN and LSTM."""
        width = grad_x.shape[2]
        flat_x = grad_x.reshape(-1, width)
        np.matmul(flat_x.T, self.inputs, out=self.grads["rnn.weight_ih_l0"])
        # h_0 = 0 contributes nothing to W_hh: step t's product reads h_{t-1}.
        np.matmul(
            grad_h[1:].reshape(-1, width).T,
            self.states[:-1].reshape(-1, self.hidden),
            out=self.grads["rnn.weight_hh_l0"],
        )
        np.sum(flat_x, axis=0, out=self.grads["rnn.bias_ih_l0"])
        if grad_h is grad_x:
            self.grads["rnn.bias_hh_l0"][...] = self.grads["rnn.bias_ih_l0"]
        else:
            np.sum(grad_h.reshape(-1, width), axis=0, out=self.grads["rnn.bias_hh_l0"])

    def sgd(self) -> None:
        for name, param in self.params.items():
            param -= LEARNING_RATE * self.grads[name]

    def parameters(self) -> dict[str, np.ndarray]:
        return {name: p.copy() for name, p in self.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        return {name: g.copy() for name, g in self.grads.items()}


class NumpyRNN(NumpyCharModel):
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        self.carry = np.empty((self.batch, self.hidden), problem.dtype)

    def recurrence_forward(self) -> None:
        w_hh = self.params["rnn.weight_hh_l0"]
        states, carry = self.states, self.carry
        # The input projection of every step in one matmul; the loop only adds W_hh h_{t-1}.
        np.matmul(self.inputs, self.params["rnn.weight_ih_l0"].T, out=states.reshape(-1, self.hidden))
        states += self.params["rnn.bias_ih_l0"] + self.params["rnn.bias_hh_l0"]
        np.tanh(states[0], out=states[0])  # h_0 = 0
        for t in range(1, self.seq_len):
            np.matmul(states[t - 1], w_hh.T, out=carry)
            states[t] += carry
            np.tanh(states[t], out=states[t])

    def recurrence_backward(self, grad_pre: np.ndarray) -> None:
        """``grad_pre`` arrives as dL/dh_t from the head and becomes dL/dpre_t in place."""
        w_hh, states, carry = self.params["rnn.weight_hh_l0"], self.states, self.carry
        tanh_grad = 1.0 - np.square(states)
        for t in reversed(range(self.seq_len)):
            if t < self.seq_len - 1:
                grad_pre[t] += carry  # dL/dh_t through step t+1
            grad_pre[t] *= tanh_grad[t]
            if t:
                np.matmul(grad_pre[t], w_hh, out=carry)
        self.weight_grads(grad_pre, grad_pre)


class NumpyLSTM(NumpyCharModel):
    """torch's LSTM: gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        shape, dtype = (self.seq_len, self.batch, self.hidden), problem.dtype
        self.gates = np.empty((self.seq_len, self.batch, 4 * self.hidden), dtype)  # activated
        self.cells = np.empty(shape, dtype)
        self.tanh_cells = np.empty(shape, dtype)
        self.gate_carry = np.empty((self.batch, 4 * self.hidden), dtype)
        self.h_carry = np.empty((self.batch, self.hidden), dtype)
        self.c_carry = np.empty((self.batch, self.hidden), dtype)

    def saved_arrays(self) -> list[np.ndarray]:
        return super().saved_arrays() + [self.gates, self.cells, self.tanh_cells]

    def _slices(self) -> tuple[slice, ...]:
        size = self.hidden
        return tuple(slice(k * size, (k + 1) * size) for k in range(4))

    def recurrence_forward(self) -> None:
        size = self.hidden
        _, _, cell_gate, out_gate = self._slices()
        w_hh = self.params["rnn.weight_hh_l0"]
        gates, cells, tanh_cells, states = self.gates, self.cells, self.tanh_cells, self.states
        np.matmul(self.inputs, self.params["rnn.weight_ih_l0"].T, out=gates.reshape(-1, 4 * size))
        gates += self.params["rnn.bias_ih_l0"] + self.params["rnn.bias_hh_l0"]
        for t in range(self.seq_len):
            z = gates[t]
            if t:  # h_0 = 0
                np.matmul(states[t - 1], w_hh.T, out=self.gate_carry)
                z += self.gate_carry
            _sigmoid_(z[:, : 2 * size])  # input and forget gates
            np.tanh(z[:, cell_gate], out=z[:, cell_gate])
            _sigmoid_(z[:, out_gate])
            np.multiply(z[:, :size], z[:, cell_gate], out=cells[t])
            if t:  # c_0 = 0
                cells[t] += z[:, size : 2 * size] * cells[t - 1]
            np.tanh(cells[t], out=tanh_cells[t])
            np.multiply(z[:, out_gate], tanh_cells[t], out=states[t])

    def recurrence_backward(self, grad_states: np.ndarray) -> None:
        in_gate, forget_gate, cell_gate, out_gate = self._slices()
        w_hh, gates, cells, tanh_cells = (
            self.params["rnn.weight_hh_l0"],
            self.gates,
            self.cells,
            self.tanh_cells,
        )
        # Each activation's local derivative, for all steps at once: s(1-s) and 1 - tanh^2.
        local = gates * (1.0 - gates)
        local[:, :, cell_gate] = 1.0 - np.square(gates[:, :, cell_gate])
        tanh_cell_grad = 1.0 - np.square(tanh_cells)
        grad_pre = np.empty_like(gates)
        for t in reversed(range(self.seq_len)):
            z, dz = gates[t], grad_pre[t]
            i, f, g, o = z[:, in_gate], z[:, forget_gate], z[:, cell_gate], z[:, out_gate]
            grad_h = grad_states[t]
            if t < self.seq_len - 1:
                grad_h += self.h_carry
            np.multiply(grad_h, tanh_cells[t], out=dz[:, out_gate])
            grad_c = grad_h * o
            grad_c *= tanh_cell_grad[t]
            if t < self.seq_len - 1:
                grad_c += self.c_carry
            np.multiply(grad_c, g, out=dz[:, in_gate])
            if t:
                np.multiply(grad_c, cells[t - 1], out=dz[:, forget_gate])
            else:
                dz[:, forget_gate] = 0.0
            np.multiply(grad_c, i, out=dz[:, cell_gate])
            dz *= local[t]
            if t:
                np.multiply(grad_c, f, out=self.c_carry)
                np.matmul(dz, w_hh, out=self.h_carry)
        self.weight_grads(grad_pre, grad_pre)


class NumpyGRU(NumpyCharModel):
    """torch's GRU: gates r, z, n, with b_hn inside the reset product::

        r = s(x_r + h_r),  z = s(x_z + h_z),  n = tanh(x_n + r * h_n),  h' = n + z (h - n)

    where x_* = (x W_ih^T + b_ih)_* and h_* = (h W_hh^T + b_hh)_* are slices of the two
    projections. Unlike the RNN and LSTM, the two projections' gradients differ (in the n
    slice, the hidden side is multiplied by r), so b_ih and b_hh get different gradients."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem)
        dtype, batch, hidden = problem.dtype, self.batch, self.hidden
        self.gates = np.empty((self.seq_len, batch, 3 * hidden), dtype)  # activated r, z, n
        self.hidden_new = np.empty((self.seq_len, batch, hidden), dtype)  # h_n = (h W_hh^T + b_hh)_n
        self.gate_carry = np.empty((batch, 3 * hidden), dtype)
        self.h_carry = np.empty((batch, hidden), dtype)
        self.scratch = np.empty((batch, hidden), dtype)
        self.zeros = np.zeros((batch, hidden), dtype)  # h_0

    def saved_arrays(self) -> list[np.ndarray]:
        return super().saved_arrays() + [self.gates, self.hidden_new]

    def recurrence_forward(self) -> None:
        size = self.hidden
        w_hh, b_hh = self.params["rnn.weight_hh_l0"], self.params["rnn.bias_hh_l0"]
        gates, states, hidden_new, gate_carry = self.gates, self.states, self.hidden_new, self.gate_carry
        np.matmul(self.inputs, self.params["rnn.weight_ih_l0"].T, out=gates.reshape(-1, 3 * size))
        gates += self.params["rnn.bias_ih_l0"]
        for t in range(self.seq_len):
            z = gates[t]
            if t:
                np.matmul(states[t - 1], w_hh.T, out=gate_carry)
                gate_carry += b_hh
            else:  # h_0 = 0: the hidden projection is the bias alone
                gate_carry[...] = b_hh
            z[:, : 2 * size] += gate_carry[:, : 2 * size]
            _sigmoid_(z[:, : 2 * size])  # reset and update gates
            reset, update, new = z[:, :size], z[:, size : 2 * size], z[:, 2 * size :]
            hidden_new[t] = gate_carry[:, 2 * size :]
            np.multiply(reset, hidden_new[t], out=self.scratch)
            new += self.scratch
            np.tanh(new, out=new)
            previous = states[t - 1] if t else self.zeros
            np.subtract(previous, new, out=states[t])
            states[t] *= update
            states[t] += new

    def recurrence_backward(self, grad_states: np.ndarray) -> None:
        size = self.hidden
        w_hh, gates, states, hidden_new = (
            self.params["rnn.weight_hh_l0"],
            self.gates,
            self.states,
            self.hidden_new,
        )
        grad_x = np.empty_like(gates)  # dL/d(x W_ih^T + b_ih)
        grad_h = np.empty_like(gates)  # dL/d(h W_hh^T + b_hh)
        scratch = self.scratch
        for t in reversed(range(self.seq_len)):
            z = gates[t]
            reset, update, new = z[:, :size], z[:, size : 2 * size], z[:, 2 * size :]
            grad_reset, grad_update, grad_new = (grad_x[t, :, k * size : (k + 1) * size] for k in range(3))
            grad = grad_states[t]  # dL/dh_t
            if t < self.seq_len - 1:
                grad += self.h_carry
            previous = states[t - 1] if t else self.zeros
            # update gate: dh/dz = h_{t-1} - n, through the sigmoid
            np.subtract(previous, new, out=grad_update)
            grad_update *= grad
            np.subtract(1.0, update, out=scratch)
            scratch *= update
            grad_update *= scratch
            # candidate: dh/dn = 1 - z, through the tanh
            np.subtract(1.0, update, out=grad_new)
            grad_new *= grad
            np.multiply(new, new, out=scratch)
            np.subtract(1.0, scratch, out=scratch)
            grad_new *= scratch
            # reset gate: dn_pre/dr = h_n, through the sigmoid
            np.multiply(grad_new, hidden_new[t], out=grad_reset)
            np.subtract(1.0, reset, out=scratch)
            scratch *= reset
            grad_reset *= scratch
            # the hidden projection's n slice is multiplied by r before it joins x_n
            np.multiply(grad_new, reset, out=grad_h[t, :, 2 * size :])
            if t:
                grad_h[t, :, : 2 * size] = grad_x[t, :, : 2 * size]
                np.matmul(grad_h[t], w_hh, out=self.h_carry)
                np.multiply(grad, update, out=scratch)  # dh_t/dh_{t-1} directly: z
                self.h_carry += scratch
        grad_h[0, :, : 2 * size] = grad_x[0, :, : 2 * size]
        self.weight_grads(grad_x, grad_h)


NUMPY_MODELS = {"rnn": NumpyRNN, "lstm": NumpyLSTM, "gru": NumpyGRU}
