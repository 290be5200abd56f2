"""The ``tinygrad-rnn`` command (also ``python -m tinygrad_rnn``).

``tinygrad-rnn graph --cell lstm --steps 5 --grad --out lstm.png`` builds a small recurrent
network, unrolls it on random input, and draws the graph that backward() walks: one cluster
per time step, the weights drawn once, and with ``--grad`` every tensor coloured by the
gradient of the loss, which fades going back in time. Long unrolls are folded (``--full``
draws every step). ``--html page.html`` writes the interactive page that plays the backward
pass (``viz.html``), ``--animate bptt.gif`` the same as a GIF (``viz.animate``);
``--every-step`` puts a loss term at every step, and the page then shows BPTT's double sum
term by term (the (t, k) map).

Each subcommand is an ``add_<name>_command(subcommands)`` function that adds its parser and
sets ``handler`` (called with the parsed arguments, returns the exit status); ``build_parser``
lists them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import nn, viz
from .creation import manual_seed, randn
from .tensor import Tensor
from .viz.backends import BACKENDS, FORMATS

__all__ = [
    "GALLERY",
    "add_gallery_command",
    "add_graph_command",
    "build_parser",
    "every_step_loss",
    "main",
    "parameter_count",
    "unrolled_loss",
]

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
MAX_PARAMETERS = 20_000_000  # the graph command draws small models; this is 80 MB of float32
FULL_WARNING_STEPS = 200  # --full beyond this many steps per layer: warn that layout takes long


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
    model, _, final = _unrolled(cell, steps, layers, bidirectional, hidden, input_size, batch, seed)
    h_n = final[0] if isinstance(final, tuple) else final
    loss = (h_n * h_n).mean()
    loss.name = "loss"
    return model, loss


def every_step_loss(
    cell: str,
    steps: int,
    layers: int = 1,
    bidirectional: bool = False,
    hidden: int = 8,
    input_size: int = 4,
    batch: int = 2,
    seed: int = 0,
) -> tuple[nn.Module, Tensor, list[Tensor]]:
    """As ``unrolled_loss``, with a loss at every step instead: ``loss = mean(output ** 2)`` on
    the top layer's output at all steps, and its per-step terms ``L_t = mean(output[t] ** 2) /
    steps`` (``loss = L_1 + ... + L_T``), for ``viz.html(..., per_step=terms)``."""
    model, output, _ = _unrolled(cell, steps, layers, bidirectional, hidden, input_size, batch, seed)
    loss = (output * output).mean()
    loss.name = "loss"
    terms = [(output[t] * output[t]).mean() / steps for t in range(steps)]
    return model, loss, terms


def _unrolled(
    cell: str,
    steps: int,
    layers: int,
    bidirectional: bool,
    hidden: int,
    input_size: int,
    batch: int,
    seed: int,
) -> tuple[nn.Module, Tensor, Any]:
    manual_seed(seed)
    model = CELLS[cell](input_size, hidden, num_layers=layers, bidirectional=bidirectional)
    x = randn(steps, batch, input_size)
    x.name = "x"
    output, final = model(x)
    return model, output, final


def parameter_count(cell: str, layers: int, bidirectional: bool, hidden: int, input_size: int) -> int:
    """How many numbers the weights of the ``graph`` command's model hold."""
    directions = 2 if bidirectional else 1
    gates = GATES[cell] * hidden
    total = 0
    for layer in range(layers):
        layer_input = input_size if layer == 0 else hidden * directions
        total += directions * (gates * layer_input + gates * hidden + 2 * gates)
    return total


def _check_size(args: argparse.Namespace) -> None:
    count = parameter_count(args.cell, args.layers, args.bidirectional, args.hidden, args.input_size)
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"an {args.cell.upper()} layer with --hidden {args.hidden}, --input-size {args.input_size} and "
            f"--layers {args.layers} would hold {count:,} weights ({count * 4 / 2**30:.1f} GiB); this "
            f"command draws small models (at most {MAX_PARAMETERS:,} weights): use a smaller --hidden, "
            "such as 8 (the default) to 256"
        )


def _run_graph(args: argparse.Namespace) -> int:
    if args.out is None and args.html is None and args.animate is None:
        raise ValueError(
            "say what to write: --out FILE (a picture), --html FILE.html and/or --animate FILE.gif"
        )
    _check_size(args)
    if args.full and args.steps * args.layers > FULL_WARNING_STEPS:
        print(
            f"{args.steps} steps x {args.layers} layers drawn in full (--full): the layout can take "
            "minutes; drop --full to fold the middle steps",
            file=sys.stderr,
        )
    sizes = (
        args.cell,
        args.steps,
        args.layers,
        args.bidirectional,
        args.hidden,
        args.input_size,
        args.batch,
        args.seed,
    )
    terms = None
    if args.every_step:
        model, loss, terms = every_step_loss(*sizes)
    else:
        model, loss = unrolled_loss(*sizes)
    shape = f"{args.layers} layers, " if args.layers > 1 else ""
    shape += "bidirectional, " if args.bidirectional else ""
    title = (
        f"{args.cell.upper()} unrolled over {args.steps} step{'s' * (args.steps > 1)} "
        f"({shape}hidden size {args.hidden}); loss = "
        + ("mean(output ** 2) over every step" if args.every_step else "mean(h_n ** 2)")
    )
    if args.grad:
        title += "; colour: norm of d loss / d tensor"
    backend = None if args.backend == "auto" else args.backend
    fold = not args.full
    if args.out is not None:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        written = viz.render(
            loss,
            path=out,
            model=model,
            backend=backend,
            show_grad=args.grad,
            collapse=args.collapse,
            fold=fold,
            title=title,
        )
        print(written)
    if args.html is not None:
        print(
            viz.html(
                loss, path=args.html, model=model, fold=fold, title=title, backend=backend, per_step=terms
            )
        )
    if args.animate is not None:
        print(viz.animate(loss, path=args.animate, model=model, fold=fold, backend=backend))
    return 0


