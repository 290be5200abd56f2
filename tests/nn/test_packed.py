"""nn.utils.rnn (pad/pack helpers) and PackedSequence through RNN, LSTM and GRU against torch:
packed data, batch sizes, permutations, outputs, final states and every gradient in float64;
LSTM projections (proj_size); and the per-step batch a rendered graph shows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.engine import topological_order
from tinygrad_rnn.nn.utils import rnn as ornn

from ..helpers import assert_close

IN, H, P = 3, 5, 2
RTOL, ATOL = 1e-10, 1e-12
LENGTHS_UNSORTED = [2, 5, 1, 5, 3]  # ties and an unsorted order
LENGTHS_SORTED = [5, 5, 3, 2, 1]

KINDS = {
    "rnn_tanh": (nn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (nn.LSTM, torch.nn.LSTM, {"proj_size": P}),
    "gru": (nn.GRU, torch.nn.GRU, {}),
}


def close(ours, theirs, what):
    assert_close(ours, theirs, what, rtol=RTOL, atol=ATOL)


def same_ints(ours, theirs, what):
    if theirs is None:
        assert ours is None, f"{what}: torch has None, ours {ours}"
        return
    assert ours.dtype == np.int64, f"{what}: dtype {ours.dtype}"
    assert ours.tolist() == theirs.tolist(), f"{what}: {ours.tolist()} != torch {theirs.tolist()}"


def same_packing(ours, theirs):
    close(ours.data, theirs.data, "packed data")
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        same_ints(getattr(ours, field), getattr(theirs, field), field)


def padded_pair(rng, lengths, trailing=(IN,), batch_first=False):
    steps = max(lengths)
    shape = (len(lengths), steps, *trailing) if batch_first else (steps, len(lengths), *trailing)
    x = rng.standard_normal(shape)
    return tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)


def backprop_same(ours_out, theirs_out, rng):
    g = rng.standard_normal(theirs_out.shape)
    (ours_out * tg.Tensor(g)).sum().backward()
    (theirs_out * torch.tensor(g)).sum().backward()


# --------------------------------------------------------------------------- helpers vs torch


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value", [0.0, -1.5])
def test_pad_sequence_matches_torch(padding_value, batch_first, padding_side):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 2, 3)) for n in LENGTHS_UNSORTED]
    ours_in = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = ornn.pad_sequence(ours_in, batch_first, padding_value, padding_side)
    ref = trnn.pad_sequence(theirs_in, batch_first, padding_value, padding_side)
    close(out, ref, "padded")
    backprop_same(out, ref, rng)
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        close(a.grad, b.grad, f"gradient of sequence {i}")


def test_pad_sequence_of_integers_and_of_one_sequence():
    ids = [tg.Tensor(np.array([4, 5, 6])), tg.Tensor(np.array([7]))]
    out = ornn.pad_sequence(ids, batch_first=True, padding_value=-1)
    assert out.dtype == np.int64
    assert out.tolist() == [[4, 5, 6], [7, -1, -1]]
    assert ornn.pad_sequence(ids[:1]).tolist() == [[4], [5], [6]]


@pytest.mark.parametrize("trailing", [(), (IN,), (2, 2)], ids=["0d", "1d", "2d"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [LENGTHS_SORTED, LENGTHS_UNSORTED], ids=["sorted", "unsorted"])
def test_pack_padded_sequence_matches_torch(lengths, batch_first, trailing):
    rng = np.random.default_rng(1)
    x_o, x_t = padded_pair(rng, lengths, trailing, batch_first)
    enforce_sorted = lengths is LENGTHS_SORTED
    ours = ornn.pack_padded_sequence(x_o, lengths, batch_first, enforce_sorted)
    theirs = trnn.pack_padded_sequence(x_t, lengths, batch_first, enforce_sorted)
    assert isinstance(ours, ornn.PackedSequence) and isinstance(ours, tuple)
    same_packing(ours, theirs)
    backprop_same(ours.data, theirs.data, rng)
    close(x_o.grad, x_t.grad, "gradient of the padded input")


def test_pack_padded_sequence_accepts_an_integer_tensor_of_lengths_and_sorts_ties_stably():
    rng = np.random.default_rng(2)
    lengths = [1, 3, 2, 3, 1, 2, 3, 3, 3, 1, 1, 2]
    x_o, x_t = padded_pair(rng, lengths)
    ours = ornn.pack_padded_sequence(x_o, tg.Tensor(np.array(lengths)), enforce_sorted=False)
    theirs = trnn.pack_padded_sequence(x_t, torch.tensor(lengths), enforce_sorted=False)
    same_packing(ours, theirs)


@pytest.mark.parametrize("total_length", [None, 7])
@pytest.mark.parametrize("padding_value", [0.0, 2.5])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths", [LENGTHS_SORTED, LENGTHS_UNSORTED], ids=["sorted", "unsorted"])
def test_pad_packed_sequence_matches_torch(lengths, batch_first, padding_value, total_length):
    rng = np.random.default_rng(3)
    x_o, x_t = padded_pair(rng, lengths, (2,))
    enforce_sorted = lengths is LENGTHS_SORTED
    packed_o = ornn.pack_padded_sequence(x_o, lengths, enforce_sorted=enforce_sorted)
    packed_t = trnn.pack_padded_sequence(x_t, lengths, enforce_sorted=enforce_sorted)
    out, out_lengths = ornn.pad_packed_sequence(packed_o, batch_first, padding_value, total_length)
    ref, ref_lengths = trnn.pad_packed_sequence(packed_t, batch_first, padding_value, total_length)
    close(out, ref, "padded")
    same_ints(out_lengths, ref_lengths, "lengths")
    backprop_same(out, ref, rng)
    close(x_o.grad, x_t.grad, "gradient of the padded input")


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack_sequence_match_torch(enforce_sorted):
    rng = np.random.default_rng(4)
    lengths = LENGTHS_SORTED if enforce_sorted else LENGTHS_UNSORTED
    arrays = [rng.standard_normal((n, IN)) for n in lengths]
    ours_in = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours = ornn.pack_sequence(ours_in, enforce_sorted)
    theirs = trnn.pack_sequence(theirs_in, enforce_sorted)
    same_packing(ours, theirs)
    backprop_same(ours.data, theirs.data, rng)
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        close(a.grad, b.grad, f"gradient of sequence {i}")
    for i, (a, b) in enumerate(zip(ornn.unpack_sequence(ours), trnn.unpack_sequence(theirs))):
        close(a, b, f"unpacked sequence {i}")


def test_invert_permutation_and_packed_sequence_constructor():
    order = tg.Tensor(np.array([2, 0, 3, 1]))
    assert ornn.invert_permutation(order).tolist() == [1, 3, 0, 2]
    assert ornn.invert_permutation(None) is None
    data, sizes = tg.randn(3, 2), tg.Tensor(np.array([2, 1]))
    packed = ornn.PackedSequence(data, sizes, tg.Tensor(np.array([1, 0])))
    assert packed.unsorted_indices.tolist() == [1, 0]
    assert ornn.PackedSequence((data, sizes)).batch_sizes is sizes
    assert packed.double().data.dtype == np.float64
    assert nn.utils.rnn.PackedSequence is ornn.PackedSequence


def test_helper_errors_match_torch():
    x = tg.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order.*enforce_sorted=False"):
        ornn.pack_padded_sequence(x, [3, 4, 2])
    with pytest.raises(RuntimeError, match="greater than 0"):
        ornn.pack_padded_sequence(x, [4, 3, 0])
    with pytest.raises(RuntimeError, match=r"equal to batch_size, but got 2 \(batch_size=3\)"):
        ornn.pack_padded_sequence(x, [4, 3])
    with pytest.raises(RuntimeError, match="exceeds the 4 time steps"):  # torch reads past the end
        ornn.pack_padded_sequence(x, [5, 3, 2])
    packed = ornn.pack_padded_sequence(x, [4, 3, 2])
    with pytest.raises(ValueError, match="total_length=2 and max sequence length being 4"):
        ornn.pad_packed_sequence(packed, total_length=2)
    with pytest.raises(RuntimeError, match="empty list"):
        ornn.pad_sequence([])
    with pytest.raises(RuntimeError, match=r"sequence 0 has shape \(3, 2\), sequence 1 \(2, 3\)"):
        ornn.pad_sequence([tg.randn(3, 2), tg.randn(2, 3)])
    with pytest.raises(RuntimeError, match="padding_side to be one of left or right"):
        ornn.pad_sequence([tg.randn(3, 2)], padding_side="middle")


# --------------------------------------------------------------------------- layers vs torch


def make_pair(kind, seed=0, **kwargs):
    ours_cls, torch_cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    theirs = torch_cls(IN, H, **extra, **kwargs).double()
    ours = ours_cls(IN, H, **extra, **kwargs).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def state_shapes(kind, num_layers, bidirectional, batch):
    count = num_layers * (2 if bidirectional else 1)
    if kind == "lstm_proj":
        return [(count, batch, P), (count, batch, H)]
    return [(count, batch, H)] * (2 if kind.startswith("lstm") else 1)


def run_packed_against_torch(kind, num_layers, bidirectional, lengths, with_hx, seed=5):
    """Pack the same padded batch on both sides, run the layer, compare the packed output, the
    final state(s) and the gradients of the padded input, of hx and of every parameter."""
    ours, theirs = make_pair(kind, num_layers=num_layers, bidirectional=bidirectional)
    rng = np.random.default_rng(seed)
    x_o, x_t = padded_pair(rng, lengths)
    enforce_sorted = lengths is LENGTHS_SORTED
    packed_o = ornn.pack_padded_sequence(x_o, lengths, enforce_sorted=enforce_sorted)
    packed_t = trnn.pack_padded_sequence(x_t, lengths, enforce_sorted=enforce_sorted)
    is_lstm = kind.startswith("lstm")
    hx_o = hx_t = None
    leaves_o, leaves_t = [x_o], [x_t]
    if with_hx:
        arrays = [rng.standard_normal(s) for s in state_shapes(kind, num_layers, bidirectional, len(lengths))]
        leaves_o += [tg.Tensor(a, requires_grad=True) for a in arrays]
        leaves_t += [torch.tensor(a, requires_grad=True) for a in arrays]
        hx_o = tuple(leaves_o[1:]) if is_lstm else leaves_o[1]
        hx_t = tuple(leaves_t[1:]) if is_lstm else leaves_t[1]
    out_o, final_o = ours(packed_o, hx_o)
    out_t, final_t = theirs(packed_t, hx_t)
    assert isinstance(out_o, ornn.PackedSequence)
    same_packing(out_o, out_t)
    results_o = [out_o.data, *(final_o if is_lstm else [final_o])]
    results_t = [out_t.data, *(final_t if is_lstm else [final_t])]
    loss_o, loss_t = 0, 0
    for i, (a, b) in enumerate(zip(results_o, results_t)):
        close(a, b, ["output", "h_n", "c_n"][i])
        g = rng.standard_normal(b.shape)
        loss_o = loss_o + (a * tg.Tensor(g)).sum()
        loss_t = loss_t + (b * torch.tensor(g)).sum()
    loss_o.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(leaves_o, leaves_t)):
        close(a.grad, b.grad, ["input", "h_0", "c_0"][i] + " gradient")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, f"{name} gradient")
    return ours, out_o, final_o


@pytest.mark.parametrize("with_hx", [False, True], ids=["zeros", "hx"])
@pytest.mark.parametrize("lengths", [LENGTHS_SORTED, LENGTHS_UNSORTED], ids=["sorted", "unsorted"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["1layer", "2layers"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_packed_input_matches_torch(kind, num_layers, bidirectional, lengths, with_hx):
    run_packed_against_torch(kind, num_layers, bidirectional, lengths, with_hx)


def test_packed_run_equals_each_sequence_run_alone():
    """Padding never reaches a state: each sequence's final state is that of running it alone."""
    gru = nn.GRU(IN, H, bidirectional=True).double()
    rng = np.random.default_rng(6)
    sequences = [tg.Tensor(rng.standard_normal((n, IN))) for n in LENGTHS_UNSORTED]
    output, h_n = gru(ornn.pack_sequence(sequences, enforce_sorted=False))
    padded, _ = ornn.pad_packed_sequence(output)
    for b, seq in enumerate(sequences):
        alone_output, alone_h = gru(seq.unsqueeze(1))
        close(h_n[:, b], alone_h[:, 0].detach().numpy(), f"h_n of sequence {b}")
        close(padded[: seq.shape[0], b], alone_output[:, 0].detach().numpy(), f"output of sequence {b}")


