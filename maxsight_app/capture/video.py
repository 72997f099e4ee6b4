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

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        image = self._first
        while image is not None:
            yield Frame(index=index, timestamp=index / self.fps, image=image)
            index += 1
            ok, image = self.cap.read()
            if not ok:
                image = None

    def close(self) -> None:
        self.cap.release()


class CameraSource:
    def __init__(self, index: int, backend: int = cv2.CAP_ANY):
        self.index = index
        self.cap = cv2.VideoCapture(index, backend)
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"no camera found at index {index}; plug one in or choose a video file with --source")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        self.frame_count = None
        self.description = f"camera {index}"

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        index = 0
        failures = 0
        while True:
            ok, image = self.cap.read()
            if not ok or image is None:
                failures += 1
                if failures >= 30:
                    raise SourceError(f"camera {self.index} stopped delivering frames (unplugged?)")
                time.sleep(0.05)
                continue
            failures = 0
            yield Frame(index=index, timestamp=time.monotonic() - start, image=image)
            index += 1

    def close(self) -> None:
        self.cap.release()


def open_source(spec: str) -> FrameSource:
    """'0', '1', ... opens a camera; anything else is a video file path."""
    spec = str(spec).strip()
    if spec.isdigit():
        return CameraSource(int(spec))
    return VideoFileSource(spec)
