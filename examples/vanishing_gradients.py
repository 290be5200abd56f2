"""How far back in time does the gradient reach? ||dL/dh_t|| for RNN, LSTM and GRU.

Each cell (``nn.RNNCell`` with tanh, ``nn.LSTMCell``, ``nn.GRUCell``) is unrolled by hand over
one long random sequence, keeping every hidden state h_1 ... h_T. The loss looks at the last
state only (a Linear head on h_T, squared error against 1), and

    grads = tinygrad_rnn.autograd.grad(loss, hidden_states)

gives dL/dh_t for every t in one backward walk: the gradient arriving at the tensor h_t from
everything that was computed from it (the head, or the next step). docs/bptt.md ("Vanishing
and exploding gradients") shows why it shrinks geometrically for the plain RNN: each step
back multiplies it by W_hh^T diag(tanh'(z_t)).

All cells start from PyTorch's default init, U(-1/sqrt(H), 1/sqrt(H)) for every weight and
bias, which is what a user gets. At that init the gates sit near 0.5, so the LSTM's and GRU's
gradients vanish too, only more slowly. Gating helps once the gates are set to remember: the
dashed lines add ``--gate-bias`` (default 2) to the LSTM's forget-gate bias and to the GRU's
update-gate bias (a common LSTM practice; see docs/bptt.md, "LSTM and GRU in brief").

Writes into --out:

    vanishing_gradients.png        ||dL/dh_t|| against t, log scale, for the five models
    vanishing_gradients_graph.png  a short RNN unroll coloured by gradient norm

    python examples/vanishing_gradients.py               # T = 100, ~2 s
    python examples/vanishing_gradients.py --quick       # T = 40
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from _common import add_common_arguments, output_dir, plt, save_figure

import tinygrad_rnn as tg
from tinygrad_rnn import autograd, nn, viz
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

INPUT_SIZE = 8
CELLS = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class Variant(NamedTuple):
    label: str
    kind: str  # a key of CELLS
    gate_bias: float  # added to the LSTM forget gate's / GRU update gate's bias_ih


class Result(NamedTuple):
    norms: dict[str, np.ndarray]  # label -> (T,) ||dL/dh_t|| for t = 1..T
    paths: list[Path]


class Unrolled(nn.Module):
    """A recurrent cell applied step by step, and a Linear head on the last hidden state."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, gate_bias: float = 0.0) -> None:
        super().__init__()
        self.kind = kind
        self.cell = CELLS[kind](input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)
        if gate_bias:
            if kind == "rnn":
                raise ValueError("Unrolled: a plain RNN cell has no gate to bias")
            # second block of H: the forget gate f of (i, f, g, o), the update gate z of (r, z, n)
            self.cell.bias_ih.data.numpy()[hidden_size : 2 * hidden_size] += gate_bias

    def forward(self, inputs: tg.Tensor) -> tuple[tg.Tensor, list[tg.Tensor]]:
        """inputs: (T, input_size) -> (loss on the last state, [h_1, ..., h_T] each (H,))."""
        hidden = tg.zeros(self.cell.hidden_size, dtype=inputs.dtype)
        cell_state = tg.zeros(self.cell.hidden_size, dtype=inputs.dtype)
        states = []
        with tg.scope(self.kind):
            for t in range(inputs.shape[0]):
                with tg.scope(f"t={t + 1}"):
                    if self.kind == "lstm":
                        hidden, cell_state = self.cell(inputs[t], (hidden, cell_state))
                    else:
                        hidden = self.cell(inputs[t], hidden)
                hidden.name = f"h_{t + 1}"  # how the rendered graph labels it
                states.append(hidden)
        loss = F.mse_loss(self.head(hidden), np.ones(1, dtype=inputs.dtype))
        return loss, states


def make_model(variant: Variant, hidden_size: int, seed: int) -> Unrolled:
    """The variant's model in float64, with weights drawn from ``seed``."""
    tg.manual_seed(seed)
    return Unrolled(variant.kind, INPUT_SIZE, hidden_size, variant.gate_bias).double()


def make_inputs(steps: int, seed: int) -> np.ndarray:
    """(steps, INPUT_SIZE) standard normal inputs."""
    return np.random.default_rng(seed).normal(size=(steps, INPUT_SIZE))


def gradient_norms(model: Unrolled, inputs: np.ndarray) -> np.ndarray:
    """||dL/dh_t|| for t = 1..T, from one backward walk."""
    loss, states = model(tg.Tensor(inputs))
    grads = autograd.grad(loss, states)
    return np.array([np.linalg.norm(g.detach().numpy()) for g in grads])


