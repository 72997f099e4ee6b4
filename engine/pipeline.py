"""Pipeline.step(frame) -> FrameResult. Stage A runs to completion for every frame it is given.

Stage B (text, sounds, captions, scene) attaches after Stage A's decision point; until its
processors exist the pipeline is Stage A only, and says so in the result's model field.
"""
from __future__ import annotations

import logging
import time

from engine.config import EngineConfig, verify
from engine.device import pick_device
from engine.models.detectors import Detector, build
from engine.models.registry import Registry
from engine.stage_a import hazards as hazard_rules
from engine.stage_a import quality
from engine.stage_a.tracking import Tracker
from engine.stage_a.urgency import UrgencySmoother
from engine.types import Frame, FrameResult

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(self, config: EngineConfig, registry: Registry, detector: Detector | None = None):
        self.config = verify(config)
        self.device = pick_device(config.device)
        spec = registry.get(config.detector)
        self.detector = detector or build(spec, registry, threads=config.threads, device=self.device)
        self.tracker = Tracker(config.tracker, birth_score=spec.birth_score, keep_score=spec.keep_score)
        self.keep_score = spec.keep_score
        self.smoother = UrgencySmoother()
        self._detector_failed = False
        log.info("Stage A: %s on %s, %d threads", spec.name, self.device, config.threads)

    def reset(self) -> None:
        """Forget tracks, e.g. when the source changes."""
        self.tracker.reset()
        self.smoother = UrgencySmoother()

    def step(self, frame: Frame) -> FrameResult:
        timings: dict[str, float] = {}
        width, height = frame.size
        t0 = time.perf_counter()
        q = quality.measure(frame.image)
        t1 = time.perf_counter()
        problems: tuple[str, ...] = ()
        try:
            raw = self.detector.detect_raw(frame.image, min_score=self.keep_score, timings=timings)
            detections = self.detector.to_detections(raw)
        except Exception as exc:  # noqa: BLE001 - Stage A must answer for every frame
            # Tracks coast on their motion model this frame; the result says the detector failed.
            if not self._detector_failed:
                log.exception("the detector failed; Stage A continues on tracking alone")
            self._detector_failed = True
            detections = ()
            problems = (f"detector failed: {exc}",)
        else:
            self._detector_failed = False
        t2 = time.perf_counter()
        tracks = self.tracker.update(detections, frame.timestamp, frame.size)
        t3 = time.perf_counter()
        hazards = hazard_rules.from_tracks(tracks, width, height, self.config.camera, self.smoother, frame.timestamp)
        t4 = time.perf_counter()
        timings["quality"] = (t1 - t0) * 1e3
        timings["tracking"] = (t3 - t2) * 1e3
        timings["geometry"] = (t4 - t3) * 1e3
        timings["stage_a"] = (t4 - t0) * 1e3
        unc = 1.0 if problems else quality.uncertainty(q, [d.score for d in detections])
        return FrameResult(frame_index=frame.index, timestamp=frame.timestamp, image_size=(width, height),
                           detections=detections, tracks=tracks, hazards=hazards, quality=q,
                           uncertainty=unc, timings_ms=timings, model=self.detector.name, problems=problems)
