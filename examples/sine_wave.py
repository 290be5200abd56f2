"""Predict the next point of a sine wave, trained with truncated BPTT; optionally against torch.

The homework's second experiment: ``nn.RNN(1, 32)`` and ``nn.Linear(32, 1)``, mean squared
error, ``Adam(lr=0.01)``. The signal is cut into half-periods, [0, pi], [pi, 2 pi], ...; each
training step takes the next one as 21 samples: the first 20 are the input, and every input point
has the point after it as its target. The half-periods alternate between rising-then-falling
and falling-then-rising, so at the start of a chunk only the hidden state carried over from the
previous chunk can tell which way the curve goes.

The hidden state is carried from chunk to chunk and cut from the graph after every step, the
truncated-BPTT idiom (docs/bptt.md, "Truncated BPTT")::

    prediction, hidden = model(x, hidden)
    loss = F.mse_loss(prediction, y)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
    hidden = hidden.detach()        # the next backward stops at this chunk's start

Everything runs in float64. With ``--compare-torch`` the same model is built in torch from the
same initial weights and trained on the same chunks; the two loss curves go on one chart and the
largest relative difference between them is printed.

Writes into --out:

    sine_wave_predictions.png   input, target and prediction at several points of training
    sine_wave_loss.png          the loss per step (and torch's, with --compare-torch)

    python examples/sine_wave.py                    # ~3 s
    python examples/sine_wave.py --compare-torch    # also trains torch's model
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from _common import add_common_arguments, output_dir, plt, progress, save_figure

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

POINTS = 20  # input points per half-period
HIDDEN = 32
LEARNING_RATE = 0.01


class Snapshot(NamedTuple):
    step: int
    times: np.ndarray  # (POINTS + 1,) the chunk's sample positions, in units of pi
    signal: np.ndarray  # (POINTS + 1,) sin at those positions
    prediction: np.ndarray  # (POINTS,) the prediction for times[1:], made in this step's forward
    loss: float


class Result(NamedTuple):
    losses: list[float]
    torch_losses: list[float] | None
    snapshots: list[Snapshot]
    paths: list[Path]


def sine_chunk(k: int, points: int = POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The k-th half-period [k pi, (k + 1) pi] as points + 1 samples: their positions (in units of
    pi), the inputs (the first ``points`` samples) and the targets (the sample after each input),
    both shaped (points, 1, 1): (time, batch, feature)."""
    times = np.linspace(k, k + 1, points + 1)
    signal = np.sin(np.pi * times)
    return times, signal[:-1].reshape(points, 1, 1), signal[1:].reshape(points, 1, 1)


class SineRNN(nn.Module):
    """A tanh RNN reading one value per step, and a Linear layer predicting the next value."""

    def __init__(self, hidden_size: int = HIDDEN) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: tg.Tensor, hidden: tg.Tensor | None = None) -> tuple[tg.Tensor, tg.Tensor]:
        """x: (T, 1, 1), hidden: (1, 1, H) or None -> predictions (T, 1, 1) and the last hidden state."""
        output, hidden = self.rnn(x, hidden)
        return self.head(output), hidden


def snapshot_steps(steps: int, count: int = 6) -> list[int]:
    """``count`` steps to show, spread roughly geometrically from the first to the last."""
    chosen = np.unique(np.round(np.geomspace(1, steps, count)).astype(int) - 1)
    return [int(step) for step in chosen]


