"""Next-character prediction on 你好李焕英 and 夏洛特烦恼 with a tanh RNN: the main demo.

The task of the course homework this project grew from (docs/bptt.md, "The model"): the
vocabulary is the ten characters of the two sentences, inputs are one-hot, each character
predicts the next one within its sentence, and the last character wraps around to predict the
first (英 predicts 你). The model is ``nn.RNN(10, H)`` followed by ``nn.Linear(H, 10)`` and
softmax cross-entropy; it is trained with plain SGD, one sentence per step.

Every few epochs the loss over both sentences is evaluated, and the learning rate is halved
whenever that loss rose since the previous evaluation, as the homework did (the rule is
written out in ``train``; ``optim.lr_scheduler.ReduceLROnPlateau`` is the library's general
form of it, which compares with the best loss so far instead). The start is deliberately
aggressive (lr 2.0), so the loss jumps up early and the halving can be seen at work.

Prints the loss table and the predicted next characters, and writes into --out:

    char_rnn_loss.png          loss and learning rate over the epochs
    char_rnn_predictions.png   the trained model's next-character probabilities
    char_rnn_graph.png         the unrolled graph of one training step (one sentence)
    char_rnn_graph_grad.png    the same graph coloured by gradient norm

    python examples/char_rnn.py                  # ~2 s
    python examples/char_rnn.py --quick          # fewer epochs (the tests)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from _common import add_common_arguments, cjk_font, output_dir, plt, progress, save_figure
from tqdm import tqdm

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, viz
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias

SENTENCES = ("你好李焕英", "夏洛特烦恼")
# shown instead of the characters when no font on the system can draw them
PINYIN = {"你": "nǐ", "好": "hǎo", "李": "lǐ", "焕": "huàn", "英": "yīng",
          "夏": "xià", "洛": "luò", "特": "tè", "烦": "fán", "恼": "nǎo"}  # fmt: skip


class Data(NamedTuple):
    vocab: tuple[str, ...]
    inputs: np.ndarray  # (T, B, V) one-hot float32, one sentence per batch column
    targets: np.ndarray  # (T, B) vocabulary index of the next character


class EvalRow(NamedTuple):
    epoch: int
    loss: float  # mean cross-entropy over both sentences
    lr: float  # the learning rate the epochs up to this one were trained with
    correct: int  # how many of the next characters are predicted right
    halved: bool  # the loss rose since the previous evaluation, so the learning rate was halved


class Result(NamedTuple):
    rows: list[EvalRow]
    step_losses: list[float]  # training loss of every SGD step (one sentence each)
    predicted: list[str]  # per sentence, the predicted next character at every position
    paths: list[Path]


def make_data(sentences: Sequence[str] = SENTENCES) -> Data:
    """The vocabulary in order of first appearance, one-hot inputs and wrap-around targets."""
    vocab = tuple(dict.fromkeys("".join(sentences)))
    ids = np.array([[vocab.index(char) for char in sentence] for sentence in sentences]).T  # (T, B)
    inputs = np.eye(len(vocab), dtype=np.float32)[ids]
    return Data(vocab, inputs, np.roll(ids, -1, axis=0))


class CharRNN(nn.Module):
    """``nn.RNN`` (tanh) over one-hot characters, then a Linear layer to one logit per character."""

    def __init__(self, vocab_size: int, hidden_size: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(vocab_size, hidden_size, nonlinearity="tanh")
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        """x: (T, V) or (T, B, V) one-hot -> logits of the same shape."""
        output, _ = self.rnn(x)
        return self.head(output)


def sentence_loss(model: CharRNN, data: Data, sentence: int) -> tg.Tensor:
    """Mean cross-entropy of one sentence's T predictions: the loss of one SGD step."""
    logits = model(tg.Tensor(data.inputs[:, sentence]))  # (T, V)
    return F.cross_entropy(logits, data.targets[:, sentence])


