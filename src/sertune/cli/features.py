"""``sertune features AUDIO``: one file's log-Mel spectrogram, as numbers, a picture and an array."""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

from .. import features
from ..features.audio import SAMPLE_RATE, load_audio
from ..errors import SertuneWarning

#: Segments drawn at most with --segment (all are saved with --npy).
MAX_PANELS = 4


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "features", help="compute and draw one file's log-Mel spectrogram",
        description="Decode AUDIO to 16 kHz mono, compute its log-Mel spectrogram (the paper's recipe: "
                    "Hann window L = n_fft, hop H, M mel filters, power in dB, 80 dB range), print a "
                    "summary, and optionally draw it (--png) or save it (--npy).")
    parser.add_argument("audio", metavar="AUDIO", help="audio file (WAV, FLAC, OGG, ...)")
    parser.add_argument("--n-mels", type=int, required=True, metavar="M",
                        help="mel filters M (paper: 128-256; 40 usual)")
    parser.add_argument("--win-length", type=int, required=True, metavar="L",
                        help="window length L in samples (paper: 127, 255, 511; 400 = 25 ms)")
    parser.add_argument("--hop-length", type=int, required=True, metavar="H",
                        help="hop H in samples (paper: 16, 32; 160 = 10 ms)")
    parser.add_argument("--n-fft", type=int, metavar="N", help="FFT size (default L)")
    parser.add_argument("--mel-scale", choices=features.MEL_SCALES, default="slaney",
                        help="mel scale: slaney (librosa's) or htk (paper eq. 5) (default %(default)s)")
    parser.add_argument("--pad-mode", choices=features.PAD_MODES, default="constant",
                        help="edge padding: constant (librosa >= 0.9) or reflect (< 0.9) "
                             "(default %(default)s)")
    parser.add_argument("--fmin", type=float, default=0.0, metavar="HZ",
                        help="lowest filter frequency (default %(default)g)")
    parser.add_argument("--fmax", type=float, metavar="HZ",
                        help="highest filter frequency (default 8000, the Nyquist frequency)")
    parser.add_argument("--top-db", type=float, default=80.0, metavar="DB",
                        help="dynamic range in dB (default %(default)g)")
    parser.add_argument("--segment", type=float, metavar="T",
                        help="cut the audio into T-second segments first (as for training)")
    parser.add_argument("--remainder", choices=features.REMAINDERS, default="drop",
                        help="with --segment: drop a last partial segment (reference code) or zero-pad it "
                             "(default %(default)s)")
    parser.add_argument("--png", metavar="FILE.png", help="draw the log-Mel spectrogram to this PNG")
    parser.add_argument("--npy", metavar="FILE.npy",
                        help="save the array: (M, frames), or (segments, M, frames) with --segment")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = dict(sample_rate=SAMPLE_RATE, n_mels=args.n_mels, win_length=args.win_length,
                    hop_length=args.hop_length, n_fft=args.n_fft, mel_scale=args.mel_scale, fmin=args.fmin,
                    fmax=args.fmax, top_db=args.top_db, pad_mode=args.pad_mode)
    features.check_settings(**settings, segment=args.segment)        # errors and warnings before decoding
    wave = load_audio(args.audio, sample_rate=SAMPLE_RATE)
    if args.segment is not None:
        x, _ = features.segment_many([wave], sample_rate=SAMPLE_RATE, seconds=args.segment,
                                     remainder=args.remainder)
    else:
        x = wave
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SertuneWarning)              # check_settings has said it already
        lms = features.log_mel(x, **settings)
    summary = _summary(args, wave, lms)
    if args.npy:
        np.save(args.npy, lms)
    if args.png:
        _draw(args, lms, summary)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_format(summary))
    return 0


