"""The checks that keep the written habits true: the core's line counter, and one version of
each dev tool for CI and pre-commit."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from tools import core_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]

# Every kind of line the counter must tell apart; the comment at the end of a line says whether
# it is a code line.
SAMPLE = textwrap.dedent(
    '''\
    """Module docstring,
    over two lines."""
    # a comment line
    import os  # code, with a comment after it

    X = "# not a comment"  # code


    class A:
        """Class docstring."""

        y = 1  # code

        def f(self, a,
              b):  # the signature spans two lines: both are code
            """Function docstring
            that spans
            three lines."""
            text = """a string that is
    not a docstring"""  # both lines are code
            return text

        def g(self):
            x = 1
            "a string statement after the first is code"
            return x
    '''
)
SAMPLE_CODE_LINES = [4, 6, 9, 12, 14, 15, 19, 20, 21, 23, 24, 25, 26]


def test_counts_exactly_the_code_lines_of_a_sample():
    assert core_size.count_code_lines(SAMPLE) == len(SAMPLE_CODE_LINES) == 13


def test_a_file_of_only_docstrings_comments_and_blanks_has_no_code():
    assert core_size.count_code_lines('"""Only a docstring."""\n\n# and a comment\n') == 0
    assert core_size.count_code_lines("") == 0


def test_prints_each_file_and_the_total_and_fails_above_the_budget(tmp_path, capsys):
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    other = tmp_path / "other.py"
    other.write_text("a = 1\nb = 2\n")
    assert core_size.main([str(sample), str(other), "--budget", "15"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"sample\.py\s+13\n", printed)
    assert re.search(r"other\.py\s+2\n", printed)
    assert re.search(r"total\s+15\s+\(budget 15, \+0 to spare\)", printed)

    assert core_size.main([str(sample), str(other), "--budget", "14"]) == 1
    printed = capsys.readouterr().out
    assert "the core has 15 code lines, 1 over the budget of 14" in printed
    assert "CONTRIBUTING.md" in printed


def test_contributing_states_the_budget_the_script_enforces():
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert f"{core_size.BUDGET:,}" in contributing


# --------------------------------------------------------------------------- tool versions


def _pins() -> dict[str, str]:
    """The dev extra's exact versions, by package name."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = {}
    for requirement in pyproject["project"]["optional-dependencies"]["dev"]:
        name, sep, version = requirement.partition("==")
        assert sep, f"the dev extra must pin exact versions (name==version), got {requirement!r}"
        pins[name] = version
    return pins


def test_dev_tools_are_pinned_exactly():
    assert set(_pins()) == {"ruff", "mypy", "pre-commit"}


def test_pre_commit_hooks_run_the_pinned_ruff_and_mypy():
    config = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    used = re.findall(r"\b(ruff|mypy)==([0-9][^\"',\]\s]*)", config)
    pins = _pins()
    assert {tool for tool, _ in used} == {"ruff", "mypy"}
    for tool, version in used:
        assert version == pins[tool], f".pre-commit-config.yaml has {tool}=={version}, pyproject {pins[tool]}"
    assert "language: system" not in config, "a system hook runs whatever version happens to be installed"


def test_ci_installs_the_dev_extra_before_linting():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = ci.index('pip install -q -e ".[dev')
    assert install < ci.index("ruff check .") and install < ci.index("\nmypy")


def test_coverage_floor_is_the_one_contributing_promises():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    floor = pyproject["tool"]["coverage"]["report"]["fail_under"]
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert f"at or above {floor}%" in contributing
