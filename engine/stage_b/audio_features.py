"""Log-mel patches in YAMNet's format: 16 kHz mono, 25 ms Hann windows every 10 ms, 512-point FFT
magnitude, 64 mel bands 125-7500 Hz (HTK mel scale), log(x + 1e-6), 96 frames (0.96 s) a patch.

Magnitude, not power: measured on sound_events_small, the power spectrogram made YAMNet call a
crying baby "Speech" and applause "Sound effect"; magnitude gives "Crying, sobbing" 0.99 and
"Applause" 0.68."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
WIN, HOP, N_FFT, N_MELS = 400, 160, 512, 64
PATCH_FRAMES = 96


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """[64, 257] triangular filters on the HTK mel scale."""
    hz2mel = lambda f: 1127.0 * np.log1p(f / 700.0)  # noqa: E731
    mel2hz = lambda m: 700.0 * (np.exp(m / 1127.0) - 1)  # noqa: E731
    edges = mel2hz(np.linspace(hz2mel(125.0), hz2mel(7500.0), N_MELS + 2))
    bins = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    fb = np.zeros((N_MELS, len(bins)), np.float32)
    for i in range(N_MELS):
        lo, c, hi = edges[i], edges[i + 1], edges[i + 2]
        fb[i] = np.clip(np.minimum((bins - lo) / (c - lo), (hi - bins) / (hi - c)), 0, None)
    return fb


_WINDOW = np.hanning(WIN).astype(np.float32)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """[N] float32 at 16 kHz -> [frames, 64] log-mel."""
    x = np.asarray(samples, np.float32)
    if len(x) < WIN:
        return np.zeros((0, N_MELS), np.float32)
    n = 1 + (len(x) - WIN) // HOP
    frames = np.lib.stride_tricks.as_strided(x, (n, WIN), (x.strides[0] * HOP, x.strides[0])) * _WINDOW
    mag = np.abs(np.fft.rfft(frames, N_FFT)).astype(np.float32)      # [n, 257]
    return np.log(mag @ mel_filterbank().T + 1e-6)


def patches(mel: np.ndarray, hop_frames: int = 48) -> np.ndarray:
    """[frames, 64] -> [k, 96, 64] patches every hop_frames (0.48 s by default)."""
    if len(mel) < PATCH_FRAMES:
        return np.zeros((0, PATCH_FRAMES, N_MELS), np.float32)
    starts = range(0, len(mel) - PATCH_FRAMES + 1, hop_frames)
    return np.stack([mel[s:s + PATCH_FRAMES] for s in starts])
