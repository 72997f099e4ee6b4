"""Augmentations on (image, boxes) pairs, all driven by a numpy Generator passed in, so the same
(seed, epoch, index) always gives the same result.

- geometric: random scale and translation onto the square input canvas (the letterbox the app
  uses, with fill 0), horizontal flip; boxes move with the pixels, and a box less than a quarter
  visible or under 2 px is dropped.
- photometric: hue, saturation, brightness and contrast jitter.
- cutout: grey rectangles. A box they hide partly is kept (the detector should cope with
  occlusion); one more than half hidden is dropped, since nothing of the object is left to learn
  from: a small handle under a grey square would otherwise teach the model that grey is a handle.
- mosaic: four images on a 2x2 canvas, which the geometric step then shrinks (more small objects).
- vision conditions: the app's own simulations (engine/conditions.py), so the model sees what a
  therapist's simulated view looks like.
- clip (t5): a short synthetic clip of one image moving and zooming at a steady rate, with the
  exact flow of the last step at the head grid as the motion target.
"""
from __future__ import annotations

import cv2
import numpy as np

from engine.conditions import CONDITIONS, simulate

GREY = (104, 116, 124)   # BGR ImageNet mean: cutout fill
HIDDEN = 0.5             # a box with more than this share under cutout is dropped


