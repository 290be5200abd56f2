"""Hostile names through the renderer, node ids that cannot merge, a renderer that hangs or
writes nothing, and CJK text with either renderer."""

from __future__ import annotations

import os
import re
import stat
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import viz
from tinygrad_rnn.viz import backends
from tinygrad_rnn.viz.backends import TIMEOUT_ENV_VAR, render_source, without_cjk
from tinygrad_rnn.viz.dot import dot_text

from .test_backends import PNG_SIGNATURE, SVG_NAMESPACE

HOSTILE = (
    '<a href="javascript:alert(1)">click</a>',
    "<<TABLE><TR><TD>html</TD></TR></TABLE>>",
    "trailing backslash \\",
    "escapes \\l \\N \\G \\E \\T \\H \\n",
    'quote " and \\" and \\\\"',
    "<script>alert(1)</script>",
    "new\nline and tab\t",
    "ampersand &amp; &lt;",
)


def hostile_graph(name: str) -> tuple[tg.Tensor, dict[str, tg.Tensor]]:
    """A one-step graph whose parameter, scope, tensor and root carry ``name``."""
    tg.manual_seed(0)
    weight = tg.randn(3, 3, requires_grad=True)
    scope_name = name.replace("/", "|")  # scope names cannot hold "/"
    with tg.scope(scope_name), tg.scope("t=1"):
        h = (tg.randn(2, 3) @ weight).tanh()
    h.name = name
    loss = (h * h).sum()
    loss.name = name
    return loss, {name: weight}


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [element.text or "" for element in root.iter(f"{SVG_NAMESPACE}text")]


def shown(name: str) -> str:
    """What a label should read: control characters become spaces."""
    return re.sub("[\x00-\x1f]", " ", name)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_drawn_as_typed_and_inject_nothing(
    renderer: str, tmp_path: Path, name: str
) -> None:
    loss, params = hostile_graph(name)
    path = viz.render(loss, path=tmp_path / "hostile.svg", params=params, show_grad=True, title=name)
    texts = svg_texts(path)  # the SVG parses: the DOT did
    joined = "\n".join(texts)
    expected = shown(name)
    # every place the name goes: title, cluster label, parameter, tensor, root, legend
    # title, parameter, tensor and root: each a line of its own (long names put the shape on
    # the next line); the cluster label is the scope's name
    assert texts.count(expected) >= 4, (expected, texts)
    assert shown(name.replace("/", "|")) in texts
    assert f"gradient norm ‖∂{expected}/∂tensor‖ (log scale)" in joined, "the legend names the root"
    root = ET.parse(path).getroot()
    for element in root.iter():
        assert not element.tag.endswith("script") and not element.tag.endswith("foreignObject")
        for key, value in element.attrib.items():
            assert not key.endswith("href") and not key.lower().startswith("on"), (element.tag, key, value)


def test_dot_text_never_makes_an_html_label_or_an_escape() -> None:
    import graphviz

    digraph = graphviz.Digraph()
    digraph.node("a", dot_text("<b>bold</b> \\N \\"))
    source = digraph.source
    assert 'label="<b>bold</b> \\\\N \\\\"' in source, source
    assert dot_text("a &lt; b") == "a &amp;lt; b"
    assert dot_text("tab\there") == "tab here"


def test_scope_paths_that_join_alike_stay_apart() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    outputs = []
    for path in (("a_b", "t=1"), ("a", "b", "t=1"), ("a_b", "t=2"), ("a", "b", "t=2"), ("a", "b_t=1")):
        scopes = [tg.scope(part) for part in path]
        for s in scopes:
            s.__enter__()
        h = (x * 2.0).tanh()
        for s in reversed(scopes):
            s.__exit__(None, None, None)
        outputs.append(h)
    for _ in range(2):  # enough steps for rails in each layer
        pass
    picture = viz.draw(*outputs, fold=False)
    node_ids = re.findall(r"^\s*(\w+) \[", picture.source, flags=re.M)
    node_ids = [n for n in node_ids if n not in ("graph", "node", "edge")]
    assert len(node_ids) == len(set(node_ids)), "every node is declared once"
    model = viz.build_graph(*outputs, fold=False)
    assert len(model.clusters) == len(set(model.clusters))
    assert {("a_b", "t=1"), ("a", "b", "t=1"), ("a", "b_t=1")} <= set(model.clusters)
    tanh_nodes = [n for n in model.nodes.values() if n.label == "tanh"]
    assert len(tanh_nodes) == 5 and len({n.path for n in tanh_nodes}) == 5


