"""The README's example runs as written, its set-up commands match CI, and it says what the
homework was."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_example_runs_and_writes_its_picture(tmp_path, monkeypatch, capsys):
    (block,) = re.findall(r"```python\n(.*?)```", README, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    loss = float(re.search(r"loss (\d+\.\d+)", capsys.readouterr().out).group(1))
    assert loss < 0.2, "100 Adam steps should fit 20 labels"
    assert (tmp_path / "first.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def setup_commands() -> list[str]:
    return [c.strip() for c in re.findall(r"```bash\n(.*?)```", README.split("## A first example")[0], re.S)]


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (command,) = re.findall(r"^TEST_COMMAND='(.*)'$", ci, re.M)
    assert command in setup_commands(), "CI must run the README's test command verbatim"


def test_readme_sets_up_the_demo_and_the_cpu_only_torch():
    demo, tests, cpu_torch = setup_commands()
    assert demo == 'pip install -e ".[examples]" && python examples/char_rnn.py'
    assert tests.startswith("pip install torch==2.13.0 && ")
    assert cpu_torch == "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"


def test_readme_explains_the_homework():
    context = README.split("## Set up")[0]
    for needle in ("homework", "numpy", "PyTorch", "wrong", "你好李焕英", "夏洛特烦恼"):
        assert needle in context
