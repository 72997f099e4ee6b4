"""The real sample shipped inside MaxSight (assets/samples, CC BY 4.0, see its ATTRIBUTION.md): what
the headless first run, the soak and the tests use when there is no camera and no evaluation data,
as on a newcomer's clone."""
from __future__ import annotations

from pathlib import Path

import numpy as np

import assets

SAMPLE_VIDEO = "people_walking_indoor.mp4"     # 768x432, 10 fps, 90 s: people walk through a room


def sample_video() -> Path:
    """The shipped clip's path; FileNotFoundError in one sentence if a broken install lost it."""
    p = Path(str(assets.path("samples", SAMPLE_VIDEO)))
    if not p.is_file():
        raise FileNotFoundError(f"the sample video {p} is missing from this MaxSight; reinstall it")
    return p


def sample_frames(n: int, every: int = 25, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """n real BGR frames ([H, W, 3] uint8) from the shipped clip, one every `every` frames (25 = 2.5 s,
    so consecutive ones differ), resized to size=(width, height) when given."""
    import cv2
    if n <= 0 or every <= 0:
        raise ValueError(f"n and every must be positive, got n={n}, every={every}")
    cap = cv2.VideoCapture(str(sample_video()))
    frames: list[np.ndarray] = []
    i = 0
    try:
        while len(frames) < n:
            ok, img = cap.read()
            if not ok:
                break
            if i % every == 0:
                frames.append(cv2.resize(img, size) if size else img)
            i += 1
    finally:
        cap.release()
    if len(frames) < n:
        raise ValueError(f"the sample video has {len(frames)} frames one every {every}, fewer than the {n} asked for")
    return frames