def test_rail_and_order_ids_number_scope_paths_instead_of_joining_names() -> None:
    tg.manual_seed(0)
    weight = tg.randn(2, 2, requires_grad=True)
    roots = []
    for layer in (("a_b",), ("a", "b")):
        h = tg.randn(1, 2)
        for t in range(1, 5):
            scopes = [tg.scope(part) for part in (*layer, f"t={t}")]
            for s in scopes:
                s.__enter__()
            h = (h @ weight).tanh()
            for s in reversed(scopes):
                s.__exit__(None, None, None)
        roots.append(h)
    source = viz.draw(*roots, fold=False).source
    declared = [
        line.split(" [")[0].strip() for line in source.splitlines() if re.match(r"\s*(rail|order)_", line)
    ]
    declared = [d for d in declared if "->" not in d]
    assert declared and len(declared) == len(set(declared)), declared


def fake_renderer(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake_dot"
    script.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_renderer_that_hangs_is_stopped_with_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    program = fake_renderer(tmp_path, "time.sleep(30)")
    monkeypatch.setattr(backends, "_find_program", lambda name: program)
    target = tmp_path / "graph.png"
    with pytest.raises(TimeoutError, match=r"within 0\.5 s.*fold.*timeout="):
        render_source("digraph { a -> b }", target, timeout=0.5)
    assert not target.exists()
    monkeypatch.setenv(TIMEOUT_ENV_VAR, "0.5")
    with pytest.raises(TimeoutError, match=TIMEOUT_ENV_VAR):
        render_source("digraph { a -> b }", target)
    monkeypatch.setenv(TIMEOUT_ENV_VAR, "soon")
    with pytest.raises(ValueError, match=f"{TIMEOUT_ENV_VAR}='soon' is not a number"):
        render_source("digraph { a -> b }", target)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        render_source("digraph { a -> b }", target, timeout=0)


def test_a_renderer_that_writes_nothing_is_an_error(tmp_path: Path, monkeypatch) -> None:
    program = fake_renderer(tmp_path, "sys.stdin.read(); sys.stderr.write('no fonts found')")
    monkeypatch.setattr(backends, "_find_program", lambda name: program)
    target = tmp_path / "graph.png"
    with pytest.raises(RuntimeError, match="wrote no PNG data.*nothing was written.*no fonts found"):
        render_source("digraph { a -> b }", target)
    assert not target.exists()


CJK = "隐藏状态 h_t"


def cjk_loss() -> tg.Tensor:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.name = CJK
    return loss


def test_cjk_text_stays_characters_in_svg(renderer: str, tmp_path: Path) -> None:
    path = viz.render(cjk_loss(), path=tmp_path / "cjk.svg")
    assert any(t.startswith(CJK) for t in svg_texts(path))


def test_cjk_in_a_png_from_graphviz_pure_becomes_code_points_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(backends.BACKEND_ENV_VAR, "graphviz-pure")
    with pytest.warns(UserWarning, match=r"no Chinese/Japanese/Korean glyphs.*\d+ such characters.*\.svg"):
        path = viz.render(cjk_loss(), path=tmp_path / "cjk.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert without_cjk('label="隐藏 x"') == ('label="U+9690U+85CF x"', 2)
    assert without_cjk("äéß αβγ ∂‖…") == ("äéß αβγ ∂‖…", 0), "Latin, Greek and math stay"


@pytest.mark.skipif(
    not (os.path.exists("/usr/share/fonts/opentype/noto") and backends.shutil.which("dot")),
    reason="system Graphviz and fonts-noto-cjk are not installed (apt-get install graphviz fonts-noto-cjk)",
)
def test_cjk_in_a_png_from_the_system_dot_is_drawn_without_a_warning(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(backends.BACKEND_ENV_VAR, "dot")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = viz.render(cjk_loss(), path=tmp_path / "cjk.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
