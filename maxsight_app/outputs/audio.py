"""Where rendered sound goes: the sound card (sounddevice) or a WAV timeline file.

Both take stereo float32 clips with `play(clip, label, interrupt)`. A normal clip waits for the one
playing; an interrupting clip (danger, stop) cuts what is playing and everything queued. A clip
that could not start within MAX_WAIT_S of being asked for is dropped: stale directions ("car,
2 o'clock") are worse than none, and the next frame's policy will speak again if it still matters.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
import wave
from pathlib import Path
from typing import Callable

import numpy as np

from maxsight_app.outputs.tones import SAMPLE_RATE

log = logging.getLogger(__name__)
MAX_WAIT_S = 2.0


def no_output_device_reason() -> str | None:
    """None when sounddevice can play, else one sentence why not."""
    try:
        import sounddevice as sd
    except OSError:
        return "the PortAudio library is missing (Debian: apt-get install libportaudio2)"
    except ImportError:
        return "the sounddevice package is not installed"
    try:
        sd.query_devices(kind="output")
    except Exception:  # noqa: BLE001 - PortAudio reports a missing device in several ways
        return "no sound output device was found"
    return None


class SoundDeviceSink:
    name = "sound card"

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._generation = 0            # bumped on interrupt: queued older clips are skipped
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def check(self) -> str | None:
        return no_output_device_reason()

    def _run(self) -> None:
        import sounddevice as sd
        while True:
            item = self._queue.get()
            if item is None:
                return
            gen, asked, clip = item
            with self._lock:
                if gen != self._generation:
                    continue
            if time.monotonic() - asked > MAX_WAIT_S:
                log.info("dropped a stale cue (waited %.1f s)", time.monotonic() - asked)
                continue
            try:
                sd.play(clip, SAMPLE_RATE)
                sd.wait()
            except Exception as exc:  # noqa: BLE001 - a device unplugged mid-cue must not kill the thread
                log.warning("sound output failed: %s", exc)

    def play(self, clip: np.ndarray, label: str = "", interrupt: bool = False) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sound-out", daemon=True)
            self._thread.start()
        if interrupt:
            self.stop()
        with self._lock:
            self._queue.put((self._generation, time.monotonic(), clip))

    def stop(self) -> None:
        import sounddevice as sd
        with self._lock:
            self._generation += 1
        sd.stop()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=2)


class WavFileSink:
    """Lays clips on a timeline as a listener would hear them, and writes FILE.wav (stereo int16)
    plus FILE.json (start, end, text of each clip) on close. `clock` gives the time to place a
    clip at: the video time of the frame being handled during replay."""
    name = "WAV file"

    def __init__(self, path: Path, clock: Callable[[], float]):
        self.path = Path(path)
        self.clock = clock
        self._clips: list[list] = []      # [start_s, samples, label]
        self._busy_until = 0.0
        self.dropped: list[tuple[float, str]] = []   # (asked at, text) of stale clips

    def check(self) -> str | None:
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            return f"the folder for {self.path} does not exist"
        return None

    def play(self, clip: np.ndarray, label: str = "", interrupt: bool = False) -> None:
        now = max(0.0, self.clock())
        if interrupt:
            self._cut(now)
            start = now
        else:
            start = max(now, self._busy_until)
            if start - now > MAX_WAIT_S:
                self.dropped.append((now, label))
                return
        self._clips.append([start, clip, label])
        self._busy_until = start + len(clip) / SAMPLE_RATE

    def _cut(self, t: float) -> None:
        kept = []
        for start, clip, label in self._clips:
            if start >= t:
                continue
            end_n = int((t - start) * SAMPLE_RATE)
            kept.append([start, clip[:end_n], label + (" [interrupted]" if end_n < len(clip) else "")])
        self._clips = kept
        self._busy_until = t

    def stop(self) -> None:
        self._cut(max(0.0, self.clock()))

    def close(self) -> None:
        end = max((s + len(c) / SAMPLE_RATE for s, c, _ in self._clips), default=0.0)
        mix = np.zeros((int(end * SAMPLE_RATE) + 1, 2), np.float32)
        for start, clip, _ in self._clips:
            i = int(start * SAMPLE_RATE)
            mix[i:i + len(clip)] += clip
        pcm = (np.clip(mix, -1, 1) * 32767).astype("<i2")
        with wave.open(str(self.path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(pcm.tobytes())
        self.path.with_suffix(".json").write_text(json.dumps(
            {"played": [{"start_s": round(s, 3), "end_s": round(s + len(c) / SAMPLE_RATE, 3), "text": lab} for s, c, lab in self._clips],
             "dropped_stale": [{"asked_s": round(t, 3), "text": lab} for t, lab in self.dropped]}, indent=1))