def evaluate(model: CharRNN, data: Data) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over every prediction of both sentences, and the softmax
    probabilities (T, B, V)."""
    with tg.no_grad():
        logits = model(tg.Tensor(data.inputs))  # (T, B, V)
        loss = F.cross_entropy(logits.reshape(-1, len(data.vocab)), data.targets.reshape(-1))
        return loss.item(), logits.softmax(-1).detach().numpy()


def train(
    model: CharRNN, data: Data, epochs: int, lr: float, eval_every: int
) -> tuple[list[EvalRow], list[float]]:
    """SGD, one sentence per step; every ``eval_every`` epochs evaluate, and halve the
    learning rate if the loss rose since the previous evaluation. Prints each row as it comes."""
    optimizer = optim.SGD(model.parameters(), lr=lr)
    previous_loss = math.inf
    rows: list[EvalRow] = []
    step_losses: list[float] = []
    print(f"{'epoch':>6} {'loss':>9} {'lr':>7} {'right':>6}")
    for epoch in progress(range(1, epochs + 1), "training", total=epochs):
        for sentence in range(data.inputs.shape[1]):
            loss = sentence_loss(model, data, sentence)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step_losses.append(loss.item())
        if epoch % eval_every == 0:
            eval_loss, probs = evaluate(model, data)
            used_lr = optimizer.param_groups[0]["lr"]
            rose = eval_loss > previous_loss
            if rose:
                for group in optimizer.param_groups:
                    group["lr"] = used_lr / 2
            note = f"  rose from {previous_loss:.4f}: lr halved to {used_lr / 2:g}" if rose else ""
            previous_loss = eval_loss
            correct = int((probs.argmax(-1) == data.targets).sum())
            rows.append(EvalRow(epoch, eval_loss, used_lr, correct, rose))
            tqdm.write(f"{epoch:>6} {eval_loss:>9.4f} {used_lr:>7g} {correct:>3}/{probs[..., 0].size}{note}")
    return rows, step_losses


def predictions(probs: np.ndarray, vocab: Sequence[str]) -> list[str]:
    """The most likely next character at every position, one string per sentence."""
    return ["".join(vocab[i] for i in column) for column in probs.argmax(-1).T]


def print_predictions(data: Data, predicted: list[str]) -> None:
    print("\npredicted next characters (input -> predicted, right or wrong):")
    for sentence in range(data.inputs.shape[1]):
        ids = data.inputs[:, sentence].argmax(-1)
        pairs = []
        for t, char in enumerate(predicted[sentence]):
            mark = "✓" if data.vocab.index(char) == data.targets[t, sentence] else "✗"
            pairs.append(f"{data.vocab[ids[t]]}->{char} {mark}")
        print("  " + "   ".join(pairs))


def plot_loss(rows: list[EvalRow], step_losses: list[float], title: str, path: Path) -> Path:
    """Training loss per step, the evaluated loss, and the learning rate on a second axis."""
    steps_per_epoch = len(step_losses) // rows[-1].epoch if rows else 1
    fig, ax = plt.subplots(figsize=(8, 4.6))
    epochs_of_steps = np.arange(1, len(step_losses) + 1) / steps_per_epoch
    ax.plot(epochs_of_steps, step_losses, color="0.7", lw=0.8, label="training loss (one sentence per step)")
    epochs = [row.epoch for row in rows]
    ax.plot(epochs, [row.loss for row in rows], "o-", color="tab:blue", ms=4, label="loss on both sentences")
    halved = [row for row in rows if row.halved]
    ax.plot(
        [row.epoch for row in halved],
        [row.loss for row in halved],
        "o",
        ms=11,
        mfc="none",
        mec="tab:red",
        mew=1.8,
        label="loss rose: lr halved",
    )
    ax.set_yscale("log")
    ax.set_xlabel("epoch (one epoch = one SGD step per sentence)")
    ax.set_ylabel("cross-entropy (log scale)")
    ax.grid(alpha=0.3)
    lr_axis = ax.twinx()
    lr_epochs = [0, *epochs]
    lr_values = [rows[0].lr, *[row.lr for row in rows]] if rows else []
    lr_axis.step(lr_epochs, lr_values, where="pre", color="tab:green", lw=1.5, label="learning rate")
    lr_axis.set_ylabel("learning rate", color="tab:green")
    lr_axis.tick_params(axis="y", colors="tab:green")
    lr_axis.set_ylim(0, max(lr_values, default=1) * 1.15)
    handles, labels = ax.get_legend_handles_labels()
    lr_handles, lr_labels = lr_axis.get_legend_handles_labels()
    ax.legend(handles + lr_handles, labels + lr_labels, loc="center right", fontsize=8)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_predictions(probs: np.ndarray, data: Data, label: Callable[[str], str], path: Path) -> Path:
    """One row per input position (both sentences), one column per character: the predicted
    probability of each next character, the right one outlined."""
    rows_probs = probs.transpose(1, 0, 2).reshape(-1, len(data.vocab))  # sentence by sentence
    input_ids = data.inputs.transpose(1, 0, 2).argmax(-1).ravel()
    target_ids = data.targets.T.ravel()
    fig, ax = plt.subplots(figsize=(7.2, 6))
    image = ax.imshow(rows_probs, cmap="Blues", vmin=0, vmax=1)
    for row, (target, p) in enumerate(zip(target_ids, rows_probs)):
        ax.add_patch(plt.Rectangle((target - 0.5, row - 0.5), 1, 1, fill=False, ec="tab:red", lw=2))
        ax.text(target, row, f"{p[target]:.2f}", ha="center", va="center", fontsize=7,
                color="white" if p[target] > 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(data.vocab)), [label(c) for c in data.vocab])
    ax.set_yticks(range(len(input_ids)), [f"{label(data.vocab[i])} ->" for i in input_ids])
    ax.set_xlabel("predicted next character")
    ax.set_ylabel("input character (in sentence order)")
    ax.axhline(len(input_ids) / 2 - 0.5, color="0.3", lw=1)
    ax.set_title("next-character probabilities after training\n(red box: the right answer)", fontsize=11)
    fig.colorbar(image, ax=ax, shrink=0.8, label="softmax probability")
    fig.tight_layout()
    return save_figure(fig, path)


def render_graphs(model: CharRNN, data: Data, label: Callable[[str], str], out: Path) -> list[Path]:
    """The graph of one SGD step (the first sentence) at the current weights, plain and
    coloured by the gradient norm of the loss at every tensor."""
    sentence = label("".join(data.vocab[i] for i in data.inputs[:, 0].argmax(-1)))
    targets = label("".join(data.vocab[i] for i in data.targets[:, 0]))
    loss = sentence_loss(model, data, 0)
    params = dict(model.named_parameters())
    paths = []
    for name, show_grad, caption in (
        ("char_rnn_graph.png", False, "one SGD step unrolled over the sentence"),
        ("char_rnn_graph_grad.png", True, "gradients of the loss at the initial weights, per tensor"),
    ):
        title = f"{caption}: {sentence} predicts {targets}"
        try:
            path = viz.render(loss, path=out / name, params=params, show_grad=show_grad, title=title)
        except viz.GraphvizNotFoundError as error:
            print(f"note: skipping {name}: {error}")
            continue
        print(f"wrote {path}")
        paths.append(path)
    return paths


def _graphviz_finds_system_fonts() -> bool:
    """Whether the graphs are drawn by the system dot, which finds fonts through fontconfig
    (graphviz-pure draws with Latin fonts of its own)."""
    try:
        return viz.available_backend("png") == "dot"
    except viz.GraphvizNotFoundError:
        return False


def labeler(characters: bool) -> Callable[[str], str]:
    """How text is written in a picture: as it is, or in pinyin (syllables separated by
    spaces) when no font can draw the characters."""
    if characters:
        return str
    return lambda text: " ".join(PINYIN.get(char, char) for char in text)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train a tanh RNN to predict the next character of 你好李焕英 and 夏洛特烦恼, "
        "halving the learning rate whenever the loss rises; draw the loss and the unrolled graph."
    )
    add_common_arguments(parser)
    parser.add_argument("--epochs", type=int, help="epochs of training (default: 100, 40 with --quick)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden size (default: 16)")
    parser.add_argument("--lr", type=float, default=2.0, help="initial learning rate (default: 2.0)")
    parser.add_argument("--eval-every", type=int, default=5, help="epochs between evaluations (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default: 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Result:
    args = parse_args(argv)
    epochs = args.epochs or (40 if args.quick else 100)
    out = output_dir(args.out)
    data = make_data()
    font = cjk_font("".join(data.vocab))
    label = labeler(font is not None)
    graph_label = labeler(font is not None and _graphviz_finds_system_fonts())

    tg.manual_seed(args.seed)
    model = CharRNN(len(data.vocab), args.hidden)
    print(f"vocabulary ({len(data.vocab)}): {' '.join(data.vocab)}; sentences {' and '.join(SENTENCES)}")
    print(f"model: {model}")
    paths = render_graphs(model, data, graph_label, out)

    print(f"\nSGD lr {args.lr:g}, {epochs} epochs; loss on both sentences every {args.eval_every} epochs:")
    rows, step_losses = train(model, data, epochs, args.lr, args.eval_every)
    _, probs = evaluate(model, data)
    predicted = predictions(probs, data.vocab)
    print_predictions(data, predicted)
    correct = int((probs.argmax(-1) == data.targets).sum())
    print(f"{correct}/{data.targets.size} next characters right\n")

    sentences = " / ".join(label(sentence) for sentence in SENTENCES)
    title = f"char-RNN on {sentences}: SGD from lr {args.lr:g}, halved when the loss rises"
    paths.append(plot_loss(rows, step_losses, title, out / "char_rnn_loss.png"))
    paths.append(plot_predictions(probs, data, label, out / "char_rnn_predictions.png"))
    return Result(rows, step_losses, predicted, paths)


if __name__ == "__main__":
    main()
