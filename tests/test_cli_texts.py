"""What the commands say: --help texts that agree across commands, and counts in the right number."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from sertune.cli import build_parser
from sertune.cli import corpus as corpus_cli
from sertune.cli import train as train_cli
from sertune.training.metrics import METRICS

#: The commands these rules cover (``search``, ``worker``, ``status`` have their own module's tests).
COMMANDS = ["demo", "corpus info", "synth", "features", "train", "replay", "curves", "report", "predict", "export"]

#: The one metavar for each kind of thing a user gives (train's --epochs, --batch-size, --lr and
#: --weights come with TrainConfig's fields, named there).
METAVARS = {"--storage": "URL", "--cache-dir": "DIR", "--config": "FILE.toml", "--threads": "N",
            "--study": "NAME", "--seed": "SEED", "--reps": "K"}

#: Options with a value whose absence means "not done" or "not given": no default to show.
NO_DEFAULT = {"--png", "--npy", "--segment", "--splits", "--config", "--storage", "--weights", "--audio",
              "--study", "--out", "--n-mels", "--win-length", "--hop-length", "--budget", "--onnx"}


def _parser(command: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for word in command.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def _helps(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.Action, str]]:
    """Every argument's help as --help prints it (%-formatted), by its first option or its metavar."""
    formatter = parser._get_formatter()
    return {(a.option_strings[0] if a.option_strings else a.metavar): (a, formatter._expand_help(a) if a.help else "")
            for a in parser._actions if a.help is not argparse.SUPPRESS}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_literal_percent_signs_nor_internal_names(command):
    text = _parser(command).format_help()
    assert "%%" not in text and "%(" not in text
    assert not re.search(r"\.rep\d|failed_trials|STUDY_DIR|\bOUT\b", text), text


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_every_default_the_same_way(command):
    parser = _parser(command)
    assert "(default:" not in parser.format_help()                    # one form: "(default X)"
    for name, (action, text) in _helps(parser).items():
        takes_value = action.nargs != 0 and action.option_strings and name != "--help"
        if takes_value and not action.required and name not in NO_DEFAULT:
            assert "(default " in text, f"{command} {name}: {text!r} does not show its default"


def _shown(action: argparse.Action) -> str:
    """The metavar --help prints: the given one, else the option's name in capitals."""
    return action.metavar or (action.dest.upper() if action.option_strings else action.dest)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_uses_one_metavar_per_kind_of_thing(command):
    for name, (action, _) in _helps(_parser(command)).items():
        metavar = _shown(action)
        if name in METAVARS:
            assert metavar == METAVARS[name], f"{command} {name} {metavar}"
        if action.dest in ("study_dir", "source"):          # a search's --out folder
            assert metavar == "STUDY", f"{command}: {metavar}"
        if name == "--out" or name.endswith("-dir"):
            assert metavar == "DIR" or metavar.startswith("FILE."), f"{command} {name} {metavar}"
        if re.search(r"\.(toml|onnx|png|npy|npz)$", metavar) or "file" in (action.help or "").split()[:3]:
            assert metavar.startswith("FILE") or metavar in ("AUDIO", "MODEL", "STUDY"), f"{command} {name}"


def test_the_train_description_says_percent_once():
    assert "(utterance level, %)." in " ".join(_parser("train").format_help().split())


def test_demo_seed_and_report_study_say_what_a_user_gives():
    demo = _helps(_parser("demo"))
    assert demo["--seed"][1].endswith("(default 0)")
    report = _helps(_parser("report"))
    assert report["STUDY"][0].dest == "study_dir"
    assert "as given to `sertune search --study`" in report["--study"][1]


def test_counts_of_one_take_the_singular():
    summary = {"corpus": "emodb", "root": "/c", "options": {}, "n_utterances": 1, "classes": {"anger": 1},
               "speakers": {"03": 1}, "total_seconds": 2.0, "skipped": [{"path": "x.wav", "reason": "empty"}],
               "excluded": {"other subset": 1}, "synthetic": None}
    text = corpus_cli.format_summary(summary)
    assert "total    1 utterance, 0.0 min of audio, 1 speaker, 1 class" in text
    assert "excluded 1 utterance by design" in text and "skipped  1 file:" in text
    summary |= {"n_utterances": 2, "classes": {"anger": 1, "fear": 1}, "speakers": {"03": 1, "08": 1}}
    assert "total    2 utterances, 0.0 min of audio, 2 speakers, 2 classes" in corpus_cli.format_summary(summary)
    ms = {"mean": 50.0, "std": 0.0}
    doc = {"summary": {part: {m: ms for m in METRICS} for part in ("val", "test")},
           "theta": {"n_mels": 40, "win_length": 400, "hop_length": 160, "segment": 3.0}, "corpus": "emodb",
           "reps": [{}], "level": "utterance", "device": "cpu"}
    assert ", 1 repetition, utterance level" in train_cli.format_summary(doc, Path("out"))
    assert ", 2 repetitions, " in train_cli.format_summary(doc | {"reps": [{}, {}]}, Path("out"))


@pytest.mark.parametrize("command", ["train", "search", "worker"])
def test_no_command_offers_fused_training_any_more(command):
    """Fused training was retired (docs/performance.md says why): no option or text mentions it."""
    text = _parser(command).format_help().lower()
    assert "fus" not in text, text
