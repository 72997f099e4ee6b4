"""Vision-condition simulations: each a pure function (image, severity 0..1, t) -> image, shared by
the app's simulator view and training augmentation. Images are [H, W, 3] uint8 BGR (OpenCV).

Masks and kernels depend only on (size, severity), so they are cached: a frame costs a few
array operations (benchmark: `maxsight bench conditions`). Severity 0 returns the input unchanged.
Random-looking patterns (retinopathy spots, AMD distortion) use a fixed seed: a person's lesions
do not move from frame to frame. `t` (seconds) only matters for nystagmus.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import cv2
import numpy as np

# --- colour vision: Machado, Oliveira & Fernandes (2009), severity 1.0, linear RGB ---------------
MACHADO_2009 = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]], np.float32),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]], np.float32),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]], np.float32),
}

_SRGB_TO_LIN = ((np.arange(256) / 255.0) ** 2.2).astype(np.float32)     # gamma 2.2 approximation


def _lin_to_srgb_lut() -> np.ndarray:
    return (np.clip(np.linspace(0, 1, 4096), 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


_LIN_TO_SRGB = _lin_to_srgb_lut()


def _colour_matrix(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    lin = cv2.LUT(img, _SRGB_TO_LIN)                         # [H, W, 3] BGR, linear light
    out = cv2.transform(lin, np.ascontiguousarray(m[::-1, ::-1]))   # the RGB matrix in BGR order
    # Saturating conversion clips to 0..4095 and rounds in one SIMD pass (np.clip alone took 3.7 ms).
    idx = cv2.multiply(out, (4095.0, 4095.0, 4095.0, 0.0), dtype=cv2.CV_16U)
    return _LIN_TO_SRGB[np.minimum(idx, 4095, out=idx)]


def colour_deficiency(kind: str) -> Callable:
    full = MACHADO_2009[kind]

    def simulate(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
        if severity <= 0:
            return img
        # Between the published steps, blend towards the dichromat matrix (anomalous trichromacy).
        m = (1 - severity) * np.eye(3, dtype=np.float32) + severity * full
        return _colour_matrix(img, m)
    simulate.__name__ = kind
    simulate.__doc__ = f"{kind}: Machado et al. (2009) dichromacy matrix in linear RGB, blended from identity by severity"
    return simulate


# --- field masks (cached per size and severity) --------------------------------------------------
@lru_cache(maxsize=64)
def _radius_map(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised distance from the centre (1 at the frame's half-diagonal), and x, y in -1..1."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    xn, yn = (x - w / 2) / (w / 2), (y - h / 2) / (h / 2)
    r = np.sqrt((xn * (w / 2)) ** 2 + (yn * (h / 2)) ** 2) / math.hypot(w / 2, h / 2)
    return r, xn, yn


def _soft_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones (glare, halos, heavy defocus) run at reduced resolution, which is
    indistinguishable for such low-frequency results and 10-50x cheaper."""
    if sigma <= 3:
        return cv2.GaussianBlur(x, (0, 0), max(sigma, 0.1))
    h, w = x.shape[:2]
    f = min(8, int(sigma / 1.5))
    small = cv2.resize(x, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _q(severity: float) -> float:
    return round(float(severity), 2)        # quantise so the mask cache is hit


@lru_cache(maxsize=64)
def _glaucoma_mask(h: int, w: int, s: float) -> np.ndarray:
    r, _, yn = _radius_map(h, w)
    # Field loss starts at the periphery and moves inwards; the lower field goes first (inferior
    # nasal step / arcuate defects are typically worse below fixation in early glaucoma).
    r_eff = r * (1 + 0.35 * np.clip(yn, 0, 1))
    edge = 1.0 - 0.85 * s
    return (1 - np.clip((r_eff - edge) / 0.15, 0, 1)).astype(np.float32)[..., None]


@lru_cache(maxsize=64)
def _tunnel_mask(h: int, w: int, s: float) -> np.ndarray:
    r, _, _ = _radius_map(h, w)
    edge = 1.0 - 0.9 * s
    return (1 - np.clip((r - edge) / 0.08, 0, 1)).astype(np.float32)[..., None]


@lru_cache(maxsize=64)
def _tunnel_mask3(h: int, w: int, s: float) -> np.ndarray:
    return cv2.merge([_tunnel_mask(h, w, s)[..., 0]] * 3)


@lru_cache(maxsize=64)
def _scotoma(h: int, w: int, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AMD: a dark blurred central patch and a remap that bends straight lines (metamorphopsia)."""
    r, xn, yn = _radius_map(h, w)
    radius = 0.05 + 0.3 * s
    mask = np.clip((r - radius) / (0.5 * radius), 0, 1).astype(np.float32)[..., None]
    rng = np.random.default_rng(7)
    bumps = cv2.GaussianBlur(rng.standard_normal((h // 16 + 1, w // 16 + 1)).astype(np.float32), (0, 0), 1.5)
    bumps = cv2.resize(bumps, (w, h), interpolation=cv2.INTER_CUBIC)
    # Distortion is strongest at the scotoma's edge and gone 0.6 radii beyond it.
    near = np.clip(1 - (r - radius) / (0.6 * radius), 0, 1)
    amp = 12.0 * s * near
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ys, xs = np.nonzero((amp > 0) | (mask[..., 0] < 1))
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if len(xs) else (0, 0, 1, 1)
    return mask, (x + amp * bumps).astype(np.float32), (y + amp * np.roll(bumps, 7, axis=0)).astype(np.float32), box


@lru_cache(maxsize=64)
def _spots(h: int, w: int, s: float) -> np.ndarray:
    """Diabetic retinopathy: scattered dark blots (haemorrhages, floaters), fixed per person."""
    rng = np.random.default_rng(11)
    mask = np.ones((h, w), np.float32)
    n = int(6 + 50 * s)
    for _ in range(n):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rad = rng.uniform(0.01, 0.04) * w * (0.5 + s)
        cv2.circle(mask, (int(cx), int(cy)), int(rad), float(1 - rng.uniform(0.6, 1.0) * min(1, 0.4 + s)), -1)
    return cv2.merge([cv2.GaussianBlur(mask, (0, 0), max(1.0, 0.01 * w))] * 3)


@lru_cache(maxsize=64)
def _half_mask(h: int, w: int, s: float, side: str) -> np.ndarray:
    _, xn, _ = _radius_map(h, w)
    # Homonymous hemianopia: the whole half-field on one side; severity widens it past the midline
    # edge softness (macular sparing at low severity).
    edge = 0.15 * (1 - s)
    lost = np.clip((-xn if side == "left" else xn) - edge, 0, 1) > 0
    m = np.where(lost, 1 - s, 1.0).astype(np.float32)
    return cv2.GaussianBlur(m, (0, 0), 0.02 * w)[..., None]


# --- the 13 conditions ---------------------------------------------------------------------------
def cataracts(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Cataracts: a clouded lens scatters light: blur, lower contrast, yellow-brown tint and glare."""
    if severity <= 0:
        return img
    w = img.shape[1]
    blurred = _soft_blur(img, 0.5 + 6 * severity * w / 640)
    k = 1 - 0.55 * severity                                          # contrast loss towards the mean
    mean = np.array(cv2.mean(blurred)[:3], np.float32)
    tint = np.array([1 - 0.45 * severity, 1 - 0.12 * severity, 1.0], np.float32)   # yellowing: less blue (BGR)
    m = np.diag(k * tint).astype(np.float32)
    offset = (mean * (1 - k) * tint + 25 * severity).reshape(3, 1)
    x = cv2.transform(blurred, np.hstack([m, offset]))               # one SIMD pass: contrast, tint, veil
    glare = _soft_blur(cv2.subtract(img, (200, 200, 200, 0)), 0.05 * w)   # halos round lights
    return cv2.scaleAdd(glare, 2.5 * severity, x) if severity > 0 else x


def glaucoma(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Glaucoma: peripheral field loss closing in from the edges, worse in the lower field."""
    if severity <= 0:
        return img
    m = _glaucoma_mask(*img.shape[:2], _q(severity))
    return (img * m).astype(np.uint8)


def amd(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Age-related macular degeneration: a central blind spot with blur, and wavy distortion around it."""
    if severity <= 0:
        return img
    h, w = img.shape[:2]
    mask, mx, my, box = _scotoma(h, w, _q(severity))
    x0, y0, x1, y1 = box
    warped = img.copy()
    # Only the centre is distorted: remap that region alone.
    warped[y0:y1, x0:x1] = cv2.remap(img, mx[y0:y1, x0:x1], my[y0:y1, x0:x1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    roi = warped[y0:y1, x0:x1].astype(np.float32)
    dark = _soft_blur(roi, 0.03 * w) * 0.15
    m = mask[y0:y1, x0:x1]
    warped[y0:y1, x0:x1] = (roi * m + dark * (1 - m)).astype(np.uint8)
    return warped


def diabetic_retinopathy(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Diabetic retinopathy: scattered dark spots over a mildly blurred image."""
    if severity <= 0:
        return img
    h, w = img.shape[:2]
    blurred = _soft_blur(img, 0.5 + 2.5 * severity * w / 640)
    return cv2.multiply(blurred, _spots(h, w, _q(severity)), dtype=cv2.CV_8U)


def retinitis_pigmentosa(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Retinitis pigmentosa: tunnel vision, and night blindness that darkens dim scenes further."""
    if severity <= 0:
        return img
    m = _tunnel_mask3(*img.shape[:2], _q(severity))
    # Rods fail first: dim scenes lose more light than bright ones.
    scene = float(np.mean(cv2.mean(img)[:3])) / 255.0
    dim = 1 - severity * 0.8 * (1 - min(1.0, scene / 0.5))
    return cv2.multiply(img, m, scale=dim, dtype=cv2.CV_8U)


def hemianopia_left(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Hemianopia (left): the left half of the visual field is lost in both eyes."""
    if severity <= 0:
        return img
    return (img * _half_mask(*img.shape[:2], _q(severity), "left")).astype(np.uint8)


def hemianopia_right(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Hemianopia (right): the right half of the visual field is lost in both eyes."""
    if severity <= 0:
        return img
    return (img * _half_mask(*img.shape[:2], _q(severity), "right")).astype(np.uint8)


def myopia(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Myopia: distance blur, stronger towards the top of the frame where far things usually are."""
    if severity <= 0:
        return img
    h, w = img.shape[:2]
    sigma = (1 + 8 * severity) * w / 640
    far = _soft_blur(img, sigma)
    near = _soft_blur(img, 0.5)            # reading distance stays sharp
    ramp = _ramp(h, w)
    return cv2.blendLinear(far, near, ramp, 1 - ramp)


@lru_cache(maxsize=16)
def _ramp(h: int, w: int) -> np.ndarray:
    return np.ascontiguousarray(np.broadcast_to(np.linspace(1.0, 0.0, h, dtype=np.float32)[:, None], (h, w)))


protanopia = colour_deficiency("protanopia")
deuteranopia = colour_deficiency("deuteranopia")
tritanopia = colour_deficiency("tritanopia")


def photophobia(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Photophobia / glare: bright areas bloom and wash out detail around them."""
    if severity <= 0:
        return img
    w = img.shape[1]
    thr = 230 - 110 * severity
    bright = cv2.subtract(img, (thr, thr, thr, 0))
    bloom = _soft_blur(bright, 0.04 * w)
    lifted = cv2.convertScaleAbs(img, alpha=1 + 0.3 * severity)
    return cv2.scaleAdd(bloom, 3 * severity, lifted)


def low_contrast(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Reduced contrast sensitivity: everything pulled towards mid-grey, fine detail lost first."""
    if severity <= 0:
        return img
    x = cv2.GaussianBlur(img, (0, 0), 0.5 + 1.5 * severity)
    k = 1 - 0.85 * severity
    return cv2.convertScaleAbs(x, alpha=k, beta=128 * (1 - k))


def nystagmus(img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Nystagmus: involuntary horizontal eye oscillation (about 4 Hz), seen as a shaking image."""
    if severity <= 0:
        return img
    w = img.shape[1]
    amp = 0.04 * w * severity
    dx = amp * math.sin(2 * math.pi * 4.0 * t) + 0.3 * amp * math.sin(2 * math.pi * 9.3 * t)
    m = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(img, m, (w, img.shape[0]), borderMode=cv2.BORDER_REPLICATE)


CONDITIONS: dict[str, Callable[..., np.ndarray]] = {
    "cataracts": cataracts, "glaucoma": glaucoma, "amd": amd, "diabetic_retinopathy": diabetic_retinopathy,
    "retinitis_pigmentosa": retinitis_pigmentosa, "hemianopia_left": hemianopia_left, "hemianopia_right": hemianopia_right,
    "myopia": myopia, "protanopia": protanopia, "deuteranopia": deuteranopia, "tritanopia": tritanopia,
    "photophobia": photophobia, "low_contrast": low_contrast, "nystagmus": nystagmus,
}


def simulate(condition: str, img: np.ndarray, severity: float, t: float = 0.0) -> np.ndarray:
    """Apply a named condition; 'none' returns the image. Raises ValueError for unknown names or a
    severity outside 0..1."""
    if condition == "none":
        return img
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of none, {', '.join(CONDITIONS)}; got {condition!r}")
    if not 0 <= severity <= 1:
        raise ValueError(f"severity must be between 0 and 1, got {severity}")
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an [H, W, 3] uint8 image, got {img.shape} {img.dtype}")
    return CONDITIONS[condition](img, severity, t)
