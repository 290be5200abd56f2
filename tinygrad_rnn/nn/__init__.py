"""Layers, losses and helpers, named and shaped as in ``torch.nn``."""

from . import functional, init
from .linear import Dropout, Embedding, Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module, ModuleList, Parameter, Sequential

__all__ = [
    "CrossEntropyLoss", "Dropout", "Embedding", "Linear", "MSELoss", "Module", "ModuleList", "Parameter",
    "Sequential", "functional", "init",
]
