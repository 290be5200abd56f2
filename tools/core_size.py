"""The readability gate: count the code lines of the core and fail above a budget.

The core is what a reader must understand to know how differentiation works: the Tensor, the
graph walk and the ops (``tinygrad_rnn/engine.py``, ``tensor.py``, ``ops/*.py``). A code line is a
physical line holding at least one token that is not a comment, a docstring or whitespace; a
statement or string spread over several lines counts every line it spans. Counting goes
through ``tokenize`` and ``ast``, so a ``#`` inside a string or a string that only looks like a
docstring is told apart correctly.

    python -m tools.core_size            # per file, the total, and the budget; exit 1 above it

CONTRIBUTING.md ("Keep the core small") says why the budget is what it is.
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinygrad_rnn"
BUDGET = 2600

# Tokens that never make a line a code line on their own.
_LAYOUT = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}

Span = tuple[tuple[int, int], tuple[int, int]]  # ((row, col), (end_row, end_col)), as tokenize gives


def core_files(package: Path = PACKAGE) -> list[Path]:
    """The files of the core, in reading order: engine, tensor, then the ops."""
    return [package / "engine.py", package / "tensor.py", *sorted((package / "ops").glob("*.py"))]


def docstring_spans(tree: ast.Module) -> list[Span]:
    """Where the docstrings are: the first statement of the module, a class or a function, when
    that statement is a string literal."""
    spans = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first = node.body[0] if node.body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            assert first.end_lineno is not None and first.end_col_offset is not None
            spans.append(((first.lineno, first.col_offset), (first.end_lineno, first.end_col_offset)))
    return spans


def count_code_lines(source: str) -> int:
    """The number of code lines in ``source``: lines with a token that is not layout, a comment
    or part of a docstring."""
    docstrings = docstring_spans(ast.parse(source))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in _LAYOUT:
            continue
        if any(start <= token.start and token.end <= end for start, end in docstrings):
            continue
        lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines)


def report(files: Sequence[Path], budget: int, root: Path = ROOT) -> tuple[str, bool]:
    """The table printed by the command, and whether the total is within ``budget``."""
    counts = [(path, count_code_lines(path.read_text(encoding="utf-8"))) for path in files]
    total = sum(count for _, count in counts)
    names = [str(path.relative_to(root)) if path.is_relative_to(root) else str(path) for path, _ in counts]
    width = max(len(name) for name in [*names, "total"])
    rows = [f"{name:<{width}}  {count:>5}" for name, (_, count) in zip(names, counts)]
    rows.append(f"{'total':<{width}}  {total:>5}   (budget {budget}, {budget - total:+d} to spare)")
    within = total <= budget
    if not within:
        rows.append(
            f"core_size: the core has {total} code lines, {total - budget} over the budget of {budget}. "
            "Make the change smaller, move what is not the core out of engine.py, tensor.py and ops/, "
            "or raise BUDGET in tools/core_size.py with the reason in CONTRIBUTING.md."
        )
    return "\n".join(rows), within


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.core_size",
        description="Count the code lines (no blank lines, comments or docstrings) of the core "
        "and fail above a budget.",
    )
    parser.add_argument("files", nargs="*", type=Path, help="files to count (default: the core)")
    parser.add_argument(
        "--budget", type=int, default=BUDGET, help=f"largest allowed total (default: {BUDGET})"
    )
    args = parser.parse_args(argv)
    text, within = report([path.resolve() for path in args.files] or core_files(), args.budget)
    print(text)
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
