"""Box maths shared by every detector: letterbox, IoU, NMS and weighted box fusion."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the square network input, to map boxes back."""
    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """[N, 4] input-space boxes -> [N, 4] frame pixels, clipped to the frame."""
        out = boxes.copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out


def letterbox(image: np.ndarray, size: int, fill: int = 0) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio and centre on a size x size canvas. Returns [size, size, 3] uint8."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), fill, dtype=np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    return canvas, Letterbox(scale=scale, pad_x=px, pad_y=py)


def box_iou(a, b) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes, 0 when either is empty."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, 4] x [M, 4] -> [N, M] intersection over union."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms_per_class(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float = 0.6, max_out: int = 100) -> np.ndarray:
    """Class-aware NMS; returns kept indices, best first. Stops at max_out boxes, which bounds the
    worst case on busy frames (MODELS.md measured naive NMS at up to 60 ms)."""
    order = np.argsort(-scores)
    # Offsetting boxes by class keeps classes apart in a single pass.
    off = boxes + (classes.astype(np.float32) * 4096.0)[:, None]
    keep: list[int] = []
    suppressed = np.zeros(len(order), bool)
    for oi, i in enumerate(order):
        if suppressed[oi]:
            continue
        keep.append(int(i))
        if len(keep) >= max_out:
            break
        rest = order[oi + 1:]
        if len(rest) == 0:
            break
        ious = iou_matrix(off[i:i + 1], off[rest])[0]
        suppressed[oi + 1:] |= ious > iou
    return np.array(keep, dtype=np.int64)


def weighted_box_fusion(lists: list[tuple[np.ndarray, np.ndarray, np.ndarray]], iou_thr: float = 0.7,
                        weights: list[float] | None = None,
                        per_model: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted box fusion (Solovyev et al. 2019) over several detectors' (boxes, scores, classes).

    Boxes of one class that overlap above iou_thr are averaged, weighted by score; the fused score
    is the mean score over all models, so a box only one model saw is down-weighted rather than
    dropped. With per_model, each model's members are averaged first and the fused score is the
    mean of those over all models (a model with no member gives 0): two boxes from one model are
    still one model's word. Returns fused (boxes [K, 4], scores [K], classes [K])."""
    n_models = len(lists)
    weights = weights or [1.0] * n_models
    all_b, all_s, all_c, all_m = [], [], [], []
    for m, (b, s, c) in enumerate(lists):
        all_b.append(b)
        all_s.append(s * weights[m])
        all_c.append(c)
        all_m.append(np.full(len(b), m))
    if not any(len(b) for b in all_b):
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    B, S, C, M = np.concatenate(all_b), np.concatenate(all_s), np.concatenate(all_c), np.concatenate(all_m)
    out_b, out_s, out_c = [], [], []
    for cls in np.unique(C):
        idx = np.where(C == cls)[0]
        idx = idx[np.argsort(-S[idx])]
        clusters: list[list[int]] = []
        fused: list[np.ndarray] = []
        for i in idx:
            if fused:
                ious = iou_matrix(B[i:i + 1], np.array(fused))[0]
                j = int(np.argmax(ious))
                if ious[j] > iou_thr:
                    clusters[j].append(i)
                    w = S[clusters[j]]
                    fused[j] = (B[clusters[j]] * w[:, None]).sum(0) / w.sum()
                    continue
            clusters.append([i])
            fused.append(B[i].copy())
        for members, box in zip(clusters, fused):
            sc = S[members]
            if per_model:
                score = sum(sc[M[members] == m].mean() for m in np.unique(M[members])) / sum(weights)
            else:
                score = sc.mean() * min(len(members), n_models) / sum(weights)
            out_b.append(box)
            out_s.append(score)
            out_c.append(cls)
    return np.array(out_b, np.float32), np.array(out_s, np.float32), np.array(out_c, np.int64)
