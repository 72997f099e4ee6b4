"""Where rendered sound goes: the sound card (sounddevice) or a WAV timeline file.

Both take stereo float32 clips with `play(clip, label, urgency)`, and make room by urgency rather
than by order of arrival:
  * a danger cuts whatever less urgent is playing or waiting, but never another danger: it plays
    right after it (two dangers in a busy street must both be heard whole); a warning about the
    same object (`key`) with under FINISH_S left is let finish, the danger straight after it;
  * a warning makes the cautions still waiting yield (they are dropped, recorded as yielded), and
    goes before them;
  * only a caution (or anything less) that could not start within MAX_WAIT_S is dropped as stale:
    stale directions ("car, 2 o'clock") are worse than none, and the policy speaks again if it
    still matters. Warnings and dangers are never dropped.
`stop()` silences everything (the user's "stop all speech").
"""
from __future__ import annotations

import json
import logging
import struct
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from maxsight_app.outputs.tones import SAMPLE_RATE

WARNING, DANGER = 2, 3          # engine.types.Urgency values (outputs take plain ints)

log = logging.getLogger(__name__)
MAX_WAIT_S = 2.0
FINISH_S = 1.2


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
        self._pending: list[list] = []   # [asked, clip, urgency, label], in the order they will play
        self._cv = threading.Condition()
        self._playing: tuple[int, float] | None = None    # (urgency, expected end) of the clip playing
        self._thread: threading.Thread | None = None
        self._closed = False

    def check(self) -> str | None:
        return no_output_device_reason()

    def _run(self) -> None:
        import sounddevice as sd
        while True:
            with self._cv:
                while not self._pending and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                asked, clip, urgency, label, key = self._pending.pop(0)
                if urgency < WARNING and time.monotonic() - asked > MAX_WAIT_S:
                    log.info("dropped a stale cue (waited %.1f s): %s", time.monotonic() - asked, label)
                    continue
                self._playing = (urgency, time.monotonic() + len(clip) / SAMPLE_RATE, key)
            try:
                sd.play(clip, SAMPLE_RATE)
                sd.wait()
            except Exception as exc:  # noqa: BLE001 - a device unplugged mid-cue must not kill the thread
                log.warning("sound output failed: %s", exc)
            with self._cv:
                self._playing = None

    def play(self, clip: np.ndarray, label: str = "", urgency: int = 0, key=None) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sound-out", daemon=True)
            self._thread.start()
        cut = False
        with self._cv:
            if urgency >= WARNING:
                floor = DANGER if urgency >= DANGER else WARNING
                self._pending = [p for p in self._pending if p[2] >= floor]      # less urgent ones yield
                at = sum(1 for p in self._pending if p[2] >= urgency)           # after its equals, before the rest
                self._pending.insert(at, [time.monotonic(), clip, urgency, label, key])
                cut = urgency >= DANGER and self._playing is not None and self._playing[0] < DANGER and not (
                    key is not None and self._playing[2] == key and self._playing[1] - time.monotonic() <= FINISH_S)
            else:
                self._pending.append([time.monotonic(), clip, urgency, label, key])
            self._cv.notify()
        if cut:
            import sounddevice as sd
            sd.stop()

    def backlog_s(self) -> float:
        with self._cv:
            playing = max(0.0, self._playing[1] - time.monotonic()) if self._playing else 0.0
            return playing + sum(len(p[1]) for p in self._pending) / SAMPLE_RATE

    def stop(self) -> None:
        import sounddevice as sd
        with self._cv:
            self._pending = []
        sd.stop()

    def close(self) -> None:
        if self._thread is not None:
            with self._cv:
                self._closed = True
                self._cv.notify()
            self._thread.join(timeout=2)


