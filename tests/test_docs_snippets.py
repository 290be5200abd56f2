"""Every code block of README.md and docs/*.md runs as written.

A ```python block is executed on its own, in a fresh namespace, from an empty folder: it has to
import what it uses and make its own data, as a reader who copies it would. A ```bash block is
run line by line by bash from an empty folder in which `examples/` and `benchmarks/` point at
the repository's. A block that cannot run (it installs packages, or takes minutes) carries the
marker ``<!-- not-run: the reason -->`` on the line before its fence; the reason is required.
Blocks without a language, and ```text blocks, are pictures of text (diagrams, signatures,
printed output), not code. A ```text block marked ``<!-- output of: COMMAND -->`` must match what
that command prints now (see ``test_printed_output_matches``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(
    r"^(?P<marker><!--(?P<comment>.*?)-->\n)?```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$", re.M | re.S
)
LANGUAGES = ("python", "bash", "text", "")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    body: str
    comment: str | None

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        fence_line = text.count("\n", 0, match.start("lang")) + 1
        comment = match.group("comment")
        found.append(
            Block(page, fence_line, match.group("lang"), match.group("body"), comment and comment.strip())
        )
    return found


ALL = [block for page in PAGES for block in blocks(page)]
CODE = [block for block in ALL if block.lang in ("python", "bash")]


def not_run_reason(block: Block) -> str | None:
    if block.comment and block.comment.startswith("not-run"):
        reason = block.comment.removeprefix("not-run").lstrip(":").strip()
        assert reason, f"{block.id}: a not-run marker needs a reason: <!-- not-run: why -->"
        return reason
    return None


def sandbox(tmp_path: Path) -> dict[str, str]:
    """An empty working folder that sees the repository's examples, and an environment whose
    `python` and `tinygrad-rnn` use this checkout."""
    for name in ("examples", "benchmarks"):
        (tmp_path / name).symlink_to(ROOT / name)
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": path, "PYTHONPATH": pythonpath, "MPLBACKEND": "Agg"}


def test_pages_have_code_blocks():
    assert len(CODE) >= 10
    assert {block.page.name for block in CODE} >= {"README.md", "api.md", "architecture.md", "bptt.md"}


@pytest.mark.parametrize("block", ALL, ids=lambda b: b.id)
def test_every_block_has_a_known_language(block):
    assert block.lang in LANGUAGES, f"{block.id}: unknown language {block.lang!r}; use one of {LANGUAGES}"


@pytest.mark.parametrize("block", CODE, ids=lambda b: b.id)
def test_code_block_runs(block, tmp_path, monkeypatch):
    reason = not_run_reason(block)
    if reason:
        pytest.skip(f"marked not runnable: {reason}")
    env = sandbox(tmp_path)
    if block.lang == "python":
        script = tmp_path / "snippet.py"
        script.write_text(block.body, encoding="utf-8")
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.body]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{block.id} failed:\n{block.body}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )


NUMBER = re.compile(r"-?\d+\.\d+e[+-]\d+")


def normalise(line: str) -> str:
    """Relative errors below 1e-6 are rounding noise whose digits differ between machines:
    they compare as `tiny`; larger numbers must match as printed."""
    return NUMBER.sub(lambda m: "tiny" if abs(float(m.group())) < 1e-6 else m.group(), line).rstrip()


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """``printed(command)``: what a shell command prints, each command run once per module."""
    seen: dict[str, str] = {}

    def run(command: str) -> str:
        if command not in seen:
            folder = tmp_path_factory.mktemp("output")
            done = subprocess.run(["bash", "-c", command], cwd=folder, env=sandbox(folder),
                                  capture_output=True, text=True, timeout=600)  # fmt: skip
            assert done.returncode == 0, done.stderr
            seen[command] = done.stdout
        return seen[command]

    return run


OUTPUTS = [block for block in ALL if block.comment and block.comment.startswith("output of:")]


def test_some_outputs_are_checked():
    assert len(OUTPUTS) >= 3


@pytest.mark.parametrize("block", OUTPUTS, ids=lambda b: b.id)
def test_printed_output_matches(block, printed):
    command = block.comment.removeprefix("output of:").strip()
    output = {normalise(line) for line in printed(command).splitlines()}
    for line in block.body.splitlines():
        assert normalise(line) in output, f"{block.id}: `{command}` no longer prints\n{line}"
