"""Doors, handles and stairs: a second detector beside the COCO one, at its own cadence.

COCO has no door and no stairs, so MaxSight's own access detector (registry name "access",
trained by the toolkit on the accessibility photos) runs beside the COCO detector. It runs at most
every `every_s` seconds (0.2 s: five times a second, what stairs need at walking pace; at 10 fps
that is every other frame), so Stage A stays inside the frame interval. Its detections feed a
tracker of their own, whose ids start at FIRST_ID so they never collide with the COCO tracker's;
between runs the last tracks stand (at most every_s old). A model that judges stairs on the frame
and its mirror image (engine/models/detectors/flip.py) runs its plain view when it is due, merged
with the mirror view it ran on the frame after the previous plain view (0.1 s before at 10 fps):
no frame runs the model twice, and doors are tracked on the same frames as before. Both views run
on one frame only when no fresh mirror view is there: a source's first frame, the first after a
stall, and every run when frames come every_s or more apart (5 fps and slower). A door's handle
is not announced by itself: it becomes the door's detail ("handle on the right"), which is what a
hand reaching for the door needs.
"""
from __future__ import annotations

import logging
import time

from engine.config import TrackerConfig
from engine.models.detectors import Detector, RawDetections
from engine.models.detectors.flip import FlipAveraged
from engine.stage_a.tracking import Tracker
from engine.types import Detection, Frame, Hazard, Track

log = logging.getLogger(__name__)

FIRST_ID = 1_000_000
DOORS = frozenset({"door", "refrigerator door", "cabinet door"})
HANDLE = "handle"
HANDLE_MARGIN = 0.15      # a handle may stick out of its door's box by this share of the door's width
HANDLE_MIN_SCORE = 0.3    # handles are small: one seen now is enough, but not a faint guess


class AccessLane:
    """run(frame) -> (detections made this frame, access tracks now)."""

    def __init__(self, detector: Detector, tracker_config: TrackerConfig, birth_score, keep_score: float,
                 every_s: float = 0.2):
        self.detector = detector
        self.every_s = every_s
        self.keep_score = keep_score
        self.tracker = Tracker(tracker_config, birth_score=birth_score, keep_score=keep_score, first_id=FIRST_ID)
        self._last_t: float | None = None
        self._tracks: tuple[Track, ...] = ()
        self._failed = False
        # A two-view model's last mirror view (and when it was made), and whether the next frame owes one.
        self._mirror: RawDetections | None = None
        self._mirror_t, self._mirror_shape = 0.0, None
        self._mirror_due = False

    def reset(self) -> None:
        self.tracker.reset()
        self._last_t, self._tracks = None, ()
        self._mirror, self._mirror_due = None, False

    def due(self, t: float) -> bool:
        # A small tolerance: a 10 fps source's timestamps 0.1999... apart still count as 0.2 s.
        return self._last_t is None or t < self._last_t or t - self._last_t >= self.every_s - 1e-3

    def run(self, frame: Frame, timings: dict | None = None) -> tuple[tuple[Detection, ...], tuple[Track, ...], str | None]:
        """Detections made now (empty between runs), the access tracks, and a problem sentence when
        the detector failed (tracks then coast, as the COCO lane's do)."""
        two_views = isinstance(self.detector, FlipAveraged)
        if self._last_t is not None and frame.timestamp < self._last_t:
            self.reset()                      # the source started again
        due = self.due(frame.timestamp)
        t0 = time.perf_counter()
        problem = None
        mirror_frame = two_views and self._mirror_due and not due
        try:
            if mirror_frame:
                # The frame after a plain view: the mirror view, kept for the next plain view.
                self._mirror_due = False
                self._mirror = self.detector.detect_mirrored(frame.image, min_score=self.keep_score)
                self._mirror_t, self._mirror_shape = frame.timestamp, frame.image.shape
                self._add_time(timings, t0)
                return (), self._tracks, None
            if not due:
                return (), self._tracks, None
            self._last_t = frame.timestamp
            if not two_views:
                raw = self.detector.detect_raw(frame.image, min_score=self.keep_score)
            else:
                # With no mirror view made since the last plain view (a source's first frame, a
                # stall, frames further apart than every_s), or one older than every_s or of
                # another frame size, this frame runs both views.
                plain = self.detector.detect_plain(frame.image, min_score=self.keep_score)
                fresh = (self._mirror is not None and frame.timestamp - self._mirror_t <= self.every_s + 1e-3
                         and self._mirror_shape == frame.image.shape)
                mirrored = self._mirror if fresh else self.detector.detect_mirrored(frame.image, min_score=self.keep_score)
                self._mirror = None
                raw = self.detector.merge(plain, mirrored, self.keep_score)
                self._mirror_due = True
            detections = self.detector.to_detections(raw)
            self._failed = False
        except Exception as exc:  # noqa: BLE001 - Stage A must answer for every frame
            if not self._failed:
                log.exception("the door and stairs detector failed; Stage A continues without it this frame")
            self._failed = True
            detections, problem = (), f"door and stairs detector failed: {exc}"
            if mirror_frame:                  # not a run of its own: the tracks wait for the next plain view
                self._mirror = None
                return (), self._tracks, problem
        self._tracks = self.tracker.update(detections, frame.timestamp, frame.size)
        self._add_time(timings, t0)
        return detections, self._tracks, problem

    @staticmethod
    def _add_time(timings: dict | None, t0: float) -> None:
        if timings is not None:
            timings["access"] = timings.get("access", 0.0) + (time.perf_counter() - t0) * 1e3


def handle_side(door: Hazard | Track, tracks: tuple[Track, ...]) -> str | None:
    """'left' or 'right': where the handle of this door is, from a handle track inside the door's
    box (widened by HANDLE_MARGIN); the most confident handle wins. None when none is seen."""
    x1, y1, x2, y2 = door.box
    margin = HANDLE_MARGIN * (x2 - x1)
    best = None
    for tr in tracks:
        if tr.label != HANDLE or tr.misses > 0 or tr.score < HANDLE_MIN_SCORE:
            continue
        cx, cy = (tr.box[0] + tr.box[2]) / 2, (tr.box[1] + tr.box[3]) / 2
        if x1 - margin <= cx <= x2 + margin and y1 <= cy <= y2 and (best is None or tr.score > best.score):
            best = tr
    if best is None:
        return None
    return "right" if (best.box[0] + best.box[2]) / 2 > (x1 + x2) / 2 else "left"


def with_details(hazards: tuple[Hazard, ...], tracks: tuple[Track, ...]) -> tuple[Hazard, ...]:
    """Doors with the side of their handle as detail ("handle on the right")."""
    from dataclasses import replace
    out = []
    for h in hazards:
        if h.label in DOORS:
            side = handle_side(h, tracks)
            if side is not None:
                h = replace(h, detail=f"handle on the {side}")
        out.append(h)
    return tuple(out)
