"""Run a detector on the frame and on its mirror image, and keep what both views agree on.

A real flight of stairs looks like stairs in a mirror too; many of the door and stairs model's
false stairs (part of a flight, a railing, a patterned floor) do not come back in the mirrored
view, or come back somewhere else. For the classes named, the two views' boxes are merged by
weighted box fusion (engine/models/boxes.py, per_model): overlapping boxes become their
score-weighted mean, scored by the mean over the two views of each view's mean score. A box only
one view saw keeps half its score (two boxes of one view are still one view's word), and a view
that scatters weaker boxes over the object lowers its own share. Other classes come from the
plain view alone.

Measured on the stairs photos (docs/measurements/issue22.md), calibration refitted on val-dev:
stairs reported that are stairs on val-test 68.5% (61/89) -> 76.2% (48/63), near flights found
54 -> 47 of 98. Doors lost a little with the mirror view, so doors stay on one view; so does
NanoDet, whose approaching hazards were cued later with it. It costs a second inference each time
the model runs (stage_a/access.py spreads the two over two frames).

Which models and classes run this way is part of their registry entry (ModelSpec.flip_iou and
flip_classes), so the app, the evaluations, the calibration and the benchmarks run them alike.
"""
from __future__ import annotations

import numpy as np

from engine.models.boxes import weighted_box_fusion
from engine.models.detectors import Detector, RawDetections


def mirror_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """Boxes found in the mirrored image -> the same boxes in the original ([N, 4] x1 y1 x2 y2)."""
    out = boxes.copy()
    out[:, 0] = width - boxes[:, 2]
    out[:, 2] = width - boxes[:, 0]
    return out


class FlipAveraged(Detector):
    """`inner` on the image and on its left-right mirror; `classes` (label names) are fused across
    the two views at `iou`, every other class is the plain view's."""

    def __init__(self, inner: Detector, iou: float, classes: tuple[str, ...]):
        if not 0.0 < iou < 1.0:
            raise ValueError(f"the mirror view's fusion IoU must be between 0 and 1, got {iou}")
        unknown = sorted(set(classes) - set(inner.labels))
        if not classes or unknown:
            raise ValueError(f"the mirror view needs classes of the model {inner.name}; it has no {', '.join(unknown)}")
        self.inner, self.iou = inner, iou
        self.name, self.spec, self.labels = inner.name, inner.spec, inner.labels
        self.class_ids = np.array(sorted(inner.labels.index(c) for c in classes), np.int64)

    def detect_raw(self, image: np.ndarray, min_score: float = 0.05, timings: dict | None = None) -> RawDetections:
        return self.merge(self.detect_plain(image, min_score, timings), self.detect_mirrored(image, min_score, timings),
                          min_score)

    # The two halves apart, so that a lane can run them on two frames in a row (stage_a/access.py)
    # and no frame pays for both.
    def detect_plain(self, image: np.ndarray, min_score: float = 0.05, timings: dict | None = None) -> RawDetections:
        return self.inner.detect_raw(image, min_score, timings)

    def detect_mirrored(self, image: np.ndarray, min_score: float = 0.05, timings: dict | None = None) -> RawDetections:
        """The mirror image's detections, their boxes mapped back onto the image."""
        raw = self.inner.detect_raw(np.ascontiguousarray(image[:, ::-1]), min_score, timings)
        return RawDetections(mirror_boxes(raw.boxes, image.shape[1]), raw.scores, raw.classes)

    def merge(self, plain: RawDetections, mirrored: RawDetections, min_score: float = 0.05) -> RawDetections:
        in_p = np.isin(plain.classes, self.class_ids)
        in_m = np.isin(mirrored.classes, self.class_ids)
        boxes, scores, classes = weighted_box_fusion(
            [(plain.boxes[in_p], plain.scores[in_p], plain.classes[in_p]),
             (mirrored.boxes[in_m], mirrored.scores[in_m], mirrored.classes[in_m])], iou_thr=self.iou, per_model=True)
        keep = scores >= min_score
        return RawDetections(np.concatenate([plain.boxes[~in_p], boxes[keep]]).astype(np.float32),
                             np.concatenate([plain.scores[~in_p], scores[keep]]).astype(np.float32),
                             np.concatenate([plain.classes[~in_p], classes[keep]]).astype(np.int64))

    # One view's steps are the inner model's (INT8 calibration feeds its input from prepare()).
    def prepare(self, image: np.ndarray):
        return self.inner.prepare(image)

    def infer(self, prepared):
        return self.inner.infer(prepared)

    def decode(self, outputs, prepared, width: int, height: int, min_score: float) -> RawDetections:
        return self.inner.decode(outputs, prepared, width, height, min_score)

    def to_detections(self, raw: RawDetections):
        return self.inner.to_detections(raw)

    def __getattr__(self, name):
        # Whatever else callers read of a detector (its session, its input size) is the inner one's.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
