"""Layers, losses and helpers, named and shaped as in ``torch.nn``."""

from . import init
from .module import Module, ModuleList, Parameter, Sequential

__all__ = ["Module", "ModuleList", "Parameter", "Sequential", "init"]
