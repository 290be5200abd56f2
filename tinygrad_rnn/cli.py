"""The ``tinygrad-rnn`` command (also ``python -m tinygrad_rnn``).

``tinygrad-rnn graph --cell lstm --steps 5 --grad --out lstm.png`` builds a small recurrent
network, unrolls it on random input, and draws the graph that backward() walks: one cluster
per time step, the weights drawn once, and with ``--grad`` every tensor coloured by the
gradient of the loss, which fades going back in time.

Each subcommand is an ``add_<name>_command(subcommands)`` function that adds its parser and
sets ``handler`` (called with the parsed arguments, returns the exit status); ``build_parser``
lists them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from . import nn, viz
from .creation import manual_seed, randn
from .tensor import Tensor
from .viz.backends import BACKENDS, FORMATS

__all__ = ["add_graph_command", "build_parser", "main", "unrolled_loss"]

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def unrolled_loss(
    cell: str,
    steps: int,
    layers: int = 1,
    bidirectional: bool = False,
    hidden: int = 8,
    input_size: int = 4,
    batch: int = 2,
    seed: int = 0,
) -> tuple[nn.Module, Tensor]:
    """A ``cell`` layer ("rnn", "lstm" or "gru") run over random input x (steps, batch,
    input_size), and ``loss = mean(h_n ** 2)`` on its final hidden state: with the loss on
    the last step only, the gradient reaching earlier steps shows how it fades in time."""
    manual_seed(seed)
    model = CELLS[cell](input_size, hidden, num_layers=layers, bidirectional=bidirectional)
    x = randn(steps, batch, input_size)
    x.name = "x"
    _, final = model(x)
    h_n = final[0] if isinstance(final, tuple) else final
    loss = (h_n * h_n).mean()
    loss.name = "loss"
    return model, loss


def _run_graph(args: argparse.Namespace) -> int:
    _, loss = unrolled_loss(
        args.cell,
        args.steps,
        args.layers,
        args.bidirectional,
        args.hidden,
        args.input_size,
        args.batch,
        args.seed,
    )
    shape = f"{args.layers} layers, " if args.layers > 1 else ""
    shape += "bidirectional, " if args.bidirectional else ""
    title = (
        f"{args.cell.upper()} unrolled over {args.steps} step{'s' * (args.steps > 1)} "
        f"({shape}hidden size {args.hidden}); loss = mean(h_n ** 2)"
    )
    if args.grad:
        title += "; colour: norm of d loss / d tensor"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    backend = None if args.backend == "auto" else args.backend
    written = viz.render(
        loss, path=out, backend=backend, show_grad=args.grad, collapse=args.collapse, title=title
    )
    print(written)
    return 0


def add_graph_command(subcommands: argparse._SubParsersAction) -> None:
    """The ``graph`` subcommand: unroll a small RNN/LSTM/GRU and render its graph."""
    parser = subcommands.add_parser(
        "graph",
        help="draw the unrolled graph of a small RNN, LSTM or GRU",
        description=(
            "Build a small recurrent layer, run it over random input, take loss = mean(h_n ** 2) "
            "on its final hidden state, and draw the graph that backward() walks: one box per time "
            "step, the shared weights drawn once, and (with --grad) every tensor coloured by the "
            "gradient of the loss. Prints the path of the picture."
        ),
    )
    parser.add_argument(
        "--cell",
        choices=sorted(CELLS),
        default="rnn",
        help="the recurrent layer to unroll (default: %(default)s)",
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
        default=5,
        metavar="N",
        help="time steps to unroll (default: %(default)s)",
    )
    parser.add_argument(
        "--layers", type=_positive_int, default=1, metavar="L", help="stacked layers (default: %(default)s)"
    )
    parser.add_argument(
        "--bidirectional",
        action="store_true",
        help="add a reverse direction per layer (its arrows in time point right to left)",
    )
    parser.add_argument(
        "--grad",
        action="store_true",
        help="colour every tensor by the norm of the gradient of the loss with respect to it "
        "(log scale, with a legend): vanishing gradients fade out going back in time",
    )
    parser.add_argument(
        "--collapse",
        action="store_true",
        help="one node per time step instead of one per op (readable for long sequences)",
    )
    parser.add_argument(
        "--hidden", type=_positive_int, default=8, metavar="H", help="hidden size (default: %(default)s)"
    )
    parser.add_argument(
        "--input-size",
        type=_positive_int,
        default=4,
        metavar="I",
        help="input features (default: %(default)s)",
    )
    parser.add_argument(
        "--batch", type=_positive_int, default=2, metavar="B", help="batch size (default: %(default)s)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed for the weights and the input (default: %(default)s)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", *BACKENDS),
        default="auto",
        help="renderer: the system Graphviz 'dot', the pip-installed 'graphviz-pure', or 'auto' "
        "(the default: dot if on PATH; the TINYGRAD_RNN_DOT environment variable can also choose)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help=f"the picture to write; the suffix picks the format ({', '.join('.' + f for f in FORMATS)})",
    )
    parser.set_defaults(handler=_run_graph)


def build_parser() -> argparse.ArgumentParser:
    """The ``tinygrad-rnn`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-rnn",
        description="Back-propagation through time, drawn: tools around the tinygrad_rnn engine.",
    )
    subcommands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    add_graph_command(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except (ValueError, viz.GraphvizNotFoundError, RuntimeError, OSError) as error:
        parser.exit(1, f"{parser.prog} {args.command}: error: {error}\n")
    return status
