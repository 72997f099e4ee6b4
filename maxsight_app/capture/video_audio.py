"""The audio track of a video file, for replay: decoded with PyAV (its wheel bundles ffmpeg) to
mono float32 at the Stage B rate, and written into a RingBuffer in step with video time, so
sounds and speech arrive when they happened, as a microphone would deliver them."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from maxsight_app.capture.microphone import RingBuffer

log = logging.getLogger(__name__)


class VideoAudioTrack:
    def __init__(self, container, stream, sample_rate: int, seconds: float):
        import av
        self.sample_rate = sample_rate
        self.buffer = RingBuffer(seconds, sample_rate)
        self._container = container
        self._frames = container.decode(stream)
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        self._decoded_s = 0.0
        self._done = False

    @staticmethod
    def open(path: str | Path, sample_rate: int = 16000, seconds: float = 30.0) -> "VideoAudioTrack | None":
        """None when the file has no audio track (or PyAV is missing): replay then runs silent."""
        try:
            import av
        except ImportError:
            log.info("PyAV is not installed; video files replay without their sound")
            return None
        try:
            container = av.open(str(path))
        except Exception:  # noqa: BLE001 - any container error means: no usable sound
            return None
        audio = [s for s in container.streams if s.type == "audio"]
        if not audio:
            container.close()
            return None
        return VideoAudioTrack(container, audio[0], sample_rate, seconds)

    @property
    def decoded_s(self) -> float:
        return self._decoded_s

    def feed_until(self, t: float) -> None:
        """Decode and release audio up to video time t (seconds)."""
        while not self._done and self._decoded_s < t:
            try:
                frame = next(self._frames)
            except StopIteration:
                self._done = True
                break
            except Exception as exc:  # noqa: BLE001 - a damaged audio packet must not stop the video
                log.warning("audio track decode error: %s", exc)
                self._done = True
                break
            for out in self._resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1).astype(np.float32)   # [n] mono float
                self.buffer.write(samples)
                self._decoded_s += len(samples) / self.sample_rate

    def close(self) -> None:
        self._container.close()
