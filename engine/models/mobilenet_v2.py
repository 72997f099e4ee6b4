"""MobileNetV2 input preparation (ImageNet normalisation), shared by the personal-object embedder,
the MaxSight detector runner and the training data. The ONNX graph itself is built at install time
(engine/models/install/mobilenet_v2_onnx.py)."""
from __future__ import annotations

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def preprocess(bgr: np.ndarray, size: int = 224) -> np.ndarray:
    """Resize the shorter side to size*256/224, centre-crop, RGB, ImageNet normalisation: [1, 3, S, S]."""
    import cv2
    h, w = bgr.shape[:2]
    if max(h, w) > 2 * min(h, w):      # a very long, thin crop: keep its middle (the crop below takes no more), so the
        keep = 2 * min(h, w)           # resized copy stays bounded by both sides
        y0, x0 = (h - min(h, keep)) // 2, (w - min(w, keep)) // 2
        bgr = bgr[y0:y0 + min(h, keep), x0:x0 + min(w, keep)]
        h, w = bgr.shape[:2]
    short = size * 256 // 224
    scale = short / min(h, w)
    img = cv2.resize(bgr, (max(size, round(w * scale)), max(size, round(h * scale))), interpolation=cv2.INTER_AREA)
    y0, x0 = (img.shape[0] - size) // 2, (img.shape[1] - size) // 2
    return imagenet_chw(img[y0:y0 + size, x0:x0 + size])[None]


def imagenet_chw(bgr: np.ndarray) -> np.ndarray:
    """uint8 BGR [H, W, 3] -> float32 RGB [3, H, W] with ImageNet mean/std: the input of torchvision
    ImageNet backbones (this embedder, and the MaxSight detectors trained from them)."""
    x = bgr[:, :, ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(((x - MEAN) / STD).transpose(2, 0, 1))
