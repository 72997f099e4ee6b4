"""The microphone, read by sounddevice into a ring buffer that Stage B (sounds, captions) reads
from. A missing microphone is one sentence from check(), and the app runs on without it."""
from __future__ import annotations

import logging
import threading

import numpy as np

log = logging.getLogger(__name__)


class RingBuffer:
    """The last `seconds` of mono float32 audio; writes from the audio thread, reads from any."""

    def __init__(self, seconds: float, sample_rate: int):
        self.sample_rate = sample_rate
        self._buf = np.zeros(int(seconds * sample_rate), np.float32)
        self._written = 0            # total samples ever written
        self._lock = threading.Lock()

    @property
    def written(self) -> int:
        return self._written

    def write(self, samples: np.ndarray) -> None:
        x = np.asarray(samples, np.float32).reshape(-1)
        n = len(self._buf)
        total = len(x)
        skipped = max(0, total - n)          # older than the buffer can hold: never stored
        x = x[skipped:]
        with self._lock:
            start = (self._written + skipped) % n
            first = min(len(x), n - start)
            self._buf[start:start + first] = x[:first]
            self._buf[:len(x) - first] = x[first:]
            self._written += total

    def latest(self, count: int) -> np.ndarray:
        """The most recent `count` samples (fewer if not yet recorded), oldest first."""
        n = len(self._buf)
        with self._lock:
            count = min(count, n, self._written)
            end = self._written % n
            idx = (np.arange(end - count, end)) % n
            return self._buf[idx].copy()


class MicrophoneSource:
    def __init__(self, sample_rate: int = 16000, seconds: float = 30.0, device=None):
        self.sample_rate = sample_rate
        self.device = device
        self.buffer = RingBuffer(seconds, sample_rate)
        self._stream = None

    def check(self) -> str | None:
        try:
            import sounddevice as sd
        except OSError:
            return "the PortAudio library is missing (Debian: apt-get install libportaudio2)"
        try:
            sd.query_devices(self.device, kind="input")
        except Exception:  # noqa: BLE001
            return "no microphone was found"
        return None

    def start(self) -> None:
        import sounddevice as sd

        def callback(indata, frames, time_info, status):  # runs on PortAudio's thread
            if status:
                log.debug("microphone: %s", status)
            self.buffer.write(indata[:, 0])

        self._stream = sd.InputStream(samplerate=self.sample_rate, channels=1, dtype="float32",
                                      device=self.device, callback=callback)
        self._stream.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
