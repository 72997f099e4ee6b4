"""Pipeline.step(frame, audio) -> FrameResult. Stage A runs to completion for every frame.

What the pipeline owns: the detector, the tracker, the urgency smoother, and the hand-off to
Stage B (the decision point, audio backlogs, draining results). What it never does: wait for
Stage B, speak, or know about the user's preferences (those belong to the cue policy).

After Stage A comes the seed's decision point: frame-based Stage B work is skipped for this frame
when Stage A took over STAGE_A_SLOW_MS, its uncertainty is over UNCERTAIN, or the CPU is
saturated. Audio (sounds, captions) is exempt: a dark frame is no reason to stop listening for a
smoke alarm. Stage B runs in its own process (engine.stage_b.scheduler); results finished since
the last frame are merged in with their age. Stage A never waits for Stage B.
Audio tasks are streams: a gap turns speech into nonsense, so audio is never dropped at the queue.
While a task is busy its new audio waits here and goes over as one chunk when there is room;
only audio older than AUDIO_BACKLOG_S is dropped, and the result counts it.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from engine.config import CollisionConfig, EngineConfig, verify
from engine.device import pick_device
from engine.models import calibration
from engine.models.detectors import Detector, build
from engine.models.registry import ModelError, Registry
from engine.stage_a import hazards as hazard_rules
from engine.stage_a.access import AccessLane, with_details
from engine.stage_a.collision import CollisionLane
from engine.stage_a.stillness import PictureStillness
from engine.stage_a import quality
from engine.stage_a.tracking import Tracker
from engine.stage_a.urgency import UrgencySmoother
from engine.stage_a.page import PageCapture
from engine.types import (AudioChunk, CaptionJob, CaptionResult, DocumentJob, DocumentView, Frame, FrameResult, PageResult,
                          RecognitionJob, RecognitionResult, SoundJob, SoundResult, StageBReport, TextJob, TextResult)

STAGE_A_SLOW_MS = 200.0
AUDIO_BACKLOG_S = 30.0     # audio kept for a busy stream task before the oldest is dropped
FINISH_S = 120.0           # at the end of a file, how long Stage B's last answers are waited for
AUDIO_TASKS = {"sounds": SoundJob, "captions": CaptionJob}     # task -> its job type
AUDIO_RATE = 16000
OCR_EVERY_S = 3.0          # opportunistic reading, when the decision point allows
WATCH_OCR_EVERY_S = 1.0    # ... while the user watches for a word (the cadence `eval watch-for` measures)
RECOGNISE_EVERY_S = 2.0    # personal objects: crops of confirmed tracks, advisory only
RECOGNISE_MAX = 4
UNCERTAIN = 0.7
CPU_SATURATED = 1.5        # 1-minute load average per core
MIN_CROP_PX = 40           # a smaller crop (after clamping to the frame) tells the embedder nothing


def crop_box(image: np.ndarray, box) -> np.ndarray | None:
    """The part of `image` ([H, W, 3]) inside `box` (x1, y1, x2, y2 in pixels), clamped to the frame.
    Tracked boxes coast past the edges (a box can start left of the frame); slicing with a negative
    start wraps round and gives an empty crop, which made the embedder divide by zero. None when
    what is left inside the frame is under MIN_CROP_PX on a side."""
    h, w = image.shape[:2]
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < MIN_CROP_PX or y2 - y1 < MIN_CROP_PX:
        return None
    return image[y1:y2, x1:x2].copy()


log = logging.getLogger(__name__)


class _StageBOut(NamedTuple):
    sounds: tuple = ()
    captions: tuple = ()
    texts: tuple = ()
    texts_asked: bool = False
    recognised: tuple = ()
    report: StageBReport | None = None
    document_texts: tuple | None = None     # a page read in document mode (PageResult), when one came


class Pipeline:
    """Stage A for every frame, then the decision point that feeds Stage B."""

    def __init__(self, config: EngineConfig, registry: Registry, detector: Detector | None = None, stage_b=None):
        self.config = verify(config)
        self.device = pick_device(config.device)
        spec = registry.get(config.detector)
        self.detector = detector or build(spec, registry, threads=config.threads, device=self.device)
        self.calibration = calibration.load(spec.name, spec.birth_score)
        self.tracker = Tracker(config.tracker, birth_score=self.calibration.birth, keep_score=spec.keep_score)
        self.keep_score = spec.keep_score
        self.smoother = UrgencySmoother()
        self.stillness = PictureStillness()
        self._detector_failed = False
        self.stage_b = stage_b            # a StageBScheduler, or None for Stage A only (tier T0)
        self._audio_backlog: dict[str, list] = {t: [] for t in AUDIO_TASKS}
        self._text_asked = False
        self._last_ocr_t = -1e9
        self._ocr_every = OCR_EVERY_S
        self._last_recognise_t = -1e9
        self.audio_dropped_s = 0.0
        self.document: PageCapture | None = None       # document mode: finds the page, picks the frame
        self._page: np.ndarray | None = None            # a flattened page waiting for the text reader
        from engine.device import runs_on
        self.runs_on = runs_on(self.detector, self.device)     # what ONNX Runtime really uses, in words
        log.info("Stage A: %s on %s, %d threads", spec.name, self.runs_on, config.threads)
        self.notes: list[str] = []        # one sentence each, for the user (said once by the app)
        self.access = self._access_lane(config, registry)
        # Whatever is in the way, named or not (image motion -> time to contact): engine/stage_a/collision.py
        self.collision = CollisionLane(config.camera, config.collision) if config.collision.enabled else None

    def _access_lane(self, config: EngineConfig, registry: Registry) -> AccessLane | None:
        """The door and stairs detector beside the COCO one, or None with a note saying why not."""
        if not config.access:
            return None
        if config.access not in registry.names() and not config.access.endswith((".onnx", ".json", ".pt")):
            self.notes.append("Doors and stairs are not detected: this MaxSight has no door and stairs model.")
            return None
        try:
            spec = registry.get(config.access)
            detector = build(spec, registry, threads=config.threads, device=self.device)
        except ModelError as exc:
            self.notes.append(f"Doors and stairs are not detected: {exc}")
            return None
        cal = calibration.load(spec.name, spec.birth_score)
        self.access_calibration = cal
        log.info("Stage A: doors and stairs with %s every %.2f s", spec.name, config.access_every_s)
        return AccessLane(detector, config.tracker, cal.birth, spec.keep_score, config.access_every_s)

    def _warns(self, label: str) -> bool:
        """May this class raise warnings? Not when its calibration (COCO or door and stairs model)
        found its precision under 60% on the dev half."""
        access = getattr(self, "access_calibration", None)
        return self.calibration.warns(label) and (access is None or access.warns(label))

    def _report_score(self, label: str, area_fraction: float) -> float:
        """The birth score of this class and box size (its model's calibration)."""
        access = getattr(self, "access_calibration", None)
        if access is not None and label in calibration.ACCESS_GROUPS:
            return access.birth(label, area_fraction)
        return self.calibration.birth(label, area_fraction)

    def reset(self) -> None:
        """Forget tracks, e.g. when the source changes."""
        self.tracker.reset()
        if self.access is not None:
            self.access.reset()
        if self.collision is not None:
            self.collision.reset()
        self.smoother = UrgencySmoother()
        self.stillness.reset()
        # The source's clock starts again: readings timed on the old clock would wait for it to
        # catch up (after a replay of a 90 s file, no opportunistic reading for 90 s).
        self._last_ocr_t = self._last_recognise_t = -1e9

    def set_collision(self, config: CollisionConfig) -> None:
        """Switch the collision lane on, off or to another operating point (the user's setting),
        between frames: call it on the thread that calls step()."""
        if config == self.config.collision:
            return
        self.config = replace(self.config, collision=config)
        self.collision = CollisionLane(self.config.camera, config) if config.enabled else None

    def watch_text(self, on: bool) -> None:
        """Read text more often (every WATCH_OCR_EVERY_S) while the user watches for a word; still
        only when the decision point allows and no reading is waiting, so Stage A never waits."""
        self._ocr_every = WATCH_OCR_EVERY_S if on else OCR_EVERY_S

    def request_text(self) -> bool:
        """'Read text now': the next frame goes to the text reader ahead of the schedule. False when
        this build has no text reader running."""
        if self.stage_b is None or "ocr" not in self.stage_b.specs or "ocr" in self.stage_b.status.disabled:
            return False
        self._text_asked = True
        return True

    def document_mode(self, on: bool) -> bool:
        """Document mode on (a fresh page) or off. False when this build has no text reader."""
        if not on:
            self.document, self._page = None, None
            return True
        if self.stage_b is None or "ocr" not in self.stage_b.specs or "ocr" in self.stage_b.status.disabled:
            return False
        self.document, self._page = PageCapture(), None
        return True

    def _document(self, frame: Frame) -> DocumentView:
        """Document mode, every frame: guidance, and the sharpest whole page to the text reader."""
        step = self.document.update(frame.image)
        if step.captured is not None:
            self._page = step.captured
        if self._page is not None and self.stage_b.submit("ocr", DocumentJob(self._page), t=frame.timestamp):
            self._page = None
        corners = tuple(map(tuple, step.page.corners.tolist())) if step.page is not None else None
        return DocumentView(step.guidance, corners, reading=self.document.done)

    def _skip_reason(self, stage_a_ms: float, uncertainty: float) -> str | None:
        if stage_a_ms > STAGE_A_SLOW_MS:
            return "stage_a_slow"
        if uncertainty > UNCERTAIN:
            return "uncertain"
        if hasattr(os, "getloadavg") and os.getloadavg()[0] / (os.cpu_count() or 1) > CPU_SATURATED:
            return "cpu_busy"
        return None

    def _stage_b(self, frame: Frame, audio: AudioChunk | None, stage_a_ms: float, uncertainty: float, hazards=()):
        if self.stage_b is None:
            return _StageBOut()
        skipped = self._skip_reason(stage_a_ms, uncertainty)
        if audio is not None:
            assert audio.sample_rate == AUDIO_RATE, f"Stage B takes {AUDIO_RATE} Hz audio, got {audio.sample_rate} Hz"
        self._send_audio(audio.samples if audio is not None else None, frame.timestamp)
        if "ocr" in self.stage_b.specs and self.stage_b.pending_for("ocr") == 0:
            due = frame.timestamp - self._last_ocr_t >= self._ocr_every and skipped is None and self.document is None
            if self._text_asked or due:      # asked for: even an uncertain frame is worth a try
                if self.stage_b.submit("ocr", TextJob(frame.image, frame.timestamp, self._text_asked), t=frame.timestamp):
                    self._last_ocr_t, self._text_asked = frame.timestamp, False
        if ("recognition" in self.stage_b.specs and self.stage_b.pending_for("recognition") == 0 and skipped is None
                and frame.timestamp - self._last_recognise_t >= RECOGNISE_EVERY_S and hazards):
            big = sorted(hazards, key=lambda h: -(h.box[2] - h.box[0]) * (h.box[3] - h.box[1]))[:RECOGNISE_MAX]
            crops = [(h.track_id, c) for h in big if (c := crop_box(frame.image, h.box)) is not None]
            if crops and self.stage_b.submit("recognition", RecognitionJob(tuple(crops)), t=frame.timestamp):
                self._last_recognise_t = frame.timestamp
        return self._answers(skipped)

    def _send_audio(self, samples: np.ndarray | None, t: float) -> None:
        """New audio joins each audio task's backlog; a backlog goes over as one chunk when its task
        has room (only audio older than AUDIO_BACKLOG_S is dropped, and counted)."""
        for task, job_type in AUDIO_TASKS.items():
            if task not in self.stage_b.specs or task in self.stage_b.status.disabled:
                continue
            backlog = self._audio_backlog[task]
            if samples is not None and len(samples):
                backlog.append(samples)
            if backlog and self.stage_b.pending_for(task) < self.stage_b.max_pending:
                chunk = np.concatenate(backlog)
                limit = int(AUDIO_BACKLOG_S * AUDIO_RATE)
                if len(chunk) > limit:
                    self.audio_dropped_s += (len(chunk) - limit) / AUDIO_RATE
                    chunk = chunk[-limit:]
                if self.stage_b.submit(task, job_type(chunk.astype(np.float32, copy=False)), t=t):
                    backlog.clear()

    def _answers(self, skipped: str | None) -> _StageBOut:
        """What Stage B finished since the last call, by type, with the report on its state."""
        sounds, captions, texts, asked, recognised, max_age, page = [], [], (), False, [], 0.0, None
        for r in self.stage_b.drain():
            max_age = max(max_age, r.latency_s)
            v = r.value
            if isinstance(v, SoundResult):
                sounds += v.events
            elif isinstance(v, CaptionResult):
                captions += v.lines
            elif isinstance(v, PageResult):
                page = v.lines
            elif isinstance(v, TextResult):
                texts, asked = v.lines, v.asked
            elif isinstance(v, RecognitionResult):
                recognised += v.matches
            else:
                log.warning("Stage B %s answered with a %s, which no one reads", r.task, type(v).__name__)
        st = self.stage_b.status
        report = StageBReport(skipped, st.dropped, self.stage_b.pending, st.disabled, max_age, self.audio_dropped_s,
                              tasks=tuple(self.stage_b.specs))
        return _StageBOut(tuple(sounds), tuple(captions), texts, asked, tuple(recognised), report, page)

    def finish(self, last: FrameResult, timeout_s: float = FINISH_S) -> FrameResult | None:
        """The end of a file: what Stage B still owes for it (the last seconds' captions, a sound, a
        text read). On a busy machine the worker can be tens of seconds behind the video, and a file,
        unlike a camera, stops: without this its last words were never captioned. Sends the audio
        still waiting here, waits for the worker's answers (at most timeout_s; a hung or stopped
        worker is the scheduler's to restart) and returns them on `last`'s frame, with no picture
        findings (no new frame was seen). None when Stage B is off or owed nothing."""
        if self.stage_b is None:
            return None
        end = time.monotonic() + timeout_s
        parts: list[_StageBOut] = []
        while True:
            self._send_audio(None, last.timestamp)
            parts.append(self._answers(None))
            owed = self.stage_b.pending or any(self._audio_backlog[t] for t in AUDIO_TASKS
                                                if t in self.stage_b.specs and t not in self.stage_b.status.disabled)
            if not owed or time.monotonic() >= end:
                break
            self.stage_b.wait_idle(min(0.5, max(0.0, end - time.monotonic())))
        problems = self.stage_b.take_problems()
        texts = next((p.texts for p in reversed(parts) if p.texts), ())
        b = _StageBOut(sum((p.sounds for p in parts), ()), sum((p.captions for p in parts), ()), texts,
                       any(p.texts_asked for p in parts if p.texts), sum((p.recognised for p in parts), ()), parts[-1].report)
        if not (b.sounds or b.captions or b.texts or b.recognised or problems):
            return None
        return replace(last, detections=(), tracks=(), hazards=(), timings_ms={}, problems=problems, sounds=b.sounds,
                       captions=b.captions, stage_b=b.report, texts=b.texts, texts_asked=b.texts_asked,
                       recognised=b.recognised, document=None)

    def step(self, frame: Frame, audio: AudioChunk | None = None) -> FrameResult:
        """audio: the sound (16 kHz mono) that arrived since the previous frame, if any."""
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
        if self.access is not None:
            t_access = time.perf_counter()
            access_dets, access_tracks, problem = self.access.run(frame, timings)
            detections, tracks = detections + access_dets, tracks + access_tracks
            problems = problems + ((problem,) if problem else ())
            t3 += time.perf_counter() - t_access      # tracking time stays the COCO tracker's
        self.stillness.push(frame.image, frame.timestamp)
        hazards = hazard_rules.from_tracks(tracks, width, height, self.config.camera, self.smoother, frame.timestamp,
                                           warns=self._warns, report_score=self._report_score,
                                           still=self.stillness.box_still)
        if self.access is not None:
            hazards = with_details(hazards, tracks)
        if self.collision is not None:
            t_lane = time.perf_counter()
            lane = self.collision.update(frame.image, frame.timestamp, tracks)
            hazards = self.collision.join_stairs(tuple(sorted(hazards + lane, key=lambda h: (-int(h.urgency), -h.priority))),
                                                 frame.timestamp)
            timings["collision"] = (time.perf_counter() - t_lane) * 1e3
        t4 = time.perf_counter()
        timings["quality"] = (t1 - t0) * 1e3
        timings["tracking"] = (t3 - t2) * 1e3
        timings["geometry"] = (t4 - t3) * 1e3 - timings.get("collision", 0.0)     # the lane has its own step
        timings["stage_a"] = (t4 - t0) * 1e3
        unc = 1.0 if problems else quality.uncertainty(q, [d.score for d in detections])
        b = self._stage_b(frame, audio, timings["stage_a"], unc, hazards)
        doc = self._document(frame) if self.document is not None and self.stage_b is not None else None
        if doc is not None and b.document_texts is not None:
            doc = DocumentView(doc.guidance, doc.page, doc.reading, b.document_texts)
        if b.report is not None:
            problems = problems + self.stage_b.take_problems()
        return FrameResult(frame_index=frame.index, timestamp=frame.timestamp, image_size=(width, height),
                           detections=detections, tracks=tracks, hazards=hazards, quality=q,
                           uncertainty=unc, timings_ms=timings, model=self.detector.name, problems=problems,
                           sounds=b.sounds, captions=b.captions, stage_b=b.report, texts=b.texts,
                           texts_asked=b.texts_asked, recognised=b.recognised, document=doc)
