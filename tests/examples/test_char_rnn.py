"""examples/char_rnn.py: the main demo learns every next character and draws its pictures."""

import sys
import warnings

import numpy as np
import pytest

from ._load import assert_png, load_example

char_rnn = load_example("char_rnn")
PICTURES = ("char_rnn_graph.png", "char_rnn_graph_grad.png", "char_rnn_loss.png", "char_rnn_predictions.png")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("char_rnn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = char_rnn.main(["--quick", "--out", str(out)])
    return out, result, [str(w.message) for w in caught]


def test_data_is_the_homeworks_cycle_across_both_sentences():
    data = char_rnn.make_data()
    assert data.vocab == tuple("你好李焕英夏洛特烦恼")
    assert data.inputs.shape == (5, 2, 10)
    assert data.inputs.sum(-1).tolist() == [[1, 1]] * 5
    assert "".join(data.vocab[i] for i in data.targets[:, 0]) == "好李焕英夏"
    assert "".join(data.vocab[i] for i in data.targets[:, 1]) == "洛特烦恼你"


def test_quick_run_predicts_all_ten_next_characters(quick_run):
    _, result, _ = quick_run
    assert result.predicted == ["好李焕英夏", "洛特烦恼你"]
    assert result.rows[-1].correct == 10
    assert result.rows[-1].loss < 0.1 * result.rows[0].loss


def test_learning_rate_halves_exactly_when_the_loss_rises(quick_run):
    _, result, _ = quick_run
    rows = result.rows
    assert any(row.halved for row in rows), "the demo should show the learning rate being halved"
    previous = np.inf
    for row, following in zip(rows, rows[1:] + [None]):
        assert row.halved == (row.loss > previous), f"epoch {row.epoch}: loss {row.loss}, before {previous}"
        if following is not None:
            assert following.lr == (row.lr / 2 if row.halved else row.lr)
        previous = row.loss


def test_quick_run_writes_readable_pictures(quick_run):
    out, result, _ = quick_run
    assert sorted(p.name for p in result.paths) == sorted(PICTURES)
    for name in PICTURES:
        assert_png(out / name)


def test_no_character_is_drawn_as_a_missing_glyph(quick_run):
    """With a Chinese font the characters are drawn, without one their pinyin: either way
    matplotlib never has to draw an empty box."""
    _, _, messages = quick_run
    assert not [m for m in messages if "missing from font" in m]


def test_prints_the_loss_table_and_the_predictions(tmp_path, capsys):
    char_rnn.main(["--quick", "--epochs", "10", "--out", str(tmp_path / "new")])
    printed = capsys.readouterr().out
    assert "targets, as in the homework (one cycle across both sentences: 英 -> 夏, 恼 -> 你)" in printed
    assert "好李焕英夏 and 洛特烦恼你" in printed
    assert "epoch      loss      lr  right" in printed
    assert "lr halved to 1.25" in printed
    assert "你->" in printed and "恼->" in printed
    for name in PICTURES:
        assert f"wrote {tmp_path / 'new' / name}" in printed


def test_without_a_chinese_font_the_pictures_use_pinyin(tmp_path, capsys, monkeypatch):
    common = sys.modules["_common"]
    monkeypatch.setattr(common, "_find_font", lambda text: None)
    result = char_rnn.main(["--quick", "--epochs", "5", "--out", str(tmp_path)])
    assert "no font on this system draws" in capsys.readouterr().out
    for path in result.paths:
        assert_png(path)
    assert char_rnn.labeler(False)("你好") == "nǐ hǎo"
    assert char_rnn.labeler(True)("你好") == "你好"


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exit_info:
        char_rnn.main(["--help"])
    assert exit_info.value.code == 0
    assert "--quick" in capsys.readouterr().out


@pytest.fixture(scope="module")
def homework_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("homework")
    return out, char_rnn.main(["--homework", "--quick", "--out", str(out)])


def test_homework_mode_trains_both_ways_from_the_same_start(homework_run):
    out, result = homework_run
    engine, homework = result.homework
    assert (engine.gradients, homework.gradients) == ("engine", "homework")
    assert engine.epochs == homework.epochs == [0, 5, 10, 15, 20]
    assert engine.losses[0] == homework.losses[0]
    assert engine.losses[-1] < homework.losses[-1] < homework.losses[0]
    assert [p.name for p in result.paths] == ["char_rnn_homework.png"]
    assert_png(out / "char_rnn_homework.png")


def test_homework_sgd_follows_the_recipe_by_hand():
    """Two epochs of the loop against the same SGD steps written out with the engine's
    gradients: U, W, V move, the biases stay zero, the loss is the mean per character."""
    mb = char_rnn.manual_bptt
    data = mb.make_data()
    start = mb.init_params(10, 7, np.random.default_rng(3))
    start["b"][:] = 0.0
    start["c"][:] = 0.0
    run = char_rnn.homework_sgd("engine", start, data, epochs=2, lr=0.05, truncate=4)
    params = {name: value.copy() for name, value in start.items()}
    for _ in range(2):
        for s in range(2):
            column = slice(s, s + 1)
            grads = mb.window_engine_gradients(
                params, data.inputs[:, :, column], data.targets[:, column], 4, linear=True
            )
            for name in ("U", "W", "V"):
                params[name] -= 0.05 * grads[name]
    expected = mb.homework_forward(params, data.inputs, data.targets).loss / 10
    assert run.epochs == [0, 2]
    np.testing.assert_allclose(run.losses[-1], expected, rtol=1e-12)


def test_homework_halves_the_learning_rate_when_the_loss_rises(capsys, monkeypatch):
    """Gradient ascent (the engine's gradients negated) makes every evaluated loss rise, so the
    learning rate must halve at every evaluation after the first."""
    mb = char_rnn.manual_bptt
    engine = char_rnn.homework_gradients
    monkeypatch.setattr(char_rnn, "homework_gradients", lambda *a: {k: -v for k, v in engine(*a).items()})
    start = mb.init_params(10, 6, np.random.default_rng(0))
    start["b"][:] = 0.0
    start["c"][:] = 0.0
    run = char_rnn.homework_sgd("engine", start, mb.make_data(), epochs=15, lr=0.01, truncate=4)
    assert all(later > before for before, later in zip(run.losses, run.losses[1:]))
    assert run.lrs == [0.01, 0.005, 0.0025, 0.00125]
    assert capsys.readouterr().out.count("rose: lr halved to") == 3


def test_homework_stops_when_the_loss_is_no_longer_finite(capsys):
    mb = char_rnn.manual_bptt
    start = mb.init_params(10, 20, np.random.default_rng(0))
    start["b"][:] = 0.0
    start["c"][:] = 0.0
    run = char_rnn.homework_sgd("homework", start, mb.make_data(), epochs=30, lr=0.5, truncate=4)
    assert run.epochs == [0, 5] and np.isnan(run.losses[-1])
    assert "no longer finite" in capsys.readouterr().out


def test_homework_truncation_option_changes_the_gradients(capsys, tmp_path):
    full = char_rnn.main(["--homework", "--quick", "--epochs", "5", "--out", str(tmp_path)]).homework
    assert "this truncation cuts nothing" in capsys.readouterr().out
    cut = char_rnn.main(["--homework", "--quick", "--epochs", "5", "--truncate", "1", "--out", str(tmp_path)])
    assert cut.homework[0].losses[-1] != full[0].losses[-1]
