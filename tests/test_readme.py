"""The README's example runs as written and its two set-up commands match CI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_example_runs_and_writes_its_picture(tmp_path, monkeypatch, capsys):
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    loss = float(re.search(r"loss (\d+\.\d+)", capsys.readouterr().out).group(1))
    assert loss < 0.2, "100 Adam steps should fit 20 labels"
    assert (tmp_path / "first.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("needle", ["python examples/char_rnn.py", "pip install torch==2.13.0"])
def test_readme_has_exactly_two_setup_commands(needle):
    commands = re.findall(r"```bash\n(.*?)```", README.split("## A first example")[0], re.S)
    assert len(commands) == 2
    assert any(needle in c for c in commands)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1].strip() in ci, "CI must run the README's test command verbatim"
