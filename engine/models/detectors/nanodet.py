"""NanoDet-g (GFL head): per stride 8/16/32, sigmoid class scores [g*g, 80] and 4 x 11 distance bins."""
from __future__ import annotations

import numpy as np

from engine.models.boxes import letterbox, nms_per_class
from engine.models.detectors import Detector, RawDetections
from engine.models.onnx_runner import make_session

_MEAN = np.array([103.53, 116.28, 123.675], np.float32)
_STD = np.array([57.375, 57.12, 58.395], np.float32)
_STRIDES = (8, 16, 32)
_REG_MAX = 10


class NanoDet(Detector):
    def __init__(self, spec, path, labels, threads: int, device: str = "cpu"):
        self.name, self.spec, self.labels = spec.name, spec, labels
        self.size = spec.input_size
        self.session = make_session(path, threads, device)
        self.input_name = self.session.get_inputs()[0].name
        outs = {o.name: o.shape for o in self.session.get_outputs()}
        # Pair class and box outputs by grid size: [1, g*g, 80] with [1, g*g, 44].
        self.levels = []
        for stride in _STRIDES:
            cells = (self.size // stride) ** 2
            cls = next(n for n, s in outs.items() if s[1] == cells and s[2] == 80)
            reg = next(n for n, s in outs.items() if s[1] == cells and s[2] == 4 * (_REG_MAX + 1))
            g = self.size // stride
            i = np.arange(cells)
            centres = np.stack([(i % g) + 0.5, (i // g) + 0.5], 1).astype(np.float32) * stride  # [cells, 2]
            self.levels.append((stride, cls, reg, centres))
        self.output_names = [n for _, c, r, _ in self.levels for n in (c, r)]

    def prepare(self, image):
        canvas, lb = letterbox(image, self.size)
        x = (canvas.astype(np.float32) - _MEAN) / _STD              # BGR, as NanoDet was trained
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])        # [1, 3, S, S]
        return x, lb

    def infer(self, prepared):
        x, _ = prepared
        assert x.shape == (1, 3, self.size, self.size), f"NanoDet input must be [1, 3, {self.size}, {self.size}], got {x.shape}"
        return dict(zip(self.output_names, self.session.run(self.output_names, {self.input_name: x})))

    def decode(self, outputs, prepared, width, height, min_score):
        _, lb = prepared
        boxes, scores, classes = [], [], []
        bins = np.arange(_REG_MAX + 1, dtype=np.float32)
        for stride, cls_name, reg_name, centres in self.levels:
            cls = outputs[cls_name][0]                               # [cells, 80], already sigmoid
            best = cls.argmax(1)
            best_score = cls[np.arange(len(cls)), best]
            keep = best_score >= min_score
            if not keep.any():
                continue
            # Score every class above the floor, not just the best, so mAP sees all (box, class) pairs.
            cell_idx, cls_idx = np.nonzero(cls[keep] >= min_score)
            cells = np.nonzero(keep)[0][cell_idx]
            reg = outputs[reg_name][0][cells].reshape(-1, 4, _REG_MAX + 1)   # [k, 4, 11]
            reg = np.exp(reg - reg.max(-1, keepdims=True))
            dist = (reg / reg.sum(-1, keepdims=True)) @ bins * stride       # [k, 4] l, t, r, b
            c = centres[cells]
            boxes.append(np.concatenate([c - dist[:, :2], c + dist[:, 2:]], 1))
            scores.append(cls[cells, cls_idx])
            classes.append(cls_idx)
        if not boxes:
            return RawDetections.empty()
        b, s, c = np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)
        keep = nms_per_class(b, s, c, iou=0.6, max_out=100)
        return RawDetections(lb.to_frame(b[keep], width, height).astype(np.float32), s[keep].astype(np.float32), c[keep].astype(np.int64))


FAMILY = "nanodet"


def make(spec, registry, threads: int, device: str) -> NanoDet:
    from engine.models.detectors import labels_for
    from engine.models.registry import verified_path
    return NanoDet(spec, verified_path(spec), labels_for(spec), threads, device)
