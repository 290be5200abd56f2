"""examples/manual_bptt.py: hand-derived BPTT against finite differences and torch."""

import numpy as np
import pytest

from ._load import load_example

mb = load_example("manual_bptt")
WEIGHTS = ("U", "W", "V")


@pytest.fixture(scope="module")
def data():
    return mb.make_data()


@pytest.fixture(scope="module", params=[0, 1], ids=["seed0", "seed1"])
def params(request, data):
    vocab_size = data.inputs.shape[1]
    return mb.init_params(vocab_size, 6, np.random.default_rng(request.param))


@pytest.fixture(scope="module")
def trained_params(data):
    """Weights after some training: larger states, tanh away from its linear part."""
    start = mb.init_params(data.inputs.shape[1], 6, np.random.default_rng(2))
    return mb.train(start, data, steps=30)[0]


def numeric(params, data, forward):
    return mb.numeric_gradient(lambda p: forward(p, data.inputs, data.targets).loss, params)


def assert_close(estimate, reference, names, tol):
    for name in names:
        error = mb.relative_error(estimate[name], reference[name])
        assert error < tol, (
            f"d{name}: relative error {error:.2e} >= {tol:.0e}\n"
            f"estimate  {estimate[name].ravel()[:4]}\n"
            f"reference {reference[name].ravel()[:4]}"
        )


def test_data_is_the_homeworks_cycle_across_both_sentences(data):
    assert data.vocab == tuple("你好李焕英夏洛特烦恼")
    assert data.inputs.shape == (5, 10, 2)
    assert data.inputs.sum(axis=1).tolist() == [[1, 1]] * 5
    assert ["".join(data.vocab[i] for i in data.targets[:, b]) for b in (0, 1)] == [
        "好李焕英夏",
        "洛特烦恼你",
    ]


def test_cycle_targets_of_three_sentences():
    ids = np.array([[0, 3, 6], [1, 4, 7], [2, 5, 8]])  # one sentence per column
    np.testing.assert_array_equal(mb.cycle_targets(ids), [[1, 4, 7], [2, 5, 8], [3, 6, 0]])


def test_bptt_matches_finite_differences(params, data):
    grads, loss = mb.bptt(params, data.inputs, data.targets)
    assert loss == mb.forward(params, data.inputs, data.targets).loss
    assert_close(grads, numeric(params, data, mb.forward), mb.PARAM_NAMES, 1e-6)


def test_bptt_matches_finite_differences_after_training(trained_params, data):
    grads, _ = mb.bptt(trained_params, data.inputs, data.targets)
    reference = numeric(trained_params, data, mb.forward)
    assert_close(grads, reference, mb.PARAM_NAMES, 1e-6)


def test_bptt_matches_torch(params, data):
    pytest.importorskip("torch")
    grads, _ = mb.bptt(params, data.inputs, data.targets)
    reference = mb.torch_gradients(params, data.inputs, data.targets)
    assert_close(grads, reference, mb.PARAM_NAMES, 1e-10)


@pytest.mark.parametrize("truncate", [None, 1, 2, 3])
def test_engine_matches_hand_bptt(params, data, truncate):
    grads, _ = mb.bptt(params, data.inputs, data.targets, truncate=truncate)
    reference = mb.engine_gradients(params, data.inputs, data.targets, truncate)
    assert_close(grads, reference, mb.PARAM_NAMES, 1e-10)


def test_engine_matches_hand_bptt_after_training(trained_params, data):
    grads, _ = mb.bptt(trained_params, data.inputs, data.targets)
    reference = mb.engine_gradients(trained_params, data.inputs, data.targets)
    assert_close(grads, reference, mb.PARAM_NAMES, 1e-10)


def test_homework_gets_v_right_and_u_w_wrong(params, data):
    grads, _ = mb.homework_bptt(params, data.inputs, data.targets)
    reference = numeric(params, data, mb.homework_forward)
    assert_close(grads, reference, ("V", "c"), 1e-6)
    for name in ("U", "W"):
        error = mb.relative_error(grads[name], reference[name])
        assert error > 0.1, f"d{name}: homework error {error:.2e} should be large"


@pytest.mark.parametrize("mistake", mb.MISTAKES)
def test_each_homework_mistake_alone_breaks_w(params, data, mistake):
    forward = mb.homework_forward if mistake == "a" else mb.forward
    grads, _ = mb.homework_bptt(params, data.inputs, data.targets, (mistake,))
    reference = numeric(params, data, forward)
    assert mb.relative_error(grads["W"], reference["W"]) > 0.1


def test_homework_with_no_mistakes_is_bptt(params, data):
    fixed, _ = mb.homework_bptt(params, data.inputs, data.targets, mistakes=())
    grads, _ = mb.bptt(params, data.inputs, data.targets)
    assert_close(fixed, grads, mb.PARAM_NAMES, 1e-12)


def test_homework_rejects_unknown_mistakes(params, data):
    with pytest.raises(ValueError, match="unknown mistakes"):
        mb.homework_bptt(params, data.inputs, data.targets, mistakes=("e",))


