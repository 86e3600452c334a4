"""θ without torch: the setting, its key and back, and the torch-free import chain."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sertune.errors import ConfigError
from sertune.study.search.grids import USUAL, USUAL_SETTINGS, paper_grid
from sertune.features.theta import Theta, parse_theta_key, theta_from_dict, theta_key


@pytest.mark.slow
def test_report_and_results_do_not_import_torch():
    code = "import sertune.report, sertune.study.store.results; import sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_key_round_trip():
    thetas = paper_grid("emodb") + paper_grid("savee") + USUAL_SETTINGS + (
        Theta(40, 400, 160, 2.5), Theta(64, 400, 160, 0.125), Theta(40, 400, 160, 12.0))
    for theta in thetas:
        assert parse_theta_key(theta_key(theta)) == theta
        assert theta_from_dict(theta.as_dict()) == theta


def test_key_and_text():
    assert theta_key(USUAL) == "M40-L400-H160-T3"
    assert str(USUAL) == "M=40 L=400 H=160 T=3s"
    assert parse_theta_key("M40-L400-H160-T2.5") == Theta(40, 400, 160, 2.5)


@pytest.mark.parametrize("key, match", [
    ("40-400", "M<mels>-L<win>-H<hop>-T<seconds>"),
    ("", "theta key '' is not of the form"),
    ("M40-L400-H160", "M<mels>-L<win>"),
    ("M40-L400-H160-T", "M<mels>-L<win>"),
    ("M40-L400-H160-T1.2.3", "M<mels>-L<win>"),
    ("M40-L400-H160-T.5", "M<mels>-L<win>"),
    ("M-40-L400-H160-T3", "M<mels>-L<win>"),
    ("m40-l400-h160-t3", "M<mels>-L<win>"),
    ("M40-L400-H160-T3 ", "M<mels>-L<win>"),
    (None, "theta key None"),
])
def test_bad_keys(key, match):
    with pytest.raises(ConfigError, match=match):
        parse_theta_key(key)


@pytest.mark.parametrize("d, match", [
    ({"n_mels": 40, "win_length": 400, "hop_length": 160}, "lacks or mistypes a field"),
    ({"n_mels": "many", "win_length": 400, "hop_length": 160, "segment": 3}, "a θ needs n_mels"),
    ({"n_mels": 40, "win_length": None, "hop_length": 160, "segment": 3}, "lacks or mistypes"),
])
def test_bad_dicts(d, match):
    with pytest.raises(ConfigError, match=match):
        theta_from_dict(d)


def test_frames_and_check():
    assert USUAL.frames(16000) == 301
    assert Theta(128, 127, 16, 1.0).frames(16000) == 1000         # odd window: one frame fewer
    assert USUAL.check(16000) == []
    assert Theta(128, 127, 16, 1.0).check(16000, warn=False)       # empty mel filters: advice
    with pytest.raises(ConfigError, match="hop_length=0 is invalid"):
        Theta(40, 400, 0, 3.0).check(16000)


@pytest.mark.parametrize("theta, match", [
    (Theta(-5, 400, 160, 1.0), r"^n_mels=-5 is invalid: the number of mel filters must be a positive integer"),
    (Theta(0, 400, 160, 1.0), r"^n_mels=0 is invalid"),
    (Theta(16, 400, 160, 1.0), r"^the network input is 16 mels x 101 frames; SqueezeNet needs at least 17"),
    (Theta(40, 400, 160, 0.1), r"^the network input is 40 mels x 11 frames; .*16 hops \(0.16 s at H=160\)"),
    (Theta(40, 400, -160, 1.0), r"^hop_length=-160 is invalid"),
])
def test_check_gives_each_number_s_rule_before_the_network_s_input_size(theta, match):
    with pytest.raises(ConfigError, match=match):
        theta.check(16000)
    assert Theta(17, 400, 160, 0.16).check(16000) == []          # the smallest input SqueezeNet takes
