"""Frame sources: a video file (replay) or a camera, both through OpenCV.

A source is an iterator of Frames plus `fps` and `close()`. Files give video time stamps (frame
index / fps) so results are reproducible; cameras give wall-clock time since opening.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator, Protocol

import cv2

from engine.types import Frame

log = logging.getLogger(__name__)


class SourceError(Exception):
    """The source cannot be opened or read; the message is one sentence for the user."""


class FrameSource(Protocol):
    fps: float
    description: str
    frame_count: int | None

    def __iter__(self) -> Iterator[Frame]: ...
    def close(self) -> None: ...


class VideoFileSource:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"the video file {self.path} does not exist")
        if not self.path.is_file():
            raise SourceError(f"{self.path} is not a file")
        self.cap = cv2.VideoCapture(str(self.path))
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok or first is None:
            self.cap.release()
            raise SourceError(f"{self.path.name} cannot be read as a video (unsupported format or damaged file)")
        self._first = first
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = n if n > 0 else None
        self.description = f"video {self.path.name}"
        self.ended_early: str | None = None   # set when the file stops before its declared length
        self._stopped = False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        image = self._first
        while image is not None and not self._stopped:
            yield Frame(index=index, timestamp=index / self.fps, image=image)
            index += 1
            ok, image = self.cap.read()
            if not ok:
                image = None
        # Containers round their frame counts: a frame or two short (or 1%) is not "early".
        if not self._stopped and self.frame_count and self.frame_count - index > max(2, 0.01 * self.frame_count):
            self.ended_early = (f"{self.path.name} ended early, at frame {index} of {self.frame_count}: "
                                "the file is damaged or truncated")
            log.warning("%s", self.ended_early)

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self.cap.release()


class CameraSource:
    """A webcam. When it stops delivering (unplugged, driver hiccup) it reports that through
    `on_status` and tries to reopen it once a second until it is back or `stop()` is called."""

    def __init__(self, index: int, backend: int = cv2.CAP_ANY, on_status=None, reopen_every_s: float = 1.0):
        self.index = index
        self.backend = backend
        self.on_status = on_status or (lambda msg: log.warning("%s", msg))
        self.reopen_every_s = reopen_every_s
        self._stopped = False
        self.cap = cv2.VideoCapture(index, backend)
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"no camera found at index {index}; plug one in or choose a video file")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        self.frame_count = None
        self.description = f"camera {index}"

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        index = 0
        failures = 0
        while not self._stopped:
            ok, image = self.cap.read()
            if ok and image is not None:
                if failures >= 10:
                    self.on_status(f"camera {self.index} is back")
                failures = 0
                yield Frame(index=index, timestamp=time.monotonic() - start, image=image)
                index += 1
                continue
            failures += 1
            if failures == 10:
                self.on_status(f"camera {self.index} stopped sending pictures; trying to reconnect")
            if failures >= 10:
                self.cap.release()
                time.sleep(self.reopen_every_s)
                self.cap = cv2.VideoCapture(self.index, self.backend)
            else:
                time.sleep(0.03)

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        self._stopped = True
        self.cap.release()


def list_cameras(max_index: int = 4) -> list[int]:
    """Indices of cameras that open now (tries 0..max_index-1)."""
    found = []
    for i in range(max_index):
        cap = cv2.VideoCapture(i)
        if cap.isOpened():
            found.append(i)
        cap.release()
    return found


def open_source(spec: str) -> FrameSource:
    """'0', '1', ... opens a camera; anything else is a video file path."""
    spec = str(spec).strip()
    if spec.isdigit():
        return CameraSource(int(spec))
    return VideoFileSource(spec)
