"""sertune.features: parity with librosa on the paper's grid, batching, segmentation, checks, CLI."""

from __future__ import annotations

import functools
import json
import re
import warnings

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from sertune import features
from sertune.features import logmel, melbank
from sertune.errors import ConfigError, SertuneWarning

SR = 16000
#: Table 2 (17 M x 3 L x 2 H) plus the "usual" setting θ• (M=40, L=400, H=160).
SETTINGS = [(m, win, hop) for win in (127, 255, 511) for hop in (16, 32) for m in range(128, 257, 8)]
SETTINGS.append((40, 400, 160))
TOLERANCE = {"float32": 2e-3, "float64": 1e-6}      # max |sertune - librosa| in dB
N = 8000                                              # 0.5 s: short keeps 400+ parity tests fast
GAINS = (1.0, 0.3, 1e-3, 0.05, 2.0, 0.01)             # loud and quiet examples in one batch

pytestmark = pytest.mark.filterwarnings("ignore::sertune.errors.SertuneWarning")


def voice(n: int = N, seed: int = 0, gain: float = 1.0) -> np.ndarray:
    """Speech-like float64 wave: harmonics of a gliding f0, syllable envelope with pauses, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f0 = rng.uniform(100, 240) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    y = sum(np.sin(k * phase + rng.uniform(0, 6.3)) / k ** rng.uniform(0.8, 1.4) for k in range(1, 50))
    y = y * np.clip(np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.3)), 0, None) ** 1.5
    y = y + rng.uniform(1e-4, 1e-2) * rng.standard_normal(n)
    return gain * 0.5 * y / np.abs(y).max()


@functools.lru_cache(maxsize=None)
def waves(dtype: str) -> np.ndarray:
    """(2, 3, N): six different voices, gains from 2 down to 1e-3."""
    return np.stack([voice(seed=k, gain=g) for k, g in enumerate(GAINS)]).reshape(2, 3, N).astype(dtype)


def reference(y, m, win, hop, *, n_fft=None, window="hann", pad_mode="constant", htk=False, fmin=0.0,
              fmax=None, top_db=80.0):
    """The authors' recipe, librosa on one example."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                       # librosa's own empty-filter warning
        spec = librosa.feature.melspectrogram(y=y, sr=SR, n_mels=m, n_fft=n_fft or win, hop_length=hop,
                                              win_length=win, window=window, center=True, pad_mode=pad_mode,
                                              power=2.0, htk=htk, fmin=fmin, fmax=fmax)
    return librosa.power_to_db(spec, ref=1.0, amin=1e-10, top_db=top_db)


@functools.lru_cache(maxsize=8)
def references(dtype: str, m: int, win: int, hop: int) -> np.ndarray:
    """librosa per example, stacked like waves(): (2, 3, M, frames)."""
    x = waves(dtype)
    return np.stack([reference(y, m, win, hop) for y in x.reshape(6, N)]).reshape(2, 3, m, -1)


def ids(setting):
    return "M{}-L{}-H{}".format(*setting)


# --- parity with librosa ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("setting", SETTINGS, ids=ids)
def test_matches_librosa_per_example(setting, dtype):
    m, win, hop = setting
    ref = references(dtype, m, win, hop)
    # numpy in, batched (2, 3, samples): each example as librosa computes it alone
    out = features.log_mel(waves(dtype), n_mels=m, win_length=win, hop_length=hop)
    assert isinstance(out, np.ndarray) and out.dtype == np.dtype(dtype)
    assert out.shape == ref.shape == (2, 3, m, features.n_frames(N, n_fft=win, hop_length=hop))
    assert np.abs(out - ref).max() <= TOLERANCE[dtype]
    # torch in, one wave (samples,): the quietest voice, gain 0.01
    x = torch.from_numpy(waves(dtype)[1, 2].copy())
    one = features.log_mel(x, n_mels=m, win_length=win, hop_length=hop)
    assert isinstance(one, torch.Tensor) and one.dtype == x.dtype and one.device == x.device
    assert one.shape == ref[1, 2].shape
    assert np.abs(one.numpy() - ref[1, 2]).max() <= TOLERANCE[dtype]