class WavFileSink:
    """Lays clips on a timeline as a listener would hear them and writes them to FILE.wav (stereo
    int16) as time passes, plus FILE.json (start, end, text and urgency of each clip, and the ones
    dropped as stale or yielded). `clock` gives the time to place a clip at: the video time of the
    frame being handled during replay.

    Streaming: audio before the clock's current time can no longer change (a cut happens at "now"),
    so each call writes it out and rewrites the WAV header's sizes; a killed run leaves a valid WAV
    of everything heard up to its last cue, and a JSON that matches it."""
    name = "WAV file"
    FLUSH_EVERY_S = 1.0

    def __init__(self, path: Path, clock: Callable[[], float]):
        self.path = Path(path)
        self.json_path = self.path.with_suffix(".json")
        self.clock = clock
        self._clips: list[list] = []      # [start_s, samples, label, urgency, key] not yet fully written
        self._log: list[list] = []        # [start_s, end_s, label, urgency] of every clip placed
        self._busy_until = 0.0
        self._written_s = 0.0             # the WAV holds the mix up to here
        self._frames = 0
        self._file = None
        self.dropped: list[tuple[float, str]] = []   # (asked at, text) of stale or yielded clips

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

    def _end(self, clips) -> float:
        return max([c[0] + len(c[1]) / SAMPLE_RATE for c in clips], default=0.0)

    def play(self, clip: np.ndarray, label: str = "", urgency: int = 0, key=None) -> None:
        now = max(0.0, self.clock())
        if urgency >= WARNING:
            floor = DANGER if urgency >= DANGER else WARNING
            at = now
            if urgency >= DANGER and key is not None:
                # The warning about this same object, nearly said: let it finish, then the danger.
                same = [c for c in self._clips if c[4] == key and c[3] < DANGER and c[0] <= now < c[0] + len(c[1]) / SAMPLE_RATE]
                if same and same[0][0] + len(same[0][1]) / SAMPLE_RATE - now <= FINISH_S:
                    at = same[0][0] + len(same[0][1]) / SAMPLE_RATE
            self._cut(at, below=floor)                 # less urgent sound yields (a danger cuts it short)
            start = max(at, self._end([c for c in self._clips if c[3] >= floor]))
        else:
            start = max(now, self._busy_until)
            if start - now > MAX_WAIT_S:
                self.dropped.append((now, label))
                self._flush(now)
                return
        self._clips.append([start, clip, label, urgency, key])
        self._log.append([start, start + len(clip) / SAMPLE_RATE, label, urgency])
        self._busy_until = max(now, self._end(self._clips))
        self._flush(now)

    def backlog_s(self) -> float:
        return max(0.0, self._busy_until - max(0.0, self.clock()))

    def _cut(self, t: float, below: int | None = None) -> None:
        """Silence, from t, every clip less urgent than `below` (None: every clip): the one playing
        is cut short, those waiting never play (recorded as yielded when something more urgent
        took their place)."""
        t = max(t, self._written_s)
        everything = below is None
        kept = []
        for start, clip, label, urgency, key in self._clips:
            if not everything and urgency >= below:
                kept.append([start, clip, label, urgency, key])
            elif start < t:
                kept.append([start, clip[:max(0, int((t - start) * SAMPLE_RATE))], label, urgency, key])
        for entry in self._log:
            if not everything and entry[3] >= below:
                continue
            if entry[0] >= t:
                if not everything:
                    self.dropped.append((t, entry[2] + " [yielded]"))
                entry[2] = None                              # never heard
            elif entry[1] > t:
                entry[1], entry[2] = t, entry[2] + " [interrupted]"
        self._log = [e for e in self._log if e[2] is not None]
        self._clips = kept
        self._busy_until = max(t, self._end(self._clips))

    def _flush(self, upto: float, force: bool = False) -> None:
        """Write the mix from what is written up to `upto` (never past it: later audio may still
        be cut), then the header and the JSON."""
        if upto - self._written_s < self.FLUSH_EVERY_S and not force:
            return
        self._open()
        n = max(0, int(upto * SAMPLE_RATE) - self._frames)
        if n:
            mix = np.zeros((n, 2), np.float32)
            for start, clip, *_ in self._clips:
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
            {"played": [{"start_s": round(s, 3), "end_s": round(e, 3), "text": lab, "urgency": u} for s, e, lab, u in self._log],
             "dropped_stale": [{"asked_s": round(t, 3), "text": lab} for t, lab in self.dropped]}, indent=1))
        tmp.replace(self.json_path)

    def stop(self) -> None:
        self._cut(max(0.0, self.clock()))

    def close(self) -> None:
        end = max(self._end(self._clips), self._written_s)
        self._flush(end, force=True)
        if self._file is not None:
            self._file.close()
            self._file = None
