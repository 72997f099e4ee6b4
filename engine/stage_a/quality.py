"""Is this frame worth trusting? Darkness, blur and a covered lens, measured on a small grey copy."""
from __future__ import annotations

import cv2
import numpy as np

from engine.types import FrameQuality

DARK_MEAN = 40.0        # mean grey below this: too dark to see much
COVERED_STD = 6.0       # almost uniform image: lens covered or pointing at a wall
BLUR_LAPLACIAN = 100.0  # Laplacian variance at 160 px wide below this: blurred (real sharp frames: 550+)


def measure(image: np.ndarray) -> FrameQuality:
    small = cv2.resize(image, (160, max(1, round(160 * image.shape[0] / image.shape[1]))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    mean = float(grey.mean())
    std = float(grey.std())
    sharp = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    covered = std < COVERED_STD
    dark = mean < DARK_MEAN
    blurred = sharp < BLUR_LAPLACIAN and not covered
    # Each problem scales the score down smoothly rather than switching it off.
    light_term = min(1.0, mean / DARK_MEAN)
    sharp_term = min(1.0, sharp / BLUR_LAPLACIAN)
    contrast_term = min(1.0, std / (2 * COVERED_STD))
    score = light_term * (0.5 + 0.5 * sharp_term) * contrast_term
    return FrameQuality(brightness=mean, sharpness=sharp, contrast=std, dark=dark, blurred=blurred,
                        covered=covered, score=float(score))


def uncertainty(quality: FrameQuality, scores: list[float]) -> float:
    """0..1. Frame problems dominate; otherwise the share of ambiguous detections (scores near 0.5,
    where 4p(1-p) peaks) raises it. With no detections the frame term alone decides."""
    frame_term = 1.0 - quality.score
    if scores:
        amb = float(np.mean([4 * p * (1 - p) for p in scores]))
    else:
        amb = 0.0
    return float(min(1.0, 1 - (1 - frame_term) * (1 - 0.5 * amb)))
