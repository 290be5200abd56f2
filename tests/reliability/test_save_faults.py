"""save is atomic: whatever fails while writing, the previous file is untouched (byte for
byte) and no temporary file is left in the folder."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg

from ._support import good_state, listing, other_state, run_python


@pytest.fixture
def checkpoint(tmp_path):
    """A folder holding one good checkpoint; yields its path and its bytes."""
    path = tmp_path / "model.npz"
    tg.save(good_state(), path)
    return path, path.read_bytes()


def assert_untouched(path, before: bytes) -> None:
    assert path.read_bytes() == before, "the previous checkpoint was changed"
    assert listing(path.parent) == [path.name], f"left behind: {listing(path.parent)}"
    loaded = tg.load(path)
    for name, value in good_state().items():
        np.testing.assert_array_equal(loaded[name], value, err_msg=name)


def _fail_on_second_member(monkeypatch, exception: BaseException) -> None:
    """The writer fails after the first member is written: the worst moment for a non-atomic save."""
    real = np.lib.format.write_array
    calls = []

    def write_array(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise exception
        return real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_array)


def test_a_disk_full_while_writing_keeps_the_old_file(checkpoint, monkeypatch):
    path, before = checkpoint
    _fail_on_second_member(monkeypatch, OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(OSError, match="No space left"):
        tg.save(other_state(), path)
    monkeypatch.undo()
    assert_untouched(path, before)


def test_ctrl_c_while_writing_keeps_the_old_file(checkpoint, monkeypatch):
    path, before = checkpoint
    _fail_on_second_member(monkeypatch, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        tg.save(other_state(), path)
    monkeypatch.undo()
    assert_untouched(path, before)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failure_at_the_last_steps_keeps_the_old_file(checkpoint, monkeypatch, step):
    path, before = checkpoint

    def fail(*args, **kwargs):
        raise OSError(errno.EIO, f"{step} failed")

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(OSError, match=f"{step} failed"):
        tg.save(other_state(), path)
    monkeypatch.undo()
    assert_untouched(path, before)


@pytest.mark.parametrize(
    "key, error, words",
    [
        ("a\x00b", ValueError, "NUL"),
        (3, TypeError, "not a str"),
        (("a", "b"), TypeError, "not a str"),
        ("../escape", ValueError, "'..'"),
        ("/etc/passwd", ValueError, "absolute"),
        ("bad\udc80name", ValueError, "surrogate"),
    ],
)
def test_a_key_that_cannot_round_trip_is_refused_before_writing(checkpoint, key, error, words):
    path, before = checkpoint
    state = {**other_state(), key: np.ones(2)}
    with pytest.raises(error, match=words) as info:
        tg.save(state, path)
    assert "key" in str(info.value)
    assert_untouched(path, before)


def test_nul_keys_no_longer_merge(tmp_path):
    """Before, "a\\x00b" and "a\\x00c" were both cut to "a" and one silently overwrote the other."""
    with pytest.raises(ValueError, match="NUL"):
        tg.save({"a\x00b": np.ones(1), "a\x00c": np.zeros(1)}, tmp_path / "x.npz")
    assert listing(tmp_path) == []


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.array(["text"]), "is not a numeric array"),
        (np.array([object()]), "is not a numeric array"),
        ({"nested": 1}, "is not a numeric array"),
        ([[1.0], [1.0, 2.0]], "cannot be made a numeric array"),
        (torch.ones(2, dtype=torch.bfloat16), "cannot be made a numeric array"),
    ],
)
def test_a_bad_value_is_refused_before_writing(checkpoint, bad, words):
    path, before = checkpoint
    with pytest.raises(TypeError, match=f"'w' {words}"):
        tg.save({**other_state(), "w": bad}, path)
    assert_untouched(path, before)


def test_concurrent_saves_to_one_path_leave_one_whole_file(tmp_path):
    """Each writer has its own temporary file and the rename is atomic: the survivor is one
    complete state, never a mix, and nothing is left over."""
    path = tmp_path / "shared.npz"
    states = [{"w": np.full((64, 64), float(i)), "i": np.array(i)} for i in range(8)]
    errors: list[BaseException] = []

    def write(state):
        try:
            for _ in range(5):
                tg.save(state, path)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(state,)) for state in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert listing(tmp_path) == ["shared.npz"]
    loaded = tg.load(path)
    np.testing.assert_array_equal(loaded["w"], states[int(loaded["i"])]["w"])


def test_a_reader_never_sees_a_partial_file(tmp_path):
    path = tmp_path / "live.npz"
    states = [{"w": np.full((128, 128), float(i)), "i": np.array(i)} for i in range(2)]
    tg.save(states[0], path)
    done = threading.Event()

    def write():
        for k in range(40):
            tg.save(states[k % 2], path)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    reads = 0
    while not done.is_set() or reads == 0:
        loaded = tg.load(path)
        np.testing.assert_array_equal(loaded["w"], states[int(loaded["i"])]["w"])
        reads += 1
    writer.join()
    assert listing(tmp_path) == ["live.npz"]


def test_a_file_size_limit_keeps_the_old_file(checkpoint):
    """RLIMIT_FSIZE makes write() fail with EFBIG part way through (as a full disk would)."""
    resource = pytest.importorskip("resource")
    path, before = checkpoint
    limit = len(before) + 100_000  # the old file fits, the new one (8 MB) does not
    result = run_python(
        f"""
        import resource, signal, sys
        import numpy as np
        import tinygrad_rnn as tg
        from tests.reliability._support import other_state
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG as an error, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
        try:
            tg.save(other_state(), {str(path)!r})
        except OSError as error:
            print("raised", error.errno)
            sys.exit(0)
        print("no error")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["raised", str(errno.EFBIG)]
    assert resource.RLIMIT_FSIZE  # the limit exists on this system
    assert_untouched(path, before)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT delivery to itself")
