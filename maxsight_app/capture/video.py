"""Frame sources: a video file (replay), a folder of numbered pictures (an image sequence, such as
a MOTChallenge sequence's img1/ or the sequence folder holding it), or a camera, all through OpenCV.

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


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def image_sequence(folder: Path) -> tuple[list[Path], float | None]:
    """The pictures of an image-sequence folder, in order, and its frame rate when the folder says
    (MOTChallenge's seqinfo.ini `frameRate`). A sequence folder holding img1/ means img1/."""
    if (folder / "img1").is_dir():
        folder = folder / "img1"
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    fps = None
    for ini in (folder / "seqinfo.ini", folder.parent / "seqinfo.ini"):
        if ini.is_file():
            for line in ini.read_text(errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip().lower() == "framerate":
                    try:
                        fps = float(value)
                    except ValueError:
                        pass
            break
    return files, fps


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
        self._files: list[Path] | None = None
        if self.path.is_dir():
            self._open_sequence()
            return
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

    def _open_sequence(self) -> None:
        self._files, fps = image_sequence(self.path)
        self.cap = None
        if not self._files:
            raise SourceError(f"the folder {self.path.name} holds no pictures (.jpg or .png) to play as a video")
        first = cv2.imread(str(self._files[0]))
        if first is None:
            raise SourceError(f"{self._files[0].name} in {self.path.name} cannot be read as a picture")
        self._first = first
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        self.frame_count = len(self._files)
        self.description = f"picture sequence {self.path.name} ({len(self._files)} pictures)"
        self.ended_early = None
        self._stopped = False

    def _next_image(self, index: int):
        if self._files is None:
            ok, image = self.cap.read()
            return image if ok else None
        return cv2.imread(str(self._files[index])) if index < len(self._files) else None

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        image = self._first
        while image is not None and not self._stopped:
            yield Frame(index=index, timestamp=index / self.fps, image=image)
            index += 1
            image = self._next_image(index)
        # Containers round their frame counts: a frame or two short (or 1%) is not "early".
        if not self._stopped and self.frame_count and self.frame_count - index > max(2, 0.01 * self.frame_count):
            self.ended_early = (f"{self.path.name} ended early, at frame {index} of {self.frame_count}: "
                                "the file is damaged or truncated")
            log.warning("%s", self.ended_early)

    def stop(self) -> None:
        self._stopped = True

    def close(self) -> None:
        if self.cap is not None:
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
