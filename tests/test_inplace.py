"""In-place operations with torch's rules, each case run with torch and with tinygrad_rnn:
``+= -= *= /=`` mutate (never rebind), the ``*_`` methods, leaf tensors that require grad
refuse in-place changes outside ``no_grad``, and version counters make a backward that saved
a since-modified value raise instead of using the new values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_rnn as tg

from .test_differential import same_as_torch


def leaf(L: Any, values: Any = (1.0, -2.0, 3.0)) -> Any:
    return L.tensor(values, dtype=L.float64, requires_grad=True)


def sgd_update_under_no_grad(L: Any, F: Any) -> Any:
    w = leaf(L)
    (w * w).sum().backward()
    before = w
    with L.no_grad():
        w -= 0.1 * w.grad
        w *= 2
        w += 1
        w /= 4
    return w is before, w.is_leaf, w.requires_grad, w.detach().clone(), w.grad


def update_outside_no_grad(L: Any, F: Any) -> Any:
    w = leaf(L)
    (w * w).sum().backward()
    w -= 0.1 * w.grad
    return w


def add_to_leaf(L: Any, F: Any) -> Any:
    w = leaf(L)
    w += 1
    return w


def grad_methods(L: Any, F: Any) -> Any:
    w = leaf(L)
    (w * w).sum().backward()
    g = w.grad
    g.mul_(3).add_(1, alpha=2).sub_(L.ones(3, dtype=L.float64)).div_(2)
    after_arith = g.clone()
    g.clamp_(min=0.5, max=4.0)
    after_clamp = g.clone()
    g.zero_()
    return after_arith, after_clamp, w.grad, g is w.grad


def copy_and_fill(L: Any, F: Any) -> Any:
    x = L.zeros(2, 3, dtype=L.float64)
    x.copy_(L.tensor([1.0, 2.0, 3.0]))  # broadcast and cast
    copied = x.clone()
    x.fill_(7)
    filled = x.clone()
    x[0, 1:] = L.tensor([5.0, 6.0], dtype=L.float64)
    x[1] = -1
    return copied, filled, x


def in_place_on_a_non_leaf_is_differentiated(L: Any, F: Any) -> Any:
    x = leaf(L)
    y = x * 2
    y.add_(1)
    y.mul_(x)  # y = (2x + 1) * x
    y[0] = 0.0  # no gradient through element 0
    y.sum().backward()
    return y, x.grad


def in_place_with_a_grad_requiring_operand(L: Any, F: Any) -> Any:
    x, w = leaf(L), leaf(L, (0.5, 0.25, 2.0))
    y = x.detach().clone()
    y.mul_(w)  # y becomes part of the graph through w
    y.sum().backward()
    return y.requires_grad, y.is_leaf, w.grad


def saved_input_modified(L: Any, F: Any) -> Any:
    x = leaf(L)
    y = x * 1
    z = y * y  # saves y
    y.add_(1)
    z.sum().backward()


def saved_output_modified(L: Any, F: Any) -> Any:
    x = leaf(L)
    y = x.exp()  # saves its output
    y.mul_(2)
    y.sum().backward()


def saved_sigmoid_output_modified_through_detach(L: Any, F: Any) -> Any:
    x = leaf(L)
    y = x.sigmoid()
    y.detach().zero_()  # shares the version counter
    y.sum().backward()


def change_through_data_is_not_tracked(L: Any, F: Any) -> Any:
    x = leaf(L)
    y = x * 1
    z = y * y
    y.data.add_(1)  # .data: not tracked, as in torch (the backward uses the new values)
    z.sum().backward()
    return x.grad


def unsaved_value_may_change(L: Any, F: Any) -> Any:
    x = leaf(L)
    y = x + 1  # add saves nothing
    z = y * 3  # saves 3 (not y) for y's gradient... and y for 3's, which needs none
    y.add_(1)
    z.sum().backward()
    return x.grad


def integer_in_place_with_float(L: Any, F: Any) -> Any:
    t = L.tensor([1, 2])
    t += 1.5


def in_place_shape_change(L: Any, F: Any) -> Any:
    t = L.zeros(3)
    t += L.ones(2, 3)


def int_grad_free_tensor_ops(L: Any, F: Any) -> Any:
    t = L.tensor([1, 2, 3])
    t += 2
    t *= 3
    t -= L.tensor([1, 1, 1])
    return t


def hidden_state_data_then_reuse(L: Any, F: Any) -> Any:
    L.manual_seed(0)
    x = L.tensor(np.linspace(-1, 1, 12).reshape(4, 1, 3))
    cell = L.nn.RNN(3, 2)
    with L.no_grad():
        for p in cell.parameters():
            p.copy_(L.tensor(np.linspace(-0.5, 0.5, p.numel()).reshape(tuple(p.shape))))
    out, h = cell(x)
    h = h.data
    out, h = cell(x, h)
    out.sum().backward()
    return out.data.numpy().copy(), h.detach().numpy().copy(), cell.weight_hh_l0.grad


CASES = {
    "SGD update under no_grad mutates the parameter": sgd_update_under_no_grad,
    "update of a leaf outside no_grad raises": update_outside_no_grad,
    "leaf += 1 raises": add_to_leaf,
    "p.grad.zero_(), add_, sub_, mul_, div_, clamp_": grad_methods,
    "copy_, fill_, setitem": copy_and_fill,
    "in-place ops on a non-leaf are differentiated": in_place_on_a_non_leaf_is_differentiated,
    "in-place op with an operand that requires grad": in_place_with_a_grad_requiring_operand,
    "a saved input changed in place: backward raises": saved_input_modified,
    "a saved output changed in place: backward raises": saved_output_modified,
    "a change through detach() is seen": saved_sigmoid_output_modified_through_detach,
    "a change through .data is not tracked": change_through_data_is_not_tracked,
    "a value no op saved may change": unsaved_value_may_change,
    "int tensor += float raises": integer_in_place_with_float,
    "in-place op cannot change the shape": in_place_shape_change,
    "in-place ops on int tensors": int_grad_free_tensor_ops,
    "hidden = hidden.data, then rnn(x, hidden)": hidden_state_data_then_reuse,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_in_place_behaves_as_in_torch(name: str) -> None:
    same_as_torch(CASES[name])


def test_modified_value_error_names_the_op_and_the_fix() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"exp.*modified by an inplace operation.*its output.*clone\(\)"):
        y.sum().backward()


def test_leaf_error_says_to_use_no_grad() -> None:
    w = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad.*no_grad"):
        w += 1


def test_uniform_and_normal_fill_in_place_with_the_seeded_generator() -> None:
    tg.manual_seed(3)
    t = tg.zeros(1000, dtype=tg.float64)
    before = t
    t.uniform_(-2.0, 3.0)
    assert t is before and float(t.min() if hasattr(t, "min") else t.numpy().min()) >= -2.0
    values = t.numpy()
    assert values.min() >= -2.0 and values.max() < 3.0 and abs(values.mean() - 0.5) < 0.2
    t.normal_(1.0, 0.5)
    values = t.numpy()
    assert abs(values.mean() - 1.0) < 0.1 and abs(values.std() - 0.5) < 0.1
    tg.manual_seed(3)
    again = tg.zeros(1000, dtype=tg.float64).uniform_(-2.0, 3.0)
    tg.manual_seed(3)
    np.testing.assert_array_equal(again.numpy(), tg.zeros(1000, dtype=tg.float64).uniform_(-2.0, 3.0).numpy())


def test_set_grad_enabled_as_a_decorator_restores_the_mode() -> None:
    @tg.set_grad_enabled(False)
    def inference(x: Any) -> Any:
        assert not tg.is_grad_enabled()
        return x * 2

    assert tg.is_grad_enabled()
    y = inference(tg.tensor([1.0], requires_grad=True))
    assert tg.is_grad_enabled() and not y.requires_grad
    with tg.no_grad():
        inner = tg.set_grad_enabled(True)(lambda x: x * 2)(tg.tensor([1.0], requires_grad=True))
        assert inner.requires_grad and not tg.is_grad_enabled()
