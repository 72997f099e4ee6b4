"""MobileNetV3-CenterNet: peak heatmap [128, 128, 80] (sigmoid, non-maxima of each 3x3 zeroed in
the graph) and box sides [128, 128, 4] at stride 4."""
from __future__ import annotations

import cv2
import numpy as np

from engine.models.boxes import letterbox
from engine.models.detectors import Detector, RawDetections
from engine.models.onnx_runner import make_session

_STRIDE = 4
_PEAK_FLOOR = 0.01   # scanning only cells above this keeps the peak search at a few ms


class CenterNet(Detector):
    def __init__(self, spec, path, labels, threads: int, device: str = "cpu"):
        self.name, self.spec, self.labels = spec.name, spec, labels
        self.size = spec.input_size
        self.session = make_session(path, threads, device)
        self.input_name = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        self.heat_name = next(n for n in names if n.endswith("mul_1"))
        self.wh_name = next(n for n in names if n.endswith("wh"))

    def prepare(self, image):
        canvas, lb = letterbox(image, self.size)
        x = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32)[None]   # [1, S, S, 3] RGB 0..255
        return x, lb

    def infer(self, prepared):
        x, _ = prepared
        assert x.shape == (1, self.size, self.size, 3), f"CenterNet input must be [1, {self.size}, {self.size}, 3], got {x.shape}"
        heat, wh = self.session.run([self.heat_name, self.wh_name], {self.input_name: x})
        return heat[0], wh[0]   # [G, G, 80], [G, G, 4]

    def decode(self, outputs, prepared, width, height, min_score):
        heat, wh = outputs
        _, lb = prepared
        # Only 3x3 peaks are non-zero (CenterNet's NMS ran in the graph); threshold and keep the top 100.
        ys, xs, cs = np.nonzero(heat >= max(min_score, _PEAK_FLOOR))
        if len(ys) == 0:
            return RawDetections.empty()
        g = heat.shape[0]
        vals = heat[ys, xs, cs]
        order = np.argsort(-vals)[:100]
        ys, xs, cs, vals = ys[order], xs[order], cs[order], vals[order]
        d = wh[ys, xs]                                               # [k, 4] left, top, right, bottom
        cx, cy = xs.astype(np.float32) * _STRIDE, ys.astype(np.float32) * _STRIDE   # no +0.5: it costs 2.3 mAP
        boxes = np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], 1)
        assert g * _STRIDE == self.size, f"heatmap {g} x stride {_STRIDE} should equal input {self.size}"
        return RawDetections(lb.to_frame(boxes, width, height).astype(np.float32), vals.astype(np.float32), cs.astype(np.int64))


FAMILY = "centernet"


def make(spec, registry, threads: int, device: str) -> CenterNet:
    from engine.models.detectors import labels_for
    from engine.models.registry import verified_path
    return CenterNet(spec, verified_path(spec), labels_for(spec), threads, device)
