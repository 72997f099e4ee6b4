"""Undo the sideways smear of a camera turning or walking past a sign, before text is read.

A camera that pans while its shutter is open smears every point along a short horizontal line:
the frame is the sharp picture convolved with a box of L pixels. The text reader reads almost
nothing once L passes a few pixels (on the `eval watch-for` clips, 6 reads in 48 with 5-12 px of
smear), while a person would still read a 35 px sign smeared 7 px.

L is found from the picture alone: a box's spectrum has zeros every W/L cycles, which show as a
negative peak at lag L in the cepstrum (the inverse transform of the log spectrum) averaged over
the rows, and a weaker one at 2L. Only a clear, narrow peak with its echo counts (CLEAR times the
cepstrum's typical size, NARROW times above both neighbours, a dip at 2L), so a sharp picture, or
one blurred some other way (out of focus, up and down), is left as it is. Then a Wiener filter
along the rows undoes the box. Only sideways smear is handled: a pan's. The up-and-down smear of a
walker's step is not.
"""
from __future__ import annotations

import numpy as np

MIN_SMEAR_PX = 3          # under this the reader copes (and the cepstrum's lags are too short to trust)
MAX_SMEAR_SHARE = 0.04    # the longest smear looked for, as a share of the width (25 px at 640)
CLEAR = 3.0               # the peak must stand this many times above the cepstrum's median size,
NARROW = 1.5              # ...this many below the lower of its neighbours (a box's peak is one lag wide)
NOISE_TO_SIGNAL = 0.01    # the Wiener filter's regulariser: more keeps noise down, less sharpens more


def smear_length(gray: np.ndarray) -> int | None:
    """The sideways smear in pixels of a [H, W] picture, or None when there is no clear one."""
    g = np.asarray(gray, np.float32)
    if g.ndim != 2 or g.shape[1] < 64 or g.shape[0] < 8:
        return None
    hi = max(MIN_SMEAR_PX + 1, int(MAX_SMEAR_SHARE * g.shape[1]))
    g = g - g.mean(axis=1, keepdims=True)
    spectrum = np.abs(np.fft.rfft(g * np.hanning(g.shape[1]).astype(np.float32), axis=1))
    cepstrum = np.fft.irfft(np.log(spectrum + 1e-3).mean(axis=0))
    lags = cepstrum[MIN_SMEAR_PX:hi + 1]
    k = int(np.argmin(lags))
    n = MIN_SMEAR_PX + k
    typical = float(np.median(np.abs(cepstrum[MIN_SMEAR_PX:max(hi + 1, 60)])))
    if typical <= 0 or lags[k] >= -CLEAR * typical:
        return None
    narrow = min(cepstrum[n - 1], cepstrum[n + 1]) - cepstrum[n] >= NARROW * typical
    echo = cepstrum[2 * n] < 0.5 * (cepstrum[2 * n - 1] + cepstrum[2 * n + 1])
    return n if narrow and echo else None


def unsmear(image: np.ndarray, length: int, nsr: float = NOISE_TO_SIGNAL) -> np.ndarray:
    """[H, W, 3] or [H, W] uint8 -> the same, with a sideways box of `length` px undone."""
    if length < 2 or length >= image.shape[1]:
        return image
    w = image.shape[1]
    n = w + 2 * length
    box = np.zeros(n, np.float32)
    box[:length] = 1.0 / length
    h = np.fft.rfft(box)
    inverse = np.conj(h) / (np.abs(h) ** 2 + nsr)
    # mirrored edges, so the filter does not wrap one side of the picture onto the other
    padded = np.concatenate([image[:, length - 1::-1], image, image[:, :w - length - 1:-1]], axis=1).astype(np.float32)
    out = np.fft.irfft(np.fft.rfft(padded, axis=1) * (inverse[:, None] if padded.ndim == 3 else inverse), n=n, axis=1)
    out = np.roll(out, (length - 1) // 2, axis=1)[:, length:length + w]     # a box from 0 shifts by (L-1)/2
    return np.clip(out, 0, 255).astype(np.uint8)


def steady(image: np.ndarray) -> tuple[np.ndarray, int | None]:
    """The picture with its sideways smear undone when it has a clear one, and that smear (px)."""
    gray = image if image.ndim == 2 else image.astype(np.float32) @ np.float32([0.114, 0.587, 0.299])
    length = smear_length(gray)
    return (image if length is None else unsmear(image, length)), length