def test_each_step_runs_only_the_sequences_still_running():
    """In the graph, step t of each direction works on batch_sizes[t] rows: a rendered graph
    shows the batch shrinking (forward) or growing (reverse)."""
    lstm = nn.LSTM(IN, H, bidirectional=True)
    packed = ornn.pack_sequence([tg.randn(n, IN) for n in LENGTHS_SORTED])
    output, (h_n, _) = lstm(packed)
    expected = packed.batch_sizes.tolist()
    for direction in ("l0", "l0_reverse"):
        for t, running in enumerate(expected, start=1):
            ops = [op for op in topological_order([h_n.op]) if op.scope == ("lstm", direction, f"t={t}")]
            assert ops, f"no ops in {direction}/t={t}"
            sigmoid_rows = {op.out_shape[0] for op in ops if op.name == "sigmoid"}
            assert sigmoid_rows == {running}, f"{direction}/t={t}: {sigmoid_rows} != {running}"


def test_lstm_proj_size_shapes_init_and_repr_follow_torch():
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(IN, H, num_layers=2, bidirectional=True, proj_size=P)
    ours = nn.LSTM(IN, H, num_layers=2, bidirectional=True, proj_size=P)
    assert [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()] == [
        (k, v.shape) for k, v in ours.state_dict().items()
    ]
    assert repr(ours) == repr(theirs)
    bound = 1 / np.sqrt(H)
    for name, p in ours.named_parameters():
        assert np.abs(p.detach().numpy()).max() <= bound, name
    output, (h_n, c_n) = ours(tg.randn(4, 3, IN))
    assert output.shape == (4, 3, 2 * P) and h_n.shape == (4, 3, P) and c_n.shape == (4, 3, H)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_proj_size_on_padded_input_matches_torch(batch_first):
    ours, theirs = make_pair("lstm_proj", num_layers=2, bidirectional=True, batch_first=batch_first)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, IN) if batch_first else (4, 3, IN))
    h0, c0 = (rng.standard_normal(s) for s in state_shapes("lstm_proj", 2, True, 3))
    out_o, (h_o, c_o) = ours(tg.Tensor(x), (tg.Tensor(h0), tg.Tensor(c0)))
    out_t, (h_t, c_t) = theirs(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    close(out_o, out_t, "output")
    close(h_o, h_t, "h_n")
    close(c_o, c_t, "c_n")


def test_proj_size_errors_match_torch():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(IN, H, proj_size=H)
    with pytest.raises(ValueError, match="positive integer or zero"):
        nn.LSTM(IN, H, proj_size=-1)
    lstm = nn.LSTM(IN, H, proj_size=P)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(1, 2, 2\), got \[1, 2, 5\]"):
        lstm(tg.randn(3, 2, IN), (tg.zeros(1, 2, H), tg.zeros(1, 2, H)))


def test_packed_input_errors_match_torch():
    gru = nn.GRU(IN, H)
    packed = ornn.pack_sequence([tg.randn(3, IN), tg.randn(2, IN)])
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 5\), got \[1, 3, 5\]"):
        gru(packed, tg.zeros(1, 3, H))
    with pytest.raises(RuntimeError, match="Expected 3, got 2"):
        gru(ornn.pack_sequence([tg.randn(3, 2), tg.randn(2, 2)]))


