"""save/load: .npz round trips, pickles refused, state dicts exchanged with torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinygrad_rnn as tg
from tinygrad_rnn import nn

from .helpers import assert_close


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        self.layers = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))


def test_round_trip_keeps_names_values_and_dtypes(tmp_path):
    state = {
        "layers.0.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
        "layers.0.bias": tg.Tensor(np.array([1.5, -2.0])),  # Tensors are accepted
        "steps": np.array(7, dtype=np.int64),
        "file": np.ones(1),  # a name np.savez(**kwargs) could not take
    }
    path = tmp_path / "model.ckpt"
    tg.save(state, path)
    assert path.exists()  # written at exactly this path, no .npz appended
    loaded = tg.load(path)
    assert list(loaded) == list(state)
    for name, value in state.items():
        expected = value.detach().numpy() if isinstance(value, tg.Tensor) else value
        assert loaded[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)


def test_module_round_trip_through_a_file(tmp_path):
    net = Net()
    tg.save(net.state_dict(), tmp_path / "net.npz")
    other = Net()
    other.load_state_dict(tg.load(tmp_path / "net.npz"))
    for (name, a), (_, b) in zip(net.named_parameters(), other.named_parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=name)


def test_files_are_plain_npz_for_numpy(tmp_path):
    tg.save({"a.b": np.ones((2, 2))}, tmp_path / "x.npz")
    with np.load(tmp_path / "x.npz", allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["a.b"], np.ones((2, 2)))
    np.savez(tmp_path / "y.npz", w=np.zeros(3))
    np.testing.assert_array_equal(tg.load(tmp_path / "y.npz")["w"], np.zeros(3))


def test_a_file_with_an_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, weight=np.ones(2), payload=np.array([{"code": "anything"}], dtype=object))
    with pytest.raises(ValueError, match="pickled Python objects.*refused for safety"):
        tg.load(path)


def test_a_pickle_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weight": torch.ones(2)}, path)
    with pytest.raises(ValueError, match="not an .npz archive|pickled"):
        tg.load(path)
    np.save(tmp_path / "obj.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="refused for safety"):
        tg.load(tmp_path / "obj.npy")


def test_save_refuses_objects(tmp_path):
    with pytest.raises(TypeError, match="'w' is not a numeric array"):
        tg.save({"w": [object()]}, tmp_path / "x.npz")


def test_torch_state_dict_loads_into_ours_and_gives_torchs_outputs():
    reference = torch.nn.Linear(3, 4).double()
    ours = nn.Linear(3, 4).double()
    ours.load_state_dict(reference.state_dict())  # torch tensors go through np.asarray
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert_close(ours(tg.Tensor(x)), reference(torch.tensor(x)), "Linear with torch's weights")


def test_our_state_dict_loads_into_torch(tmp_path):
    ours = nn.Linear(3, 4)
    tg.save(ours.state_dict(), tmp_path / "linear.npz")
    reference = torch.nn.Linear(3, 4)
    reference.load_state_dict({k: torch.tensor(v) for k, v in tg.load(tmp_path / "linear.npz").items()})
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    assert_close(
        ours(tg.Tensor(x)), reference(torch.tensor(x)), "torch with our weights", rtol=1e-6, atol=1e-7
    )


def test_torch_tensors_can_be_saved_directly(tmp_path):
    reference = torch.nn.Linear(2, 2)
    tg.save(reference.state_dict(), tmp_path / "t.npz")
    ours = nn.Linear(2, 2)
    ours.load_state_dict(tg.load(tmp_path / "t.npz"))
    np.testing.assert_array_equal(ours.weight.detach().numpy(), reference.weight.detach().numpy())


def test_files_that_are_not_archives_are_named_as_such(tmp_path):
    import pickle

    text = tmp_path / "notes.txt"
    text.write_text("weights: 1 2 3")
    with pytest.raises(ValueError, match="neither a .npz archive nor a .npy array"):
        tg.load(text)
    raw = tmp_path / "state.pkl"
    raw.write_bytes(pickle.dumps({"w": [1.0]}))
    with pytest.raises(ValueError, match="is a pickle.*refuses pickles for safety"):
        tg.load(raw)
