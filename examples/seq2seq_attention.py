"""An encoder-decoder GRU with attention that learns to reverse strings of digits.

Each example is a string of 3 to 8 random digits; the target is the same digits in reverse
order, then an end token. Batches are generated on the fly, padded to their longest string.
The encoder reads them packed (``pack_padded_sequence``), so each string's recurrence stops at
its own end, in both directions, and never sees the padding; the padded encoder positions are
masked out of the attention (``masked_fill`` with -inf), and the padded target positions are
skipped by the loss (``ignore_index``).

    encoder   embedding -> packed bidirectional GRU        outputs (B, S, H)
    decoder   per output step t:
                h_t      = GRUCell([embed(y_{t-1}), context_{t-1}], h_{t-1})
                weights  = softmax(h_t W . encoder outputs)     (B, S)   "attention"
                context  = weights . encoder outputs            (B, H)
                logits   = Linear([h_t, context])               (B, vocab)

Trained with teacher forcing and Adam; evaluated by greedy decoding of fresh strings (a
string counts as right only if every digit and the end token are right). Every op is tagged
with ``tinygrad_rnn.scope``: "encoder" (with the GRU's own time steps), "decoder/t=k" and
"decoder/t=k/attention", so the rendered graph shows the three as separate clusters.

Writes into --out:

    seq2seq_attention_weights.png   the attention weights of a few strings as heat maps
    seq2seq_attention_graph.png     the graph of one short string, encoder and decoder steps

    python examples/seq2seq_attention.py            # ~30 s, about 99% of strings right
    python examples/seq2seq_attention.py --quick    # a few seconds (used by the tests)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from _common import EXTRA_HINT, add_common_arguments, output_dir, plt, save_figure

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim, viz
from tinygrad_rnn.nn import functional as F  # noqa: N812 - torch's usual alias
from tinygrad_rnn.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

DIGITS = 10
PAD, START, END = 10, 11, 12  # input padding, the decoder's first input, the end of the output
VOCAB = 13
IGNORE = -100  # padded target positions: skipped by the loss
MIN_LENGTH, MAX_LENGTH = 3, 8


class Batch(NamedTuple):
    inputs: np.ndarray  # (B, S) digits, PAD after each string's end
    lengths: np.ndarray  # (B,) the number of digits of each string
    padding: np.ndarray  # (B, S) True at padded positions
    decoder_inputs: np.ndarray  # (B, S + 1) START, then the reversed digits (teacher forcing)
    targets: np.ndarray  # (B, S + 1) the reversed digits, END, then IGNORE


def make_batch(rng: np.random.Generator, size: int, lengths: Sequence[int] | None = None) -> Batch:
    """``size`` random digit strings of random length (or the given ``lengths``), padded to
    the longest."""
    if lengths is None:
        lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size).tolist()
    return batch_of([rng.integers(0, DIGITS, length).tolist() for length in lengths])


def batch_of(strings: Sequence[Sequence[int]]) -> Batch:
    """The batch of the given digit strings, padded to the longest."""
    lengths = [len(digits) for digits in strings]
    size, longest = len(strings), max(lengths)
    inputs = np.full((size, longest), PAD, dtype=np.int64)
    decoder_inputs = np.full((size, longest + 1), END, dtype=np.int64)
    targets = np.full((size, longest + 1), IGNORE, dtype=np.int64)
    for row, digits in enumerate(strings):
        length = len(digits)
        inputs[row, :length] = digits
        decoder_inputs[row, 0] = START
        decoder_inputs[row, 1 : length + 1] = digits[::-1]
        targets[row, :length] = digits[::-1]
        targets[row, length] = END
    return Batch(inputs, np.array(lengths), inputs == PAD, decoder_inputs, targets)


class Seq2Seq(nn.Module):
    """A bidirectional GRU encoder, and a GRU-cell decoder attending to the encoder's outputs (Luong's
    "general" score ``h_t W e_s``)."""

    def __init__(self, hidden_size: int = 64, embedding_size: int = 32) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(VOCAB, embedding_size)
        # two directions of hidden_size / 2: each position knows what comes before and after it
        self.encoder = nn.GRU(embedding_size, hidden_size // 2, batch_first=True, bidirectional=True)
        self.decoder = nn.GRUCell(embedding_size + hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, hidden_size, bias=False)
        self.head = nn.Linear(2 * hidden_size, VOCAB)

    def encode(self, inputs: np.ndarray, lengths: np.ndarray) -> tuple[tg.Tensor, tg.Tensor]:
        """(B, S) digits and their (B,) lengths -> encoder outputs (B, S, H), zero past each
        string's end, and the final hidden states of both directions (B, H)."""
        with tg.scope("encoder"):
            packed = pack_padded_sequence(
                self.embedding(inputs), lengths, batch_first=True, enforce_sorted=False
            )
            outputs, h_n = self.encoder(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=inputs.shape[1])
        return outputs, tg.cat([h_n[0], h_n[1]], dim=1)

    def step(
        self,
        token: np.ndarray,
        hidden: tg.Tensor,
        context: tg.Tensor,
        encoded: tg.Tensor,
        padding: np.ndarray,
    ) -> tuple[tg.Tensor, tg.Tensor, tg.Tensor, tg.Tensor]:
        """One decoder step: (logits (B, vocab), hidden (B, H), context (B, H), weights (B, S))."""
        hidden = self.decoder(tg.cat([self.embedding(token), context], dim=1), hidden)
        with tg.scope("attention"):
            scores = tg.einsum("bh,bsh->bs", self.score(hidden), encoded)
            weights = scores.masked_fill(padding, float("-inf")).softmax(-1)
            context = tg.einsum("bs,bsh->bh", weights, encoded)
        return self.head(tg.cat([hidden, context], dim=1)), hidden, context, weights

    def forward(self, batch: Batch) -> tg.Tensor:
        """Teacher-forced logits (B, S + 1, vocab)."""
        encoded, hidden = self.encode(batch.inputs, batch.lengths)
        context = tg.zeros(len(batch.inputs), self.hidden_size, dtype=encoded.dtype)
        steps = []
        with tg.scope("decoder"):
            for t in range(batch.decoder_inputs.shape[1]):
                with tg.scope(f"t={t}"):
                    logits, hidden, context, _ = self.step(
                        batch.decoder_inputs[:, t], hidden, context, encoded, batch.padding
                    )
                steps.append(logits)
        return tg.stack(steps, dim=1)

    @tg.no_grad()
    def greedy(self, batch: Batch, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Decode ``steps`` tokens, each fed back as the next input: tokens (B, steps) and the
        attention weights (B, steps, S)."""
        inputs, padding = batch.inputs, batch.padding
        encoded, hidden = self.encode(inputs, batch.lengths)
        context = tg.zeros(len(inputs), self.hidden_size, dtype=encoded.dtype)
        token = np.full(len(inputs), START)
        tokens, weights = [], []
        for _ in range(steps):
            logits, hidden, context, attention = self.step(token, hidden, context, encoded, padding)
            token = logits.argmax(-1).numpy()
            tokens.append(token)
            weights.append(attention.numpy())
        return np.stack(tokens, 1), np.stack(weights, 1)


def loss_of(model: Seq2Seq, batch: Batch) -> tg.Tensor:
    logits = model(batch)
    return F.cross_entropy(logits.reshape(-1, VOCAB), batch.targets.reshape(-1), ignore_index=IGNORE)


def accuracy(model: Seq2Seq, batch: Batch) -> tuple[float, float]:
    """(share of strings decoded exactly, share of digits and end tokens right)."""
    tokens, _ = model.greedy(batch, batch.targets.shape[1])
    scored = batch.targets != IGNORE
    right = (tokens == batch.targets) | ~scored
    return float(right.all(1).mean()), float(right[scored].mean())


class Attention(NamedTuple):
    digits: list[int]  # the input string
    decoded: list[str]  # the greedy output tokens
    weights: np.ndarray  # (output steps, input digits)


class Result(NamedTuple):
    losses: list[float]
    sequence_accuracy: float
    token_accuracy: float
    seconds: float
    attention: list[Attention]  # what the heat maps show
    paths: list[Path]


def train(model: Seq2Seq, steps: int, batch_size: int, rng: np.random.Generator) -> list[float]:
    optimizer = optim.Adam(model.parameters(), lr=0.005)
    schedule = optim.lr_scheduler.StepLR(optimizer, step_size=max(steps // 3, 1), gamma=0.3)
    losses = []
    for step in range(steps):
        loss = loss_of(model, make_batch(rng, batch_size))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if (step + 1) % 100 == 0 or step + 1 == steps:
            print(f"step {step + 1:4d}  loss {np.mean(losses[-20:]):.4f}")
    return losses


SHOWN = ((4, 2, 7, 3), (9, 1, 8, 3, 0, 5), (6, 1, 5, 2, 9, 7, 8, 4))  # strings for the heat maps


def attention_examples(model: Seq2Seq, strings: Sequence[Sequence[int]] = SHOWN) -> list[Attention]:
    """Greedy decoding of each string alone, with its attention weights."""
    shown = []
    for digits in strings:
        batch = batch_of([digits])
        tokens, weights = model.greedy(batch, len(digits) + 1)
        shown.append(Attention(batch.inputs[0].tolist(), [_token_text(t) for t in tokens[0]], weights[0]))
    return shown


def plot_attention(examples: Sequence[Attention], path: Path) -> Path | None:
    """Heat maps of the attention weights while decoding; None (with a note) without
    matplotlib."""
    if not _matplotlib_available():
        print(f"matplotlib is not installed: no attention heat map ({EXTRA_HINT})")
        return None
    fig, axes = plt.subplots(1, len(examples), figsize=(4.2 * len(examples), 4.2))
    for axis, example in zip(axes, examples):
        axis.imshow(example.weights, cmap="viridis", vmin=0, vmax=1)
        axis.set_xticks(range(len(example.digits)), [str(d) for d in example.digits])
        axis.set_yticks(range(len(example.decoded)), example.decoded)
        axis.set_xlabel("input digit (encoder step)")
        axis.set_ylabel("output token (decoder step)")
        axis.set_title(f"{''.join(map(str, example.digits))} reversed")
    fig.suptitle("Attention weights: each output digit looks at its mirror position in the input")
    fig.tight_layout()
    return save_figure(fig, path)


def _matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401 - only asked: _common imports it when first drawing
    except ImportError:
        return False
    return True


def _token_text(token: int) -> str:
    return {PAD: "pad", START: "start", END: "end"}.get(int(token), str(token))


def render_graph(model: Seq2Seq, rng: np.random.Generator, path: Path) -> Path | None:
    """The graph of the loss of a 3-digit and a 2-digit string, packed: clusters "encoder",
    "decoder/t=k" and "decoder/t=k/attention". None (with a note) when no Graphviz backend is
    available."""
    loss = loss_of(model, make_batch(rng, 2, [3, 2]))
    loss.name = "loss"
    try:
        written = viz.render(
            loss,
            path=path,
            params=dict(model.named_parameters()),
            title="seq2seq with attention: one 3-digit string, encoder and decoder steps",
        )
    except viz.GraphvizNotFoundError as error:
        print(f"no graph picture: {error}")
        return None
    print(f"wrote {written}")
    return written


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train an encoder-decoder GRU with attention to reverse digit strings; "
        "print its accuracy, plot the attention weights and render the graph."
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (default 600, 60 with --quick)"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> Result:
    args = build_parser().parse_args(argv)
    steps = args.steps if args.steps is not None else (60 if args.quick else 600)
    hidden = 32 if args.quick else 64
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Seq2Seq(hidden_size=hidden)
    started = time.perf_counter()
    losses = train(model, steps, batch_size=64, rng=rng)
    seconds = time.perf_counter() - started
    sequence_acc, token_acc = accuracy(model, make_batch(np.random.default_rng(args.seed + 1), 500))
    print(f"trained {steps} steps in {seconds:.1f} s")
    print(
        f"accuracy on 500 new strings: {sequence_acc:.1%} reversed exactly, {token_acc:.1%} of tokens right"
    )
    out = output_dir(args.out)
    attention = attention_examples(model)
    paths = [
        path
        for path in (
            plot_attention(attention, out / "seq2seq_attention_weights.png"),
            render_graph(model, rng, out / "seq2seq_attention_graph.png"),
        )
        if path is not None
    ]
    return Result(losses, sequence_acc, token_acc, seconds, attention, paths)


if __name__ == "__main__":
    main()
