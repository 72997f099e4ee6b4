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
import struct
import threading
import time
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
    """Lays clips on a timeline as a listener would hear them and writes them to FILE.wav (stereo
    int16) as time passes, plus FILE.json (start, end, text of each clip, and the stale ones
    dropped). `clock` gives the time to place a clip at: the video time of the frame being
    handled during replay.

    Streaming: audio before the clock's current time can no longer change (an interrupt cuts at
    "now"), so each call writes it out and rewrites the WAV header's sizes; a killed run leaves a
    valid WAV of everything heard up to its last cue, and a JSON that matches it."""
    name = "WAV file"
    FLUSH_EVERY_S = 1.0

    def __init__(self, path: Path, clock: Callable[[], float]):
        self.path = Path(path)
        self.json_path = self.path.with_suffix(".json")
        self.clock = clock
        self._clips: list[list] = []      # [start_s, samples, label] not yet fully written
        self._log: list[list] = []        # [start_s, end_s, label] of every clip placed
        self._busy_until = 0.0
        self._written_s = 0.0             # the WAV holds the mix up to here
        self._frames = 0
        self._file = None
        self.dropped: list[tuple[float, str]] = []   # (asked at, text) of stale clips

    def check(self) -> str | None:
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            return f"the folder for {self.path} does not exist"
        if self.path.is_dir():
            return f"{self.path} is a folder, not a file name"
        try:
            self._open()
        except OSError as exc:
            return f"{self.path} cannot be written ({exc.strerror or exc})"
        return None

    def _open(self) -> None:
        if self._file is None:
            self._file = open(self.path, "wb")
            self._file.write(self._header(0))
            self._file.flush()

    @staticmethod
    def _header(frames: int) -> bytes:
        data = frames * 4
        return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, SAMPLE_RATE,
                SAMPLE_RATE * 4, 4, 16) + b"data" + struct.pack("<I", data))

    def play(self, clip: np.ndarray, label: str = "", interrupt: bool = False) -> None:
        now = max(0.0, self.clock())
        if interrupt:
            self._cut(now)
            start = now
        else:
            start = max(now, self._busy_until)
            if start - now > MAX_WAIT_S:
                self.dropped.append((now, label))
                self._flush(now)
                return
        self._clips.append([start, clip, label])
        self._log.append([start, start + len(clip) / SAMPLE_RATE, label])
        self._busy_until = start + len(clip) / SAMPLE_RATE
        self._flush(now)

    def _cut(self, t: float) -> None:
        t = max(t, self._written_s)
        kept = []
        for start, clip, label in self._clips:
            if start >= t:
                continue
            end_n = int((t - start) * SAMPLE_RATE)
            kept.append([start, clip[:end_n], label])
        for entry in self._log:
            if entry[0] >= t:
                entry[2] = None                              # never heard
            elif entry[1] > t:
                entry[1], entry[2] = t, entry[2] + " [interrupted]"
        self._log = [e for e in self._log if e[2] is not None]
        self._clips = kept
        self._busy_until = t

    def _flush(self, upto: float, force: bool = False) -> None:
        """Write the mix from what is written up to `upto` (never past it: later audio may still
        be cut), then the header and the JSON."""
        if upto - self._written_s < self.FLUSH_EVERY_S and not force:
            return
        self._open()
        n = max(0, int(upto * SAMPLE_RATE) - self._frames)
        if n:
            mix = np.zeros((n, 2), np.float32)
            for start, clip, _ in self._clips:
                i = int(start * SAMPLE_RATE) - self._frames          # clip start, relative to the chunk
                a, b = max(0, -i), min(len(clip), n - i)
                if b > a:
                    mix[i + a:i + b] += clip[a:b]
            self._file.write((np.clip(mix, -1, 1) * 32767).astype("<i2").tobytes())
            self._frames += n
            self._written_s = self._frames / SAMPLE_RATE
            self._clips = [c for c in self._clips if c[0] + len(c[1]) / SAMPLE_RATE > self._written_s]
        self._file.seek(0)
        self._file.write(self._header(self._frames))
        self._file.seek(0, 2)
        self._file.flush()
        tmp = self.json_path.with_name(f".{self.json_path.name}.tmp")
        tmp.write_text(json.dumps(
            {"played": [{"start_s": round(s, 3), "end_s": round(e, 3), "text": lab} for s, e, lab in self._log],
             "dropped_stale": [{"asked_s": round(t, 3), "text": lab} for t, lab in self.dropped]}, indent=1))
        tmp.replace(self.json_path)

    def stop(self) -> None:
        self._cut(max(0.0, self.clock()))

    def close(self) -> None:
        end = max([s + len(c) / SAMPLE_RATE for s, c, _ in self._clips] + [self._written_s])
        self._flush(end, force=True)
        if self._file is not None:
            self._file.close()
            self._file = None
