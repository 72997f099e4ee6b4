"""Detector families. Each module is one family: a class with prepare / infer / decode.

`build(spec, registry, threads)` turns a registry spec into a runnable detector; a missing model
file is a ModelError that tells the user to run `maxsight models fetch`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from engine.models.registry import ModelError, ModelSpec, Registry, installed_path, load_labels
from engine.types import Detection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawDetections:
    """Detector output in frame pixels, every box above the detector's floor score."""
    boxes: np.ndarray    # [N, 4] float32 x1 y1 x2 y2
    scores: np.ndarray   # [N] float32
    classes: np.ndarray  # [N] int64, 0..79

    def __post_init__(self) -> None:
        n = len(self.scores)
        assert self.boxes.shape == (n, 4) and self.classes.shape == (n,), \
            f"RawDetections shapes disagree: boxes {self.boxes.shape}, scores {self.scores.shape}, classes {self.classes.shape}"

    @staticmethod
    def empty() -> "RawDetections":
        return RawDetections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


class Detector:
    """Base: subclasses implement prepare, infer and decode; detect() times each step."""
    name: str
    spec: ModelSpec
    labels: list[str]

    def prepare(self, image: np.ndarray):
        raise NotImplementedError

    def infer(self, prepared):
        raise NotImplementedError

    def decode(self, outputs, prepared, width: int, height: int, min_score: float) -> RawDetections:
        raise NotImplementedError

    def detect_raw(self, image: np.ndarray, min_score: float = 0.05, timings: dict | None = None) -> RawDetections:
        h, w = image.shape[:2]
        t0 = time.perf_counter()
        prepared = self.prepare(image)
        t1 = time.perf_counter()
        outputs = self.infer(prepared)
        t2 = time.perf_counter()
        raw = self.decode(outputs, prepared, w, h, min_score)
        t3 = time.perf_counter()
        if timings is not None:
            timings["preprocess"] = timings.get("preprocess", 0.0) + (t1 - t0) * 1e3
            timings["inference"] = timings.get("inference", 0.0) + (t2 - t1) * 1e3
            timings["postprocess"] = timings.get("postprocess", 0.0) + (t3 - t2) * 1e3
        return raw

    def to_detections(self, raw: RawDetections) -> tuple[Detection, ...]:
        return tuple(Detection(box=tuple(float(v) for v in b), class_id=int(c), label=self.labels[int(c)],
                               score=float(s), source=self.name)
                     for b, s, c in zip(raw.boxes, raw.scores, raw.classes))


def build(spec: ModelSpec, registry: Registry, threads: int = 2, device: str = "cpu") -> Detector:
    from engine.models.detectors import centernet, fused, maxsight, nanodet
    families = {"nanodet": nanodet.NanoDet, "centernet": centernet.CenterNet, "maxsight": maxsight.MaxSightOnnx}
    if spec.family not in ("nanodet", "centernet", "fused", "maxsight", "maxsight-checkpoint"):
        raise ModelError(f"model {spec.name!r} is not a detector")
    labels, _ = load_labels(spec.labels)
    if spec.family == "maxsight-checkpoint":
        try:
            from training.torch_detector import TorchDetector
        except ImportError:
            raise ModelError("running a training checkpoint needs torch (scripts/setup.sh --training); or export it with "
                             "`maxsight export`, which runs on ONNX Runtime") from None
        return TorchDetector.from_checkpoint(spec.metadata, threads=threads, device=device, name=spec.name)
    if spec.family == "fused":
        # Members run side by side when each can have a thread of its own (see fused.py).
        concurrent = threads >= len(spec.parts)
        part_threads = threads // len(spec.parts) if concurrent else threads
        parts = [build(registry.get(p), registry, part_threads, device) for p in spec.parts]
        return fused.FusedDetector(spec, parts, labels, concurrent=concurrent)
    if spec.family not in families:
        raise ModelError(f"model {spec.name!r} has family {spec.family!r}, which no detector module runs")
    path = installed_path(spec)
    if path is None and spec.family == "maxsight":
        raise ModelError(f"the exported model {spec.onnx_file} is missing; export it again with `maxsight export`")
    if path is None:
        raise ModelError(f"the model {spec.name!r} is not installed; run `maxsight models fetch` first")
    return families[spec.family](spec, path, labels, threads, device)