class Augmenter:
    def __init__(self, cfg, input_size: int, head_stride: int = 16, train: bool = True):
        self.cfg, self.size, self.stride, self.train = cfg, input_size, head_stride, train
        self.conditions = list(cfg.conditions) or list(CONDITIONS)

    # ---- geometry -----------------------------------------------------------------------------
    def _params(self, sample, rng):
        h, w = sample.image.shape[:2]
        base = self.size / max(w, h)
        if not self.train:
            s = base
            return s, (self.size - w * s) / 2, (self.size - h * s) / 2, False
        lo, hi = self.cfg.scale
        s = base * float(rng.uniform(lo, hi))
        jx, jy = rng.uniform(-self.cfg.translate, self.cfg.translate, 2) * self.size
        flip = bool(rng.random() < self.cfg.flip)
        return s, (self.size - w * s) / 2 + jx, (self.size - h * s) / 2 + jy, flip

    def _warp(self, sample, s, tx, ty, flip):
        h, w = sample.image.shape[:2]
        sx = -s if flip else s
        ox = tx + (w * s if flip else 0.0)
        m = np.array([[sx, 0, ox], [0, s, ty]], np.float32)
        image = cv2.warpAffine(sample.image, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        b = sample.boxes.copy()
        if len(b):
            xs = b[:, [0, 2]] * sx + ox
            b[:, 0], b[:, 2] = xs.min(1), xs.max(1)
            b[:, [1, 3]] = b[:, [1, 3]] * s + ty
            full = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            c = b.clip(0, self.size)
            vis = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
            keep = (vis >= 0.25 * np.maximum(full, 1e-6)) & (c[:, 2] - c[:, 0] >= 2) & (c[:, 3] - c[:, 1] >= 2)
            return _subset(sample, keep, image, c[keep])
        return _subset(sample, np.zeros(0, bool), image, b)

    # ---- pixels -------------------------------------------------------------------------------
    def _photometric(self, image, rng):
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        dh = int(rng.integers(-6, 7))
        gs, gv = rng.uniform(0.7, 1.3, 2)
        lut_h = ((np.arange(256) + dh) % 180).astype(np.uint8)
        lut_s = np.clip(np.arange(256) * gs, 0, 255).astype(np.uint8)
        lut_v = np.clip(np.arange(256) * gv, 0, 255).astype(np.uint8)
        hsv = cv2.merge([cv2.LUT(hsv[:, :, 0], lut_h), cv2.LUT(hsv[:, :, 1], lut_s), cv2.LUT(hsv[:, :, 2], lut_v)])
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        contrast = float(rng.uniform(0.75, 1.25))
        return cv2.convertScaleAbs(out, alpha=contrast, beta=float((1 - contrast) * out.mean()))

    def _cutout(self, image, rng):
        """(image with 1-3 grey rectangles, mask [H, W] bool of the pixels they cover)."""
        image = image.copy()
        mask = np.zeros(image.shape[:2], bool)
        for _ in range(int(rng.integers(1, 4))):
            cw, ch = (rng.uniform(0.05, 0.2, 2) * self.size).astype(int)
            x, y = rng.integers(0, self.size - cw), rng.integers(0, self.size - ch)
            image[y:y + ch, x:x + cw] = GREY
            mask[y:y + ch, x:x + cw] = True
        return image, mask

    def _pixels(self, image, rng):
        """(augmented image, mask of cutout pixels or None)."""
        if not self.train:
            return image, None
        if rng.random() < self.cfg.photometric:
            image = self._photometric(image, rng)
        if rng.random() < self.cfg.condition:
            name = self.conditions[int(rng.integers(len(self.conditions)))]
            image = simulate(name, image, float(rng.uniform(*self.cfg.severity)), t=float(rng.uniform(0, 10)))
        mask = None
        if rng.random() < self.cfg.cutout:
            image, mask = self._cutout(image, rng)
        return image, mask

    # ---- entry points -------------------------------------------------------------------------
    def __call__(self, sample, rng):
        out = self._warp(sample, *self._params(sample, rng))
        out.image, mask = self._pixels(out.image, rng)
        return _drop_hidden(out, mask)

    def mosaic(self, samples, rng):
        """Four samples on a 2S x 2S canvas, each fitted into its quadrant."""
        from training.sample import Sample
        S = self.size
        canvas = np.zeros((2 * S, 2 * S, 3), np.uint8)
        parts = []
        for q, smp in enumerate(samples[:4]):
            h, w = smp.image.shape[:2]
            s = S / max(w, h)
            nw, nh = max(1, round(w * s)), max(1, round(h * s))
            ox, oy = (q % 2) * S + (S - nw) // 2, (q // 2) * S + (S - nh) // 2
            canvas[oy:oy + nh, ox:ox + nw] = cv2.resize(smp.image, (nw, nh))
            b = smp.boxes * np.array([nw / w, nh / h, nw / w, nh / h], np.float32) + np.array([ox, oy, ox, oy], np.float32)
            parts.append((b, smp))
        cat = lambda k: np.concatenate([getattr(p, k) for _, p in parts])
        return Sample(canvas, np.concatenate([b for b, _ in parts]).astype(np.float32).reshape(-1, 4),
                      cat("classes"), cat("zones"), cat("urgency"), cat("scores"))

    def clip(self, sample, rng, frames: int):
        """`frames` views of one image drifting and zooming at a constant rate. Returns the frames
        (oldest first), the last frame's sample, and flow [2, g, g] in head cells per frame."""
        s, tx, ty, flip = self._params(sample, rng)
        v = rng.uniform(-0.03, 0.03, 2) * self.size if self.train else np.zeros(2)
        z = float(rng.uniform(0.97, 1.05)) if self.train else 1.0
        c = self.size / 2
        views = []
        for k in range(frames - 1, -1, -1):                        # k steps before the last frame
            sk = s * z ** (-k)
            # zoom about the canvas centre, then drift: p_k = c + (p_last - c) * z^-k - v * k
            views.append(self._warp(sample, sk, c + (tx - c) * z ** (-k) - v[0] * k, c + (ty - c) * z ** (-k) - v[1] * k, flip))
        pix_rng = np.random.default_rng(rng.integers(1 << 62))
        state = pix_rng.bit_generator.state
        frames_out = []
        for view in views:                                         # same pixel jitter on every frame
            pix_rng.bit_generator.state = state
            image, mask = self._pixels(view.image, pix_rng)
            frames_out.append(image)
        g = self.size // self.stride
        centres = (np.arange(g, dtype=np.float32) + 0.5) * self.stride
        px, py = np.meshgrid(centres, centres)
        # Content at p in the last frame was at c + (p - c) / z - v one step earlier.
        prev_x, prev_y = c + (px - c) / z - v[0], c + (py - c) / z - v[1]
        flow = np.stack([px - prev_x, py - prev_y]).astype(np.float32) / self.stride
        last = views[-1]
        last.image = frames_out[-1]
        return frames_out, _drop_hidden(last, mask), flow


def _drop_hidden(sample, mask):
    """The sample without the boxes that cutout (mask [H, W] bool) hides more than HIDDEN of."""
    if mask is None or not len(sample.boxes):
        return sample
    h, w = mask.shape
    keep = np.ones(len(sample.boxes), bool)
    for i, (x1, y1, x2, y2) in enumerate(sample.boxes):
        xa, ya = int(np.clip(np.floor(x1), 0, w)), int(np.clip(np.floor(y1), 0, h))
        xb, yb = int(np.clip(np.ceil(x2), 0, w)), int(np.clip(np.ceil(y2), 0, h))
        if xb > xa and yb > ya:
            keep[i] = mask[ya:yb, xa:xb].mean() <= HIDDEN
    return sample if keep.all() else _subset(sample, keep, sample.image, sample.boxes[keep])


def _subset(sample, keep, image, boxes):
    from training.sample import Sample
    return Sample(image, boxes.astype(np.float32).reshape(-1, 4), sample.classes[keep], sample.zones[keep],
                  sample.urgency[keep], sample.scores[keep])
