"""Saving and loading state dicts as numpy ``.npz`` archives, never pickles.

An ``.npz`` file is a zip of ``.npy`` arrays: readable by plain numpy
(``np.load(path)``), and loading it cannot run code. The guarantees:

``save``
    is atomic: the archive is written to a temporary file in the target's folder, flushed
    to disk (``fsync``) and renamed over the target in one step, so a save that fails at any
    point (a bad value, a full disk, a size limit, Ctrl-C) leaves the previous file as it was
    and no temporary file behind. Every key and value is checked before anything is written:
    keys must be strings that come back unchanged from ``load``.

``load``
    never unpickles: it reads each member's ``.npy`` header itself and refuses object arrays
    (whose data is a pickle) before reading their data, as well as pickle files and
    ``torch.save`` files. It refuses archives that are ambiguous or hostile: two members
    with one name, names that climb out of a folder (``../x``), compression other than
    numpy's (stored or deflated), encrypted members. A truncated or corrupt file is an error
    naming the path and the real cause. ``max_bytes`` bounds the decompressed size, checked
    before any array is allocated (a zip bomb fails fast). Every file it opens is closed.
"""

from __future__ import annotations

import math
import os
import re
import secrets
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import IO, Any, Union

import numpy as np

from .tensor import Tensor

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["load", "save"]

_SUFFIX = ".npy"
_NUMERIC_KINDS = "biufc"  # bool, signed and unsigned integers, floats, complex
_READ_CHUNK = 1 << 20
_MAX_HEADER = 10_000  # numpy's own default limit for a .npy header


# --------------------------------------------------------------------------- names


def _name_problem(name: str) -> str | None:
    """Why ``name`` (a key, or a member name without ``.npy``) cannot be stored, or None."""
    if "\x00" in name:
        return "contains a NUL character, which zip member names cannot hold"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate), so it cannot be written as UTF-8"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[/\\]", name):
        return "is an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "has a '..' component that climbs out of a folder"
    return None


# --------------------------------------------------------------------------- save


def _as_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        array = value._data
    else:
        try:
            if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
                value = value.detach().cpu().numpy()
            array = np.asarray(value)
        except (TypeError, ValueError, RuntimeError) as error:  # ragged lists, torch's bfloat16
            raise TypeError(f"save: {name!r} cannot be made a numeric array: {error}") from error
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"save: {name!r} is not a numeric array (got {type(value).__name__} of dtype {array.dtype}); "
            "save stores arrays of booleans, integers, floats or complex numbers"
        )
    return array


def _check_state_dict(state_dict: Any) -> dict[str, np.ndarray]:
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"save: state_dict must be a mapping of names to arrays, got {type(state_dict).__name__}"
        )
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(
                f"save: key {name!r} is a {type(name).__name__}, not a str; "
                "archive member names are strings, so it would not come back from load unchanged"
            )
        problem = _name_problem(name)
        if problem:
            raise ValueError(f"save: key {name!r} {problem}; rename it")
        arrays[name] = _as_array(name, value)
    return arrays


