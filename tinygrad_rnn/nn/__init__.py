"""Layers, losses and helpers, named and shaped as in ``torch.nn``."""

from . import functional, init, utils
from .linear import Dropout, Embedding, Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module, ModuleList, Parameter, Sequential
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleList",
    "Parameter",
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
