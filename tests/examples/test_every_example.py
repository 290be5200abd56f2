"""What every example promises on its command line: --help, --quick, --out, and a message
naming the extra to install when an optional dependency is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ._load import EXAMPLES

ROOT = EXAMPLES.parent
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def run(args: list[str], cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    paths = [str(extra_path)] if extra_path else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, str(ROOT)]), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_examples_are_the_four_documented_ones():
    assert SCRIPTS == ["char_rnn", "manual_bptt", "sine_wave", "vanishing_gradients"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_names_the_common_options(script, tmp_path):
    done = run([str(EXAMPLES / f"{script}.py"), "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    for option in ("--quick", "--out", "--help"):
        assert option in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_run_writes_only_into_out(script, tmp_path):
    out = tmp_path / "pictures"
    done = run([str(EXAMPLES / f"{script}.py"), "--quick", "--out", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["pictures"]
    assert sorted(p.suffix for p in out.iterdir()) and {p.suffix for p in out.iterdir()} == {".png"}


@pytest.mark.parametrize("missing", ["matplotlib", "tqdm"])
def test_a_missing_optional_dependency_names_the_extra(missing, tmp_path):
    """A package that cannot be imported, as on a machine where it was never installed."""
    blocker = tmp_path / "blocker"
    (blocker / missing).mkdir(parents=True)
    (blocker / missing / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{missing}'\")\n"
    )
    done = run([str(EXAMPLES / "char_rnn.py"), "--quick", "--out", str(tmp_path / "o")], tmp_path, blocker)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"needs {missing}" in done.stderr
    assert 'pip install "tinygrad_rnn[examples]"' in done.stderr
    help_run = run([str(EXAMPLES / "char_rnn.py"), "--help"], tmp_path, blocker)
    assert help_run.returncode == 0, "--help must work without the optional dependencies"