def per_step_factor(norms: np.ndarray) -> float:
    """The geometric mean of ||dL/dh_{t-1}|| / ||dL/dh_t|| over the sequence."""
    return float((norms[0] / norms[-1]) ** (1 / (len(norms) - 1)))


def variants(gate_bias: float) -> list[Variant]:
    return [
        Variant("RNN (tanh)", "rnn", 0.0),
        Variant("LSTM", "lstm", 0.0),
        Variant("GRU", "gru", 0.0),
        Variant(f"LSTM, forget-gate bias +{gate_bias:g}", "lstm", gate_bias),
        Variant(f"GRU, update-gate bias +{gate_bias:g}", "gru", gate_bias),
    ]


def plot_norms(norms: dict[str, np.ndarray], hidden_size: int, path: Path) -> Path:
    styles = {"RNN": "tab:red", "LSTM": "tab:blue", "GRU": "tab:green"}
    fig, ax = plt.subplots(figsize=(9, 5.2))
    for label, values in norms.items():
        kind = label.split()[0].rstrip(",")
        dashed = "bias" in label
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            "--" if dashed else "-",
            color=styles[kind],
            lw=1.6 if dashed else 2.2,
            label=f"{label}: ×{per_step_factor(values):.2f} per step",
        )
    steps = len(next(iter(norms.values())))
    ax.set_yscale("log")
    ax.set_xlabel("time step $t$ (the loss reads $h_T$ only)")
    ax.set_ylabel(r"$\Vert\partial L / \partial h_t\Vert$  (log scale)")
    ax.set_title(
        f"Gradient reaching $h_t$ from a loss on the last step, T={steps}, H={hidden_size}, $x_t$ ~ N(0, 1)\n"
        f"PyTorch's default init U(-1/sqrt(H), 1/sqrt(H)) for all; dashed: gate biased to remember",
        fontsize=10,
    )
    ax.grid(alpha=0.3, which="major")
    ax.legend(loc="lower right", fontsize=8, title="per-step factor: geometric mean", title_fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def render_short_unroll(hidden_size: int, steps: int, seed: int, path: Path) -> Path | None:
    """A few RNN steps drawn with every tensor coloured by ||dL/dtensor||."""
    model = make_model(variants(0.0)[0], hidden_size, seed)
    loss, _ = model(tg.Tensor(make_inputs(steps, seed)))
    title = (
        f"RNN cell unrolled over {steps} steps, loss on h_{steps} only: the colour fades going back in time"
    )
    try:
        written = viz.render(
            loss, path=path, params=dict(model.named_parameters()), show_grad=True, title=title
        )
    except viz.GraphvizNotFoundError as error:
        print(f"note: skipping {path.name}: {error}")
        return None
    print(f"wrote {written}")
    return written


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Plot ||dL/dh_t|| over a long sequence for RNN, LSTM and GRU (loss on the last step), "
        "and draw a short RNN unroll coloured by gradient."
    )
    add_common_arguments(parser)
    parser.add_argument("--steps", type=int, help="sequence length T (default: 100, 40 with --quick)")
    parser.add_argument("--hidden", type=int, default=32, help="hidden size H (default: 32)")
    parser.add_argument(
        "--gate-bias",
        type=float,
        default=2.0,
        help="added to the LSTM forget-gate and GRU update-gate biases for the dashed lines (default: 2)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and inputs (default: 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Result:
    args = parse_args(argv)
    steps = args.steps or (40 if args.quick else 100)
    if steps < 2:
        raise SystemExit("vanishing_gradients: --steps must be at least 2")
    out = output_dir(args.out)
    inputs = make_inputs(steps, args.seed)
    norms = {}
    print(f"||dL/dh_t|| for a loss on h_T, T={steps}, H={args.hidden}, float64:")
    print(f"{'model':<32} {'t=1':>9} {f't={steps // 2}':>9} {f't={steps}':>9} {'per step':>9}")
    for variant in variants(args.gate_bias):
        values = gradient_norms(make_model(variant, args.hidden, args.seed), inputs)
        norms[variant.label] = values
        print(
            f"{variant.label:<32} {values[0]:>9.2e} {values[steps // 2 - 1]:>9.2e} {values[-1]:>9.2e} "
            f"{per_step_factor(values):>9.3f}"
        )
    paths = [plot_norms(norms, args.hidden, out / "vanishing_gradients.png")]
    graph = render_short_unroll(args.hidden, 6, args.seed, out / "vanishing_gradients_graph.png")
    if graph is not None:
        paths.append(graph)
    return Result(norms, paths)


if __name__ == "__main__":
    main()
