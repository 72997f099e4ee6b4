"""Test media made from real clips: a walking video with a real or spoken sound track muxed in, so a
run exercises Stage A and the audio tasks together (neither the evaluation videos nor the shipped
sample carries speech). Written with PyAV (its wheel bundles ffmpeg)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def resample(x: np.ndarray, sr: int, to: int = 16000) -> np.ndarray:
    """Mono samples at `sr` Hz to `to` Hz by linear interpolation (speech for a 16 kHz recogniser)."""
    if sr == to or not len(x):
        return x.astype(np.float32)
    n = int(len(x) * to / sr)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


def video_with_sound(frames_from: Path, sound: np.ndarray, out: Path, fps: int = 10, seconds: float = 14.0,
                     size: tuple[int, int] = (384, 288), sample_rate: int = 16000) -> Path:
    """`seconds` of `frames_from` (resized to `size`) at `fps`, with `sound` (16 kHz mono, repeated
    to fill) as an AAC track."""
    import av
    import cv2
    cap = cv2.VideoCapture(str(frames_from))
    if not cap.isOpened():
        raise ValueError(f"{frames_from} cannot be read as a video")
    with av.open(str(out), "w") as c:
        v = c.add_stream("mpeg4", rate=fps)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv420p"
        a = c.add_stream("aac", rate=sample_rate)
        a.layout = "mono"
        for _ in range(int(seconds * fps)):
            ok, img = cap.read()
            if not ok:
                break
            frame = av.VideoFrame.from_ndarray(cv2.resize(img, size)[:, :, ::-1].copy(), format="rgb24")
            for p in v.encode(frame):
                c.mux(p)
        track = np.resize(sound, int(seconds * sample_rate)).astype(np.float32)
        for i in range(0, len(track) - 1024, 1024):
            af = av.AudioFrame.from_ndarray(track[i:i + 1024].reshape(1, -1), format="fltp", layout="mono")
            af.sample_rate, af.pts = sample_rate, i
            for p in a.encode(af):
                c.mux(p)
        for st in (v, a):
            for p in st.encode(None):
                c.mux(p)
    cap.release()
    return out
