"""Next-character prediction on 你好李焕英 and 夏洛特烦恼 with a tanh RNN: the main demo.

The task of the course homework this project grew from (docs/bptt.md, "The model"): the
vocabulary is the ten characters of the two sentences, inputs are one-hot, and the ten
characters form one cycle across both sentences: each character predicts the next one, the
last of the first sentence predicts the first of the second (英 -> 夏) and the last of the
second the first of the first (恼 -> 你). So the first sentence's targets are 好李焕英夏 and the
second's 洛特烦恼你, as in the homework. The model is ``nn.RNN(10, H)`` followed by
``nn.Linear(H, 10)`` and softmax cross-entropy; it is trained with plain SGD, one sentence per
step.

Every few epochs the loss over both sentences is evaluated, and the learning rate is halved
whenever that loss rose since the previous evaluation, as the homework did (the rule is
written out in ``train``; ``optim.lr_scheduler.ReduceLROnPlateau`` is the library's general
form of it, which compares with the best loss so far instead). The start is deliberately
aggressive (lr 2.5), so the loss jumps up early and the halving can be seen at work.

Prints the loss table and the predicted next characters, and writes into --out:

    char_rnn_loss.png          loss and learning rate over the epochs
    char_rnn_predictions.png   the trained model's next-character probabilities
    char_rnn_graph.png         the unrolled graph of one training step (one sentence)
    char_rnn_graph_grad.png    the same graph coloured by gradient norm

``--homework`` runs the homework's own procedure instead: an Elman RNN with no nonlinearity
and no biases (s_t = U x_t + W s_{t-1}, o_t = softmax(V s_t)), hidden size 100, SGD with lr
0.005 for 100 epochs (one step per sentence), the loss printed every 5 epochs and the learning
rate halved when it rose, BPTT truncated at 4 steps. It trains twice from the same weights:
once with the engine's gradients, once with the homework's hand-written ones
(``homework_bptt`` in manual_bptt.py, with its four mistakes), and writes both loss curves:

    char_rnn_homework.png      loss per evaluation, engine vs hand-written gradients

    python examples/char_rnn.py                  # ~2 s
    python examples/char_rnn.py --quick          # fewer epochs (the tests)
    python examples/char_rnn.py --homework       # the homework's recipe, twice; ~5 s
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import manual_bptt
import numpy as np
from _common import add_common_arguments, cjk_font, output_dir, plt, progress, save_figure, write

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
    probs: np.ndarray | None = None  # (T, B, V) softmax probabilities after training
    homework: list[HomeworkRun] | None = None  # --homework: the engine's run, then the hand-written one


def make_data(sentences: Sequence[str] = SENTENCES) -> Data:
    """The vocabulary in order of first appearance, one-hot inputs, and the homework's targets:
    the next character in the cycle through both sentences (英 -> 夏, 恼 -> 你)."""
    vocab = tuple(dict.fromkeys("".join(sentences)))
    ids = np.array([[vocab.index(char) for char in sentence] for sentence in sentences]).T  # (T, B)
    inputs = np.eye(len(vocab), dtype=np.float32)[ids]
    return Data(vocab, inputs, manual_bptt.cycle_targets(ids))


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
            write(f"{epoch:>6} {eval_loss:>9.4f} {used_lr:>7g} {correct:>3}/{probs[..., 0].size}{note}")
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


# The homework's recipe (--homework): the numbers its assignment fixed.
HOMEWORK_HIDDEN = 100
HOMEWORK_LR = 0.005
HOMEWORK_EPOCHS = 100
HOMEWORK_EVAL_EVERY = 5
HOMEWORK_TRUNCATE = 4
HOMEWORK_WEIGHTS = ("U", "W", "V")  # no biases: b and c stay zero
GRADIENTS = {
    "engine": "the engine's backward",
    "homework": "the homework's hand-written BPTT",
}


class HomeworkRun(NamedTuple):
    gradients: str  # a key of GRADIENTS
    epochs: list[int]  # the epochs at which the loss was evaluated
    losses: list[float]  # mean cross-entropy per character over both sentences
    lrs: list[float]  # the learning rate used from each evaluation on


def homework_gradients(
    gradients: str, params: manual_bptt.Params, inputs: np.ndarray, targets: np.ndarray, truncate: int
) -> manual_bptt.Params:
    """Gradients of the linear RNN's summed loss, each loss sent back at most ``truncate``
    steps: by the engine, or by the homework's hand-written BPTT with all its mistakes."""
    if gradients == "engine":
        return manual_bptt.window_engine_gradients(params, inputs, targets, truncate, linear=True)
    return manual_bptt.homework_bptt(params, inputs, targets, truncate=truncate)[0]