def train(model: SineRNN, steps: int, show: Sequence[int]) -> tuple[list[float], list[Snapshot]]:
    """Adam on one half-period per step, the hidden state carried and detached between steps."""
    optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATE)
    losses: list[float] = []
    snapshots: list[Snapshot] = []
    hidden = None
    for step in progress(range(steps), "training", total=steps):
        times, x, y = sine_chunk(step)
        prediction, hidden = model(tg.Tensor(x), hidden)
        loss = F.mse_loss(prediction, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        hidden = hidden.detach()  # truncated BPTT: the next chunk's backward stops here
        losses.append(loss.item())
        if step in show:
            signal = np.sin(np.pi * times)
            snapshots.append(
                Snapshot(step, times, signal, prediction.detach().numpy().ravel().copy(), loss.item())
            )
    return losses, snapshots


def train_torch(model: SineRNN, steps: int) -> list[float]:
    """The same model in torch (float64), from ``model``'s current weights, trained the same way.
    Raises ImportError without torch."""
    import torch

    class TorchSineRNN(torch.nn.Module):
        def __init__(self, hidden_size: int) -> None:
            super().__init__()
            self.rnn = torch.nn.RNN(1, hidden_size, dtype=torch.float64)
            self.head = torch.nn.Linear(hidden_size, 1, dtype=torch.float64)

        def forward(self, x: Any, hidden: Any) -> tuple[Any, Any]:
            output, hidden = self.rnn(x, hidden)
            return self.head(output), hidden

    theirs = TorchSineRNN(model.rnn.hidden_size)
    theirs.load_state_dict({name: torch.from_numpy(value) for name, value in model.state_dict().items()})
    optimizer = torch.optim.Adam(theirs.parameters(), lr=LEARNING_RATE)
    losses = []
    hidden = None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # for tensors this small, handing work to other threads costs ~10x
    try:
        for step in progress(range(steps), "training torch's model", total=steps):
            _, x, y = sine_chunk(step)
            prediction, hidden = theirs(torch.from_numpy(x), hidden)
            loss = torch.nn.functional.mse_loss(prediction, torch.from_numpy(y))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            hidden = hidden.detach()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    return losses


def max_relative_difference(ours: Sequence[float], theirs: Sequence[float]) -> float:
    a, b = np.asarray(ours), np.asarray(theirs)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def plot_snapshots(snapshots: list[Snapshot], path: Path) -> Path:
    """A grid with one chunk per panel: its input points, their targets and the prediction."""
    columns = 3
    rows = -(-len(snapshots) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(11, 3.3 * rows), sharey=True, squeeze=False)
    for ax, snap in zip(axes.flat, snapshots):
        ax.plot(snap.times[:-1], snap.signal[:-1], "o", color="0.55", ms=4, label="input $x_t$")
        ax.plot(snap.times[1:], snap.signal[1:], "--", color="black", lw=1.4, label="target $x_{t+1}$")
        ax.plot(snap.times[1:], snap.prediction, "-", color="tab:red", lw=2, label="prediction")
        ax.set_title(f"step {snap.step + 1}: loss {snap.loss:.2g}", fontsize=10)
        ax.set_xlabel("position (multiples of pi)")
        ax.set_ylim(-1.6, 1.6)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("value")
    for ax in axes.flat[len(snapshots) :]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(
        f"RNN(1, {HIDDEN}) + Linear predicting the next point of sin, one half-period per Adam step "
        "(each panel: that step's chunk, predicted before the update)",
        fontsize=10,
    )
    fig.tight_layout()
    return save_figure(fig, path)


def plot_losses(losses: list[float], torch_losses: list[float] | None, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.4))
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="tab:blue", lw=2.2, label="tinygrad_rnn")
    title = "MSE per step (one half-period each), truncated BPTT, Adam(lr=0.01), float64"
    if torch_losses is not None:
        ax.plot(steps, torch_losses, "--", color="tab:orange", lw=1.6, label="torch, same initial weights")
        difference = max_relative_difference(losses, torch_losses)
        title += f"\nthe curves coincide: largest relative difference {difference:.1e}"
    ax.set_yscale("log")
    ax.set_xlabel("training step (chunk)")
    ax.set_ylabel("mean squared error (log scale)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train RNN(1, 32) + Linear to predict the next point of a sine wave, one half-period "
        "per step with the hidden state carried and detached (truncated BPTT); optionally against torch."
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--steps", type=int, help="training steps, one half-period each (default: 300, 60 with --quick)"
    )
    parser.add_argument(
        "--compare-torch",
        action="store_true",
        help="also train torch's RNN from the same initial weights and compare the losses",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default: 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Result:
    args = parse_args(argv)
    steps = args.steps or (60 if args.quick else 300)
    out = output_dir(args.out)
    tg.manual_seed(args.seed)
    model = SineRNN().double()
    initial = model.state_dict()
    print(f"model: {model}")
    print(f"{steps} Adam steps (lr {LEARNING_RATE}), one half-period of {POINTS} points each")
    losses, snapshots = train(model, steps, snapshot_steps(steps))
    print(f"loss: first step {losses[0]:.4g}, last step {losses[-1]:.4g}")

    torch_losses = None
    if args.compare_torch:
        start = SineRNN().double()
        start.load_state_dict(initial)
        try:
            torch_losses = train_torch(start, steps)
        except ImportError:
            print("--compare-torch: torch is not installed (pip install torch); skipping the comparison")
        else:
            difference = max_relative_difference(losses, torch_losses)
            print(f"torch, same initial weights: last step {torch_losses[-1]:.4g}")
            print(f"max relative difference of the {steps} losses, ours vs torch: {difference:.2e}")

    paths = [
        plot_snapshots(snapshots, out / "sine_wave_predictions.png"),
        plot_losses(losses, torch_losses, out / "sine_wave_loss.png"),
    ]
    return Result(losses, torch_losses, snapshots, paths)


if __name__ == "__main__":
    main()
