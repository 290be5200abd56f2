"""load against hostile or damaged files: nothing is ever unpickled, ambiguous or escaping
names are refused, damage is reported with the path and its cause, and ``max_bytes`` stops
a zip bomb before anything big is allocated."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import struct
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg

from ._support import good_state


class Payload:
    """Unpickling this creates the file ``marker``: proof that a pickle ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _zip(path, members, compression=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members:
            archive.writestr(name, data)


# --------------------------------------------------------------------------- pickles


def test_the_payload_really_runs_when_unpickled(tmp_path):
    """The control: the hostile files below would create their marker if anything unpickled them."""
    marker = tmp_path / "control-ran"
    np.savez(tmp_path / "control.npz", x=np.array([Payload(str(marker))], dtype=object))
    with np.load(tmp_path / "control.npz", allow_pickle=True) as archive:
        archive["x"]
    assert marker.exists()


def _hostile_files(tmp_path, marker: str) -> dict[str, os.PathLike]:
    files = {}
    files["npz object member"] = tmp_path / "object.npz"
    np.savez(files["npz object member"], w=np.ones(2), x=np.array([Payload(marker)], dtype=object))
    files["raw pickle"] = tmp_path / "raw.pkl"
    files["raw pickle"].write_bytes(pickle.dumps({"w": Payload(marker)}))
    files["torch.save"] = tmp_path / "model.pt"
    torch.save({"w": Payload(marker)}, files["torch.save"])
    files["single npy"] = tmp_path / "single.npy"
    np.save(files["single npy"], np.array([Payload(marker)], dtype=object), allow_pickle=True)
    files["pickle named .npy in a zip"] = tmp_path / "disguised.npz"
    _zip(files["pickle named .npy in a zip"], [("w.npy", pickle.dumps(Payload(marker)))])
    return files


@pytest.mark.parametrize(
    "kind", ["npz object member", "raw pickle", "torch.save", "single npy", "pickle named .npy in a zip"]
)
def test_no_pickle_ever_runs(tmp_path, kind):
    marker = tmp_path / "payload-ran"
    path = _hostile_files(tmp_path, str(marker))[kind]
    with pytest.raises(ValueError) as info:
        tg.load(path)
    assert str(path) in str(info.value)
    assert not marker.exists(), f"{kind}: loading ran a pickle"


def test_an_object_member_is_refused_by_name_before_its_data_is_read(tmp_path):
    marker = tmp_path / "payload-ran"
    path = _hostile_files(tmp_path, str(marker))["npz object member"]
    with pytest.raises(ValueError, match="member 'x.npy' holds pickled Python objects.*refused for safety"):
        tg.load(path)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name, words",
    [
        ("../evil.npy", "'..'"),
        ("a/../../evil.npy", "'..'"),
        ("..\\evil.npy", "'..'"),
        ("/etc/evil.npy", "absolute"),
        ("C:/evil.npy", "absolute"),
        ("a\x00b.npy", "NUL"),
    ],
)
def test_escaping_member_names_are_refused(tmp_path, name, words):
    path = tmp_path / "names.npz"
    _zip(path, [("ok.npy", _npy_bytes(np.ones(2))), (name.replace("\x00", "_"), _npy_bytes(np.zeros(2)))])
    if "\x00" in name:  # zipfile will not write a NUL; put it in the file's bytes directly
        raw = path.read_bytes().replace(b"a_b.npy", b"a\x00b.npy")
        path.write_bytes(raw)
    with pytest.raises(ValueError, match=words):
        tg.load(path)
    assert sorted(os.listdir(tmp_path)) == ["names.npz"]


@pytest.mark.parametrize("names", [("w.npy", "w.npy"), ("w", "w.npy")])
def test_two_members_with_one_name_are_refused(tmp_path, names):
    path = tmp_path / "dup.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate it writes
        _zip(path, [(names[0], _npy_bytes(np.ones(2))), (names[1], _npy_bytes(np.zeros(2)))])
    with pytest.raises(ValueError, match="two members are named 'w'"):
        tg.load(path)


def test_names_that_load_refuses_cannot_be_saved(tmp_path):
    """The two sides agree: every refused member name is also a refused key."""
    for key in ("../x", "/x", "a\x00b"):
        with pytest.raises((ValueError, TypeError)):
            tg.save({key: np.ones(1)}, tmp_path / "x.npz")


def test_unusual_but_harmless_keys_round_trip(tmp_path):
    state = {"": np.ones(1), "a..b": np.ones(2), "x.npy": np.ones(3), "x": np.ones(4), "ünï/cödé": np.ones(5)}
    tg.save(state, tmp_path / "odd.npz")
    loaded = tg.load(tmp_path / "odd.npz")
    assert sorted(loaded) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