def _write_archive(file: IO[bytes], arrays: Mapping[str, np.ndarray]) -> None:
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            # written member by member rather than with np.savez(**arrays): any name works,
            # including the ones that would collide with np.savez's own arguments ("file")
            with archive.open(name + _SUFFIX, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def _open_temporary(folder: str, base: str) -> tuple[int, str]:
    """A new file next to the target. Created with mode 0o666 so the umask applies, as for
    a file opened with ``open(path, "wb")``."""
    while True:
        temporary = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary
        except FileExistsError:
            continue


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable; not every system can open a folder, which is fine."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def save(state_dict: Mapping[str, Any], path: PathLike | IO[bytes]) -> None:
    """Write ``{name: array}`` to ``path`` as an ``.npz`` archive, one array per dotted name
    (``rnn.weight_hh_l0``). Values may be numpy arrays, Tensors or torch tensors. The file
    is written at exactly ``path`` (no ``.npz`` suffix is added), in the format
    ``np.savez`` writes, with pickling disabled.

    Atomic for a path: written to a temporary file in the same folder, synced, then renamed
    over ``path``; on any failure the old file is untouched and the temporary file removed.
    ``path`` may also be a binary file object (written directly, without that guarantee).
    Keys must be strings without NUL characters, ``..`` components or a leading ``/``:
    those could not come back from ``load`` unchanged, so they are refused before writing.
    """
    arrays = _check_state_dict(state_dict)
    if hasattr(path, "write"):
        _write_archive(path, arrays)  # type: ignore[arg-type]
        return
    target = os.fspath(path)
    if os.path.islink(target):  # write through a link, as open(path, "wb") would
        target = os.path.realpath(target)
    folder, base = os.path.split(os.path.abspath(target))
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = None
    descriptor, temporary = _open_temporary(folder, base)
    try:
        with os.fdopen(descriptor, "wb") as file:
            if mode is not None:
                os.chmod(temporary, mode)
            _write_archive(file, arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:  # also KeyboardInterrupt: the old file stays, the temporary goes
        with suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)


# --------------------------------------------------------------------------- load


class _RefusedError(ValueError):
    """A file load reads but will not accept; re-raised as a ValueError naming the path."""


@contextmanager
def _opened(path: PathLike | IO[bytes]) -> Iterator[IO[bytes]]:
    if hasattr(path, "read"):
        yield path  # type: ignore[misc]
    else:
        with open(path, "rb") as file:
            yield file


def _read_header(
    member: IO[bytes], what: str, version: tuple[int, int]
) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from a ``.npy`` header, read without numpy's
    ``read_array``: the dtype is checked before any data is touched."""
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member, max_header_size=_MAX_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member, max_header_size=_MAX_HEADER)
    else:
        raise _RefusedError(f"{what} uses .npy format version {version}, which load does not read")
    if dtype.hasobject:
        raise _RefusedError(
            f"{what} holds pickled Python objects, which are refused for safety "
            "(unpickling an untrusted file can run arbitrary code); save plain numeric arrays instead"
        )
    if dtype.kind not in _NUMERIC_KINDS or dtype.names is not None:
        raise _RefusedError(f"{what} has dtype {dtype}, not a numeric dtype")
    return tuple(shape), bool(fortran), dtype


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(info) as member:
        magic = member.read(8)
        if magic[:6] != b"\x93NUMPY" or len(magic) < 8:
            raise _RefusedError(
                f"is not an .npz archive of arrays: member {info.filename!r} is not an .npy array; "
                "torch.save files are pickles: "
                "load them with torch and pass model.state_dict() instead"
            )
        shape, fortran, dtype = _read_header(member, f"member {info.filename!r}", (magic[6], magic[7]))
        nbytes = math.prod(shape) * dtype.itemsize
        available = info.file_size - member.tell()
        if nbytes > available:  # checked before allocating: a header cannot claim more data than exists
            raise _RefusedError(
                f"member {info.filename!r} is truncated: its header declares shape {shape} of {dtype} "
                f"({nbytes} bytes) but only {available} bytes follow"
            )
        buffer = bytearray(nbytes)
        view = memoryview(buffer)
        filled = 0
        while filled < nbytes:
            count = member.readinto(view[filled : filled + _READ_CHUNK])  # type: ignore[attr-defined]
            if not count:
                raise _RefusedError(f"member {info.filename!r} is truncated: {filled} of {nbytes} bytes")
            filled += count
        if member.read(1):  # numpy writes nothing after the data; reading to the end also checks the CRC
            raise _RefusedError(f"member {info.filename!r} has bytes after its array data")
    array = np.frombuffer(buffer, dtype=dtype) if nbytes else np.empty(0, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C")


def _declared_entries(file: IO[bytes]) -> int | None:
    """The member count the end-of-archive record declares (zipfile stops reading the central
    directory at its declared size, so a damaged entry can hide the ones after it)."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    tail_size = min(size, 22 + 0xFFFF)  # the record, then a comment of at most 64 kB
    file.seek(size - tail_size)
    tail = file.read(tail_size)
    # where zipfile looks: right at the end (no comment), else the last signature before it
    at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    count = int(struct.unpack_from("<H", tail, at + 10)[0])
    if count != 0xFFFF or at < 20 or tail[at - 20 : at - 16] != b"PK\x06\x07":
        return count
    (record_offset,) = struct.unpack_from("<Q", tail, at - 12)  # the zip64 record holds the count
    file.seek(record_offset)
    record = file.read(40)
    if len(record) < 40 or record[:4] != b"PK\x06\x06":
        return None
    return int(struct.unpack_from("<Q", record, 32)[0])


def _check_members(
    infos: list[zipfile.ZipInfo], declared: int | None, file_size: int, max_bytes: int | None
) -> None:
    if declared is not None and declared != len(infos):
        raise _RefusedError(
            f"is corrupt: its directory declares {declared} members but {len(infos)} could be read"
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        if "\x00" in info.orig_filename:  # zipfile cuts the name there: two names could merge
            raise _RefusedError(f"member name {info.orig_filename!r} contains a NUL character")
        name = info.filename
        key = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
        problem = _name_problem(name) or _name_problem(key)
        if problem:
            raise _RefusedError(f"member name {name!r} {problem}")
        if key in seen:
            raise _RefusedError(f"two members are named {key!r}; the archive is ambiguous")
        seen.add(key)
        if not 0 <= info.header_offset <= info.header_offset + info.compress_size <= file_size:
            raise _RefusedError(f"is corrupt: member {name!r} lies outside the file")
        if info.flag_bits & 0x1:
            raise _RefusedError(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _RefusedError(
                f"member {name!r} uses zip compression method {info.compress_type}; "
                "load reads stored or deflated members (np.savez, np.savez_compressed)"
            )
        total += info.file_size
    if max_bytes is not None and total > max_bytes:
        raise _RefusedError(
            f"its members decompress to {total} bytes, more than max_bytes={max_bytes}; "
            "raise max_bytes if the file is trusted"
        )


def load(path: PathLike | IO[bytes], *, max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Read an ``.npz`` archive written by ``save`` (or ``np.savez``/``np.savez_compressed``)
    into ``{name: array}``, ready for ``module.load_state_dict``.

    Refused with ``ValueError`` (nothing is unpickled, ever): pickle files, ``torch.save``
    files, single ``.npy`` arrays, object arrays, two members with one name, member names
    with ``..`` components or a leading ``/``, compression methods numpy does not write,
    encrypted members, and truncated or corrupt files (the message names the path and the
    cause). ``max_bytes``: refuse archives whose arrays decompress to more bytes than this
    (checked before reading any array), to load untrusted files without risking memory.
    ``path`` may also be a binary file object; it is read, not closed.
    """
    where = repr(getattr(path, "name", path)) if hasattr(path, "read") else repr(os.fspath(path))
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0
    ):
        raise ValueError(f"load: max_bytes must be a non-negative int or None, got {max_bytes!r}")
    try:
        with _opened(path) as file:
            magic = file.read(8)
            if magic[:6] == b"\x93NUMPY" and len(magic) == 8:
                # an object array gets the pickle refusal, anything else the one below
                _read_header(file, "is a single .npy array that", (magic[6], magic[7]))
                raise _RefusedError("holds a single .npy array, not a .npz archive of named arrays")
            file.seek(0)
            if not magic.startswith(b"PK"):
                kind = "a pickle" if magic.startswith(b"\x80") else "neither a .npz archive nor a .npy array"
                raise _RefusedError(
                    f"is {kind}; load reads .npz archives written by tinygrad_rnn.save "
                    "(or np.savez), and refuses pickles for safety"
                )
            with zipfile.ZipFile(file) as archive:
                infos = archive.infolist()
                declared = _declared_entries(file)
                _check_members(infos, declared, file.seek(0, os.SEEK_END), max_bytes)
                arrays = {}
                for info in infos:
                    name = info.filename
                    key = name[: -len(_SUFFIX)] if name.endswith(_SUFFIX) else name
                    arrays[key] = _read_member(archive, info)
                return arrays
    except _RefusedError as error:
        raise ValueError(f"load: {where} {error}") from None
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        zlib.error,
        struct.error,
        NotImplementedError,  # zipfile's answer to a damaged version field
        OverflowError,
        ValueError,
    ) as error:
        raise ValueError(
            f"load: {where} is truncated or corrupt ({type(error).__name__}: {error}); "
            "the file was not written completely, or is not an archive written by save"
        ) from error
