"""The recorded backward pass (viz.trace) against torch, and the page and GIF built on it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn, viz
from tinygrad_rnn.viz.trace import trace_backward

TORCH = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}


def models(kind: str, layers: int = 1, bidirectional: bool = False):
    tg.manual_seed(0)
    ours = getattr(nn, kind)(3, 5, num_layers=layers, bidirectional=bidirectional).double()
    theirs = TORCH[kind](3, 5, num_layers=layers, bidirectional=bidirectional).double()
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(getattr(ours, name).detach().numpy()))
    x = tg.randn(6, 2, 3).double()
    return ours, theirs, x


@pytest.mark.parametrize(("kind", "layers", "bidirectional"), [
    ("RNN", 1, False), ("LSTM", 2, False), ("GRU", 1, True), ("LSTM", 2, True),
])  # fmt: skip
def test_contributions_sum_to_torchs_gradients(kind: str, layers: int, bidirectional: bool) -> None:
    ours, theirs, x = models(kind, layers, bidirectional)
    output, _ = ours(x)
    loss = (output * output).mean()
    trace = trace_backward(loss, model=ours)
    expected, _ = theirs(torch.from_numpy(x.numpy()))
    (expected * expected).mean().backward()
    assert set(trace.gradients) == {n for n, _ in theirs.named_parameters()}
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(trace.gradients[name], p.grad.numpy(), rtol=1e-9, atol=1e-13, err_msg=name)
    assert all(p.grad is None for p in ours.parameters()), "no .grad touched"
    loss.backward()  # the graph is still usable
    np.testing.assert_allclose(ours.weight_hh_l0.grad.numpy(), theirs.weight_hh_l0.grad.numpy(), rtol=1e-9)


def test_each_steps_term_is_the_gradient_through_that_steps_own_copy_of_w_hh() -> None:
    """The BPTT sum term by term: in torch, give step k its own copy W_k of W_hh; then
    dL/dW_k is exactly step k's term, which the trace reads off the engine's walk."""
    ours, theirs, x = models("RNN")
    _, h_n = ours(x)
    loss = (h_n * h_n).mean()
    trace = trace_backward(loss, model=ours)
    terms = {k: array for (run, k), array in trace.step_contributions("weight_hh_l0").items()}

    w_ih, w_hh, b_ih, b_hh = (
        getattr(theirs, n).detach() for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    )
    copies = [w_hh.clone().requires_grad_() for _ in range(6)]
    h = torch.zeros(2, 5, dtype=torch.float64)
    xs = torch.from_numpy(x.numpy())
    for k in range(6):
        h = torch.tanh(xs[k] @ w_ih.T + b_ih + h @ copies[k].T + b_hh)
    (h * h).mean().backward()
    assert sorted(terms) == [1, 2, 3, 4, 5, 6]
    for k in range(6):
        np.testing.assert_allclose(terms[k + 1], copies[k].grad.numpy(), rtol=1e-9, atol=1e-15)
    assert not terms[1].any(), "h_0 = 0: step 1 adds nothing to dL/dW_hh"
    norms = [trace.state_grad[("rnn", "l0")][k] for k in range(1, 7)]
    assert all(a < b for a, b in zip(norms, norms[1:])), "the state gradient fades back in time"


def test_phases_follow_the_walk_from_the_loss_back_to_the_first_step() -> None:
    ours, _, x = models("LSTM", layers=2)
    _, (h_n, _) = ours(x)
    trace = trace_backward((h_n * h_n).mean(), model=ours)
    labels = [p.label for p in trace.phases]
    assert labels[0] == "outside the steps: the loss"
    steps = [(p.run, p.step) for p in trace.phases if p.run is not None]
    assert steps == [(("lstm", "l1"), k) for k in range(6, 0, -1)] + [
        (("lstm", "l0"), k) for k in range(6, 0, -1)
    ]
    assert sum(p.ops for p in trace.phases) > 0 and trace.root_name == "loss"


def test_the_page_is_self_contained_and_holds_the_data(tmp_path: Path) -> None:
    ours, _, x = models("GRU")
    output, _ = ours(x)
    loss = (output * output).mean()
    path = viz.html(loss, path=tmp_path / "gru.html", model=ours, title="GRU <6 steps>")
    page = path.read_text(encoding="utf-8")
    assert "<title>GRU &lt;6 steps&gt;</title>" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page), "nothing fetched from the network"
    assert "@import" not in page and "url(http" not in page
    data = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    assert data["root"] == "loss" and len(data["phases"]) == 6 + 3
    assert data["svg"].lstrip().startswith(("<?xml", "<svg", "<!--"))
    (row,) = [r for r in data["heat"] if r["name"] == "weight_hh_l0"]
    assert [c[0] for c in row["cells"]] == [1, 2, 3, 4, 5, 6]
    stats = [n["stats"] for n in data["nodes"].values() if n["name"] == "weight_hh_l0"]
    assert stats and stats[0].startswith("min ")
    with pytest.raises(ValueError, match="path must end in .html"):
        viz.html(loss, path=tmp_path / "gru.svg")


def test_hostile_strings_cannot_close_the_data_script(tmp_path: Path) -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with tg.scope("t=1"):
        y = (x * x).sum()
    y.name = "</script><script>alert(1)</script><!--"
    page = viz.html(y, path=tmp_path / "p.html", title="</title><script>alert(2)</script>").read_text()
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "alert(2)" in page and "<script>alert" not in page


def test_animate_writes_one_frame_per_phase(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install Pillow)")
    ours, _, x = models("RNN")
    _, h_n = ours(x)
    loss = (h_n * h_n).mean()
    trace = trace_backward(loss, model=ours)
    path = viz.animate(loss, path=tmp_path / "rnn.gif", model=ours, fold=False, frame_ms=100)
    gif = image.open(path)
    assert gif.format == "GIF" and gif.n_frames == len(trace.phases) + 1 and gif.width <= 1600
    with pytest.raises(ValueError, match="path must end in .gif"):
        viz.animate(loss, path=tmp_path / "rnn.png")


def test_animate_without_pillow_says_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_rnn\[animate\]'"):
        viz.animate((x * x).sum(), path=tmp_path / "a.gif")


def _per_step_rnn(layers: int):
    """A tanh RNN with an output per step; the loss sums one term per step (float64)."""
    ours, theirs, x = models("RNN", layers)
    y = tg.randn(6, 2, 5).double()
    output, _ = ours(x)
    loss = ((output - y) ** 2).sum()
    terms = [((output[t] - y[t]) ** 2).sum() for t in range(6)]
    return ours, theirs, x, y, loss, terms


@pytest.mark.parametrize("layers", [1, 2])
def test_the_double_sum_term_by_term_against_torch(layers: int) -> None:
    """Cell (t, k): what loss term L_t adds to dL/dW_hh through step k. In torch, step k of
    each layer gets its own copy W_k of W_hh, and dL_t/dW_k is exactly that cell."""
    ours, theirs, x, y, loss, terms = _per_step_rnn(layers)
    trace = trace_backward(loss, model=ours, per_step=terms)
    assert len(trace.per_step) == 6

    weights = {n: p.detach() for n, p in theirs.named_parameters()}
    copies = {
        layer: [weights[f"weight_hh_l{layer}"].clone().requires_grad_() for _ in range(6)]
        for layer in range(layers)
    }
    inputs = torch.from_numpy(x.numpy())
    for layer in range(layers):
        h = torch.zeros(2, 5, dtype=torch.float64)
        outputs = []
        for k in range(6):
            h = torch.tanh(
                inputs[k] @ weights[f"weight_ih_l{layer}"].T + weights[f"bias_ih_l{layer}"]
                + h @ copies[layer][k].T + weights[f"bias_hh_l{layer}"]
            )  # fmt: skip
            outputs.append(h)
        inputs = torch.stack(outputs)
    target = torch.from_numpy(y.numpy())
    theirs_terms = [((inputs[t] - target[t]) ** 2).sum() for t in range(6)]
    output, _ = theirs(torch.from_numpy(x.numpy()))  # the full gradient, through torch's own module
    ((output - target) ** 2).sum().backward()

    for layer in range(layers):
        name, run = f"weight_hh_l{layer}", ("rnn", f"l{layer}")
        total = np.zeros((5, 5))
        for t in range(6):
            expected = torch.autograd.grad(
                theirs_terms[t], copies[layer], retain_graph=True, allow_unused=True
            )
            cells = trace.per_step[t][name]
            assert {r for r, _ in cells} == {run}
            for k in range(1, 7):
                got = cells.get((run, k))
                if k > t + 1:  # loss term t+1 cannot reach a later step: exactly zero
                    assert got is None or not got.any(), (t + 1, k)
                    assert expected[k - 1] is None or not expected[k - 1].any()
                    continue
                np.testing.assert_allclose(
                    got, expected[k - 1].numpy(), rtol=1e-9, atol=1e-14, err_msg=f"{t + 1},{k}"
                )
            row = sum(cells.values())
            full_term = torch.autograd.grad(theirs_terms[t], copies[layer], retain_graph=True)
            np.testing.assert_allclose(row, sum(g.numpy() for g in full_term), rtol=1e-9, atol=1e-14)
            total += row
        # the rows add up to the full gradient; the columns to the single-loss map's terms
        np.testing.assert_allclose(total, trace.gradients[name], rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(total, getattr(theirs, name).grad.numpy(), rtol=1e-9, atol=1e-14)
        columns = trace.step_contributions(name)
        for k in range(1, 7):
            column = sum(trace.per_step[t][name][run, k] for t in range(6))
            np.testing.assert_allclose(column, columns[run, k], rtol=1e-9, atol=1e-14)
    assert not trace.per_step[0]["weight_hh_l0"][("rnn", "l0"), 1].any(), "h_0 = 0: nothing through step 1"
    assert all(p.grad is None for p in ours.parameters()), "no .grad touched"


def test_the_page_holds_the_per_step_heat_map(tmp_path: Path) -> None:
    ours, _, _, _, loss, terms = _per_step_rnn(1)
    trace = trace_backward(loss, model=ours, per_step=terms)
    path = viz.html(loss, path=tmp_path / "per_step.html", model=ours, per_step=terms)
    page = path.read_text(encoding="utf-8")
    data = json.loads(page.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    (heat,) = [m for m in data["termHeat"] if m["name"] == "weight_hh_l0"]
    assert heat["steps"] == [1, 2, 3, 4, 5, 6] and len(heat["matrix"]) == 6
    for t, row in enumerate(heat["matrix"], 1):
        for k, value in zip(heat["steps"], row):
            expected = np.linalg.norm(trace.per_step[t - 1]["weight_hh_l0"][("rnn", "l0"), k])
            assert value == pytest.approx(expected, rel=6e-4, abs=0), (t, k)  # 4 significant digits
            assert k <= t or value == 0
    single = {k: np.linalg.norm(a) for (_, k), a in trace.step_contributions("weight_hh_l0").items()}
    assert heat["columns"] == pytest.approx([single[k] for k in range(1, 7)], rel=6e-4)
    assert {m["name"] for m in data["termHeat"]} == {"weight_hh_l0", "bias_hh_l0"}
    without = viz.html(loss, path=tmp_path / "plain.html", model=ours).read_text(encoding="utf-8")
    assert '"termHeat": []' in without


def test_per_step_terms_must_be_scalars_adding_up_to_the_loss() -> None:
    ours, _, _, y, loss, terms = _per_step_rnn(1)
    with pytest.raises(ValueError, match=r"do not add up to the loss.*weight_hh_l0|do not add up"):
        trace_backward(loss, model=ours, per_step=terms[:-1])
    with pytest.raises(ValueError, match=r"per_step\[0\] must be a scalar tensor.*shape \(2, 5\)"):
        trace_backward(loss, model=ours, per_step=[y[0], *terms[1:]])
    with pytest.raises(ValueError, match="non-empty list of scalar tensors"):
        trace_backward(loss, model=ours, per_step=loss)
    with pytest.raises(ValueError, match="does not require grad"):
        trace_backward(loss, model=ours, per_step=[terms[0].detach(), *terms[1:]])
