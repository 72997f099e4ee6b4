"""Detector families. Each module is one family: a class with prepare / infer / decode.

`build(spec, registry, threads)` turns a registry spec into a runnable detector; a missing model
file is a ModelError that tells the user to run `maxsight models fetch`. The engine's families are
wired in here, where they are defined (BUILTIN_MODULES); the registry is data and imports none of
them, and holds only the families added from outside the engine.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.models.spec import ModelError, ModelSpec, load_labels
from engine.types import Detection

if TYPE_CHECKING:
    from engine.models.registry import Registry

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


BUILTIN_MODULES = ("nanodet", "centernet", "fused", "maxsight")   # each declares FAMILY and make()


def builtin_families() -> dict:
    """family key -> factory for the detector modules in this package."""
    import importlib
    table = {}
    for name in BUILTIN_MODULES:
        module = importlib.import_module(f"engine.models.detectors.{name}")
        table[module.FAMILY] = module.make
    return table


def families(registry: Registry) -> dict:
    """Every family that can run a model of `registry`: the engine's own, then those its builder
    added (a builder's family of the same key wins)."""
    return {**builtin_families(), **registry.families}


def build(spec: ModelSpec, registry: Registry, threads: int = 2, device: str = "cpu") -> Detector:
    """A runnable detector for `spec`, through the family table (families()). Model files are
    checked against their recorded hashes first (registry.verified_path). A spec with flip_classes
    judges those classes on the frame and its mirror image (detectors/flip.py)."""
    table = families(registry)
    if spec.family not in table:
        if spec.family == "maxsight-checkpoint":
            raise ModelError("running a training checkpoint needs torch (scripts/setup.sh --training); or export it with "
                             "`maxsight export`, which runs on ONNX Runtime")
        raise ModelError(f"model {spec.name!r} is not a detector (family {spec.family!r})")
    detector = table[spec.family](spec, registry, threads, device)
    if spec.flip_classes:
        # flip.py builds on this module, as the family modules do: loaded the same way (BUILTIN_MODULES).
        import importlib
        flip = importlib.import_module("engine.models.detectors.flip")
        detector = flip.FlipAveraged(detector, spec.flip_iou, spec.flip_classes)
    return detector


def labels_for(spec: ModelSpec) -> list[str]:
    return load_labels(spec.labels)[0]
