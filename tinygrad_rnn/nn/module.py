"""Module and Parameter: how layers own their weights, name them as torch does, and move
them in and out as a state dict."""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, NamedTuple

import numpy as np

from ..creation import from_numpy
from ..engine import no_grad
from ..tensor import Tensor, TensorLike, _to_dtype, device


class Parameter(Tensor):
    """A tensor that a Module registers as a weight: a leaf with ``requires_grad=True``."""

    __slots__ = ()

    def __init__(self, data: TensorLike, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__() + ")"


class LoadResult(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer. Assigning a Parameter or a Module to an attribute registers
    it, in order, so ``named_parameters()`` yields torch's dotted names
    (``rnn.weight_hh_l0``)."""

    training: bool
    _parameters: dict[str, Parameter]
    _modules: dict[str, Module]

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
            value.name = name
        elif isinstance(value, Module):
            self._modules[name] = value
            for sub_name, p in value.named_parameters():
                p.name = f"{name}.{sub_name}"
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first, with dotted names."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs in registration order; a shared parameter appears once."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter as a numpy array (a copy), under torch's dotted names."""
        return {name: p._data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy arrays (numpy arrays, our Tensors or torch tensors) into the parameters,
        cast to each parameter's dtype. With ``strict``, missing or unexpected keys raise.

        All or nothing: every value is checked and converted before any parameter changes,
        and all the problems found are reported together in one ``RuntimeError`` (torch's
        class and wording): missing or unexpected keys (with ``strict``), shape mismatches,
        values that are not arrays (lists, strings, Python numbers), and arrays that are not
        real numbers (complex, strings, objects, dates). Booleans and integers convert, as in
        torch. ``TypeError`` if ``state_dict`` is not a mapping."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        converted: dict[str, np.ndarray] = {}
        for key, p in own.items():
            if key not in state_dict:
                continue
            array, problem = _checkpoint_array(key, state_dict[key], p)
            if problem:
                errors.append(problem)
            else:
                converted[key] = array
        if errors:
            if strict and (missing or unexpected):
                errors.append("(pass strict=False to load only the keys that match)")
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors)
            )
        with no_grad():  # nothing above changed a parameter; copied in place, as torch does,
            for key, array in converted.items():  # so weights shared between modules stay shared
                own[key].copy_(from_numpy(array))
        return LoadResult(missing, unexpected)

    # ------------------------------------------------------------------ modes and dtypes

    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to None."""
        for p in self.parameters():
            p.grad = None

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast every parameter (and its gradient) to a floating dtype, in place; return self.

        Takes torch's forms, read as ``Tensor.to`` reads them: ``to(dtype)``, ``to(device)``,
        ``to(device, dtype)``, ``to(tensor)`` (its dtype), and the keywords ``dtype``,
        ``device``, ``non_blocking``. A dtype may be numpy's or torch's. The device must be
        the CPU (``"cpu"``, ``"cpu:0"``, ``torch.device("cpu")``); any other is a
        ``RuntimeError``. Integer and boolean dtypes are a ``TypeError``, as in torch
        (complex too: parameters here are real)."""
        dtype = _parse_to_arguments(args, kwargs)
        if dtype is None:
            return self
        for p in self.parameters():
            p._data = p._data.astype(dtype)
            if p.grad is not None:
                p.grad = p.grad._data.astype(dtype)
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    # ------------------------------------------------------------------ printing

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _checkpoint_array(key: str, value: Any, parameter: Tensor) -> tuple[np.ndarray, str | None]:
    """``value`` as a new array of the parameter's dtype and shape, or why it cannot be."""
    if isinstance(value, Tensor):
        array = value._data
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        try:
            array = value.detach().cpu().numpy()
        except (TypeError, RuntimeError) as error:  # bfloat16 and other dtypes numpy lacks
            return np.empty(0), f'While copying the parameter named "{key}", numpy cannot read it: {error}'
    else:
        return np.empty(0), (
            f'While copying the parameter named "{key}", expected a Tensor or numpy array from '
            f"checkpoint but received {type(value)}"
        )
    if array.dtype.kind not in "biuf":
        what = "complex" if array.dtype.kind == "c" else "not real numbers"
        return np.empty(0), (
            f'While copying the parameter named "{key}", the checkpoint holds dtype {array.dtype} '
            f"({what}), which cannot be copied into a {parameter.dtype} parameter without losing data"
        )
    if array.shape != parameter.shape:
        return np.empty(0), (
            f"size mismatch for {key}: copying a param with shape {array.shape} from checkpoint, "
            f"the shape in current model is {parameter.shape}."
        )
    return np.array(array, dtype=parameter.dtype, order="C", copy=True), None


def _from_torch(value: Any) -> Any:
    """torch's devices, dtypes and tensors as the core's ``to`` arguments read them."""
    module = type(value).__module__
    if not module.startswith("torch"):
        return value
    kind = type(value).__name__
    if kind == "device":
        return str(value)
    if kind == "dtype":
        name = str(value).removeprefix("torch.")
        try:
            return np.dtype(name)
        except TypeError as error:
            raise TypeError(f"Module.to: numpy has no dtype {value} (no bfloat16 here)") from error
    if kind in ("Tensor", "Parameter"):
        device(str(value.device))  # refuses a tensor on another device
        return _from_torch(value.dtype)
    return value


def _parse_to_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> np.dtype | None:
    """The dtype ``Module.to`` is asked for, read as ``Tensor.to`` reads it (a string is a
    device, as in torch), plus torch's own devices, dtypes and tensors."""
    unknown = set(kwargs) - {"dtype", "device", "non_blocking", "memory_format"}
    if unknown:
        raise TypeError(
            f"Module.to() got unexpected keyword arguments {sorted(unknown)}; "
            "use to(dtype), to(device), to(device, dtype) or to(tensor)"
        )
    positional = tuple(_from_torch(a) for a in args if not isinstance(a, bool))  # bools: non_blocking
    keywords: dict[str, Any] = {k: _from_torch(kwargs[k]) for k in ("dtype", "device") if k in kwargs}
    dtype = _to_dtype("Module.to", positional, keywords)
    if dtype is not None and dtype.kind != "f":
        raise TypeError(
            "nn.Module.to only accepts floating point dtypes, but got desired "
            f"dtype={dtype}; parameters must be float (np.float32 or np.float64)"
        )
    return dtype


class Sequential(Module):
    """Modules applied one after the other."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ModuleList(Module):
    """A list of modules whose parameters are registered (named ``0``, ``1``, ...)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


def _check_name(owner: str, module: Module, name: Any) -> str:
    """torch's rules for a sub-module or parameter name given as a key."""
    if not isinstance(name, str):
        raise TypeError(f"{owner}: key should be a string, got {type(name).__name__}")
    if not name:
        raise KeyError(f"{owner}: a key must not be the empty string")
    if "." in name:
        raise KeyError(f"{owner}: a key must not contain a dot, got {name}")
    if hasattr(module, name) and name not in module._modules and name not in module._parameters:
        raise KeyError(f"{owner}: attribute {name} already exists; choose another key")
    return name


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered under their keys
    (``heads.classifier.weight``), as ``torch.nn.ModuleDict``. Built from a dict or an
    iterable of ``(key, module)`` pairs; keys are strings without ``"."``."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {type(module).__name__} is not a Module subclass")
        setattr(self, _check_name("ModuleDict", self, key), module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        for key in list(self._modules):
            delattr(self, key)

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def keys(self) -> KeysView[str]:
        return self._modules.keys()

    def items(self) -> ItemsView[str, Module]:
        return self._modules.items()

    def values(self) -> ValuesView[Module]:
        return self._modules.values()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from ``(key, module)`` pairs."""
        if isinstance(modules, Mapping):
            pairs: Iterable[Any] = modules.items()
        else:
            pairs = modules
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(
                    f"ModuleDict update sequence element #{i} should be a (key, module) pair, "
                    f"got {type(pair).__name__}"
                )
            self[pair[0]] = pair[1]


class ParameterList(Module):
    """A list of parameters registered under ``"0"``, ``"1"``, ..., as
    ``torch.nn.ParameterList``. A plain Tensor appended becomes a Parameter sharing its
    memory (as torch wraps it)."""

    def __init__(self, values: Iterable[Tensor] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    @staticmethod
    def _as_parameter(value: Any) -> Parameter:
        if isinstance(value, Parameter):
            return value
        if not isinstance(value, Tensor):
            raise TypeError(f"ParameterList: expected a Parameter or a Tensor, got {type(value).__name__}")
        parameter = Parameter(np.empty(0, dtype=value.dtype))
        parameter._data = value._data
        return parameter

    def append(self, value: Tensor) -> ParameterList:
        setattr(self, str(len(self._parameters)), self._as_parameter(value))
        return self

    def extend(self, values: Iterable[Tensor]) -> ParameterList:
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(
                f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}"
            )
        for value in values:
            self.append(value)
        return self

    def _index(self, i: int) -> str:
        if not -len(self) <= i < len(self):
            raise IndexError(f"ParameterList: index {i} is out of range for {len(self)} parameters")
        return str(i % len(self))

    def __getitem__(self, i: int) -> Parameter:
        return self._parameters[self._index(i)]

    def __setitem__(self, i: int, value: Tensor) -> None:
        setattr(self, self._index(i), self._as_parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __repr__(self) -> str:
        lines = [
            f"({i}): Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}]"
            for i, p in enumerate(self)
        ]
        return "ParameterList(" + "".join("\n    " + line for line in lines) + ("\n)" if lines else ")")
