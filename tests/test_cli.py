"""The ``tinygrad-rnn`` command line: in-process through main(), and once as ``python -m``."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygrad_rnn import cli, nn
from tinygrad_rnn.viz.backends import BACKEND_ENV_VAR

from .viz.test_backends import PNG_SIGNATURE, SVG_NAMESPACE, png_size

REPO = Path(__file__).resolve().parents[1]


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [(element.text or "").strip() for element in root.iter(f"{SVG_NAMESPACE}text")]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_graph_writes_a_png_and_prints_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pictures" / "rnn.png"  # the folder is created
    printed = run(capsys, "graph", "--cell", "rnn", "--steps", "5", "--out", str(out))
    assert printed == f"{out}\n"
    width, height = png_size(out.read_bytes())
    assert out.read_bytes().startswith(PNG_SIGNATURE) and width > height


def test_graph_svg_shows_the_steps_weights_and_gradients(tmp_path: Path, capsys) -> None:
    out = tmp_path / "rnn.svg"
    run(capsys, "graph", "--cell", "rnn", "--steps", "5", "--grad", "--out", str(out))
    texts = svg_texts(out)
    assert [t for t in texts if t.startswith("t=")] == [f"t={k}" for k in range(1, 6)]
    for weight in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert sum(t.startswith(weight) for t in texts) == 1, weight
    assert "loss ()" in texts and "x (5, 2, 4)" in texts
    assert any(t.startswith("gradient norm") for t in texts)
    assert sum(t.startswith("grad ") for t in texts) > 5
    assert any("RNN unrolled over 5 steps" in t for t in texts)


@pytest.mark.parametrize(
    ("arguments", "step_labels", "layers"),
    [
        (["--cell", "lstm", "--steps", "3"], 3, {"l0"}),
        (["--cell", "gru", "--steps", "2", "--layers", "2", "--hidden", "3"], 4, {"l0", "l1"}),
        (["--cell", "rnn", "--steps", "3", "--bidirectional"], 6, {"l0", "l0_reverse"}),
        (["--cell", "lstm", "--steps", "4", "--collapse", "--grad", "--seed", "3", "--full"], 4, {"l0"}),
    ],
)
def test_graph_options(
    tmp_path: Path, capsys, arguments: list[str], step_labels: int, layers: set[str]
) -> None:
    out = tmp_path / "graph.svg"
    run(capsys, "graph", *arguments, "--out", str(out))
    texts = svg_texts(out)
    assert len([t for t in texts if t.startswith("t=")]) == step_labels
    assert {t for t in texts if t in {"l0", "l1", "l0_reverse"}} == layers
    if "--collapse" in arguments:
        assert texts.count("11 ops") == 4
    if "--layers" in arguments:
        assert any(t.startswith("weight_hh_l1") for t in texts)


def test_graph_dot_output_and_both_renderers(tmp_path: Path, capsys, monkeypatch) -> None:
    source = tmp_path / "graph.dot"
    run(capsys, "graph", "--steps", "2", "--out", str(source))
    assert source.read_text().startswith("digraph")
    monkeypatch.setenv(BACKEND_ENV_VAR, "dot")
    pure = tmp_path / "pure.png"
    run(capsys, "graph", "--steps", "2", "--backend", "graphviz-pure", "--out", str(pure))
    assert pure.read_bytes().startswith(PNG_SIGNATURE)


def test_the_same_seed_gives_the_same_picture(tmp_path: Path, capsys) -> None:
    sources = []
    for seed in ("1", "1", "2"):
        out = tmp_path / f"{len(sources)}.dot"
        run(capsys, "graph", "--grad", "--seed", seed, "--out", str(out))
        sources.append(out.read_text())
    assert sources[0] == sources[1] != sources[2]


def test_help_explains_every_flag(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["graph", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for flag in (
        "--cell", "--steps", "--layers", "--bidirectional", "--grad", "--collapse", "--hidden",
        "--input-size", "--batch", "--seed", "--backend", "--out",
    ):  # fmt: skip
        assert flag in text, flag
    assert "{gru,lstm,rnn}" in text and "TINYGRAD_RNN_DOT" in text and ".svg" in text
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "graph" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["graph", "--steps", "3"], "--out"),
        (["graph", "--steps", "0", "--out", "x.png"], "--steps: must be at least 1"),
        (["graph", "--cell", "transformer", "--out", "x.png"], "invalid choice"),
    ],
)
def test_usage_errors_exit_with_2(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_rendering_error_is_one_line_and_exit_status_1(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["graph", "--steps", "2", "--out", str(tmp_path / "graph.jpg")])
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("tinygrad-rnn graph: error: cannot render to '.jpg'") and error.count("\n") == 1


def test_unrolled_loss_is_a_loss_on_the_final_hidden_state() -> None:
    model, loss = cli.unrolled_loss("lstm", steps=3, layers=2, bidirectional=True, hidden=5)
    assert isinstance(model, nn.LSTM) and model.num_layers == 2 and model.bidirectional
    assert loss.shape == () and loss.name == "loss" and loss.requires_grad


def test_python_dash_m_runs_the_same_command(tmp_path: Path) -> None:
    out = tmp_path / "lstm.svg"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [sys.executable, "-m", "tinygrad_rnn", "graph", "--cell", "lstm", "--steps", "3", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{out}\n"
    assert "t=3" in svg_texts(out)


def test_a_model_too_big_to_draw_is_a_clear_error_not_a_traceback(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["graph", "--hidden", "100000", "--out", "x.png"])
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert (
        error.startswith("tinygrad-rnn graph: error: an RNN layer with --hidden 100000")
        and "Traceback" not in error
    )
    assert "10,000,600,000 weights" in error and "use a smaller --hidden" in error and error.count("\n") == 1
    assert cli.parameter_count("lstm", 2, True, 8, 4) == sum(
        math.prod(p.shape) for p in nn.LSTM(4, 8, num_layers=2, bidirectional=True).parameters()
    )


def test_graph_writes_the_page_and_the_animation(tmp_path: Path, capsys) -> None:
    pytest.importorskip("PIL", reason="Pillow is not installed (pip install 'tinygrad_rnn[animate]')")
    page, gif = tmp_path / "bptt.html", tmp_path / "bptt.gif"
    printed = run(
        capsys, "graph", "--cell", "gru", "--steps", "3", "--html", str(page), "--animate", str(gif)
    )
    assert printed == f"{page}\n{gif}\n"
    assert "window.bptt" in page.read_text() and gif.read_bytes().startswith(b"GIF89a")


def test_long_unrolls_fold_unless_full(tmp_path: Path, capsys) -> None:
    out = tmp_path / "lstm.svg"
    run(capsys, "graph", "--cell", "lstm", "--steps", "40", "--out", str(out))
    texts = svg_texts(out)
    assert sorted(t for t in texts if t.startswith("t=") and " " not in t) == ["t=1", "t=40"]
    assert "… 38 steps …" in texts
    run(capsys, "graph", "--cell", "rnn", "--steps", "8", "--full", "--out", str(out))
    assert len([t for t in svg_texts(out) if re.fullmatch(r"t=\d+", t)]) == 8


def test_graph_every_step_adds_the_t_k_map_to_the_page(tmp_path: Path, capsys) -> None:
    import json

    page = tmp_path / "every.html"
    printed = run(capsys, "graph", "--cell", "rnn", "--steps", "4", "--every-step", "--html", str(page))
    assert printed == f"{page}\n"
    text = page.read_text()
    data = json.loads(text.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert "loss = mean(output ** 2) over every step" in data["title"]
    (heat,) = [m for m in data["termHeat"] if m["name"] == "weight_hh_l0"]
    assert heat["steps"] == [1, 2, 3, 4] and len(heat["matrix"]) == 4
    assert all(v == 0 for t, row in enumerate(heat["matrix"], 1) for k, v in zip(heat["steps"], row) if k > t)
    model, loss, terms = cli.every_step_loss("rnn", 4)
    assert float(sum(t.item() for t in terms)) == pytest.approx(loss.item(), rel=1e-6)
    run(capsys, "graph", "--cell", "rnn", "--steps", "4", "--html", str(page))
    assert '"termHeat": []' in page.read_text(), "without --every-step, no per-step map"