def _summary(args, wave: np.ndarray, lms: np.ndarray) -> dict:
    n_fft = args.n_fft or args.win_length
    summary = {
        "audio": args.audio,
        "sample_rate": SAMPLE_RATE,
        "samples": int(wave.shape[0]),
        "seconds": round(wave.shape[0] / SAMPLE_RATE, 3),
        "settings": {"n_mels": args.n_mels, "win_length": args.win_length, "hop_length": args.hop_length,
                     "n_fft": n_fft, "window": "hann", "mel_scale": args.mel_scale, "pad_mode": args.pad_mode,
                     "fmin": args.fmin, "fmax": args.fmax or SAMPLE_RATE / 2, "top_db": args.top_db},
        "fft_bins": n_fft // 2 + 1,
        "shape": list(lms.shape),
        "frames": int(lms.shape[-1]),
        "empty_filters": features.empty_mel_filters(sample_rate=SAMPLE_RATE, n_mels=args.n_mels, n_fft=n_fft,
                                                    fmin=args.fmin, fmax=args.fmax, mel_scale=args.mel_scale),
        "db_range": [round(float(lms.min()), 2), round(float(lms.max()), 2)],
        "segments": None,
        "wrote": [p for p in (args.npy, args.png) if p],
    }
    if args.segment is not None:
        length = int(round(args.segment * SAMPLE_RATE))
        covered = min(lms.shape[0] * length, wave.shape[0])
        summary["segments"] = {"seconds": args.segment, "remainder": args.remainder,
                               "count": int(lms.shape[0]),
                               "dropped_seconds": round((wave.shape[0] - covered) / SAMPLE_RATE, 3),
                               "padded_seconds": round((lms.shape[0] * length - covered) / SAMPLE_RATE, 3)}
    return summary


def _format(s: dict) -> str:
    st = s["settings"]
    ms = 1000 / s["sample_rate"]
    lines = [
        f"audio     {s['audio']}  ({s['seconds']:.2f} s, {s['samples']} samples at {s['sample_rate']} Hz)",
        f"settings  M={st['n_mels']} mels, L={st['win_length']} ({st['win_length'] * ms:.1f} ms), "
        f"H={st['hop_length']} ({st['hop_length'] * ms:.1f} ms), n_fft={st['n_fft']} "
        f"({s['fft_bins']} FFT bins), {st['mel_scale']} mel, {st['pad_mode']} padding",
        f"log-Mel   shape {tuple(s['shape'])}: {st['n_mels']} mels x {s['frames']} frames, "
        f"{s['db_range'][0]:+.1f} .. {s['db_range'][1]:+.1f} dB",
    ]
    seg = s["segments"]
    if seg:
        lines.append(f"segments  {seg['count']} x {seg['seconds']:g} s (remainder {seg['remainder']}: "
                     f"{seg['dropped_seconds']:.2f} s dropped, {seg['padded_seconds']:.2f} s zero-padded)")
    if s["empty_filters"]:
        lines.append(f"empty     {s['empty_filters']} of {st['n_mels']} mel filters are empty "
                     f"(constant -{st['top_db']:g} dB rows)")
    if s["wrote"]:
        lines.append(f"wrote     {', '.join(s['wrote'])}")
    return "\n".join(lines)


def _draw(args, lms: np.ndarray, summary: dict) -> None:
    from ..features.plot import plot_log_mel

    st = summary["settings"]
    ms = 1000 / SAMPLE_RATE
    title = (f"{args.audio}: log-Mel, M={st['n_mels']}, L={st['win_length']} "
             f"({st['win_length'] * ms:.1f} ms), H={st['hop_length']} ({st['hop_length'] * ms:.1f} ms), "
             f"n_fft={st['n_fft']}, {st['mel_scale']} mel")
    starts = titles = None
    if args.segment is not None:
        shown = lms[:MAX_PANELS]
        starts = [k * args.segment for k in range(len(shown))]
        end = summary["seconds"]
        titles = [f"segment {k + 1} of {len(lms)}: {a:g}-{a + args.segment:g} s"
                  + (f" (zero-padded after {end:g} s)" if a + args.segment > end else "")
                  for k, a in enumerate(starts)]
        lms = shown
    plot_log_mel(lms, args.png, sample_rate=SAMPLE_RATE, hop_length=args.hop_length, fmin=args.fmin,
                 fmax=args.fmax, htk=args.mel_scale == "htk", title=title, starts=starts, panel_titles=titles)