# --------------------------------------------------------------------------- damage


def test_every_truncation_is_an_error_naming_the_path(tmp_path):
    whole = tmp_path / "whole.npz"
    tg.save(good_state(), whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.npz"
    for length in range(len(data)):
        cut.write_bytes(data[:length])
        with pytest.raises(ValueError) as info:
            tg.load(cut)
        message = str(info.value)
        assert str(cut) in message, (length, message)
        assert "pickle" not in message or length < 8, (length, message)  # not misreported as a pickle


def test_truncation_says_truncated_or_corrupt_and_chains_the_cause(tmp_path):
    whole = tmp_path / "whole.npz"
    tg.save(good_state(), whole)
    data = whole.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt.*BadZipFile") as info:
        tg.load(tmp_path / "cut.npz")
    assert isinstance(info.value.__cause__, zipfile.BadZipFile)


def test_flipped_bytes_give_an_error_or_the_exact_data(tmp_path):
    """Damage anywhere is either detected (ValueError) or harmless: never different numbers."""
    whole = tmp_path / "whole.npz"
    tg.save(good_state(), whole)
    data = bytearray(whole.read_bytes())
    rng = np.random.default_rng(1)
    damaged = tmp_path / "damaged.npz"
    for position in rng.choice(len(data), size=len(data), replace=False):
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        damaged.write_bytes(bytes(flipped))
        try:
            loaded = tg.load(damaged)
        except ValueError as error:
            assert str(damaged) in str(error)
            continue
        assert sorted(loaded) == sorted(good_state()), position
        for name, value in good_state().items():
            assert loaded[name].dtype == value.dtype, (position, name)
            np.testing.assert_array_equal(loaded[name], value, err_msg=f"byte {position}")


def test_a_header_claiming_more_data_than_exists_is_refused_before_allocating(tmp_path):
    """A 100-byte member whose header declares 8 GB: refused as truncated, nothing allocated."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)})
    path = tmp_path / "liar.npz"
    _zip(path, [("w.npy", header.getvalue() + b"\x00" * 16)])
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="truncated: its header declares shape \\(1000000000,\\)"):
            tg.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_load_closes_the_file_it_opened_also_when_refusing(tmp_path):
    fd_folder = "/proc/self/fd"
    if not os.path.isdir(fd_folder):
        pytest.skip("needs /proc/self/fd")
    whole = tmp_path / "whole.npz"
    tg.save(good_state(), whole)
    (tmp_path / "cut.npz").write_bytes(whole.read_bytes()[:-30])
    marker = str(tmp_path / "payload-ran")
    paths = [whole, tmp_path / "cut.npz", *_hostile_files(tmp_path, marker).values()]
    before = len(os.listdir(fd_folder))
    for _ in range(3):
        for path in paths:
            with contextlib.suppress(ValueError):
                tg.load(path)
    assert len(os.listdir(fd_folder)) == before


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_compression_numpy_does_not_write_is_refused(tmp_path, compression):
    path = tmp_path / "other.npz"
    _zip(path, [("w.npy", _npy_bytes(np.ones(3)))], compression=compression)
    with pytest.raises(ValueError, match="compression method"):
        tg.load(path)


def test_encrypted_members_are_refused(tmp_path):
    path = tmp_path / "secret.npz"
    _zip(path, [("w.npy", _npy_bytes(np.ones(3)))])
    raw = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        start = raw.index(signature)
        raw[start + flag_offset] |= 0x1
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="encrypted"):
        tg.load(path)


def test_np_savez_compressed_files_load(tmp_path):
    np.savez_compressed(tmp_path / "c.npz", w=np.arange(6.0).reshape(2, 3), f=np.asfortranarray(np.eye(3)))
    loaded = tg.load(tmp_path / "c.npz")
    np.testing.assert_array_equal(loaded["w"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(loaded["f"], np.eye(3))
    assert loaded["w"].flags.writeable


# --------------------------------------------------------------------------- bombs


def _bomb(path, megabytes: int) -> int:
    """A deflated member of ``megabytes`` MB of zeros (a few kB on disk), written in chunks."""
    count = megabytes * (1 << 20) // 8
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("w.npy", "w", force_zip64=True) as member,
    ):
        header = {"descr": "<f8", "fortran_order": False, "shape": (count,)}
        np.lib.format.write_array_header_1_0(member, header)
        chunk = bytes(1 << 20)
        for _ in range(megabytes):
            member.write(chunk)
    return count


def test_a_bomb_over_the_limit_is_refused_before_anything_is_allocated(tmp_path):
    path = tmp_path / "bomb.npz"
    _bomb(path, 64)
    assert os.path.getsize(path) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"decompress to \d+ bytes, more than max_bytes=1000000"):
            tg.load(path, max_bytes=1_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_a_compressed_archive_under_the_limit_loads(tmp_path):
    path = tmp_path / "bomb.npz"
    count = _bomb(path, 4)
    loaded = tg.load(path, max_bytes=5 * (1 << 20))
    assert loaded["w"].shape == (count,) and not loaded["w"].any()


def test_a_member_that_lies_about_its_size_cannot_exceed_it(tmp_path):
    """The central directory says 1000 bytes; the deflate stream holds 1 MB. At most the
    declared size is decompressed, and the member is refused as truncated."""
    path = tmp_path / "liar.npz"
    _zip(path, [("w.npy", _npy_bytes(np.zeros(1 << 17)))], compression=zipfile.ZIP_DEFLATED)
    raw = bytearray(path.read_bytes())
    true_size = len(_npy_bytes(np.zeros(1 << 17)))
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = raw.index(signature)
        assert struct.unpack_from("<I", raw, start + size_offset)[0] == true_size
        struct.pack_into("<I", raw, start + size_offset, 1000)
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="truncated"):
        tg.load(path, max_bytes=10_000)


@pytest.mark.parametrize("limit", [-1, 1.5, "10", True])
def test_max_bytes_must_be_a_non_negative_int(tmp_path, limit):
    tg.save(good_state(), tmp_path / "m.npz")
    with pytest.raises(ValueError, match="max_bytes"):
        tg.load(tmp_path / "m.npz", max_bytes=limit)


# --------------------------------------------------------------------------- formats


def test_a_single_npy_file_is_refused_as_such(tmp_path):
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(ValueError, match="one.npy' holds a single .npy array, not a .npz archive"):
        tg.load(tmp_path / "one.npy")


def test_npy_format_versions(tmp_path):
    """Version 2.0 (numpy's format for huge headers) loads; others are refused by name."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.arange(3.0), version=(2, 0))
    _zip(tmp_path / "v2.npz", [("w.npy", buffer.getvalue())])
    np.testing.assert_array_equal(tg.load(tmp_path / "v2.npz")["w"], np.arange(3.0))
    _zip(tmp_path / "v9.npz", [("w.npy", b"\x93NUMPY\x09\x00" + buffer.getvalue()[8:])])
    with pytest.raises(ValueError, match=r"member 'w.npy' uses .npy format version \(9, 0\)"):
        tg.load(tmp_path / "v9.npz")


def test_non_numeric_members_are_refused(tmp_path):
    _zip(tmp_path / "text.npz", [("w.npy", _npy_bytes(np.array(["a", "b"])))])
    with pytest.raises(ValueError, match="member 'w.npy' has dtype <U1, not a numeric dtype"):
        tg.load(tmp_path / "text.npz")


def test_bytes_after_the_array_data_are_refused(tmp_path):
    _zip(tmp_path / "tail.npz", [("w.npy", _npy_bytes(np.ones(2)) + b"extra")])
    with pytest.raises(ValueError, match="has bytes after its array data"):
        tg.load(tmp_path / "tail.npz")


def test_the_zip64_end_record_is_read(tmp_path, monkeypatch):
    """Past 65535 members the count lives in the zip64 end record; zipfile writes one for a
    small archive too when its member limit is lowered, so the path is checked in a blink."""
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)
    state = {f"p{i}": np.array(i, dtype=np.int32) for i in range(3)}
    tg.save(state, tmp_path / "zip64.npz")
    monkeypatch.undo()
    raw = bytearray((tmp_path / "zip64.npz").read_bytes())
    assert raw[-22:-18] == b"PK\x05\x06" and b"PK\x06\x06" in raw and b"PK\x06\x07" in raw
    raw[-14:-10] = b"\xff" * 4  # the counts as a 65536-member archive has them: see the zip64 record
    (tmp_path / "zip64.npz").write_bytes(bytes(raw))
    loaded = tg.load(tmp_path / "zip64.npz")
    assert sorted(loaded) == sorted(state) and int(loaded["p2"]) == 2
    damaged = bytearray(raw)  # the zip64 record's count says 4: a member would be missing
    at = damaged.rindex(b"PK\x06\x06")
    struct.pack_into("<Q", damaged, at + 32, 4)
    (tmp_path / "damaged.npz").write_bytes(bytes(damaged))
    with pytest.raises(ValueError, match="declares 4 members but 3 could be read"):
        tg.load(tmp_path / "damaged.npz")