@pytest.mark.parametrize("variant", [
    dict(pad_mode="reflect"),                      # librosa < 0.9
    dict(htk=True),                                # the paper's eq. 5
    dict(pad_mode="reflect", htk=True),
    dict(n_fft=512),                               # window shorter than the FFT: zero-padded at the centre
    dict(window="hamming"),
    dict(fmin=50.0, fmax=7600.0),
    dict(top_db=None),
    dict(top_db=40.0),
])
@pytest.mark.parametrize("setting", [(128, 255, 32), (40, 400, 160), (256, 127, 16)], ids=ids)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_variants_match_librosa(setting, variant, dtype):
    m, win, hop = setting
    y = waves(dtype)[0, 1]
    kwargs = dict(variant)
    if "htk" in kwargs:
        kwargs["mel_scale"] = "htk" if kwargs.pop("htk") else "slaney"
    out = features.log_mel(y, n_mels=m, win_length=win, hop_length=hop, **kwargs)
    ref = reference(y, m, win, hop, **variant)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= TOLERANCE[dtype]


def test_log_mel_many_equals_log_mel_per_m():
    x = waves("float32")
    mels = [128, 40, 200, 256]
    many = features.log_mel_many(x, n_mels=mels, win_length=255, hop_length=32)
    assert list(many) == mels
    for m in mels:
        one = features.log_mel(x, n_mels=m, win_length=255, hop_length=32)
        assert many[m].shape == one.shape == (2, 3, m, 250)          # odd n_fft: 1 + (N - 1) // H
        np.testing.assert_allclose(many[m], one, rtol=0, atol=1e-5)


