"""Speech through pyttsx3 on espeak-ng, rendered to samples so it can be interrupted, mixed with
earcons, and written to a WAV when there is no sound card."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maxsight_app.outputs.tones import SAMPLE_RATE

log = logging.getLogger(__name__)
WAV_HEADER_BYTES = 44        # a WAV file holding no samples
# espeak-ng ends every phrase with about 0.3 s of silence: in a busy street the next warning waits
# behind it. The tail goes, down to TAIL_S after the last sound. The silence before the first word
# stays: it keeps the earcon's tail off the first word (with it trimmed, "Stop! bus" was
# transcribed "Top. Must"), and so do the pauses inside the phrase.
TAIL_S = 0.05
QUIET_DB = -45.0             # a 10 ms frame this far under the phrase's loudest is silence (an s is not)


@dataclass(frozen=True)
class Voice:
    rate_wpm: int = 175          # espeak's default speaking rate
    volume: float = 0.9          # 0..1
    voice_id: str = ""           # "" = the first English voice


class SpeechSynth:
    def __init__(self, voice: Voice = Voice(), scratch_dir: Path | None = None):
        """scratch_dir: where espeak's rendered WAVs live for a moment (the app passes a folder of
        its own cache, so nothing is written anywhere else); None: the system's temp folder."""
        self.voice = voice
        self.scratch_dir = scratch_dir
        self._engine = None
        self._error: str | None = None
        try:
            import pyttsx3
            self._engine = pyttsx3.init("espeak")
        except ImportError:
            self._error = "the pyttsx3 package is not installed"
        except Exception:  # noqa: BLE001 - pyttsx3 raises bare errors when libespeak is absent
            self._error = "espeak-ng is not installed (Debian: apt-get install espeak-ng)"
        if self._engine is not None:
            self._apply(voice)

    def check(self) -> str | None:
        return self._error

    def voices(self) -> list[tuple[str, str]]:
        return [(v.id, v.name) for v in self._engine.getProperty("voices")] if self._engine else []

    def _apply(self, voice: Voice) -> None:
        e = self._engine
        vid = voice.voice_id
        if not vid:
            ids = [v.id for v in e.getProperty("voices")]
            vid = next((i for i in ids if i.endswith("/en-us")), next((i for i in ids if i.endswith("/en")), ""))
        if vid:
            e.setProperty("voice", vid)
        # After the voice: choosing a voice resets espeak's rate to its default.
        e.setProperty("rate", int(voice.rate_wpm))

    def set_voice(self, voice: Voice) -> None:
        self.voice = voice
        if self._engine is not None:
            self._apply(voice)

    def render(self, text: str, rate_factor: float = 1.0) -> np.ndarray:
        """Mono float32 at SAMPLE_RATE; rate_factor speeds the user's rate up (under a backlog)."""
        if self._engine is None:
            raise RuntimeError(self._error)
        self._apply(self.voice)   # pyttsx3 shares one engine per driver: set our voice each time
        if rate_factor != 1.0:
            self._engine.setProperty("rate", int(min(450, self.voice.rate_wpm * rate_factor)))
        if self.scratch_dir is not None:
            self.scratch_dir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(suffix=".wav", prefix="maxsight-say-", dir=self.scratch_dir)
        os.close(fd)
        try:
            # pyttsx3 prints "Audio saved to ..." on stdout; keep our CLI output clean. Now and then
            # (a busy machine) espeak-ng leaves the file empty; one more try has always filled it.
            for _ in range(2):
                with contextlib.redirect_stdout(io.StringIO()):
                    self._engine.save_to_file(text, path)
                    self._engine.runAndWait()
                if os.path.getsize(path) > WAV_HEADER_BYTES:
                    break
            else:
                raise RuntimeError(f"espeak-ng wrote no audio for {text[:40]!r}")
            with wave.open(path, "rb") as w:
                sr, n, width = w.getframerate(), w.getnframes(), w.getsampwidth()
                raw = w.readframes(n)
                channels = w.getnchannels()
        finally:
            os.unlink(path)
        if width != 2:
            raise RuntimeError(f"espeak-ng wrote {8 * width}-bit audio; expected 16-bit")
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
        if channels > 1:
            x = x.reshape(-1, channels).mean(1)
        if sr != SAMPLE_RATE and len(x):
            x = np.interp(np.arange(0, len(x), sr / SAMPLE_RATE), np.arange(len(x)), x).astype(np.float32)
        return tighten(x) * float(self.voice.volume)


def tighten(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A mono phrase without the silence espeak-ng leaves after it (TAIL_S is kept, so a soft last
    sound is never clipped)."""
    step = max(1, int(0.01 * sample_rate))
    n = -(-len(x) // step)                          # 10 ms frames, the last one short
    if n < 2:
        return x
    padded = np.zeros(n * step, np.float64)
    padded[:len(x)] = x
    rms = np.sqrt(np.mean(padded.reshape(n, step) ** 2, 1))
    loud = np.flatnonzero(rms > max(1e-5, rms.max() * 10 ** (QUIET_DB / 20)))
    if not len(loud):
        return x
    return x[:min(len(x), (loud[-1] + 1) * step + int(TAIL_S * sample_rate))]
