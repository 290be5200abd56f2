"""Saving and loading state dicts as numpy ``.npz`` archives, never pickles.

An ``.npz`` file is a zip of ``.npy`` arrays: readable by plain numpy
(``np.load(path)``), and loading it cannot run code. Files that hold pickled Python
objects are refused, since unpickling an untrusted file can run arbitrary code.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from typing import Any, Union

import numpy as np

from .tensor import Tensor

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["load", "save"]


def _as_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value._data
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(f"save: {name!r} is not a numeric array (got {type(value).__name__})")
    return array


def save(state_dict: Mapping[str, Any], path: PathLike) -> None:
    """Write ``{name: array}`` to ``path`` as an ``.npz`` archive, one array per dotted name
    (``rnn.weight_hh_l0``). Values may be numpy arrays, Tensors or torch tensors. The file
    is written at exactly ``path`` (no ``.npz`` suffix is added), in the format
    ``np.savez`` writes, with pickling disabled."""
    arrays = {name: _as_array(name, value) for name, value in state_dict.items()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            # written member by member rather than with np.savez(**arrays): any name works,
            # including the ones that would collide with np.savez's own arguments ("file")
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def load(path: PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` archive written by ``save`` (or ``np.savez``) into ``{name: array}``,
    ready for ``module.load_state_dict``. Files holding pickled objects are refused."""
    where = os.fspath(path)
    with open(path, "rb") as f:
        magic = f.read(6)
    if not magic.startswith((b"PK", b"\x93NUMPY")):
        kind = "a pickle" if magic.startswith(b"\x80") else "neither a .npz archive nor a .npy array"
        raise ValueError(
            f"load: {where!r} is {kind}; load reads .npz archives written by tinygrad_rnn.save "
            "(or np.savez), and refuses pickles for safety"
        )
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"load: {where!r} holds a single array, not a .npz archive of named arrays")
        with archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "pickle" not in str(error):
            raise
        raise ValueError(
            f"load: {where!r} holds pickled Python objects, which are refused for safety "
            "(unpickling an untrusted file can run arbitrary code); save plain numeric arrays instead"
        ) from error
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray):  # a zip with other members, e.g. a torch.save file
            raise ValueError(
                f"load: {where!r} is not an .npz archive of arrays (member {name!r} is not an .npy file); "
                "torch.save files are pickles: load them with torch and pass model.state_dict() instead"
            )
    return arrays
