"""Stand-ins for a model runtime that fails, as a broken GPU driver or corrupt session would."""
from __future__ import annotations

from engine.models.detectors import Detector, RawDetections


class FlakyRuntimeDetector(Detector):
    """Wraps a real detector; every `fail_every`-th inference raises like a runtime error."""

    def __init__(self, inner: Detector, fail_every: int):
        self.inner, self.fail_every = inner, fail_every
        self.name, self.spec, self.labels = inner.name, inner.spec, inner.labels
        self.calls = 0

    def detect_raw(self, image, min_score=0.05, timings=None) -> RawDetections:
        self.calls += 1
        if self.calls % self.fail_every == 0:
            raise RuntimeError("ONNXRuntimeError: device lost")
        return self.inner.detect_raw(image, min_score, timings)


class ScriptedDetector(Detector):
    """A runtime that reports what a script says it sees, frame by frame: for measuring code whose
    right answer must be known exactly (a perfect detector, a blind one)."""

    def __init__(self, inner: Detector | None, script, labels: list[str] | None = None, name: str = "scripted"):
        """script(call number) -> [(box, class id, score), ...]. Names and labels come from `inner`,
        or without one from `labels` (a model that is not installed here: the door and stairs one)."""
        self.inner, self.script = inner, script
        if inner is not None:
            self.name, self.spec, self.labels = inner.name, inner.spec, inner.labels
        else:
            self.name, self.spec, self.labels = name, None, list(labels or [])
        self.calls = 0

    def detect_raw(self, image, min_score=0.05, timings=None) -> RawDetections:
        import numpy as np
        seen = [d for d in self.script(self.calls) if d[2] >= min_score]
        self.calls += 1
        if not seen:
            return RawDetections.empty()
        return RawDetections(np.array([d[0] for d in seen], np.float32).reshape(-1, 4), np.array([d[2] for d in seen], np.float32),
                             np.array([d[1] for d in seen], np.int64))
