"""Layers, losses and helpers, named and shaped as in ``torch.nn``."""

from . import functional, init
from .linear import Dropout, Embedding, Linear
from .module import Module, ModuleList, Parameter, Sequential

__all__ = [
    "Dropout", "Embedding", "Linear", "Module", "ModuleList", "Parameter", "Sequential", "functional", "init",
]