@pytest.mark.parametrize("truncate", [5, 6, 100])
def test_truncation_at_least_sequence_length_is_full_bptt(params, data, truncate):
    assert data.inputs.shape[0] == 5
    full, _ = mb.bptt(params, data.inputs, data.targets)
    truncated, _ = mb.bptt(params, data.inputs, data.targets, truncate=truncate)
    for name in mb.PARAM_NAMES:
        np.testing.assert_array_equal(truncated[name], full[name])


def test_truncation_to_one_step_differs_only_through_time(params, data):
    full, _ = mb.bptt(params, data.inputs, data.targets)
    truncated, _ = mb.bptt(params, data.inputs, data.targets, truncate=1)
    for name in ("U", "W", "b"):
        assert mb.relative_error(truncated[name], full[name]) > 1e-3
    np.testing.assert_array_equal(truncated["V"], full["V"])
    np.testing.assert_array_equal(truncated["c"], full["c"])


@pytest.mark.parametrize("truncate", [1, 2, 3])
def test_truncation_matches_torch_detaching_every_k_steps(params, data, truncate):
    pytest.importorskip("torch")
    grads, _ = mb.bptt(params, data.inputs, data.targets, truncate=truncate)
    reference = mb.torch_gradients(params, data.inputs, data.targets, truncate)
    assert_close(grads, reference, mb.PARAM_NAMES, 1e-10)


def test_truncate_must_be_positive(params, data):
    with pytest.raises(ValueError, match="truncate"):
        mb.bptt(params, data.inputs, data.targets, truncate=0)


def test_training_learns_the_task(data):
    start = mb.init_params(data.inputs.shape[1], 8, np.random.default_rng(0))
    trained, losses = mb.train(start, data, steps=100)
    assert mb.forward(trained, data.inputs, data.targets).loss < 0.1 * losses[0]
    assert mb.predictions(trained, data) == ["好李焕英夏", "洛特烦恼你"]


def test_main_writes_png(tmp_path, capsys):
    path = mb.main(["--out", str(tmp_path), "--steps", "3", "--hidden", "3", "--truncate", "2"]).path
    assert path == tmp_path / "manual_bptt_errors.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "bptt vs finite diff" in out
    assert "bptt vs engine" in out
    assert "truncated vs engine, detached" in out
    assert "homework vs finite diff" in out
    assert "truncated vs full bptt" in out
    assert f"wrote {path}" in out


@pytest.mark.parametrize("truncate", [None, 1, 2, 3, 4])
def test_window_engine_matches_the_homework_loop_without_mistakes(params, data, truncate):
    fixed, _ = mb.homework_bptt(params, data.inputs, data.targets, mistakes=(), truncate=truncate)
    reference = mb.window_engine_gradients(params, data.inputs, data.targets, truncate)
    assert_close(fixed, reference, mb.PARAM_NAMES, 1e-10)


def test_window_engine_of_the_linear_model_matches_finite_differences(params, data):
    grads = mb.window_engine_gradients(params, data.inputs, data.targets, linear=True)
    assert_close(grads, numeric(params, data, mb.homework_forward), mb.PARAM_NAMES, 1e-6)


def test_window_truncation_drops_exactly_the_far_steps(params, data):
    """A window of one step back keeps, for each L_t, only z_t and z_{t-1}: check dL/dW
    against the sum of those two terms, built from the full forward's states."""
    run = mb.forward(params, data.inputs, data.targets)
    s, g = run.hidden, run.probs - mb.one_hot(data.targets, 10)
    expected = np.zeros_like(params["W"])
    for t in range(1, 6):
        delta = (1 - s[t] ** 2) * (params["V"].T @ g[t - 1])
        expected += delta @ s[t - 1].T
        if t > 1:
            delta = (1 - s[t - 1] ** 2) * (params["W"].T @ delta)
            expected += delta @ s[t - 2].T
    grads = mb.window_engine_gradients(params, data.inputs, data.targets, truncate=1)
    np.testing.assert_allclose(grads["W"], expected, rtol=1e-10, atol=1e-14)


def test_homework_rejects_non_positive_truncation(params, data):
    with pytest.raises(ValueError, match="truncate must be a positive"):
        mb.homework_bptt(params, data.inputs, data.targets, truncate=0)


def test_output_explains_every_row(tmp_path, capsys):
    mb.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    for row in ("only (a):", "only (b):", "only (c):", "only (d):", "none:", "homework:"):
        assert row in out


def test_truncate_changes_the_picture(tmp_path):
    plain = mb.main(["--quick", "--steps", "0", "--out", str(tmp_path / "plain")])
    cut = mb.main(["--quick", "--steps", "0", "--truncate", "2", "--out", str(tmp_path / "cut")])
    assert plain.truncated is None and cut.truncated["W"] > 0.01
    assert plain.path.read_bytes() != cut.path.read_bytes()
