"""Every op of the engine, one class each, forward and backward side by side."""

from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .elementwise import Abs, Add, Cast, Clamp, Div, Exp, Log, Mul, Neg, Pow, Sqrt, Sub, Where
from .linalg import Linear, MatMul
from .reduce import BroadcastTo, Max, MaxDim, Mean, Sum, SumTo, argmax_indices, sum_to
from .shape import Cat, Clone, GetItem, IndexAdd, Permute, Reshape, SetItem, Stack, Transpose, cat, stack

__all__ = [
    "Abs",
    "Add",
    "BroadcastTo",
    "Cast",
    "Cat",
    "Clamp",
    "Clone",
    "Div",
    "Exp",
    "GetItem",
    "IndexAdd",
    "Linear",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxDim",
    "Mean",
    "Mul",
    "Neg",
    "Permute",
    "Pow",
    "ReLU",
    "Reshape",
    "SetItem",
    "Sigmoid",
    "Softmax",
    "Sqrt",
    "Stack",
    "Sub",
    "Sum",
    "SumTo",
    "Tanh",
    "Transpose",
    "Where",
    "argmax_indices",
    "cat",
    "stack",
    "sum_to",
]