def add_graph_command(subcommands: argparse._SubParsersAction) -> None:
    """The ``graph`` subcommand: unroll a small RNN/LSTM/GRU and render its graph."""
    parser = subcommands.add_parser(
        "graph",
        help="draw the unrolled graph of a small RNN, LSTM or GRU",
        description=(
            "Build a small recurrent layer, run it over random input, take loss = mean(h_n ** 2) "
            "on its final hidden state (--every-step: mean(output ** 2) over all steps), and draw the "
            "graph that backward() walks: one box per time "
            "step, the shared weights drawn once, and (with --grad) every tensor coloured by the "
            "gradient of the loss. Prints the path of each file written."
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
        help="one node per time step instead of one per op",
    )
    parser.add_argument(
        "--every-step",
        action="store_true",
        help="a loss at every step, mean(output ** 2) over all steps, instead of mean(h_n ** 2) on "
        "the last; with --html the page also shows what each step's loss term adds to the weights' "
        "gradients through each earlier step (the (t, k) map)",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="draw every time step (by default a long unroll shows its first and last steps and "
        "one node saying how many steps it folds in between, and the picture is at most 4,000 px)",
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
        metavar="FILE",
        help=f"the picture to write; the suffix picks the format ({', '.join('.' + f for f in FORMATS)})",
    )
    parser.add_argument(
        "--html",
        metavar="FILE.html",
        help="also write one self-contained HTML page: pan and zoom, tooltips, and a player of the "
        "backward pass with the gradient norm by step and each step's share of the weights' gradients",
    )
    parser.add_argument(
        "--animate",
        metavar="FILE.gif",
        help="also write the backward pass as an animated GIF, a frame per step "
        "(needs Pillow: pip install 'tinygrad_rnn[animate]')",
    )
    parser.set_defaults(handler=_run_graph)


# The pictures of the docs and the README: (file stem, cell, steps, layers), each drawn plain and
# with gradients; the first also as a page and a GIF.
GALLERY = (
    ("rnn_5steps", "rnn", 5, 1),
    ("gru_30steps", "gru", 30, 1),
    ("lstm_100steps_2layers", "lstm", 100, 2),
)


def _run_gallery(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    backend = None if args.backend == "auto" else args.backend
    for stem, cell, steps, layers in GALLERY:
        model, loss = unrolled_loss(cell, steps, layers)
        shape = f"{layers} layers, " if layers > 1 else ""
        title = f"{cell.upper()} unrolled over {steps} steps ({shape}hidden size 8); loss = mean(h_n ** 2)"
        for suffix, show_grad in (("", False), ("_grad", True)):
            print(
                viz.render(
                    loss,
                    path=folder / f"{stem}{suffix}.png",
                    model=model,
                    show_grad=show_grad,
                    title=title,
                    backend=backend,
                )
            )
    model, loss = unrolled_loss("lstm", 6)
    print(viz.html(loss, path=folder / "bptt_lstm_6steps.html", model=model, backend=backend))
    model, loss = unrolled_loss("rnn", 5)
    print(viz.animate(loss, path=folder / "bptt_rnn_5steps.gif", model=model, backend=backend))
    return 0


def add_gallery_command(subcommands: argparse._SubParsersAction) -> None:
    """The ``gallery`` subcommand: regenerate the pictures of the docs in one go."""
    parser = subcommands.add_parser(
        "gallery",
        help="write the docs' pictures: 5-step RNN, 30-step GRU, 100-step 2-layer LSTM, a page, a GIF",
        description="Write the pictures docs/ and the README show (tinygrad-rnn gallery docs/images): "
        "a 5-step RNN, a 30-step GRU and a 100-step two-layer LSTM, each plain and with gradients, the "
        "interactive page of a 6-step LSTM and the GIF of a 5-step RNN's backward pass.",
    )
    parser.add_argument("folder", metavar="FOLDER", help="where to write them (created if missing)")
    parser.add_argument(
        "--backend", choices=("auto", *BACKENDS), default="auto", help="renderer (default: %(default)s)"
    )
    parser.set_defaults(handler=_run_gallery)


def build_parser() -> argparse.ArgumentParser:
    """The ``tinygrad-rnn`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-rnn",
        description="Back-propagation through time, drawn: tools around the tinygrad_rnn engine.",
    )
    subcommands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    add_graph_command(subcommands)
    add_gallery_command(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "graph" and args.out is None and args.html is None and args.animate is None:
        parser.error(
            "graph: say what to write: --out FILE (a picture), --html FILE.html and/or --animate FILE.gif"
        )
    try:
        status: int = args.handler(args)
    except (ValueError, viz.GraphvizNotFoundError, RuntimeError, OSError, ImportError) as error:
        parser.exit(1, f"{parser.prog} {args.command}: error: {error}\n")
    except MemoryError:
        parser.exit(
            1,
            f"{parser.prog} {args.command}: error: out of memory; draw a smaller model (--hidden, --steps)\n",
        )
    return status
