"""Where rendered sound goes: the sound card (sounddevice) or a WAV timeline file.

Both take stereo float32 clips with `play(clip, label, urgency)`, and make room by urgency rather
than by order of arrival:
  * a danger cuts whatever less urgent is playing or waiting, but never another danger: it plays
    right after it (two dangers in a busy street must both be heard whole); a warning about the
    same object (`key`) with under FINISH_S left is let finish, the danger straight after it (a
    caution about it is cut like any other: its distance is stale, and letting it finish put the
    "Stop!" 1 s late on the dev approach clips);
  * a warning cuts a caution that is playing, makes the cautions still waiting yield (they are
    dropped, recorded as yielded), and goes before them: "person approaching" never waits 3 s
    behind "chair, 10 o'clock, 2 metres" (the sound card once let the caution finish, while the
    WAV timeline that `eval safety` measures cut it; both cut now);
  * only a caution (or anything less) that could not start within MAX_WAIT_S is dropped as stale:
    stale directions ("car, 2 o'clock") are worse than none, and the policy speaks again if it
    still matters. Warnings and dangers are never dropped.
`stop()` silences everything (the user's "stop all speech").

Find mode's guidance tone (outputs/guide.py) is not a clip: `guide(tone)` sets what it sounds like
from now on and it plays beside the clips, ducked under them and paused under warnings and dangers.
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

from maxsight_app.outputs.guide import HOLD_S, GuideSynth, Tone, duck_curve
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
        self._pending: list[list] = []   # [asked, clip, urgency, label, key], in the order they will play
        self._cv = threading.Condition()
        self._playing: tuple | None = None    # (urgency, expected end, key) of the clip playing
        # Set by play() when something more urgent came: the player thread stops its own clip, so
        # a stop can never land on the clip that was started after it.
        self._cut = False
        self._thread: threading.Thread | None = None
        self._closed = False
        self._tone: Tone | None = None           # find mode's guidance tone, set per frame
        self._tone_at = 0.0
        self._guide: GuideSynth | None = None
        self._guide_stream = None
        self._duck = 1.0
        self.guide_problem: str | None = None      # one sentence, when the tone cannot play here

    def check(self) -> str | None:
        return no_output_device_reason()

    def guide(self, tone: Tone | None, volume: float = 0.8) -> None:
        """The guidance tone from now on (None: fade out). It plays on a stream of its own beside the
        clips, so it never waits in their queue; ducked while a clip plays."""
        with self._cv:
            self._tone, self._tone_at = tone, time.monotonic()
        if tone is None or self._guide_stream is not None or self.guide_problem:
            return
        self._guide = GuideSynth(SAMPLE_RATE, volume)
        try:
            import sounddevice as sd
            stream = sd.OutputStream(samplerate=SAMPLE_RATE, channels=2, dtype="float32", callback=self._guide_callback)
            stream.start()
        except Exception as exc:  # noqa: BLE001 - a card that takes one stream only: speech still plays
            self.guide_problem = f"the guidance tone cannot play on this sound card beside speech ({exc})"
            log.warning("%s", self.guide_problem)
            return
        self._guide_stream = stream

    def _guide_callback(self, outdata, frames, _time, _status) -> None:
        with self._cv:
            tone = self._tone if time.monotonic() - self._tone_at <= HOLD_S else None
            playing = self._playing
        target = 1.0 if playing is None else (0.0 if playing[0] >= WARNING else 0.25)
        duck = self._duck + (target - self._duck) * np.minimum(1.0, np.arange(1, frames + 1) / (0.03 * SAMPLE_RATE))
        self._duck = float(duck[-1])
        outdata[:] = self._guide.render(frames, tone, duck)

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
                self._cut = False
            try:
                sd.play(clip, SAMPLE_RATE)
                with self._cv:
                    # Until the clip's end, or until play() asks for it to be cut.
                    while not (self._cut or self._closed) and time.monotonic() < self._playing[1]:
                        self._cv.wait(timeout=self._playing[1] - time.monotonic())
                    cut, self._cut = self._cut or self._closed, False
                    self._playing = None
                if cut:
                    sd.stop()
                else:
                    sd.wait()               # what the device still holds of the clip
            except Exception as exc:  # noqa: BLE001 - a device unplugged mid-cue must not kill the thread
                log.warning("sound output failed: %s", exc)
                with self._cv:
                    self._playing = None

    def play(self, clip: np.ndarray, label: str = "", urgency: int = 0, key=None, barge: bool = False) -> None:
        """barge: find mode's "found", the answer the user is waiting for: it cuts cautions and
        anything less urgent (playing or waiting), never a warning or a danger."""
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
                cut = self._playing is not None and self._playing[0] < floor and not (
                    urgency >= DANGER and key is not None and self._playing[2] == key
                    and self._playing[0] == WARNING and self._playing[1] - time.monotonic() <= FINISH_S)
            elif barge:
                self._pending = [p for p in self._pending if p[2] >= WARNING]
                self._pending.append([time.monotonic(), clip, urgency, label, key])
                cut = self._playing is not None and self._playing[0] < WARNING
            else:
                self._pending.append([time.monotonic(), clip, urgency, label, key])
            self._cut = self._cut or cut
            self._cv.notify_all()

    def backlog_s(self) -> float:
        with self._cv:
            playing = max(0.0, self._playing[1] - time.monotonic()) if self._playing else 0.0
            return playing + sum(len(p[1]) for p in self._pending) / SAMPLE_RATE

    def stop(self) -> None:
        import sounddevice as sd
        with self._cv:
            self._pending = []
            self._cut = self._playing is not None      # the player stops waiting for its clip's end
            self._cv.notify_all()
        sd.stop()

    def close(self) -> None:
        if self._guide_stream is not None:
            try:
                self._guide_stream.close()
            except Exception:  # noqa: BLE001 - an unplugged device must not block closing
                log.exception("closing the guidance tone stream failed")
            self._guide_stream = None
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
        # Every play() in order: [asked at, text, its _log entry or None when dropped as stale]. The
        # entry is the one _cut edits (text None: yielded or stopped; "[interrupted]": cut short), so
        # what became of each call can be told even when the same words were said twice.
        self.calls: list[list] = []
        self._synth: GuideSynth | None = None        # find mode's tone, rendered as the WAV is written
        self._tones: list[tuple[float, Tone | None]] = []    # (from, tone) not yet fully written
        self._tone_log: list[list] = []              # [start_s, end_s, side] of each stretch of tone
        self._chimes: list[float] = []
        # Set (one sentence) when writing failed (disk full, file too large, ...): the WAV and its
        # JSON are removed, since they would hold only part of what was heard, and nothing more
        # is written. The command that asked for the file reads it and says so.
        self.error: str | None = None

    def _fail(self, exc: OSError) -> None:
        from maxsight_app.files import why_not_written
        log.warning("writing %s failed: %s", self.path, exc)
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        for p in (self.path, self.json_path, self.json_path.with_name(f".{self.json_path.name}.tmp")):
            try:
                p.unlink()
            except OSError:
                pass
        self._clips, self._tones = [], []
        self.error = (f"cannot write {self.path} ({why_not_written(exc)}); it was removed, as it would have held only "
                      f"part of what was heard")

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

    def play(self, clip: np.ndarray, label: str = "", urgency: int = 0, key=None, barge: bool = False) -> None:
        """barge: as SoundDeviceSink.play (cuts cautions and less, never a warning or a danger)."""
        if self.error:
            return
        now = max(0.0, self.clock())
        if urgency >= WARNING:
            floor = DANGER if urgency >= DANGER else WARNING
            at = now
            if urgency >= DANGER and key is not None:
                # The warning about this same object, nearly said: let it finish, then the danger.
                same = [c for c in self._clips if c[4] == key and c[3] == WARNING and c[0] <= now < c[0] + len(c[1]) / SAMPLE_RATE]
                if same and same[0][0] + len(same[0][1]) / SAMPLE_RATE - now <= FINISH_S:
                    at = same[0][0] + len(same[0][1]) / SAMPLE_RATE
            self._cut(at, below=floor)                 # less urgent sound yields (a danger cuts it short)
            start = max(at, self._end([c for c in self._clips if c[3] >= floor]))
        elif barge:
            self._cut(now, below=WARNING)
            start = max(now, self._end([c for c in self._clips if c[3] >= WARNING]))
        else:
            start = max(now, self._busy_until)
            if start - now > MAX_WAIT_S:
                self.dropped.append((now, label))
                self.calls.append([now, label, None])
                self._flush(now)
                return
        self._clips.append([start, clip, label, urgency, key])
        entry = [start, start + len(clip) / SAMPLE_RATE, label, urgency]
        self._log.append(entry)
        self.calls.append([now, label, entry])
        self._busy_until = max(now, self._end(self._clips))
        self._flush(now)

    def backlog_s(self) -> float:
        return max(0.0, self._busy_until - max(0.0, self.clock()))

    def guide(self, tone: Tone | None, volume: float = 0.8) -> None:
        """Find mode's tone from now on (None: fade out); mixed under the clips, ducked by them."""
        if self.error:
            return
        now = max(0.0, self.clock(), self._written_s)
        if self._synth is None:
            if tone is None:
                return
            self._synth = GuideSynth(SAMPLE_RATE, volume)
        self._tones.append((now, tone))
        side = None if tone is None else tone.side
        last = self._tone_log[-1] if self._tone_log else None
        if last is not None and last[1] > now and last[2] != side:
            last[1] = now                                   # that stretch ends here
        if side is not None:
            if last is not None and last[2] == side and last[1] >= now - 1e-6:
                last[1] = now + HOLD_S
            else:
                self._tone_log.append([now, now + HOLD_S, side])
            if tone.chime:
                self._chimes.append(now)
        self._flush(now)

    def _tone_at(self, t: float) -> tuple[Tone | None, float]:
        """The tone sounding at t and when that may change."""
        prev, nxt = None, float("inf")
        for at, tone in self._tones:
            if at <= t:
                prev = (at, tone)
            else:
                nxt = at
                break
        if prev is None or prev[1] is None:
            return None, nxt
        if t >= prev[0] + HOLD_S:
            return None, nxt
        return prev[1], min(nxt, prev[0] + HOLD_S)

    def _render_guide(self, n: int) -> np.ndarray | None:
        if self._synth is None:
            return None
        t0 = self._frames / SAMPLE_RATE
        spans = [(c[0], c[0] + len(c[1]) / SAMPLE_RATE, c[3] >= WARNING) for c in self._clips if len(c[1])]
        duck = duck_curve(n, t0, spans)
        out = np.zeros((n, 2), np.float32)
        i = 0
        while i < n:
            tone, until = self._tone_at(t0 + i / SAMPLE_RATE)
            j = n if until == float("inf") else min(n, max(i + 1, int(np.ceil((until - t0) * SAMPLE_RATE))))
            out[i:j] = self._synth.render(j - i, tone, duck[i:j])
            i = j
        t1 = t0 + n / SAMPLE_RATE
        while len(self._tones) > 1 and self._tones[1][0] <= t1:
            self._tones.pop(0)                             # the tone before t1 is the only one still needed
        return out

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
        if self.error or (upto - self._written_s < self.FLUSH_EVERY_S and not force):
            return
        try:
            self._write(upto)
        except OSError as exc:
            self._fail(exc)

    def _write(self, upto: float) -> None:
        self._open()
        n = max(0, int(upto * SAMPLE_RATE) - self._frames)
        if n:
            mix = np.zeros((n, 2), np.float32)
            for start, clip, *_ in self._clips:
                i = int(start * SAMPLE_RATE) - self._frames          # clip start, relative to the chunk
                a, b = max(0, -i), min(len(clip), n - i)
                if b > a:
                    mix[i + a:i + b] += clip[a:b]
            tone = self._render_guide(n)
            if tone is not None:
                mix += tone
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
             "dropped_stale": [{"asked_s": round(t, 3), "text": lab} for t, lab in self.dropped],
             **({"tone": [{"start_s": round(s, 3), "end_s": round(e, 3), "side": side} for s, e, side in self._tone_log],
                 "chimes_s": [round(t, 3) for t in self._chimes]} if self._synth is not None else {})}, indent=1))
        tmp.replace(self.json_path)

    def stop(self) -> None:
        self._cut(max(0.0, self.clock()))

    def close(self) -> None:
        end = max(self._end(self._clips), self._written_s)
        if self._tones:
            # The last tone fades out (when not renewed, after HOLD_S; when stopped, at once).
            end = max(end, self._tones[-1][0] + (HOLD_S if self._tones[-1][1] is not None else 0.0) + 0.05)
        if self._chimes:
            end = max(end, self._chimes[-1] + 0.5)
        self._flush(end, force=True)
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self._fail(exc)
            self._file = None
