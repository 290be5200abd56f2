"""Layers, losses and helpers, named and shaped as in ``torch.nn``."""

from . import functional, init, utils
from .flatten import Flatten
from .linear import Dropout, Embedding, Identity, Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterList, Sequential
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterList",
    "Sequential",
    "functional",
    "init",
    "utils",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
]
