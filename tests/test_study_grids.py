"""Grids: the paper's Θ, the usual settings, TOML grids, and validation before any training."""

from __future__ import annotations

import pytest

from sertune.training.dataset import Theta
from sertune.errors import ConfigError, SertuneWarning
from sertune.features.theta import theta_key
from sertune.study.search.grids import USUAL, USUAL_SETTINGS, paper_grid, resolve_grid, toml_grid


@pytest.mark.parametrize("corpus,segments", [("emodb", {5.0, 6.0, 7.0, 8.0, 9.0}),
                                             ("iemocap", {5.0, 6.0, 7.0, 8.0, 9.0}),
                                             ("savee", {1.0, 2.0, 3.0, 4.0, 5.0})])
def test_paper_grid_is_table_2_plus_usual(corpus, segments):
    grid = paper_grid(corpus)
    assert len(grid) == len(set(grid)) == 511
    assert grid[-1] == USUAL == Theta(40, 400, 160, 3.0)
    table2 = grid[:-1]
    assert {t.n_mels for t in table2} == set(range(128, 257, 8))
    assert {t.win_length for t in table2} == {127, 255, 511}
    assert {t.hop_length for t in table2} == {16, 32}
    assert {t.segment for t in table2} == segments
    name, validated = resolve_grid("paper", corpus)
    assert validated == grid


def test_usual_grid_holds_the_literature_settings():
    _, grid = resolve_grid("usual", "emodb")
    assert grid == USUAL_SETTINGS and USUAL in grid and Theta(128, 1024, 512, 3.0) in grid
    assert theta_key(USUAL) == "M40-L400-H160-T3"


def test_toml_product_and_extra(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text("n_mels = [64, 128]\nwin_length = [400]\nhop_length = [160, 320]\nsegment = [2, 3.5]\n"
                    "[[extra]]\nn_mels = 40\nwin_length = 400\nhop_length = 160\nsegment = 3\n")
    grid = toml_grid(path)
    assert len(grid) == 9 and grid[-1] == USUAL
    assert Theta(128, 400, 320, 3.5) in grid
    only_extra = tmp_path / "e.toml"
    only_extra.write_text("[[extra]]\nn_mels = 40\nwin_length = 400\nhop_length = 160\nsegment = 3\n")
    assert resolve_grid(str(only_extra), "emodb")[1] == (USUAL,)


@pytest.mark.parametrize("text,match", [
    ("n_mels = [64]\nwin_length = [400]\nhop_length = [160]\n", "'segment' is missing"),
    ("n_mel = [64]\n", "unknown key 'n_mel'"),
    ("n_mels = []\nwin_length = [400]\nhop_length = [160]\nsegment = [1]\n", "non-empty list"),
    ("n_mels = [64]\nwin_length = [400]\nhop_length = [0]\nsegment = [1]\n", "grid entry 1 .*hop"),
    ("n_mels = [64]\nwin_length = [400]\nhop_length = [160, 200]\nsegment = [1, 'x']\n",
     "grid entry 3: segment='x'"),
    ("n_mels = [64.5]\nwin_length = [400]\nhop_length = [160]\nsegment = [1]\n", "n_mels=64.5 must be an integer"),
    ("[[extra]]\nn_mels = 40\n", r"\[\[extra\]\] table 1 must have exactly"),
    ("# nothing\n", "defines no setting"),
    ("n_mels = [64", "not valid TOML"),
    ("n_mels = [16, 64]\nwin_length = [400]\nhop_length = [160]\nsegment = [1]\n",
     r"grid entry 1 \(M=16 .*16 mels x 101 frames; SqueezeNet needs at least 17 of each"),
    ("n_mels = [64]\nwin_length = [255]\nhop_length = [640]\nsegment = [0.5]\n",
     r"64 mels x 13 frames; .*a segment of at least 16 hops \(0.64 s at H=640\)"),
    # a number's own rule comes before the network's input size
    ("n_mels = [40, -5]\nwin_length = [400]\nhop_length = [160]\nsegment = [1]\n",
     r"^grid entry 2 \(M=-5 L=400 H=160 T=1s\): n_mels=-5 is invalid: the number of mel filters must be a "
     r"positive integer; use e.g. 128$"),
    ("n_mels = [40]\nwin_length = [400]\nhop_length = [-160]\nsegment = [1]\n",
     r"^grid entry 1 .*hop_length=-160 is invalid: the hop must be a positive integer"),
    ("n_mels = [40]\nwin_length = [400]\nhop_length = [160]\nsegment = [-1]\n",
     r"^grid entry 1 .*segment=-1.0 is invalid"),
])
def test_bad_grid_files_name_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        resolve_grid(str(path), "emodb")


def test_a_missing_grid_file_is_called_a_grid_file(tmp_path):
    with pytest.raises(ConfigError, match=r"^grid file \S+nothing.toml does not exist; check the path$"):
        resolve_grid(str(tmp_path / "nothing.toml"), "emodb")
    (tmp_path / "folder.toml").mkdir()
    with pytest.raises(ConfigError, match=r"^grid file \S+folder.toml is a folder; give a .toml file$"):
        resolve_grid(str(tmp_path / "folder.toml"), "emodb")


def test_unknown_grid_name():
    with pytest.raises(ConfigError, match="not paper, usual or a .toml file"):
        resolve_grid("papers", "emodb")


@pytest.mark.parametrize("n_mels, start", [
    ([128], "the one setting has poor log-Mel parameters; it is searched as given. It: M=128 L=127"),
    ([40, 128], "1 of 2 settings has poor log-Mel parameters; it is searched as given. It: M=128"),
    ([128, 136], "2 of 2 settings have poor log-Mel parameters; they are searched as given. First: M=128"),
])
def test_the_poor_settings_warning_counts_in_words(tmp_path, n_mels, start):
    path = tmp_path / "g.toml"
    path.write_text(f"n_mels = {n_mels}\nwin_length = [127]\nhop_length = [160]\nsegment = [1]\n")
    with pytest.warns(SertuneWarning) as got:
        resolve_grid(str(path), "emodb")
    assert str(got[0].message).startswith(start), str(got[0].message)
