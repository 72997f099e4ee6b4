"""MaxSight detectors trained with the training toolkit, run without torch: an ONNX export (see
training/export.py) plus its sidecar JSON. Outputs: scores [1, L, K] (objectness x class), boxes
[1, L, 4] xyxy in input pixels, distance / urgency / uncertainty. A t5 (temporal) export takes a
clip [1, T, 3, S, S]: the detector keeps the last T frames (repeating the first until it has T).

`decode` is shared with the torch runner (training/torch_detector.py), so both give the same boxes.
"""
from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np

from engine.models.boxes import letterbox, nms_per_class
from engine.models.detectors import Detector, RawDetections
from engine.models.mobilenet_v2 import imagenet_chw
from engine.models.onnx_runner import make_session
from engine.models.registry import ModelError


def preprocess(image_bgr: np.ndarray, size: int):
    canvas, lb = letterbox(image_bgr, size)
    return imagenet_chw(canvas), lb                                        # [3, S, S] RGB, ImageNet-normalised


def decode(scores: np.ndarray, boxes: np.ndarray, lb, width: int, height: int, min_score: float, max_out: int = 100) -> RawDetections:
    """scores [L, K], boxes [L, 4] input pixels -> every (cell, class) pair above min_score, NMS."""
    cells, classes = np.nonzero(scores >= min_score)
    if len(cells) == 0:
        return RawDetections.empty()
    s = scores[cells, classes]
    if len(s) > 2000:                                # bound NMS work on a badly calibrated model
        top = np.argsort(-s)[:2000]
        cells, classes, s = cells[top], classes[top], s[top]
    b = boxes[cells].astype(np.float32)
    keep = nms_per_class(b, s, classes, iou=0.6, max_out=max_out)
    return RawDetections(lb.to_frame(b[keep], width, height).astype(np.float32), s[keep].astype(np.float32),
                         classes[keep].astype(np.int64))


class MaxSightDetector(Detector):
    """What the ONNX and the torch runners share: letterbox input (a clip of the last T frames for
    t5 models) and the decode. Subclasses set size and clip and implement infer -> (scores, boxes)."""
    size: int
    clip: int

    def _start_clip(self) -> None:
        self.frames: collections.deque = collections.deque(maxlen=max(self.clip, 1))

    def prepare(self, image):
        x, lb = preprocess(image, self.size)
        if not self.clip:
            return x[None], lb
        if not self.frames:
            self.frames.extend([x] * self.clip)
        self.frames.append(x)
        return np.stack(self.frames)[None], lb

    def decode(self, outputs, prepared, width, height, min_score):
        return decode(outputs[0], outputs[1], prepared[1], width, height, min_score)


class MaxSightOnnx(MaxSightDetector):
    """Labels: the sidecar's own class names when it lists them (a model trained on other classes
    than COCO's), else the label map the registry resolved (coco80 for older exports)."""

    def __init__(self, spec, path, labels, threads: int, device: str = "cpu"):
        meta = json.loads(Path(spec.metadata).read_text())
        own = meta.get("labels")
        self.name, self.spec, self.labels = spec.name, spec, list(own) if isinstance(own, list) else list(labels)
        self.size, self.clip = int(meta["input_size"]), int(meta.get("clip_frames", 0))
        self.session = make_session(path, threads, device)
        self.input_name = self.session.get_inputs()[0].name
        scores = next((o for o in self.session.get_outputs() if o.name == "scores"), None)
        k = scores.shape[-1] if scores is not None and scores.shape else None
        if isinstance(k, int) and k != len(self.labels):
            raise ModelError(f"{path} scores {k} classes but its labels name {len(self.labels)}; export it again with `maxsight export`")
        self._start_clip()

    def infer(self, prepared):
        x, _ = prepared
        scores, boxes = self.session.run(["scores", "boxes"], {self.input_name: x})
        return scores[0], boxes[0]


FAMILY = "maxsight"


def make(spec, registry, threads: int, device: str) -> MaxSightOnnx:
    from engine.models.detectors import labels_for
    from engine.models.registry import verified_path
    return MaxSightOnnx(spec, verified_path(spec), labels_for(spec), threads, device)
