"""Fixtures shared by the renderer tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tinygrad_rnn.viz.backends import BACKEND_ENV_VAR, available_backend


def hide_system_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An empty PATH: no `dot`; graphviz-pure is still found in Python's scripts folder."""
    empty = tmp_path / "empty_path"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv(BACKEND_ENV_VAR, raising=False)


@pytest.fixture(params=["dot", "graphviz-pure"])
def renderer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Each test runs once on the system dot and once on the pip-only fallback with dot hidden."""
    if request.param == "dot":
        if shutil.which("dot") is None:
            pytest.skip("system Graphviz `dot` is not on PATH (apt-get install graphviz)")
        monkeypatch.setenv(BACKEND_ENV_VAR, "dot")
    else:
        hide_system_dot(monkeypatch, tmp_path)
    assert available_backend() == request.param
    return request.param
