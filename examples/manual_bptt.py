"""Back-propagation through time for a small tanh RNN, derived by hand and checked.

The task is the course homework's: next-character prediction on the sentences
你好李焕英 and 夏洛特烦恼, a vocabulary of their ten characters, one-hot inputs,
and the ten characters read as one cycle across both sentences: each character
predicts the next one, the last of the first sentence predicts the first of
the second (英 -> 夏) and the last of the second the first of the first
(恼 -> 你). The model and every formula follow docs/bptt.md:

    z_t   = U x_t + W s_{t-1} + b      s_t = tanh(z_t),  s_0 = 0
    z^o_t = V s_t + c                  o_t = softmax(z^o_t)
    L     = sum_t L_t                  L_t = -log o_t[y_t]

- bptt() is the hand-derived gradient: one loop t = n..1 over the local
  gradients delta_t = dL/dz_t, optionally truncated to chunks of K steps.
- homework_bptt() reproduces a flawed hand-written version with four mistakes,
  each switchable so that its effect can be measured on its own.
- numeric_gradient() (central differences) and torch_gradients() (torch.nn.RNN
  with the same weights) are the references both are checked against.

The gradients are checked at the initial weights; then --steps steps of
gradient descent with bptt() show the task being learned. Every gradient
reference is one entry of the dict built by reference_gradients(); another
implementation (for example the library's engine) becomes one more "bptt vs"
row of the table by adding its entry there.

Shapes: a batch of B sentences is stored as columns, so a time step is a
(features, B) matrix: inputs (n, D, B), targets (n, B), hidden states
(n + 1, H, B). Arrays are 0-based while the formulas count t = 1..n:
inputs[t - 1] is x_t, hidden[t] is s_t (hidden[0] is s_0).

    python examples/manual_bptt.py                 # check table and PNG
    python examples/manual_bptt.py --truncate 2    # also truncated BPTT (table and bars)
    python examples/manual_bptt.py --quick         # hidden 4, 20 training steps
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import _common
import numpy as np
from _common import add_common_arguments

SENTENCES = ("你好李焕英", "夏洛特烦恼")
PARAM_NAMES = ("U", "W", "V", "b", "c")
MISTAKES = ("a", "b", "c", "d")
LEARNING_RATE = 0.1

Params = dict[str, np.ndarray]


class Data(NamedTuple):
    inputs: np.ndarray  # (n, D, B) one-hot, inputs[t - 1] is x_t
    targets: np.ndarray  # (n, B) vocabulary indices, targets[t - 1] is y_t
    vocab: tuple[str, ...]


class Result(NamedTuple):
    path: Path  # the bar chart
    errors: dict[str, dict[str, float]]  # the printed check table: row -> weight -> relative error
    truncated: dict[str, float] | None  # with --truncate K: bptt(truncate=K) vs full, per weight


class Unrolled(NamedTuple):
    hidden: np.ndarray  # (n + 1, H, B); hidden[t] is s_t, hidden[0] = s_0 = 0
    probs: np.ndarray  # (n, D, B); probs[t - 1] is o_t
    loss: float


def make_data(sentences: Sequence[str] = SENTENCES) -> Data:
    """One-hot inputs and next-character targets, one sentence per column.

    The vocabulary is the sentences' characters in order of first appearance; the
    targets follow the cycle through all sentences (see cycle_targets()).
    """
    lengths = {len(sentence) for sentence in sentences}
    if len(lengths) != 1:
        raise ValueError(
            f"make_data: sentences must have one length to share a batch, got "
            f"lengths {sorted(lengths)}; pad or split them"
        )
    vocab = tuple(dict.fromkeys("".join(sentences)))
    index = {char: i for i, char in enumerate(vocab)}
    ids = np.array([[index[char] for char in sentence] for sentence in sentences]).T
    return Data(one_hot(ids, len(vocab)), cycle_targets(ids), vocab)


def cycle_targets(ids: np.ndarray) -> np.ndarray:
    """(n, B) character ids, one sentence per column -> the id of the next character when
    the sentences are read one after the other and the last wraps to the first: within a
    sentence its next character, at a sentence's end the next sentence's first character."""
    return np.roll(ids.T.ravel(), -1).reshape(ids.T.shape).T


def one_hot(ids: np.ndarray, size: int) -> np.ndarray:
    """(n, B) integer ids -> (n, size, B) one-hot columns."""
    return np.moveaxis(np.eye(size)[ids], -1, 1)


def init_params(vocab_size: int, hidden_size: int, rng: np.random.Generator) -> Params:
    """Gaussian weights with standard deviation 1/sqrt(fan_in); zero biases."""
    return {
        "U": rng.normal(0, vocab_size**-0.5, (hidden_size, vocab_size)),
        "W": rng.normal(0, hidden_size**-0.5, (hidden_size, hidden_size)),
        "V": rng.normal(0, hidden_size**-0.5, (vocab_size, hidden_size)),
        "b": np.zeros((hidden_size, 1)),
        "c": np.zeros((vocab_size, 1)),
    }


def _unroll(
    params: Params,
    inputs: np.ndarray,
    targets: np.ndarray,
    activation: Callable[[np.ndarray], np.ndarray],
) -> Unrolled:
    n, _, batch = inputs.shape
    hidden_size, vocab_size = params["W"].shape[0], params["V"].shape[0]
    hidden = np.zeros((n + 1, hidden_size, batch))
    probs = np.zeros((n, vocab_size, batch))
    loss = 0.0
    for t in range(1, n + 1):
        pre_activation = params["U"] @ inputs[t - 1] + params["W"] @ hidden[t - 1] + params["b"]
        hidden[t] = activation(pre_activation)
        logits = params["V"] @ hidden[t] + params["c"]
        shifted = logits - logits.max(axis=0, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        probs[t - 1] = np.exp(log_probs)
        loss -= log_probs[targets[t - 1], np.arange(batch)].sum()
    return Unrolled(hidden, probs, loss)


def forward(params: Params, inputs: np.ndarray, targets: np.ndarray) -> Unrolled:
    """Run the tanh RNN over all n steps; the loss is summed over steps and batch."""
    return _unroll(params, inputs, targets, np.tanh)


def bptt(
    params: Params,
    inputs: np.ndarray,
    targets: np.ndarray,
    truncate: int | None = None,
) -> tuple[Params, float]:
    """Gradients of the summed loss by back-propagation through time.

    One loop t = n..1 carries the local gradient of the time channel,
        delta_t = (1 - s_t**2) * (V^T g_t + W^T delta_{t+1}),  delta_{n+1} = 0,
    with g_t = o_t - y_t, and every weight's gradient is a sum over t of outer
    products (docs/bptt.md, "The recursion along the time channel").

    With truncate=K the sequence is cut into chunks of K steps (1..K, K+1..2K,
    ...) and s_t at the end of each chunk counts as a constant for the next
    chunk, as if detached: the W^T delta_{t+1} term is dropped there
    (docs/bptt.md, "Truncated BPTT"). K >= n gives the full gradient.

    Returns the gradients (same shapes as params) and the loss.
    """
    if truncate is not None and truncate < 1:
        raise ValueError(f"bptt: truncate must be a positive number of steps, got {truncate}")
    n, vocab_size, _ = inputs.shape
    unrolled = forward(params, inputs, targets)
    hidden = unrolled.hidden
    grad_logits = unrolled.probs - one_hot(targets, vocab_size)  # g_t = o_t - y_t
    grads = {name: np.zeros_like(params[name]) for name in PARAM_NAMES}
    delta_next = np.zeros_like(hidden[0])  # delta_{n+1} = 0: no step after n
    for t in range(n, 0, -1):
        grads["V"] += grad_logits[t - 1] @ hidden[t].T
        grads["c"] += grad_logits[t - 1].sum(axis=1, keepdims=True)
        grad_hidden = params["V"].T @ grad_logits[t - 1]  # dL/ds_t through L_t
        if truncate is None or t % truncate != 0:
            grad_hidden += params["W"].T @ delta_next  # dL/ds_t through z_{t+1}: later losses
        delta = (1 - hidden[t] ** 2) * grad_hidden  # tanh'(z_t) = 1 - s_t**2
        grads["W"] += delta @ hidden[t - 1].T
        grads["U"] += delta @ inputs[t - 1].T
        grads["b"] += delta.sum(axis=1, keepdims=True)
        delta_next = delta
    return grads, unrolled.loss


def homework_forward(params: Params, inputs: np.ndarray, targets: np.ndarray) -> Unrolled:
    """The homework's forward pass: the same RNN without its nonlinearity.

    Mistake (a) lives here: s_t = U x_t + W s_{t-1} + b, no tanh, while
    homework_bptt() multiplies by tanh's derivative.
    """
    return _unroll(params, inputs, targets, lambda pre_activation: pre_activation)


def homework_bptt(
    params: Params,
    inputs: np.ndarray,
    targets: np.ndarray,
    mistakes: Sequence[str] = MISTAKES,
    truncate: int | None = None,
) -> tuple[Params, float]:
    """The homework's hand-written BPTT, with its four mistakes.

    It sends each loss L_t back through the steps j = t, t-1, ..., 1 (a double
    loop that, done right, sums to the same gradient as bptt()) and handles one
    sentence at a time with 1-D vectors. `mistakes` picks which of (a)-(d)
    (docs/bptt.md, "Where the hand-written version goes wrong") are made; the
    default reproduces all four. Without "a" the forward pass is the tanh RNN;
    with it, homework_forward(), whose loss is then the one being differentiated.

    truncate=K is the homework's truncation: each loss L_t goes back at most K
    steps, through j = t, ..., max(1, t - K) (a window that slides with t, not
    the chunks of bptt(truncate=K)); window_engine_gradients() computes the same
    window with the engine.

    Returns the gradients and the loss of the forward pass used.
    """
    unknown = set(mistakes) - set(MISTAKES)
    if unknown:
        raise ValueError(f"homework_bptt: unknown mistakes {sorted(unknown)}; choose from {MISTAKES}")
    if truncate is not None and truncate < 1:
        raise ValueError(f"homework_bptt: truncate must be a positive number of steps, got {truncate}")
    n, vocab_size, batch = inputs.shape
    run_forward = homework_forward if "a" in mistakes else forward
    unrolled = run_forward(params, inputs, targets)
    grad_logits = unrolled.probs - one_hot(targets, vocab_size)
    grads = {name: np.zeros_like(params[name]) for name in PARAM_NAMES}
    for sentence in range(batch):
        s = unrolled.hidden[:, :, sentence]  # s[t] is s_t, shape (H,)
        x = inputs[:, :, sentence]  # x[t - 1] is x_t
        g = grad_logits[:, :, sentence]  # g[t - 1] is g_t
        for t in range(n, 0, -1):  # the loss L_t ...
            grads["V"] += np.outer(g[t - 1], s[t])
            grads["c"][:, 0] += g[t - 1]
            grad_hidden = params["V"].T @ g[t - 1]  # dL_t/ds_t
            first = 1 if truncate is None else max(1, t - truncate)
            for j in range(t, first - 1, -1):  # ... walked back through steps j = t..first
                # (c) takes the derivative at the current step t, where the
                # gradient now sits at the earlier step j. (a) 1 - s**2 is
                # tanh's derivative, but homework_forward() applied no tanh.
                step = t if "c" in mistakes else j
                delta = (1 - s[step] ** 2) * grad_hidden  # dL_t/dz_j
                if "b" in mistakes:
                    # (b) an elementwise product: the (H,) vector broadcasts
                    # silently over the rows of the (H, H) gradient.
                    grads["W"] += delta * s[j - 1]
                else:
                    grads["W"] += np.outer(delta, s[j - 1])
                grads["U"] += np.outer(delta, x[j - 1])
                grads["b"][:, 0] += delta
                grad_hidden = params["W"].T @ delta  # dL_t/ds_{j-1}
                if "d" in mistakes and j > 1:
                    # (d) adds L_{j-1}'s output gradient, which the outer
                    # loop counts again when t reaches j - 1.
                    grad_hidden = grad_hidden + params["V"].T @ g[j - 2]
    return grads, unrolled.loss


def numeric_gradient(loss_fn: Callable[[Params], float], params: Params, eps: float = 1e-5) -> Params:
    """Central differences (L(w + eps) - L(w - eps)) / (2 eps), one entry at a time.

    Entries of params are nudged in place and restored.
    """
    grads = {}
    for name in PARAM_NAMES:
        weight = params[name]
        grad = np.zeros_like(weight)
        for index in np.ndindex(weight.shape):
            original = weight[index]
            weight[index] = original + eps
            loss_plus = loss_fn(params)
            weight[index] = original - eps
            loss_minus = loss_fn(params)
            weight[index] = original
            grad[index] = (loss_plus - loss_minus) / (2 * eps)
        grads[name] = grad
    return grads


def torch_gradients(
    params: Params,
    inputs: np.ndarray,
    targets: np.ndarray,
    truncate: int | None = None,
) -> Params:
    """The same model as torch.nn.RNN + Linear in float64, gradients by autograd.

    With truncate=K the hidden state is detached every K steps, which is what
    bptt(truncate=K) computes by hand. Raises ImportError without torch.
    """
    import torch

    n, vocab_size, batch = inputs.shape
    hidden_size = params["W"].shape[0]
    rnn = torch.nn.RNN(vocab_size, hidden_size, nonlinearity="tanh", dtype=torch.float64)
    head = torch.nn.Linear(hidden_size, params["V"].shape[0], dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(params["U"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(params["W"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(params["b"][:, 0]))
        rnn.bias_hh_l0.zero_()  # torch has two hidden biases; b plays bias_ih
        head.weight.copy_(torch.from_numpy(params["V"]))
        head.bias.copy_(torch.from_numpy(params["c"][:, 0]))
    sequence = torch.from_numpy(np.ascontiguousarray(inputs.transpose(0, 2, 1)))
    chunk = truncate or n
    state = torch.zeros(1, batch, hidden_size, dtype=torch.float64)
    outputs = []
    for start in range(0, n, chunk):
        output, state = rnn(sequence[start : start + chunk], state.detach())
        outputs.append(output)
    logits = head(torch.cat(outputs))  # (n, B, D)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(n * batch, -1),
        torch.from_numpy(targets).reshape(-1),
        reduction="sum",
    )
    loss.backward()
    return {
        "U": rnn.weight_ih_l0.grad.numpy(),
        "W": rnn.weight_hh_l0.grad.numpy(),
        "V": head.weight.grad.numpy(),
        "b": rnn.bias_ih_l0.grad.numpy()[:, None],
        "c": head.bias.grad.numpy()[:, None],
    }


def engine_gradients(
    params: Params,
    inputs: np.ndarray,
    targets: np.ndarray,
    truncate: int | None = None,
) -> Params:
    """The forward pass of forward(), written once more with tinygrad_rnn Tensors in
    float64; the gradients come from the engine's generic backward walk over the
    unrolled steps, with no BPTT formula anywhere (docs/bptt.md, "The same thing,
    done by the engine").

    With truncate=K the hidden state is detached after every K steps, which is what
    bptt(truncate=K) computes by hand. Raises ImportError without tinygrad_rnn.
    """
    import tinygrad_rnn as tg
    from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

    weights = {name: tg.Tensor(params[name], requires_grad=True) for name in PARAM_NAMES}
    U, W, V, b, c = (weights[name] for name in PARAM_NAMES)  # noqa: N806 - the math's names
    n, _, batch = inputs.shape
    hidden = tg.Tensor(np.zeros((W.shape[0], batch)))  # s_0, (H, B)
    loss = tg.Tensor(0.0, dtype=np.float64)
    for t in range(1, n + 1):
        if truncate is not None and t > 1 and (t - 1) % truncate == 0:
            hidden = hidden.detach()  # a new chunk: s_{t-1} counts as a constant
        with tg.scope(f"t={t}"):
            hidden = (U @ tg.Tensor(inputs[t - 1]) + W @ hidden + b).tanh()  # s_t
            logits = V @ hidden + c  # z^o_t, (D, B)
            loss = loss + F.cross_entropy(logits.T, targets[t - 1], reduction="sum")
    loss.backward()
    return {name: weight.grad.numpy() for name, weight in weights.items()}


def window_engine_gradients(
    params: Params,
    inputs: np.ndarray,
    targets: np.ndarray,
    truncate: int | None = None,
    linear: bool = False,
) -> Params:
    """Gradients by the engine of the loss that homework_bptt(truncate=K) differentiates
    when done right: each loss L_t reaches back only to step max(1, t - K).

    The states are computed once without a graph; then, for every t, the last K + 1
    steps before L_t are run again with Tensors from the constant state s_{t-K-1}, so
    the engine's ordinary backward sends L_t back exactly through that window. With
    linear=True the steps have no tanh (homework_forward()). The forward values, and
    the loss, are those of the full unroll; only the gradient paths are cut.
    """
    import tinygrad_rnn as tg
    from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

    n, _, batch = inputs.shape
    states = (homework_forward if linear else forward)(params, inputs, targets).hidden
    weights = {name: tg.Tensor(params[name], requires_grad=True) for name in PARAM_NAMES}
    U, W, V, b, c = (weights[name] for name in PARAM_NAMES)  # noqa: N806 - the math's names
    loss = tg.Tensor(0.0, dtype=np.float64)
    for t in range(1, n + 1):
        first = 1 if truncate is None else max(1, t - truncate)
        hidden = tg.Tensor(states[first - 1])  # s_{first - 1}, a constant
        for j in range(first, t + 1):
            hidden = U @ tg.Tensor(inputs[j - 1]) + W @ hidden + b  # z_j
            if not linear:
                hidden = hidden.tanh()  # s_j
        logits = V @ hidden + c
        loss = loss + F.cross_entropy(logits.T, targets[t - 1], reduction="sum")
    loss.backward()
    return {name: weight.grad.detach().numpy() for name, weight in weights.items()}


def reference_gradients(params: Params, inputs: np.ndarray, targets: np.ndarray) -> dict[str, Params]:
    """Gradients of forward()'s loss from independent implementations, by column name.

    Each entry becomes a "bptt vs <name>" row of the printed table.
    """
    references = {"finite diff": numeric_gradient(lambda p: forward(p, inputs, targets).loss, params)}
    try:
        references["torch"] = torch_gradients(params, inputs, targets)
    except ImportError:
        print("torch is not installed: skipping the torch check")
    try:
        references["engine"] = engine_gradients(params, inputs, targets)
    except ImportError:
        print("tinygrad_rnn is not installed (pip install -e .): skipping the engine check")
    return references


def relative_error(estimate: np.ndarray, reference: np.ndarray) -> float:
    """||estimate - reference|| / ||reference|| (Frobenius norms)."""
    return float(np.linalg.norm(estimate - reference) / np.linalg.norm(reference))


def relative_errors(estimate: Params, reference: Params) -> dict[str, float]:
    return {name: relative_error(estimate[name], reference[name]) for name in PARAM_NAMES}


def train(
    params: Params, data: Data, steps: int, learning_rate: float = LEARNING_RATE
) -> tuple[Params, list[float]]:
    """Plain gradient descent with bptt(); returns new params and the loss per step."""
    params = {name: value.copy() for name, value in params.items()}
    losses = []
    for _ in range(steps):
        grads, loss = bptt(params, data.inputs, data.targets)
        losses.append(loss)
        for name in PARAM_NAMES:
            params[name] -= learning_rate * grads[name]
    return params, losses


def predictions(params: Params, data: Data) -> list[str]:
    """The most likely next character at every step, one string per sentence."""
    best = forward(params, data.inputs, data.targets).probs.argmax(axis=1)  # (n, B)
    return ["".join(data.vocab[i] for i in column) for column in best.T]


def format_table(title: str, rows: dict[str, dict[str, float]]) -> str:
    """Rows of per-weight values under a header of the weight names."""
    width = max(len(label) for label in rows) + 2
    lines = [title, " " * width + "".join(f"{name:>10}" for name in PARAM_NAMES)]
    for label, values in rows.items():
        lines.append(f"{label:<{width}}" + "".join(f"{values[name]:>10.1e}" for name in PARAM_NAMES))
    return "\n".join(lines)


# drawn for a difference of exactly 0 on the log scale of plot_errors(), labelled "0"
ZERO_BAR = 1e-13


def plot_errors(
    correct: dict[str, float],
    homework: dict[str, float],
    path: Path,
    truncated: dict[str, float] | None = None,
    truncate: int | None = None,
) -> None:
    """Bar chart, log scale: relative error vs finite differences per weight; with
    ``truncated``, a third bar per weight: how far bptt(truncate=K) is from full BPTT."""
    plt = _common.plt
    series = [("hand-derived bptt() vs finite diff", correct, "tab:blue"),
              ("homework_bptt() vs finite diff", homework, "tab:red")]  # fmt: skip
    if truncated is not None:
        series.append((f"bptt(truncate={truncate}) vs full bptt()", truncated, "tab:green"))
    positions = np.arange(len(PARAM_NAMES))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(6 + 1.2 * len(series), 4.8))
    for k, (label, errors, color) in enumerate(series):
        values = [errors[name] for name in PARAM_NAMES]
        heights = [max(value, ZERO_BAR) for value in values]
        offset = (k - (len(series) - 1) / 2) * width
        bars = ax.bar(positions + offset, heights, width, label=label, color=color)
        ax.bar_label(bars, labels=[f"{v:.2g}" for v in values], fontsize=7, padding=2)
    ax.set_yscale("log")
    ax.set_ylim(ZERO_BAR / 2, 1e2)
    ax.set_xticks(positions, [f"d{name}" for name in PARAM_NAMES])
    ax.set_ylabel("relative difference ||a - b|| / ||b||  (log)")
    ax.set_title("BPTT gradients of the 10-character RNN")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(series), frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check hand-derived BPTT for a tanh RNN against finite differences "
        "and torch, next to the homework's flawed version."
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--steps",
        type=int,
        help="gradient-descent steps after the check, to show the task is learned "
        "(default: 100, 20 with --quick)",
    )
    parser.add_argument("--hidden", type=int, help="hidden size H (default: 8, 4 with --quick)")
    parser.add_argument(
        "--truncate",
        type=int,
        metavar="K",
        help="also compare BPTT truncated to chunks of K steps with the full gradient",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default: 0)")
    return parser.parse_args(argv)


ROW_LEGEND = """\
rows: "bptt vs X" compares the hand-derived bptt() with X;
  homework: homework_bptt() with all four mistakes, vs finite differences of its own
            forward pass (no tanh), the function it actually differentiates;
  only (a): no tanh in the forward pass, yet tanh's derivative 1 - s**2 in the backward;
  only (b): dW as an elementwise product delta * s, broadcast over rows, not an outer product;
  only (c): walking back to step j, tanh's derivative taken at step t instead of step j;
  only (d): the output gradients of earlier losses added again on the way back;
  none:     all four fixed (docs/bptt.md, "Where the hand-written version goes wrong")"""


def check_table(params: Params, data: Data) -> dict[str, dict[str, float]]:
    """Relative errors per weight: bptt() vs each reference, homework vs finite diff.

    The homework is compared with finite differences of its own forward pass
    (no tanh), the loss it actually differentiates. The last rows switch on one
    mistake at a time, and none.
    """
    inputs, targets = data.inputs, data.targets
    grads, _ = bptt(params, inputs, targets)
    references = reference_gradients(params, inputs, targets)
    numeric_linear = numeric_gradient(lambda p: homework_forward(p, inputs, targets).loss, params)
    rows = {f"bptt vs {name}": relative_errors(grads, reference) for name, reference in references.items()}
    rows["homework vs finite diff"] = relative_errors(
        homework_bptt(params, inputs, targets)[0], numeric_linear
    )
    for mistakes in (("a",), ("b",), ("c",), ("d",), ()):
        reference = numeric_linear if "a" in mistakes else references["finite diff"]
        label = f"  only ({mistakes[0]})" if mistakes else "  none"
        rows[label] = relative_errors(homework_bptt(params, inputs, targets, mistakes)[0], reference)
    return rows


def truncation_table(params: Params, data: Data, truncate: int) -> dict[str, dict[str, float]]:
    """How far bptt(truncate=K) is from full BPTT, and from torch detaching every K steps."""
    inputs, targets = data.inputs, data.targets
    full, _ = bptt(params, inputs, targets)
    truncated, _ = bptt(params, inputs, targets, truncate=truncate)
    rows = {"truncated vs full bptt": relative_errors(truncated, full)}
    try:
        detached = torch_gradients(params, inputs, targets, truncate=truncate)
        rows["truncated vs torch, detached"] = relative_errors(truncated, detached)
    except ImportError:
        print("torch is not installed: skipping the truncated torch check")
    try:
        detached = engine_gradients(params, inputs, targets, truncate=truncate)
        rows["truncated vs engine, detached"] = relative_errors(truncated, detached)
    except ImportError:
        print("tinygrad_rnn is not installed (pip install -e .): skipping the truncated engine check")
    return rows


def main(argv: Sequence[str] | None = None) -> Result:
    """Print the gradient check (and truncation) tables, train, write the PNG.

    Returns the PNG's path and the numbers it plots.
    """
    args = parse_args(argv)
    args.steps = (20 if args.quick else 100) if args.steps is None else args.steps
    args.hidden = args.hidden or (4 if args.quick else 8)
    data = make_data()
    n, vocab_size, batch = data.inputs.shape
    rng = np.random.default_rng(args.seed)
    params = init_params(vocab_size, args.hidden, rng)
    print(
        f"{batch} sentences x {n} steps, vocabulary {vocab_size}, "
        f"hidden {args.hidden}, seed {args.seed}; gradients at the initial weights"
    )

    rows = check_table(params, data)
    print(format_table("relative error ||a - b|| / ||b||", rows))
    print(ROW_LEGEND)
    truncated = None
    if args.truncate is not None:
        print()
        title = f"BPTT truncated to chunks of K={args.truncate} steps (n={n})"
        truncation_rows = truncation_table(params, data, args.truncate)
        print(format_table(title, truncation_rows))
        truncated = truncation_rows["truncated vs full bptt"]

    if args.steps > 0:
        params, losses = train(params, data, args.steps)
        final_loss = forward(params, data.inputs, data.targets).loss
        print(
            f"\ngradient descent with bptt(), lr {LEARNING_RATE}: "
            f"loss {losses[0]:.4f} -> {final_loss:.4f} in {args.steps} steps"
        )
        for sentence, predicted in zip(SENTENCES, predictions(params, data)):
            print(f"  {sentence} -> predicts {predicted}")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "manual_bptt_errors.png"
    plot_errors(rows["bptt vs finite diff"], rows["homework vs finite diff"], path, truncated, args.truncate)
    print(f"\nwrote {path}")
    return Result(path, rows, truncated)


if __name__ == "__main__":
    main()
