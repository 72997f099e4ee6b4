"""The engine on a worker thread: capture feed -> Session, results to the UI only by signal.

The loop runs inside `start()` on the worker's QThread. Stop, pause, on-demand requests and a
changed profile arrive through a thread-safe queue read between frames, because the worker's own
event loop is busy while the loop runs. Widgets are never touched here; the runtime (pipeline,
Stage B, outputs) is only touched on this thread while the loop runs.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from engine.types import FrameResult
from maxsight_app.capture.feed import Feed
from maxsight_app.capture.video import CameraSource, SourceError, VideoFileSource
from maxsight_app.compose import Runtime, apply_profile, set_screen_reader
from maxsight_app.cues.phrasing import sentence
from maxsight_app.cues.types import Cue
from maxsight_app.ui.qt import QObject, Signal, Slot

log = logging.getLogger(__name__)
PREVIEW_WIDTH = 640


@dataclass(frozen=True)
class FrameView:
    """What the window needs of one frame."""
    result: FrameResult
    cues: tuple[Cue, ...]
    rgb: np.ndarray          # [h, w, 3] uint8 RGB preview, at most PREVIEW_WIDTH wide
    scale: float             # preview pixels per frame pixel
    fps: float               # frames handled per second, recent
    guidance: object = None  # find mode's answer for this frame (maxsight_app/find.py Guidance), when it is on


class EngineWorker(QObject):
    frameReady = Signal(object)      # FrameView
    cueSaid = Signal(object)         # Cue answered on demand
    problem = Signal(str)            # one sentence for the user (shown and spoken)
    notice = Signal(str)             # one sentence for the user, shown (not an error)
    status = Signal(str)
    started = Signal(str)            # source description
    finished = Signal(str)           # why it stopped: "end", "stopped", "error"
    resultProblem = Signal(str)      # one sentence from FrameResult.problems (Stage A or B), once per occurrence

    def __init__(self, runtime: Runtime):
        super().__init__()
        self.runtime = runtime
        self.session = runtime.session
        self._commands: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self.running = False
        self._feed: Feed | None = None
        self._last_problems: frozenset[str] = frozenset()  # the previous frame's problems (said already)

    # -- called from the GUI thread (thread-safe) ----------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        feed = self._feed
        if feed is not None:
            feed.stop()

    def set_paused(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()
        feed = self._feed
        if feed is not None:
            feed.pause(paused)            # the video holds its position while paused

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def request(self, what: str) -> None:
        self._commands.put(("request", what))

    def request_cue(self, cue: Cue) -> None:
        self._commands.put(("say", cue))

    def set_profile(self, profile) -> None:
        self._commands.put(("profile", profile))

    def set_screen_reader(self, running: bool) -> None:
        self._commands.put(("screen_reader", running))

    def start_find(self, target) -> None:
        self._commands.put(("find", target))

    def stop_find(self) -> None:
        self._commands.put(("find", None))

    def call(self, fn) -> None:
        """Run fn(runtime) on the engine thread between frames (e.g. document mode on or off)."""
        self._commands.put(("call", fn))

    # -- runs on the worker thread -------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            try:
                kind, value = self._commands.get_nowait()
            except queue.Empty:
                return
            if kind == "request":
                self.cueSaid.emit(self.session.request(value))
            elif kind == "say":
                self.session.say(value)
            elif kind == "profile":
                for note in apply_profile(self.runtime, value):
                    self.notice.emit(note)
            elif kind == "screen_reader":
                for note in set_screen_reader(self.runtime, value):
                    self.notice.emit(note)
            elif kind == "find":
                if value is None:
                    self.session.stop_find()
                else:
                    self.session.start_find(value)
            elif kind == "call":
                value(self.runtime)

    def _report_problems(self, result: FrameResult) -> None:
        """The frame's problems, from the FrameResult only (Stage B's are handed out once by the
        pipeline; a lasting one such as a failing detector is in every frame and said when it
        begins)."""
        for text in result.problems:
            if text not in self._last_problems:
                self.resultProblem.emit(sentence(text))
        self._last_problems = frozenset(result.problems)

    @Slot(str)
    def start(self, source_spec: str) -> None:
        self._stop.clear()
        try:
            source = CameraSource(int(source_spec), on_status=self.status.emit) if source_spec.isdigit() \
                else VideoFileSource(source_spec)
        except SourceError as exc:
            self.problem.emit(sentence(str(exc)))
            self.finished.emit("error")
            return
        feed = Feed(source, realtime=True, audio=self.runtime.stage_b is not None)
        self._feed = feed
        if self._paused.is_set():
            feed.pause(True)
        self.running = True
        self._last_problems = frozenset()
        self.session.restart()             # the policy's clock and tracks start afresh too
        for note in feed.stats.notes:
            self.status.emit(note)
        self.started.emit(source.description)
        recent: list[float] = []
        why = "end"
        try:
            for frame, audio in feed:
                self._drain()
                if self._stop.is_set():
                    why = "stopped"
                    break
                while self._paused.is_set() and not self._stop.is_set():
                    self._drain()
                    time.sleep(0.05)
                tick = self.session.handle(frame, audio)
                self._report_problems(tick.result)
                now = time.perf_counter()
                recent = [t for t in recent if now - t < 2.0] + [now]
                fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
                img = frame.image
                scale = min(1.0, PREVIEW_WIDTH / img.shape[1])
                small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img
                self.frameReady.emit(FrameView(tick.result, tuple(tick.cues), cv2.cvtColor(small, cv2.COLOR_BGR2RGB), scale, fps,
                                               tick.guidance))
            if self._stop.is_set():
                why = "stopped"
            self._drain()
            if feed.stats.ended_early:
                self.problem.emit(sentence(feed.stats.ended_early))
        except SourceError as exc:
            why = "error"
            self.problem.emit(sentence(str(exc)))
        except Exception as exc:  # noqa: BLE001 - report, never kill the thread silently
            why = "error"
            log.exception("the engine stopped")
            self.problem.emit(f"The engine stopped: {exc}")
        finally:
            feed.close()
            self._feed = None
            self.running = False
            self.finished.emit(why)
