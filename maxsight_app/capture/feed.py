"""The capture feed: one iterator of (Frame, AudioChunk | None) with pacing, used by headless runs,
the window's worker, evaluation and benchmarks alike.

Sound comes with the picture: a video file's own audio track, released in step with video time;
a camera's microphone; or nothing (`audio=False`, or neither exists, with a note saying which).
Each AudioChunk holds the samples that arrived since the previous frame.

Pacing: `realtime=True` plays a file at its own speed and drops a frame that arrives after its
successor is due, as a live camera would; otherwise frames come as fast as they are consumed.
`pause(True)` holds a file's position: the time paused does not count, so on resume it goes on
from the frame it stopped at (the frames of the pause were dropped as late, and the video jumped).
A file that ends before the frame count its container declares says so (`ended_early`).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterator

from engine.types import AudioChunk, Frame
from maxsight_app.capture.video import CameraSource, FrameSource, VideoFileSource

log = logging.getLogger(__name__)
SAMPLE_RATE = 16000          # what Stage B's sound and caption models take


@dataclass
class FeedStats:
    frames: int = 0
    dropped: int = 0
    decode_ms: float = 0.0           # the last frame's
    ended_early: str | None = None   # one sentence when a file stopped before its declared length
    notes: list[str] = field(default_factory=list)


class Feed:
    """Owns a frame source and its sound source; iterate once, then close (or use `with`)."""

    def __init__(self, source: FrameSource, realtime: bool = False, audio: bool = True, max_frames: int | None = None,
                 clock=time.monotonic, sleep=time.sleep):
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames}")
        self.source, self.realtime, self.max_frames = source, realtime, max_frames
        self._clock, self._sleep = clock, sleep
        self._paused_at: float | None = None
        self._paused_s = 0.0                  # time spent paused, not counted in a file's pacing
        self.stats = FeedStats()
        self._track = None
        self._mic = None
        self._buffer = None
        if audio:
            self._open_audio()

    @property
    def description(self) -> str:
        return self.source.description

    def _open_audio(self) -> None:
        if isinstance(self.source, VideoFileSource):
            from maxsight_app.capture.video_audio import VideoAudioTrack
            self._track = VideoAudioTrack.open(self.source.path, SAMPLE_RATE)
            self._buffer = self._track.buffer if self._track else None
            self.stats.notes.append("Sound: from the video's audio track" if self._track
                                    else "Sound: this video has no audio track")
        elif isinstance(self.source, CameraSource):
            from maxsight_app.capture.microphone import MicrophoneSource
            mic = MicrophoneSource(SAMPLE_RATE)
            reason = mic.check()
            if reason:
                self.stats.notes.append(f"{reason[:1].upper()}{reason[1:]}: sound alerts and captions are off.")
                return
            mic.start()
            self._mic, self._buffer = mic, mic.buffer

    def pause(self, paused: bool) -> None:
        """Hold (True) or go on (False); any thread. The caller stops taking frames meanwhile."""
        now = self._clock()
        if paused and self._paused_at is None:
            self._paused_at = now
        elif not paused and self._paused_at is not None:
            self._paused_s += now - self._paused_at
            self._paused_at = None

    def _frames(self) -> Iterator[Frame]:
        start = self._clock()
        it = iter(self.source)
        while True:
            t0 = time.perf_counter()
            try:
                frame = next(it)
            except StopIteration:
                return
            self.stats.decode_ms = (time.perf_counter() - t0) * 1e3
            if self.realtime and self.source.frame_count is not None:
                now = self._clock()
                paused = self._paused_s + (now - self._paused_at if self._paused_at is not None else 0.0)
                due = start + paused + frame.timestamp
                if now > due + 1.0 / self.source.fps:
                    self.stats.dropped += 1
                    continue
                if now < due:
                    self._sleep(due - now)
            yield frame

    def __iter__(self) -> Iterator[tuple[Frame, AudioChunk | None]]:
        heard = self._buffer.written if self._buffer is not None else 0
        for frame in self._frames():
            if self.max_frames is not None and self.stats.frames >= self.max_frames:
                return
            if self._track is not None:
                self._track.feed_until(frame.timestamp)
            chunk = None
            if self._buffer is not None:
                new, heard = self._buffer.written - heard, self._buffer.written
                if new > 0:
                    chunk = AudioChunk(frame.timestamp, self._buffer.latest(new), SAMPLE_RATE)
            self.stats.frames += 1
            yield frame, chunk
        self.stats.ended_early = getattr(self.source, "ended_early", None)

    def stop(self) -> None:
        """From another thread: end the iteration at the next frame (cameras block in read)."""
        stop = getattr(self.source, "stop", None)
        if stop is not None:
            stop()

    def close(self) -> None:
        try:
            self.source.close()
        finally:
            if self._track is not None:
                self._track.close()
            if self._mic is not None:
                self._mic.stop()

    def __enter__(self) -> "Feed":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