def homework_sgd(
    gradients: str, start: manual_bptt.Params, data: manual_bptt.Data, epochs: int, lr: float, truncate: int
) -> HomeworkRun:
    """The homework's training loop: every ``HOMEWORK_EVAL_EVERY`` epochs print the loss and
    halve the learning rate if it rose since the last time; each epoch one SGD step per
    sentence on U, W and V. Stops early, saying so, if the loss is no longer finite."""
    params = {name: value.copy() for name, value in start.items()}
    n, _, batch = data.inputs.shape
    run = HomeworkRun(gradients, [], [], [])
    print(f"\ngradients from {GRADIENTS[gradients]}:")
    for epoch in range(epochs + 1):
        if epoch % HOMEWORK_EVAL_EVERY == 0 or epoch == epochs:
            with np.errstate(over="ignore", invalid="ignore"):
                loss = manual_bptt.homework_forward(params, data.inputs, data.targets).loss / (n * batch)
            note = ""
            if run.losses and loss > run.losses[-1]:
                lr /= 2
                note = f"  rose: lr halved to {lr:g}"
            run.epochs.append(epoch)
            run.losses.append(float(loss))
            run.lrs.append(lr)
            print(f"  loss after epoch {epoch:>3}: {loss:.6f}{note}")
            if not np.isfinite(loss):
                print("  the loss is no longer finite: training stops here")
                break
        if epoch == epochs:
            break
        for sentence in range(batch):
            column = slice(sentence, sentence + 1)
            with np.errstate(over="ignore", invalid="ignore"):
                grads = homework_gradients(
                    gradients, params, data.inputs[:, :, column], data.targets[:, column], truncate
                )
            for name in HOMEWORK_WEIGHTS:
                params[name] -= lr * grads[name]
    return run


