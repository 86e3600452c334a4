"""Decoding (formats, widths, channels, rates, odd headers) and the waveform cache."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile as sf

from sertune.features import audio
from sertune.features.audio import decode_corpus, load_audio
from sertune.corpora import load_corpus
from sertune.corpora.synth import synthesize
from sertune.errors import AudioError


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt,subtype", [
    ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("WAV", "FLOAT"),
    ("WAV", "PCM_U8"), ("FLAC", "PCM_16"), ("OGG", "VORBIS"),
])
def test_formats_decode_to_16k_mono_float32(tmp_path, fmt, subtype):
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(str(path), tone(0.5, 16000), 16000, format=fmt, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 8000) <= 1
    ref = tone(0.5, 16000)[: len(y)]
    # Lossy/8-bit formats are close, lossless ones exact to their width.
    tol = {"PCM_U8": 1e-2, "VORBIS": 5e-2}.get(subtype, 1e-4)
    assert np.abs(y[100:-100] - ref[100:-100]).max() < tol


def test_stereo_is_averaged(tmp_path):
    left, right = tone(0.2, 16000, 300), tone(0.2, 16000, 500)
    sf.write(str(tmp_path / "s.wav"), np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "s.wav"), (left + right) / 2, atol=1e-7)


@pytest.mark.parametrize("rate", [8000, 22050, 24414, 44100, 48000])
def test_resampled_to_16k_keeps_the_tone(tmp_path, rate):
    sf.write(str(tmp_path / "r.wav"), tone(1.0, rate, 1000.0), rate, subtype="FLOAT")
    y = load_audio(tmp_path / "r.wav")
    assert abs(len(y) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(y[2000:-2000]))
    peak_hz = np.argmax(spectrum) * 16000 / len(y[2000:-2000])
    assert abs(peak_hz - 1000.0) < 2.0


def test_wav_with_extra_chunk_before_data(tmp_path):
    """RAVDESS files carry a 'FLLR' chunk between 'fmt ' and 'data'."""
    pcm = (tone(0.1, 48000) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 48000, 96000, 2, 16)
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
              + b"FLLR" + struct.pack("<I", 4044) + b"\0" * 4044
              + b"data" + struct.pack("<I", len(pcm)) + pcm)
    (tmp_path / "rav.wav").write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    y = load_audio(tmp_path / "rav.wav")
    assert abs(len(y) - 1600) <= 1
    assert np.abs(y).max() > 0.4


@pytest.mark.parametrize("content,match", [
    (None, "does not exist"),
    (b"", "cannot decode"),
    (b"this is a text file, not audio" * 10, "cannot decode"),
])
def test_bad_files_raise_audio_error_naming_the_path(tmp_path, content, match):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=match) as info:
        load_audio(path)
    assert "bad.wav" in str(info.value)


def test_non_audio_message_names_the_path_once_and_reads_as_one_sentence(tmp_path, capsys):
    path = tmp_path / "notes.wav"
    path.write_text("hello, this is not audio\n")
    with pytest.raises(AudioError) as info:
        load_audio(path)
    text = str(info.value)
    assert text.startswith(f"cannot decode {path}: Format not recognised. Check that it is")
    assert ".." not in text and text.count("notes.wav") == 1
    # The corpus listing says it once too (its probe reads the header only).
    (tmp_path / "wav").mkdir()
    sf.write(str(tmp_path / "wav" / "03a01Wa.wav"), tone(0.2, 16000), 16000)
    path.rename(tmp_path / "wav" / "03a01Fa.wav")
    from sertune.cli import main
    assert main(["corpus", "info", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert (out.out + out.err).count("Format not recognised") == 1 and ".." not in out.out + out.err
    assert "not a readable audio file (Format not recognised)" in out.out


def test_zero_length_wav_is_an_audio_error(tmp_path):
    sf.write(str(tmp_path / "z.wav"), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(tmp_path / "z.wav")


@pytest.fixture()
def small_corpus(tmp_path):
    synthesize(tmp_path / "c", layout="savee", speakers=1, per_class=2, seed=3)
    return load_corpus(tmp_path / "c")


def test_decode_corpus_caches_and_second_load_reads_the_cache(tmp_path, small_corpus, monkeypatch):
    cache = tmp_path / "cache"
    corpus1, waves1 = decode_corpus(small_corpus, cache_dir=cache, progress=False)
    assert len(waves1) == len(small_corpus.utterances) == 14

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(audio, "load_audio", no_decoding)
    corpus2, waves2 = decode_corpus(small_corpus, cache_dir=cache, progress=False)
    assert [u.id for u in corpus2.utterances] == [u.id for u in corpus1.utterances]
    for a, b in zip(waves1, waves2):
        np.testing.assert_array_equal(a, b)


def test_cache_is_invalidated_when_a_file_changes(tmp_path, small_corpus):
    cache = tmp_path / "cache"
    _, waves1 = decode_corpus(small_corpus, cache_dir=cache, progress=False)
    first = small_corpus.utterances[0].path
    sf.write(str(first), tone(0.3, 16000), 16000)
    _, waves2 = decode_corpus(load_corpus(small_corpus.root), cache_dir=cache, progress=False)
    assert len(waves2[0]) == 4800 and len(waves1[0]) != 4800


def test_file_that_fails_to_decode_is_skipped_with_reason(tmp_path, small_corpus):
    bad = small_corpus.utterances[1].path
    bad.write_bytes(b"RIFF garbage that passed the header probe earlier")
    corpus, waves = decode_corpus(small_corpus, cache_dir=tmp_path / "cache", progress=False)
    assert len(waves) == len(corpus.utterances) == 13
    assert [s.path for s in corpus.skipped] == [str(bad)]
    assert "cannot decode" in corpus.skipped[0].reason
    # The cache remembers the failure too: nothing silently disappears on reload.
    corpus2, _ = decode_corpus(small_corpus, cache_dir=tmp_path / "cache", progress=False)
    assert [s.path for s in corpus2.skipped] == [str(bad)]


def test_unwritable_cache_folder_does_not_stop_decoding(tmp_path, small_corpus):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    corpus, waves = decode_corpus(small_corpus, cache_dir=blocker, progress=False)
    assert len(waves) == 14
