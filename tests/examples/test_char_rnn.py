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


def test_data_is_the_wraparound_next_character_task():
    data = char_rnn.make_data()
    assert data.vocab == tuple("你好李焕英夏洛特烦恼")
    assert data.inputs.shape == (5, 2, 10)
    assert data.inputs.sum(-1).tolist() == [[1, 1]] * 5
    assert "".join(data.vocab[i] for i in data.targets[:, 0]) == "好李焕英你"
    assert "".join(data.vocab[i] for i in data.targets[:, 1]) == "洛特烦恼夏"


def test_quick_run_predicts_all_ten_next_characters(quick_run):
    _, result, _ = quick_run
    assert result.predicted == ["好李焕英你", "洛特烦恼夏"]
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
    assert "epoch      loss      lr  right" in printed
    assert "lr halved to 1" in printed
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
