"""K repetitions of one θ: the summary over repetitions, and the old import path still works."""

from __future__ import annotations

import pytest

from sertune.metrics import METRICS
from sertune.repetitions import summarize
from sertune.train import RunResult


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


def test_experiment_re_exports_the_moved_names():
    import sertune.corpus_splits as cs
    import sertune.environment as env
    import sertune.experiment as old
    import sertune.outputs as outputs
    import sertune.prepared as prepared
    import sertune.repetitions as reps

    for module in (cs, env, outputs, prepared, reps):
        for name in set(old.__all__) & set(vars(module)):
            assert getattr(old, name) is getattr(module, name)
    assert all(hasattr(old, name) for name in old.__all__)


def test_run_theta_adjusts_cpu_threads_after_every_epoch(synth_savee, tmp_path):
    """``sertune train`` on a CPU: the thread count follows the machine's load, as a search worker's."""
    import torch

    from sertune.corpora import load_corpus
    from sertune.prepared import prepare
    from sertune.repetitions import run_theta
    from sertune.theta import Theta
    from sertune.train import TrainConfig

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


def test_run_theta_fused_gives_each_repetition_the_numbers_of_one_at_a_time(synth_savee, tmp_path):
    """``sertune train --fuse on``: the same splits, seeds, best epochs and test predictions as one
    at a time; the weights differ by float rounding only; one thread adjustment per epoch.

    On the corpus and θ of test_fused.py, where rounding stays rounding: on some data a
    training amplifies it (fit itself with 1 thread vs 2 differed by 1e-3 in weights
    after one epoch on synthetic EmoDB at 32 x 51), and so does a fused member."""
    import torch

    from sertune.checkpoint import load_checkpoint
    from sertune.corpora import load_corpus
    from sertune.prepared import prepare
    from sertune.repetitions import run_theta
    from sertune.theta import Theta
    from sertune.train import TrainConfig

    class Share:
        calls = 0

        def adjust(self) -> int:
            Share.calls += 1
            return torch.get_num_threads()

    prepared = prepare(load_corpus(synth_savee, "savee"), cache_dir=tmp_path / "cache", progress=False)
    docs, logged = {}, []
    CONFIG = TrainConfig(epochs=3, precision="fp32")
    for fuse in ("off", "on"):
        (tmp_path / fuse).mkdir()
        docs[fuse], splits = run_theta(
            prepared, Theta(24, 400, 320, 1.0), splits=None, config=CONFIG,
            protocol="shuffle-split", unit="utterance", reps=2, seed=0, device=torch.device("cpu"),
            out=tmp_path / fuse, progress=False, fuse=fuse, cpu_share=Share() if fuse == "on" else None,
            log=logged.append)
    assert Share.calls == 3                       # once per epoch of the stack, not per member
    assert logged == ["2 repetitions one at a time on cpu (--fuse off)", "2 repetitions fused on cpu (--fuse on)"]
    assert (docs["off"]["fused"], docs["on"]["fused"]) == (1, 2)
    for one, fused in zip(docs["off"]["reps"], docs["on"]["reps"]):
        assert (fused["split"], fused["seed"], fused["best_epoch"]) == (one["split"], one["seed"], one["best_epoch"])
        assert fused["test"] == one["test"]       # the same predictions
        assert [h["val_wa"] for h in fused["history"]] == [h["val_wa"] for h in one["history"]]
    for r in range(2):
        a, b = (load_checkpoint(tmp_path / fuse / f"rep{r}" / "model.pt") for fuse in ("off", "on"))
        for name, weight in a.state_dict.items():
            torch.testing.assert_close(b.state_dict[name], weight, atol=1e-5, rtol=0)
        x = torch.randn(4, 1, 24, 51, generator=torch.Generator().manual_seed(r))
        assert torch.equal(a.model().eval()(x).argmax(1), b.model().eval()(x).argmax(1))


def test_run_theta_refuses_an_unknown_fuse_mode_before_computing_features(synth_savee, tmp_path):
    import torch

    from sertune.errors import ConfigError
    from sertune.repetitions import run_theta
    from sertune.theta import Theta
    from sertune.train import TrainConfig

    with pytest.raises(ConfigError, match=r"fuse='yes' is unknown; choose one of: auto, on, off"):
        run_theta(None, Theta(24, 400, 320, 1.0), splits=None, config=TrainConfig(), protocol="shuffle-split",
                  unit="utterance", reps=2, seed=0, device=torch.device("cpu"), fuse="yes")


def test_a_fused_training_that_fails_trains_one_at_a_time(synth_savee, tmp_path, monkeypatch):
    """As a search worker: a stack that fails (e.g. out of memory) is said and replaced by the
    repetitions one at a time, whose numbers the document then holds."""
    import torch

    import sertune.repetitions as repetitions
    from sertune.corpora import load_corpus
    from sertune.prepared import prepare
    from sertune.theta import Theta
    from sertune.train import TrainConfig

    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory with 2 members (simulated)\ndetails")

    monkeypatch.setattr(repetitions, "fit_fused", out_of_memory)
    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp_path / "cache", progress=False)
    logged = []
    doc, _ = repetitions.run_theta(prepared, Theta(24, 400, 320, 1.0), splits=None,
                                   config=TrainConfig(epochs=1, precision="fp32"), protocol="shuffle-split",
                                   unit="utterance", reps=2, seed=0, device=torch.device("cpu"), progress=False,
                                   fuse="on", log=logged.append)
    assert logged[-1] == ("the fused training failed (CUDA out of memory with 2 members (simulated)); "
                          "training the 2 repetitions one at a time")
    assert doc["fused"] == 1 and len(doc["reps"]) == 2 and all(r["epochs_run"] == 1 for r in doc["reps"])
