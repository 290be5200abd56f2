"""Type promotion, exhaustively: every arithmetic and comparison operator against every pair
of operand kinds (tensors of each dtype with dims and 0-d, Python bools, ints and floats,
numpy scalars), result dtype and values checked against torch, or the same exception class
where torch refuses the combination."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg

from .test_differential import same_as_torch

TENSOR_DTYPES = ["bool", "int32", "int64", "float16", "float32", "float64"]


def tensor_kind(dtype: str, zero_dim: bool) -> Any:
    values = [True, False] if dtype == "bool" else [1, 2]

    def make(L: Any) -> Any:
        return L.tensor(values[0] if zero_dim else values, dtype=getattr(L, dtype))

    make.__name__ = f"{dtype}{' 0-d' if zero_dim else ''} tensor"
    return make


def scalar_kind(value: Any) -> Any:
    def make(L: Any) -> Any:
        return value

    make.__name__ = f"{type(value).__name__} {value!r}"
    return make


TENSORS = [tensor_kind(d, z) for d in TENSOR_DTYPES for z in (False, True)]
SCALARS = [scalar_kind(v) for v in (True, 2, 1.5, np.float32(1.5), np.float64(1.5), np.int64(2), np.int32(3))]
KINDS = TENSORS + SCALARS

OPERATORS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}


@pytest.mark.parametrize("op", sorted(OPERATORS))
@pytest.mark.parametrize("left", KINDS, ids=lambda k: k.__name__)
def test_operator_result_dtype_and_values_match_torch(op: str, left: Any) -> None:
    fn = OPERATORS[op]
    failures = []
    for right in TENSORS if left in SCALARS else KINDS:
        try:
            same_as_torch(lambda L, F, right=right: fn(left(L), right(L)), rtol=1e-6, atol=1e-6)
        except AssertionError as error:
            failures.append(f"{left.__name__} {op} {right.__name__}: {error}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("left", TENSORS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("method", ["add", "sub", "mul", "div"])
def test_in_place_operator_keeps_the_tensor_dtype_or_refuses_as_torch(left: Any, method: str) -> None:
    failures = []
    for right in KINDS:

        def in_place(L: Any, F: Any, right: Any = right) -> Any:
            target = left(L).clone()
            getattr(target, method + "_")(right(L))
            return target

        try:
            same_as_torch(in_place, rtol=1e-6, atol=1e-6)
        except AssertionError as error:
            failures.append(f"{left.__name__}.{method}_({right.__name__}): {error}")
    assert not failures, "\n".join(failures)


def test_result_type_matches_torch_for_every_pair() -> None:
    for left in KINDS:
        for right in KINDS:
            a, b = left(tg), right(tg)
            if not isinstance(a, tg.Tensor) and not isinstance(b, tg.Tensor):
                continue
            ours = tg.result_type(a, b)
            theirs = torch.result_type(left(torch), right(torch))
            assert str(ours) == str(theirs).replace("torch.", ""), f"{left.__name__}, {right.__name__}"