def test_the_rendered_graph_labels_each_steps_state_with_the_running_batch():
    from tinygrad_rnn import viz

    gru = nn.GRU(IN, H)
    packed = ornn.pack_sequence([tg.randn(n, IN) for n in LENGTHS_SORTED])
    _, h_n = gru(packed)
    model = viz.build_graph(h_n, fold=False)
    shapes = {
        node.name: node.shape for node in model.nodes.values() if node.name and node.name.startswith("h_")
    }
    expected = {f"h_{t}": (n, H) for t, n in enumerate(packed.batch_sizes.tolist(), start=1)}
    assert {k: v for k, v in shapes.items() if k in expected} == expected


@pytest.mark.parametrize("kind", ["gru", "lstm_proj"])
def test_second_derivatives_through_a_packed_bidirectional_layer_match_torch(kind):
    ours, theirs = make_pair(kind, bidirectional=True)
    rng = np.random.default_rng(8)
    x_o, x_t = padded_pair(rng, LENGTHS_UNSORTED)
    packed_o = ornn.pack_padded_sequence(x_o, LENGTHS_UNSORTED, enforce_sorted=False)
    packed_t = trnn.pack_padded_sequence(x_t, LENGTHS_UNSORTED, enforce_sorted=False)
    out_o, final_o = ours(packed_o)
    out_t, final_t = theirs(packed_t)
    h_o, h_t = (final_o[0], final_t[0]) if kind.startswith("lstm") else (final_o, final_t)
    g_out, g_h = rng.standard_normal(out_t.data.shape), rng.standard_normal(h_t.shape)
    loss_o = (out_o.data * tg.Tensor(g_out)).sum() + (h_o * tg.Tensor(g_h)).sum()
    loss_t = (out_t.data * torch.tensor(g_out)).sum() + (h_t * torch.tensor(g_h)).sum()
    weight_o, weight_t = ours.weight_hh_l0_reverse, theirs.weight_hh_l0_reverse
    (gx_o, gw_o) = tg.autograd.grad(loss_o, [x_o, weight_o], create_graph=True)
    (gx_t, gw_t) = torch.autograd.grad(loss_t, [x_t, weight_t], create_graph=True)
    v_x, v_w = rng.standard_normal(x_t.shape), rng.standard_normal(weight_t.shape)
    second_o = tg.autograd.grad(
        (gx_o * tg.Tensor(v_x)).sum() + (gw_o * tg.Tensor(v_w)).sum(), [x_o, weight_o]
    )
    second_t = torch.autograd.grad(
        (gx_t * torch.tensor(v_x)).sum() + (gw_t * torch.tensor(v_w)).sum(), [x_t, weight_t]
    )
    close(second_o[0], second_t[0], "second derivative wrt the input")
    close(second_o[1], second_t[1], "second derivative wrt weight_hh_l0_reverse")