def test_a_real_sigint_while_writing_keeps_the_old_file(checkpoint):
    """The interpreter's own SIGINT handler raises KeyboardInterrupt inside save."""
    path, before = checkpoint
    result = run_python(
        f"""
        import os, signal
        import numpy as np
        import tinygrad_rnn as tg
        from tests.reliability._support import other_state
        real = np.lib.format.write_array
        calls = []
        def write_array(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGINT)
            return real(*args, **kwargs)
        np.lib.format.write_array = write_array
        try:
            tg.save(other_state(), {str(path)!r})
        except KeyboardInterrupt:
            print("interrupted after", len(calls), "members")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("interrupted after"), result.stdout
    assert signal.SIGINT  # delivered through the default handler
    assert_untouched(path, before)


def test_a_missing_folder_fails_without_leftovers(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.save(good_state(), tmp_path / "no" / "such" / "folder.npz")
    assert listing(tmp_path) == []


def test_saving_over_a_folder_fails_and_keeps_it(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(OSError):
        tg.save(good_state(), tmp_path / "model.npz")
    assert listing(tmp_path) == ["model.npz"] and (tmp_path / "model.npz").is_dir()


def test_a_successful_save_replaces_the_file_and_keeps_its_permissions(checkpoint):
    path, _ = checkpoint
    os.chmod(path, 0o640)
    tg.save(other_state(), path)
    assert listing(path.parent) == [path.name]
    assert (os.stat(path).st_mode & 0o777) == 0o640
    np.testing.assert_array_equal(tg.load(path)["layer3.weight"], np.full((256, 512), 3.0))


def test_a_new_file_gets_the_umask_mode_like_open(tmp_path):
    tg.save(good_state(), tmp_path / "new.npz")
    with open(tmp_path / "reference", "wb"):
        pass
    assert os.stat(tmp_path / "new.npz").st_mode & 0o777 == os.stat(tmp_path / "reference").st_mode & 0o777


def test_save_writes_through_a_symlink(tmp_path):
    real = tmp_path / "real.npz"
    tg.save(good_state(), real)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    tg.save(other_state(), link)
    assert link.is_symlink()
    assert sorted(tg.load(real)) == sorted(other_state())


def test_save_to_a_file_object(tmp_path):
    import io

    buffer = io.BytesIO()
    tg.save(good_state(), buffer)
    buffer.seek(0)
    loaded = tg.load(buffer)
    assert not buffer.closed
    for name, value in good_state().items():
        np.testing.assert_array_equal(loaded[name], value, err_msg=name)
