"""Graph semantics: accumulation, freeing, retain/create graph, grad modes, deep graphs,
memory, anomaly mode, custom ops, scopes, and the errors a user can trigger."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn.autograd import GradcheckError, detect_anomaly, gradcheck

from .helpers import assert_close


def leaf(*shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---------------------------------------------------------------- dtypes and construction


def test_python_data_becomes_float32_and_numpy_keeps_its_dtype():
    assert tg.Tensor(1.5).dtype == np.float32
    assert tg.Tensor([[1, 2], [3, 4]]).dtype == np.float32
    assert tg.Tensor(np.zeros(3)).dtype == np.float64
    assert tg.Tensor(np.arange(3)).dtype == np.int64
    assert tg.Tensor([1, 2], dtype=np.int64).dtype == np.int64


def test_constructor_copies_its_data():
    a = np.zeros(3)
    t = tg.Tensor(a)
    a[0] = 5
    assert t.detach().numpy()[0] == 0


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match=r"only floating-point.*int64.*\.float\(\)"):
        tg.Tensor(np.arange(3), requires_grad=True)


def test_float32_arithmetic_stays_float32():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2.5 + 1).tanh().sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_attributes():
    x = leaf(2, 3)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    assert y.shape == (2, 3) and y.ndim == 2 and y.op.name == "mul"
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        y.numpy()
    assert np.shares_memory(y.detach().numpy(), y.data.numpy())
    assert tg.Tensor(np.array([[3.0]])).item() == 3.0
    with pytest.raises(ValueError, match="one-element"):
        x.item()


# ---------------------------------------------------------------- backward semantics


def test_gradients_accumulate_until_reset():
    x = leaf(3)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), np.full(3, 5.0))
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), np.full(3, 3.0))


def test_grad_can_be_assigned_with_a_matching_shape_only():
    x = leaf(3)
    x.grad = np.ones(3)
    assert isinstance(x.grad, tg.Tensor)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*shape \(3,\)"):
        x.grad = np.ones(2)


def test_leaf_grads_do_not_alias_each_other():
    a, b = leaf(3), leaf(3, seed=1)
    (a + b).sum().backward()
    a.grad.data *= 10  # an in-place change (as clip_grad_norm_ does) must not reach b
    np.testing.assert_allclose(b.grad.detach().numpy(), np.ones(3))


def test_backward_on_non_scalar_needs_gradient():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"one-element output.*\(2, 3\).*gradient="):
        (x * 2).backward()
    (x * 2).backward(gradient=np.ones((2, 3)))
    np.testing.assert_allclose(x.grad.detach().numpy(), np.full((2, 3), 2.0))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.Tensor([1.0]).sum().backward()


def test_second_backward_through_freed_graph_explains_detach():
    x = leaf(3)
    h = (x * 2).tanh()
    h.sum().backward()
    with pytest.raises(RuntimeError, match=r"(?s)tanh.*retain_graph=True.*h\.detach\(\)"):
        h.sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf(3)
    h = x.tanh()
    h.sum().backward(retain_graph=True)
    h.sum().backward()
    expected = 2 * (1 - np.tanh(x.detach().numpy()) ** 2)
    np.testing.assert_allclose(x.grad.detach().numpy(), expected, rtol=1e-12)


def test_truncated_bptt_idiom_with_detach():
    """Carrying h across chunks fails without detach (freed graph) and works with it."""
    w = leaf(3, 3)
    h = tg.zeros(1, 3, dtype=np.float64)
    for _ in range(2):
        h = (h @ w + 1).tanh()
    h.sum().backward()
    carried = (h @ w).tanh()
    with pytest.raises(RuntimeError, match="detach"):
        carried.sum().backward()
    h = h.detach()
    (h @ w).tanh().sum().backward()  # fine: the old chunk is cut off


def test_no_grad_and_detach_build_no_graph():
    x = leaf(3)
    with tg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.op is None
    z = x.detach()
    assert not z.requires_grad and np.shares_memory(z.numpy(), x.data.numpy())
    with tg.no_grad(), tg.enable_grad():
        assert (x * 2).requires_grad
    tg.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()

    @tg.no_grad()
    def inference(t):
        return t * 3

    assert not inference(x).requires_grad


def test_grad_of_intermediate_and_unused_inputs():
    x = leaf(3)
    h = x.tanh()
    y = (h * h).sum()
    (gh,) = tg.autograd.grad(y, [h], retain_graph=True)
    np.testing.assert_allclose(gh.detach().numpy(), 2 * np.tanh(x.detach().numpy()))
    unused = leaf(2)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        tg.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = tg.autograd.grad(y, [x, unused], allow_unused=True)
    assert gu is None and x.grad is None  # grad() leaves .grad alone


def test_create_graph_gives_second_derivatives():
    x = leaf(4)
    y = (x**3).sum()
    (g,) = tg.autograd.grad(y, [x], create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), 6 * x.detach().numpy(), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")
def test_backward_create_graph_matches_torch_hessian_vector_product():
    a = np.random.default_rng(3).standard_normal((3, 3))
    x, xt = tg.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (x.tanh() @ x).sigmoid().sum().backward(create_graph=True)
    (xt.tanh() @ xt).sigmoid().sum().backward(create_graph=True)
    assert_close(x.grad, xt.grad, "first derivative")
    g, gt = x.grad, xt.grad
    x.grad, xt.grad = None, None
    (g * g).sum().backward()
    (gt * gt).sum().backward()
    assert_close(x.grad, xt.grad, "second derivative")


# ---------------------------------------------------------------- deep graphs and memory


def test_deep_chain_of_20000_steps_backpropagates():
    x = tg.Tensor(np.array([0.5]), requires_grad=True)
    h = x
    for _ in range(20_000):
        h = h * 1.0001
    h.sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), [1.0001**20_000], rtol=1e-9)


@pytest.mark.slow
def test_dropping_a_200000_op_graph_does_not_overflow_the_stack():
    x = tg.Tensor(np.array([1.0]), requires_grad=True)
    h = x
    for _ in range(200_000):
        h = h + 1.0
    del h  # would crash the interpreter with recursive deallocation
    gc.collect()


def test_finished_graph_is_freed_without_the_garbage_collector():
    gc.disable()
    try:
        x = leaf(3)
        h = x.tanh()
        probe = weakref.ref(h)
        y = (h * 2).sum()
        y.backward()
        del h, y
        assert probe() is None, "a reference cycle keeps the graph alive"
    finally:
        gc.enable()


# ---------------------------------------------------------------- anomaly mode and errors


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's own note on the NaN and Inf made here
def test_detect_anomaly_names_the_op_in_forward_and_backward():
    x = tg.Tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with detect_anomaly(), pytest.raises(RuntimeError, match="log forward produced NaN"):
        x.log()
    y = tg.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    out = y.sqrt().sum()  # forward is finite; backward divides by zero
    with detect_anomaly(), pytest.raises(RuntimeError, match=r"sqrt backward produced Inf"):
        out.backward()


def test_shape_errors_name_the_op_and_shapes():
    a, b = leaf(2, 3), leaf(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned"):
        a @ b
    with pytest.raises(ValueError, match=r"add: .*broadcast.*\(2, 3\), \(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"reshape: .*\(2, 3\)"):
        a.reshape(4, 2)
    with pytest.raises(IndexError, match=r"getitem: .*out of bounds.*\(2, 3\)"):
        a[5]
    with pytest.raises(ValueError, match=r"permute: got 3 dims"):
        a.permute(0, 1, 2)
    with pytest.raises(IndexError, match=r"sum: dim 2 is out of range for a 2-d tensor"):
        a.sum(2)
    with pytest.raises(ValueError, match=r"cat: .*\(2, 3\), \(4, 5\)"):
        tg.cat([a, b], 0)


# ---------------------------------------------------------------- custom ops and gradcheck


class Cube(tg.Op):
    name = "cube"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(tg.INPUT[0])
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x * x


def test_custom_op_works_with_backward_and_second_derivatives():
    x = leaf(4)
    (g,) = tg.autograd.grad(Cube.apply(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2, rtol=1e-12)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.detach().numpy(), 6 * x.detach().numpy(), rtol=1e-12)


def test_custom_op_returning_a_wrong_shape_is_named():
    class Bad(tg.Op):
        name = "bad"

        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.sum()

    with pytest.raises(RuntimeError, match=r"bad: backward returned a gradient of shape \(\)"):
        Bad.apply(leaf(3)).sum().backward()


def test_gradcheck_passes_for_correct_and_fails_for_wrong_gradients():
    x = leaf(2, 3)
    assert gradcheck(lambda t: (t.tanh() @ t.T).softmax(1), [x])
    with pytest.raises(GradcheckError, match=r"input 0 .*element \(0,\).*analytic .* vs numeric"):
        gradcheck(lambda t: WrongCube.apply(t), [leaf(3)])
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [tg.Tensor([1.0], requires_grad=True)])


# ---------------------------------------------------------------- scopes


def test_scope_tags_ops_with_nested_paths():
    x = leaf(2)
    with tg.scope("rnn"), tg.scope("t=1"):
        y = x.tanh()
    z = y * 2
    assert y.op.scope == ("rnn", "t=1")
    assert z.op.scope == ()
    assert y.op.describe() == "tanh (in rnn/t=1)"
    with pytest.raises(ValueError, match="scope"), tg.scope("a/b"):
        pass


def test_assigned_grad_must_match_dtype():
    x = tg.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(
        TypeError, match=r"dtype float64 to a tensor of dtype float32.*to\(tinygrad_rnn.float32\)"
    ):
        x.grad = np.ones(3)
    x.grad = np.ones(3, dtype=np.float32)
    assert x.grad.dtype == np.float32


def test_casting_to_an_integer_dtype_leaves_the_graph():
    x = leaf(3)
    i = x.to(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.op is None
    y = x.to(np.float32)
    assert y.requires_grad and y.op.name == "cast"


def test_the_graph_holds_ops_not_intermediate_tensors():
    """An intermediate array that backward does not need is freed once the user drops its
    tensor; backward still works through the op that made it."""
    x = leaf(3)
    h = x * 2.0  # mul saves its inputs (x and the number), not its output
    y = h.tanh()  # tanh saves its output
    made_h = h.op
    assert made_h.output() is h and made_h.out_shape == (3,)
    del h
    assert made_h.output() is None, "the graph kept an intermediate tensor alive"
    y.sum().backward()
    np.testing.assert_allclose(
        x.grad.detach().numpy(), 2 * (1 - np.tanh(2 * x.detach().numpy()) ** 2), rtol=1e-12
    )
