"""The engine on a worker thread: source -> Session, results to the UI only by signal.

The loop runs inside `start()` on the worker's QThread. Stop, pause, on-demand requests and new
preferences arrive through a thread-safe queue read between frames, because the worker's own
event loop is busy while the loop runs. Widgets are never touched here.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from engine.types import FrameResult
from maxsight_app.capture.microphone import MicrophoneSource
from maxsight_app.capture.video import CameraSource, SourceError, VideoFileSource
from maxsight_app.capture.video_audio import VideoAudioTrack
from maxsight_app.cues.types import Cue
from maxsight_app.headless import paced
from maxsight_app.session import Session
from maxsight_app.ui.qt import QObject, Signal, Slot

log = logging.getLogger(__name__)
PREVIEW_WIDTH = 640


def sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else text


@dataclass(frozen=True)
class FrameView:
    """What the window needs of one frame."""
    result: FrameResult
    cues: tuple[Cue, ...]
    rgb: np.ndarray          # [h, w, 3] uint8 RGB preview, at most PREVIEW_WIDTH wide
    scale: float             # preview pixels per frame pixel
    fps: float               # frames handled per second, recent


class EngineWorker(QObject):
    frameReady = Signal(object)      # FrameView
    cueSaid = Signal(object)         # Cue answered on demand
    problem = Signal(str)            # one sentence for the user (shown and spoken)
    status = Signal(str)
    started = Signal(str)            # source description
    finished = Signal()

    def __init__(self, session: Session):
        super().__init__()
        self.session = session
        self._commands: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self.running = False
        self._source = None
        self.audio_buffer = None        # RingBuffer of the current source's sound, for Stage B

    # -- called from the GUI thread (thread-safe) ----------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        src = self._source
        if src is not None and hasattr(src, "stop"):
            src.stop()

    def set_paused(self, paused: bool) -> None:
        (self._paused.set if paused else self._paused.clear)()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def request(self, what: str) -> None:
        self._commands.put(("request", what))

    def request_cue(self, cue: Cue) -> None:
        self._commands.put(("say", cue))

    def set_prefs(self, prefs) -> None:
        self._commands.put(("prefs", prefs))

    def set_outputs(self, outputs: list) -> None:
        self._commands.put(("outputs", outputs))

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
            elif kind == "prefs":
                self.session.prefs = value
            elif kind == "outputs":
                old, self.session.outputs = self.session.outputs, value
                for o in old:
                    if o not in value:
                        o.close()

    @Slot(str)
    def start(self, source_spec: str) -> None:
        self._stop.clear()
        try:
            if source_spec.isdigit():
                source = CameraSource(int(source_spec), on_status=self.status.emit)
            else:
                source = VideoFileSource(source_spec)
        except SourceError as exc:
            self.problem.emit(sentence(str(exc)))
            self.finished.emit()
            return
        self._source = source
        self.running = True
        self.session.pipeline.reset()
        track, mic = None, None
        if isinstance(source, VideoFileSource):
            track = VideoAudioTrack.open(source.path)
            self.audio_buffer = track.buffer if track else None
            self.status.emit("Sound: from the video's audio track" if track else "Sound: this video has no audio track")
        else:
            mic = MicrophoneSource()
            reason = mic.check()
            if reason:
                self.problem.emit(f"{sentence(reason)[:-1]}: sound alerts and captions are off.")
                mic = None
            else:
                mic.start()
                self.audio_buffer = mic.buffer
        self.started.emit(source.description)
        stats: Counter = Counter()
        recent: list[float] = []
        heard = self.audio_buffer.written if self.audio_buffer is not None else 0
        try:
            for frame, _decode_ms in paced(source, realtime=True, stats=stats):
                self._drain()
                if self._stop.is_set():
                    break
                while self._paused.is_set() and not self._stop.is_set():
                    self._drain()
                    time.sleep(0.05)
                if track is not None:
                    track.feed_until(frame.timestamp)
                audio = None
                if self.audio_buffer is not None:
                    new = self.audio_buffer.written - heard
                    heard = self.audio_buffer.written
                    audio = self.audio_buffer.latest(new) if new > 0 else None
                tick = self.session.handle(frame, audio)
                now = time.perf_counter()
                recent = [t for t in recent if now - t < 2.0] + [now]
                fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
                img = frame.image
                scale = min(1.0, PREVIEW_WIDTH / img.shape[1])
                small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else img
                self.frameReady.emit(FrameView(tick.result, tuple(tick.cues), cv2.cvtColor(small, cv2.COLOR_BGR2RGB), scale, fps))
            self._drain()
        except SourceError as exc:
            self.problem.emit(sentence(str(exc)))
        except Exception as exc:  # noqa: BLE001 - report, never kill the thread silently
            log.exception("the engine stopped")
            self.problem.emit(f"The engine stopped: {exc}")
        finally:
            source.close()
            if track is not None:
                track.close()
            if mic is not None:
                mic.stop()
            self._source = None
            self.running = False
            self.finished.emit()
