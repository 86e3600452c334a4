"""K repetitions of one θ: the summary over repetitions, and the old import path still works."""

from __future__ import annotations

import pytest

from sertune.training.metrics import METRICS
from sertune.training.repetitions import summarize
from sertune.training.fit import RunResult


def _result(wa: float) -> RunResult:
    level = {m: wa for m in METRICS}
    return RunResult(split="s", seed=0, val={"utterance": level, "segment": level},
                     test={"utterance": level, "segment": {m: 0.0 for m in METRICS}},
                     best_epoch=1, epochs_run=1, seconds=0.0)


def test_summarize_is_mean_and_population_std_at_the_level():
    summary = summarize([_result(60.0), _result(70.0)])
    assert set(summary) == {"test", "val"} and set(summary["test"]) == set(METRICS)
    assert summary["val"]["wa"] == pytest.approx({"mean": 65.0, "std": 5.0})
    assert summarize([_result(60.0)], level="segment")["test"]["f1"] == {"mean": 0.0, "std": 0.0}


@pytest.mark.slow
def test_run_theta_adjusts_cpu_threads_after_every_epoch(synth_savee, tmp_path):
    """``sertune train`` on a CPU: the thread count follows the machine's load, as a search worker's."""
    import torch

    from sertune.corpora import load_corpus
    from sertune.features.prepared import prepare
    from sertune.training.repetitions import run_theta
    from sertune.features.theta import Theta
    from sertune.training.fit import TrainConfig

    class Share:
        calls = 0

        def adjust(self) -> int:          # as if another process took a core for the second epochs
            Share.calls += 1
            return 1 if Share.calls % 2 == 0 else 2

    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp_path / "cache", progress=False)
    doc, _ = run_theta(prepared, Theta(24, 400, 320, 1.0), splits=None,
                       config=TrainConfig(epochs=2, precision="fp32"), protocol="shuffle-split", unit="utterance",
                       reps=2, seed=0, device=torch.device("cpu"), progress=False, cpu_share=Share())
    assert Share.calls == 2 * 2                   # 2 repetitions x 2 epochs
    assert doc["threads"] == [1, 2]               # metrics.json says the rounding followed the load
    fixed, _ = run_theta(prepared, Theta(24, 400, 320, 1.0), splits=None,
                         config=TrainConfig(epochs=1, precision="fp32"), protocol="shuffle-split",
                         unit="utterance", reps=2, seed=0, device=torch.device("cpu"), progress=False)
    assert fixed["threads"] == [torch.get_num_threads()]