def test_top_db_floor_is_per_example():
    loud, quiet = voice(seed=1, gain=1.0), voice(seed=2, gain=0.05)
    quiet[N // 2:] = 0.0                                   # digital silence: needs the floor
    both = features.log_mel(np.stack([loud, quiet]), n_mels=64, win_length=400, hop_length=160)
    alone = [features.log_mel(y, n_mels=64, win_length=400, hop_length=160) for y in (loud, quiet)]
    np.testing.assert_allclose(both[0], alone[0], atol=1e-9)
    np.testing.assert_allclose(both[1], alone[1], atol=1e-9)
    # The quiet example is floored at its own max - 80 dB, far below the loud one's floor
    # (one floor for the whole batch, as librosa on the stacked array, would flatten it).
    assert both[1].min() == pytest.approx(both[1].max() - 80.0)
    assert both[1].min() < both[0].max() - 80.0 - 20.0
    assert np.abs(both[1] - reference(quiet, 64, 400, 160)).max() <= 1e-6


def test_accelerator_code_path_matches_librosa(monkeypatch):
    """Dense projection + torch.fft in float64 (what CUDA runs), exercised on CPU tensors."""
    monkeypatch.setattr(logmel, "_CPU", ())
    blocked, real = [], melbank.projection
    monkeypatch.setattr(melbank, "projection", lambda *key: blocked.append(key[-1]) or real(*key))
    for dtype in ("float32", "float64"):
        x = torch.from_numpy(waves(dtype).copy())
        for m, win, hop in [(128, 127, 16), (256, 511, 32), (40, 400, 160)]:
            out = features.log_mel(x, n_mels=m, win_length=win, hop_length=hop)
            frames = features.n_frames(N, n_fft=win, hop_length=hop)
            assert out.dtype == x.dtype and out.shape == (2, 3, m, frames)
            assert np.abs(out.numpy() - references(dtype, m, win, hop)).max() <= TOLERANCE[dtype]
    assert blocked and not any(blocked)                    # one dense block per bank, as on GPUs


def test_threaded_and_single_threaded_results_agree_and_threads_are_restored():
    x = waves("float32")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        pooled = features.log_mel(x, n_mels=136, win_length=511, hop_length=16)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        serial = features.log_mel(x, n_mels=136, win_length=511, hop_length=16)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(pooled, serial, atol=1e-5)


def test_types_dtypes_and_awkward_inputs():
    y64 = waves("float64")[0, 0]
    settings = dict(n_mels=40, win_length=400, hop_length=160)
    expected = features.log_mel(y64, **settings)
    half = features.log_mel(torch.from_numpy(y64).half(), **settings)
    assert half.dtype == torch.float16 and half.shape == expected.shape
    assert features.log_mel(y64.astype(np.float16), **settings).dtype == np.float16
    read_only = y64.copy()
    read_only.flags.writeable = False
    reversed_twice = y64[::-1].copy()[::-1]                 # negative strides
    big_endian = y64.astype(">f8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # no "non-writable array" warning from torch
        for y in (read_only, reversed_twice, big_endian):
            np.testing.assert_allclose(features.log_mel(y, **settings), expected, atol=1e-9)
    assert features.log_mel(np.zeros((0, 3, N), np.float32), **settings).shape == (0, 3, 40, 51)


def test_empty_filters_are_the_floor_like_librosa():
    y = waves("float32")[0, 0]
    out = features.log_mel(y, n_mels=128, win_length=127, hop_length=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty = ~librosa.filters.mel(sr=SR, n_fft=127, n_mels=128).any(axis=1)
    assert empty.sum() == 42 == features.empty_mel_filters(n_mels=128, n_fft=127)
    np.testing.assert_allclose(out[empty], out.max() - 80.0, atol=1e-4)
    np.testing.assert_allclose(out[empty], reference(y, 128, 127, 16)[empty], atol=1e-4)


def test_n_frames_matches_librosa():
    for samples, n_fft, hop in [(8000, 127, 16), (8000, 400, 160), (8001, 511, 32), (100, 400, 160)]:
        y = np.zeros(samples, np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames = librosa.stft(y, n_fft=n_fft, hop_length=hop).shape[-1]
        assert features.n_frames(samples, n_fft=n_fft, hop_length=hop) == frames


# --- settings: errors and warnings ----------------------------------------------------------------------

GOOD = dict(n_mels=128, win_length=400, hop_length=160)


@pytest.mark.parametrize("change, match", [
    (dict(hop_length=0), r"hop_length=0 is invalid: the hop must be a positive integer.*use e\.g\. 160"),
    (dict(hop_length=-16), r"hop_length=-16 is invalid"),
    (dict(hop_length=16.0), r"hop_length=16\.0 is invalid"),
    (dict(win_length=400, n_fft=256),
     r"n_fft=256 is invalid: the FFT size must be an integer >= win_length=400"),
    (dict(win_length=1), r"win_length=1 is invalid"),
    (dict(n_mels=0), r"n_mels=0 is invalid: the number of mel filters must be a positive integer"),
    (dict(n_mels=[128, -8]), r"n_mels=-8 is invalid"),
    (dict(n_mels=[]), r"n_mels=\[\] is invalid: at least one number of mel filters is needed"),
    (dict(segment=0.02),
     r"segment=0\.02 is invalid: .*at least one 400-sample window; use segments of at least"),
    (dict(segment=-1.0), r"segment=-1\.0 is invalid"),
    (dict(window="hannn"), r"window='hannn' is invalid: scipy\.signal\.get_window does not know it"),
    (dict(mel_scale="mel"), r"mel_scale='mel' is invalid: must be one of \('slaney', 'htk'\)"),
    (dict(pad_mode="edge"), r"pad_mode='edge' is invalid: .*'constant' \(librosa >= 0\.9\) or 'reflect'"),
    (dict(fmin=-10.0), r"fmin=-10\.0 is invalid"),
    (dict(fmin=100.0, fmax=50.0), r"fmax=50\.0 is invalid: the highest filter frequency must be above fmin"),
    (dict(fmin=9000.0), r"fmax=None is invalid"),
    (dict(top_db=-1.0), r"top_db=-1\.0 is invalid"),
    (dict(sample_rate=0), r"sample_rate=0 is invalid"),
])
def test_impossible_settings_raise_config_error(change, match):
    with pytest.raises(ConfigError, match=match):
        features.check_settings(**{**GOOD, **change})
    if "segment" not in change:                              # log_mel validates before any work too
        name = re.match(r"\w+=", match).group()             # same parameter named, if not the same words
        with pytest.raises(ConfigError, match=name):
            features.log_mel(np.zeros(4000, np.float32), **{**GOOD, **change})


@pytest.mark.parametrize("x, match", [
    (np.zeros(4000, np.int16), r"x=int16 of shape \(4000,\) is invalid.*astype\(np\.float32\) / 32768"),
    (np.float32(0.5), r"is invalid: x must be a float array"),
    ([0.0, 0.1], r"x=list"),
    (np.array([0.0, np.nan] * 1000, np.float32), r"NaN or infinite"),
    (np.zeros((2, 0), np.float32), r"x has 0 samples"),
])
def test_bad_input_raises_config_error(x, match):
    with pytest.raises(ConfigError, match=match):
        features.log_mel(x, **GOOD)


def test_reflect_padding_needs_enough_samples():
    with pytest.raises(ConfigError, match=r"x has 150 samples, too few for n_fft=400 with pad_mode='refl"):
        features.log_mel(np.zeros(150, np.float32), **GOOD, pad_mode="reflect")


@pytest.mark.filterwarnings("default::sertune.errors.SertuneWarning")
def test_empty_filters_warn_once_with_the_fix():
    y = waves("float32")[0, 0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features.log_mel_many(y, n_mels=[128, 256], win_length=127, hop_length=16)
    assert [w.category for w in caught] == [SertuneWarning]        # one, and not librosa's own
    text = str(caught[0].message)
    assert "n_fft=127 at 16000 Hz gives 64 FFT bins" in text
    assert "42 of 128, 139 of 256 mel filters are empty" in text
    assert "use n_mels <= 46 or n_fft >= 1024" in text
    with pytest.warns(SertuneWarning, match=r"13 of 128 mel filters are empty.*use n_mels <= 95"):
        features.log_mel(y, n_mels=128, win_length=255, hop_length=32)


@pytest.mark.filterwarnings("default::sertune.errors.SertuneWarning")
def test_fmax_above_nyquist_warns_and_good_settings_are_quiet():
    with pytest.warns(SertuneWarning, match=r"fmax=9000\.0 Hz is above the Nyquist frequency 8000 Hz.*<= 80"):
        advice = features.check_settings(n_mels=40, win_length=400, hop_length=160, fmax=9000.0)
    assert len(advice) == 1                          # the empty top filter is that one problem, not a second
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert features.check_settings(n_mels=40, win_length=400, hop_length=160, segment=3.0) == []
        assert features.check_settings(n_mels=list(range(128, 257, 8)), win_length=511, hop_length=16,
                                       warn=False) != []    # 511 still empties a few of 192..256
        assert features.check_settings(n_mels=128, win_length=511, hop_length=16) == []


# --- segmentation and normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize("samples, remainder, count", [
    (0, "drop", 1),        # empty utterance: one all-zero segment (as the reference pads)
    (1, "drop", 1),
    (999, "drop", 1),      # shorter: zero-padded to one segment
    (1000, "drop", 1),
    (1000, "pad", 1),
    (1001, "drop", 1),     # tail of 1 sample dropped
    (1001, "pad", 2),      # ... or kept, zero-padded
    (2500, "drop", 2),
    (2500, "pad", 3),
    (3000, "drop", 3),
    (3000, "pad", 3),
])
def test_segment_counts_and_content(samples, remainder, count):
    wave = np.arange(1, samples + 1, dtype=np.float32)
    segs = features.segment(wave, sample_rate=1000, seconds=1.0, remainder=remainder)
    assert segs.shape == (count, 1000) and segs.dtype == np.float32
    kept = min(samples, count * 1000)
    flat = segs.reshape(-1)
    np.testing.assert_array_equal(flat[:kept], wave[:kept])       # speech in order, nothing shifted
    assert not flat[kept:].any()                                  # zero padding only at the end


def test_segment_torch_and_rounding():
    wave = torch.arange(16000 * 2 + 7, dtype=torch.float64)
    segs = features.segment(wave, sample_rate=16000, seconds=0.5)
    assert isinstance(segs, torch.Tensor) and segs.dtype == torch.float64 and segs.shape == (4, 8000)
    assert features.segment(np.ones(100), sample_rate=16000, seconds=1 / 3).shape == (1, 5333)


def test_segment_many_keeps_each_segments_utterance():
    lengths = [500, 2500, 1000, 3200]
    waves_ = [np.full(n, k + 1, np.float32) for k, n in enumerate(lengths)]
    segs, owner = features.segment_many(waves_, sample_rate=1000, seconds=1.0, remainder="drop")
    assert segs.shape == (7, 1000) and owner.dtype == np.int64
    assert owner.tolist() == [0, 1, 1, 2, 3, 3, 3]
    for seg, u in zip(segs, owner):                        # each segment holds its own utterance's samples
        assert set(np.unique(seg)) <= {0.0, u + 1.0}
    segs, owner = features.segment_many(waves_, sample_rate=1000, seconds=1.0, remainder="pad")
    assert owner.tolist() == [0, 1, 1, 1, 2, 3, 3, 3, 3]
    empty, owner = features.segment_many([], sample_rate=1000, seconds=1.0)
    assert empty.shape == (0, 1000) and owner.shape == (0,)
    t, owner = features.segment_many([torch.ones(1500), torch.ones(700)], sample_rate=1000, seconds=1.0)
    assert isinstance(t, torch.Tensor) and t.shape == (2, 1000) and owner.tolist() == [0, 1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(seconds=0), r"seconds=0 is invalid"),
    (dict(seconds=-1.0), r"seconds=-1\.0 is invalid"),
    (dict(seconds=1e-6), r"less than one sample"),
    (dict(seconds=1.0, remainder="keep"), r"remainder='keep' is invalid.*'drop'.*'pad'"),
])
def test_segment_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        features.segment(np.zeros(100), sample_rate=16000, **kwargs)
    with pytest.raises(ConfigError, match=r"wave must be one utterance"):
        features.segment(np.zeros((2, 100)), sample_rate=16000, seconds=1.0)


def test_normalizer_is_one_global_mean_and_population_std():
    rng = np.random.default_rng(0)
    train = (rng.standard_normal((10, 4, 30)) * 12 - 45).astype(np.float32)
    mean, std = features.fit_normalizer(train)
    assert isinstance(mean, float) and isinstance(std, float)
    assert mean == pytest.approx(train.astype(np.float64).mean(), rel=1e-12)
    assert std == pytest.approx(train.astype(np.float64).std(ddof=0), rel=1e-12)
    assert features.fit_normalizer(list(train)) == pytest.approx((mean, std), rel=1e-12)
    assert features.fit_normalizer(torch.from_numpy(train)) == pytest.approx((mean, std), rel=1e-12)
    z = features.normalize(train, mean, std)
    assert z.dtype == np.float32
    assert abs(float(z.mean())) < 1e-5 and float(z.std()) == pytest.approx(1, abs=1e-5)
    zt = features.normalize(torch.from_numpy(train), mean, std)
    assert isinstance(zt, torch.Tensor) and zt.dtype == torch.float32
    np.testing.assert_allclose(zt.numpy(), z, atol=1e-6)


def test_normalizer_is_stable_far_from_zero_and_takes_a_generator():
    """E[x^2] - E[x]^2 in float64 loses every digit of a std of 0.1 around 1e8; the merge does not."""
    rng = np.random.default_rng(1)
    x = 1e8 + 0.1 * rng.standard_normal((64, 40, 30))
    naive = np.sqrt((x * x).mean() - x.mean() ** 2)
    assert abs(naive - x.std()) / x.std() > 0.01                      # the naive formula is far off
    batches = (x[b:b + 7] for b in range(0, len(x), 7))               # uneven batches, one pass
    mean, std = features.fit_normalizer(batches)
    assert mean == pytest.approx(x.mean(), rel=1e-15)
    assert std == pytest.approx(x.std(), rel=1e-9)


@pytest.mark.parametrize("data, match", [
    (np.full((3, 4), -80.0), r"not all equal"),
    (np.zeros((0, 4)), r"features is empty"),
    ([], r"features is empty"),
    (np.array([0.0, np.inf]), r"must be finite"),
])
def test_normalizer_errors(data, match):
    with pytest.raises(ConfigError, match=match):
        features.fit_normalizer(data)


def test_normalize_rejects_bad_std():
    with pytest.raises(ConfigError, match=r"std=0\.0 .* is invalid"):
        features.normalize(np.ones(3), 0.0, 0.0)


# --- command line ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_features_writes_png_npy_and_summary(tmp_path, capsys):
    from sertune.cli import main

    wav = tmp_path / "voice.wav"
    sf.write(str(wav), voice(n=int(1.3 * SR), seed=3).astype(np.float32), SR, subtype="PCM_16")
    png, npy = tmp_path / "out" / "lms.png", tmp_path / "lms.npy"
    rc = main(["features", str(wav), "--n-mels", "64", "--win-length", "400", "--hop-length", "160",
               "--png", str(png), "--npy", str(npy)])
    out = capsys.readouterr().out
    assert rc == 0
    assert np.load(npy).shape == (64, 131) and np.load(npy).dtype == np.float32
    assert "shape (64, 131)" in out and "1.30 s" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    import matplotlib.image
    assert matplotlib.image.imread(str(png)).ndim == 3

    rc = main(["features", str(wav), "--n-mels", "128", "--win-length", "127", "--hop-length", "32",
               "--segment", "0.5", "--remainder", "pad", "--png", str(png), "--npy", str(npy), "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert rc == 0 and np.load(npy).shape == (3, 128, 250)
    assert summary["segments"] == {"seconds": 0.5, "remainder": "pad", "count": 3, "dropped_seconds": 0.0,
                                   "padded_seconds": 0.2}
    assert summary["empty_filters"] == 42 and summary["fft_bins"] == 64
    assert "warning: n_fft=127" in captured.err


def test_cli_features_errors_exit_2(tmp_path, capsys):
    from sertune.cli import main

    wav = tmp_path / "voice.wav"
    sf.write(str(wav), voice(n=SR).astype(np.float32), SR)
    assert main(["features", str(wav), "--n-mels", "40", "--win-length", "400", "--hop-length", "0"]) == 2
    assert "error: hop_length=0 is invalid" in capsys.readouterr().err
    assert main(["features", str(tmp_path / "missing.wav"), "--n-mels", "40", "--win-length", "400",
                 "--hop-length", "160"]) == 2
    assert "error: " in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["inference_mode", "no_grad", "enable_grad"])
def test_works_under_the_callers_autograd_mode(mode):
    x = torch.from_numpy(waves("float32")[0].copy())                      # 3 examples: pooled on 2+ threads
    with getattr(torch, mode)():
        out = features.log_mel(x, n_mels=40, win_length=400, hop_length=160)
        out += 1.0                                                        # usable in place where it was made
    assert out.requires_grad is False
    assert np.abs(out.numpy() - 1.0 - references("float32", 40, 400, 160)[0]).max() <= 2e-3


@pytest.mark.parametrize("n_mels, fmax, htk", [(40, 8000.0, False), (128, 8000.0, True), (24, 4000.0, False)])
def test_frequency_ticks_sit_on_the_rows_of_the_filters_they_name(n_mels, fmax, htk):
    """Row m is the filter centred at librosa's mel point m + 1; a tick labelled f Hz sits where f falls."""
    from sertune.features.plot import mel_ticks

    rows, labels = mel_ticks(n_mels=n_mels, fmin=0.0, fmax=fmax, htk=htk)
    assert labels[0] == "0" and len(labels) >= 4
    centres = librosa.hz_to_mel(librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=fmax, htk=htk)[1:-1], htk=htk)
    hz = [float(t[:-1]) * 1000 if t.endswith("k") else float(t) for t in labels]
    # Filter centres are equally spaced in mel, so a row's mel is a line through them (rows -1 and
    # n_mels are the band's edges).
    step = centres[1] - centres[0]
    np.testing.assert_allclose(centres[0] + np.array(rows) * step, librosa.hz_to_mel(np.array(hz), htk=htk),
                               rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(rows) >= 0.06 * n_mels)           # labels never collide