def plot_homework(runs: list[HomeworkRun], title: str, path: Path) -> Path:
    """Both loss curves on one log-scale axis, a marker where the learning rate was halved."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for run, colour in zip(runs, ("tab:blue", "tab:red")):
        finite = [(e, loss) for e, loss in zip(run.epochs, run.losses) if np.isfinite(loss)]
        ax.plot(*zip(*finite), "o-", color=colour, ms=4, label=f"gradients from {GRADIENTS[run.gradients]}")
        halved = [(e, loss) for e, loss, before in zip(run.epochs[1:], run.losses[1:], run.losses)
                  if np.isfinite(loss) and loss > before]  # fmt: skip
        if halved:
            ax.plot(*zip(*halved), "o", ms=10, mfc="none", mec=colour, mew=1.6)
    if any(later > before for run in runs for before, later in zip(run.losses, run.losses[1:])):
        ax.plot([], [], "o", ms=10, mfc="none", mec="0.3", mew=1.6, label="loss rose: lr halved")
    ax.set_yscale("log")
    ax.set_xlabel("epoch (one SGD step per sentence)")
    ax.set_ylabel("cross-entropy per character (log scale)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def run_homework(args: argparse.Namespace) -> tuple[list[HomeworkRun], Path]:
    """The homework's recipe twice from the same initial weights; returns both runs and the
    picture's path."""
    hidden = args.hidden or HOMEWORK_HIDDEN
    lr = args.lr or HOMEWORK_LR
    epochs = args.epochs or (20 if args.quick else HOMEWORK_EPOCHS)
    data = manual_bptt.make_data(SENTENCES)
    vocab_size = data.inputs.shape[1]
    start = manual_bptt.init_params(vocab_size, hidden, np.random.default_rng(args.seed))
    start["b"][:] = 0.0
    start["c"][:] = 0.0
    print(
        f"the homework's recipe: s_t = U x_t + W s_(t-1) (no tanh, no biases), o_t = softmax(V s_t);\n"
        f"hidden {hidden}, SGD lr {lr:g} for {epochs} epochs, one step per sentence, loss every "
        f"{HOMEWORK_EVAL_EVERY} epochs, lr halved when it rises, each loss sent back at most "
        f"{args.truncate} steps"
    )
    if args.truncate >= data.inputs.shape[0] - 1:
        print(
            f"(the sentences have {data.inputs.shape[0]} characters, so {args.truncate} steps back from any "
            "step reach the first one: this truncation cuts nothing; try --truncate 2)"
        )
    correct = homework_gradients("engine", start, data.inputs, data.targets, args.truncate)
    flawed = homework_gradients("homework", start, data.inputs, data.targets, args.truncate)
    errors = ", ".join(
        f"{name} {manual_bptt.relative_error(flawed[name], correct[name]):.0%}" for name in HOMEWORK_WEIGHTS
    )
    print(f"at the initial weights the hand-written gradients are off by (relative error): {errors}")
    runs = [homework_sgd(name, start, data, epochs, lr, args.truncate) for name in GRADIENTS]
    engine, homework = runs
    print(
        f"\nafter {epochs} epochs: loss {engine.losses[-1]:.4f} with the engine's gradients, "
        f"{homework.losses[-1]:.4g} with the hand-written ones (from {engine.losses[0]:.4f})"
    )
    title = (
        f"the homework's recipe (linear RNN, H={hidden}, SGD lr {lr:g}, truncated at {args.truncate}),\n"
        "the same weights and data; only the gradients differ"
    )
    return runs, plot_homework(runs, title, output_dir(args.out) / "char_rnn_homework.png")


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
    parser.add_argument(
        "--homework",
        action="store_true",
        help="the homework's recipe (linear RNN without biases, hidden 100, SGD lr 0.005, 100 epochs, "
        "truncated BPTT), trained once with the engine's gradients and once with the homework's "
        "hand-written ones; plots both loss curves",
    )
    parser.add_argument(
        "--epochs", type=int, help="epochs of training (default: 100; with --quick 40, or 20 with --homework)"
    )
    parser.add_argument("--hidden", type=int, help="hidden size (default: 16; 100 with --homework)")
    parser.add_argument(
        "--lr", type=float, help="initial learning rate (default: 2.5; 0.005 with --homework)"
    )
    parser.add_argument(
        "--truncate",
        type=int,
        default=HOMEWORK_TRUNCATE,
        metavar="K",
        help=f"with --homework: send each loss back at most K steps (default: {HOMEWORK_TRUNCATE})",
    )
    parser.add_argument("--eval-every", type=int, default=5, help="epochs between evaluations (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default: 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> Result:
    args = parse_args(argv)
    if args.truncate < 1:
        raise SystemExit(f"char_rnn: --truncate must be at least 1, got {args.truncate}")
    if args.homework:
        runs, path = run_homework(args)
        return Result([], [], [], [path], homework=runs)
    epochs = args.epochs or (40 if args.quick else 100)
    args.hidden = args.hidden or 16
    args.lr = args.lr or 2.5
    out = output_dir(args.out)
    data = make_data()
    font = cjk_font("".join(data.vocab))
    label = labeler(font is not None)
    graph_label = labeler(font is not None and _graphviz_finds_system_fonts())

    tg.manual_seed(args.seed)
    model = CharRNN(len(data.vocab), args.hidden)
    print(f"vocabulary ({len(data.vocab)}): {' '.join(data.vocab)}; sentences {' and '.join(SENTENCES)}")
    targets = " and ".join("".join(data.vocab[i] for i in data.targets[:, b]) for b in range(len(SENTENCES)))
    print(f"targets, as in the homework (one cycle across both sentences: 英 -> 夏, 恼 -> 你): {targets}")
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
    return Result(rows, step_losses, predicted, paths, probs)


if __name__ == "__main__":
    main()
