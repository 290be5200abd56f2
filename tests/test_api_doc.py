"""docs/api.md names every public name of the package: a new public name without docs fails here."""

import inspect
import re
import types
from pathlib import Path

import pytest

import tinygrad_rnn
from tinygrad_rnn import autograd, cli, nn, optim, viz
from tinygrad_rnn.nn import functional, init, recurrent, utils
from tinygrad_rnn.optim import lr_scheduler
from tinygrad_rnn.viz import backends, dot, gif, graph, page, trace

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _exported(module: types.ModuleType) -> list[str]:
    """The module's ``__all__``, or else the public functions and classes it defines."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == module.__name__
    ]


def _members(cls: type) -> list[str]:
    """Public methods and properties a class defines itself (inherited ones are its bases')."""
    return [name for name in vars(cls) if not name.startswith("_")]


def public_names() -> dict[str, list[str]]:
    return {
        "tinygrad_rnn": _exported(tinygrad_rnn),
        "tinygrad_rnn.autograd": _exported(autograd),
        "tinygrad_rnn.nn": _exported(nn),
        "tinygrad_rnn.nn.functional": _exported(functional),
        "tinygrad_rnn.nn.init": _exported(init),
        "tinygrad_rnn.nn.utils": _exported(utils),
        "tinygrad_rnn.nn.utils.rnn": _exported(utils.rnn),
        "tinygrad_rnn.nn.recurrent": _exported(recurrent),
        "tinygrad_rnn.optim": _exported(optim),
        "tinygrad_rnn.optim.lr_scheduler": _exported(lr_scheduler),
        "tinygrad_rnn.viz": _exported(viz),
        "tinygrad_rnn.viz.backends": _exported(backends),
        "tinygrad_rnn.viz.graph": _exported(graph),
        "tinygrad_rnn.viz.dot": _exported(dot),
        "tinygrad_rnn.viz.trace": _exported(trace),
        "tinygrad_rnn.viz.page": _exported(page),
        "tinygrad_rnn.viz.gif": _exported(gif),
        "viz.Picture": _members(dot.Picture),
        "tinygrad_rnn.cli": _exported(cli),
        "Tensor": _members(tinygrad_rnn.Tensor),
        "Op": _members(tinygrad_rnn.Op),
        "nn.Module": _members(nn.Module),
        "nn.ModuleList": _members(nn.ModuleList),
        "optim.Optimizer": _members(optim.Optimizer),
        "optim.lr_scheduler.LRScheduler": _members(lr_scheduler.LRScheduler),
        "optim.lr_scheduler.ReduceLROnPlateau": _members(lr_scheduler.ReduceLROnPlateau),
    }


def documented(name: str, text: str) -> bool:
    """``name`` appears in backticks, alone or as the start of a call or attribute
    (`grad`, `grad(outputs, ...)`, `nn.init`), or after a dotted prefix (`lr_scheduler.StepLR`)."""
    return re.search(r"`(?:[\w.]*\.)?" + re.escape(name) + r"(?:[(.\[][^`]*)?`", text) is not None


def test_names_are_collected():
    names = public_names()
    assert "Tensor" in names["tinygrad_rnn"]
    assert {"softmax", "cross_entropy", "mse_loss", "one_hot"} <= set(names["tinygrad_rnn.nn.functional"])
    assert "np" not in names["tinygrad_rnn.nn.functional"]  # imports are not public names
    assert {"uniform_", "zeros_"} <= set(names["tinygrad_rnn.nn.init"])
    assert {"backward", "grad", "detach", "shape"} <= set(names["Tensor"])
    assert "draw" in names["tinygrad_rnn.viz"]


def test_documented_matches_backticked_names_only():
    text = "`grad(outputs, inputs)` and `nn.init` and `lr_scheduler.StepLR` and stepper, `RNNCell`"
    assert documented("grad", text)
    assert documented("nn", text)
    assert documented("init", text)
    assert documented("StepLR", text)
    assert not documented("step", text)
    assert not documented("RNN", text)


@pytest.mark.parametrize("where", sorted(public_names()))
def test_every_public_name_is_in_the_api_doc(where):
    text = API_DOC.read_text(encoding="utf-8")
    missing = [name for name in public_names()[where] if not documented(name, text)]
    assert not missing, f"{where}: public names missing from docs/api.md (as `name`): {missing}"
