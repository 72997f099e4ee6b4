"""Run several detectors on the same frame and merge them with weighted box fusion."""
from __future__ import annotations

import time

from engine.models.boxes import weighted_box_fusion
from engine.models.detectors import Detector, RawDetections


class FusedDetector(Detector):
    def __init__(self, spec, parts: list[Detector], labels, iou_thr: float = 0.7):
        self.name, self.spec, self.labels = spec.name, spec, labels
        self.parts = parts
        self.iou_thr = iou_thr

    def detect_raw(self, image, min_score: float = 0.05, timings: dict | None = None) -> RawDetections:
        lists = [p.detect_raw(image, min_score, timings) for p in self.parts]
        t0 = time.perf_counter()
        b, s, c = weighted_box_fusion([(r.boxes, r.scores, r.classes) for r in lists], iou_thr=self.iou_thr)
        keep = s >= min_score
        if timings is not None:
            timings["postprocess"] = timings.get("postprocess", 0.0) + (time.perf_counter() - t0) * 1e3
        return RawDetections(b[keep], s[keep], c[keep])
