"""Find mode's guidance tone: one continuous, spatial tone that follows the target every frame, and
the chime that says "centred and within reach". Pure numpy; the sinks (outputs/audio.py) mix it
under speech, ducked, so the tone and the words are one timeline.

The tone never stops while the target is in view: it throbs like a parking sensor (its level swings
between THROB_FLOOR and full at `pulse_hz`, faster as the target gets nearer) and becomes steady when
the target is centred and within reach. It is panned by level and by time difference between the
ears (as the earcons are, outputs/tones.py). Every change of pitch, pan and level glides over the
block being rendered, so a new frame's values never click.

Ducking is the sink's: under speech the tone drops to DUCK_SPEECH, and under a warning or a danger
it pauses (DUCK_URGENT): hazards always come through find mode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from maxsight_app.outputs.tones import HEAD_RADIUS_M, SAMPLE_RATE, SPEED_OF_SOUND

HOLD_S = 0.5            # a tone not renewed by a frame within this long fades out (a stalled engine goes quiet)
THROB_FLOOR = 0.4       # the quiet part of each pulse: the tone never drops out while the target is in view
PULSE_DUTY = 0.5
RAMP_S = 0.012          # edges of each pulse
DUCK_SPEECH = 0.25      # the tone's level while words are spoken
DUCK_URGENT = 0.0       # ... while a warning or danger is spoken: the tone pauses
DUCK_RAMP_S = 0.03
CHIME_HZ = (1568.0, 2093.0)        # G6 then C7: a bell-like rising pair, unlike any earcon
CHIME_S = 0.45
MAX_ITD_SAMPLES = 32


@dataclass(frozen=True)
class Tone:
    """What the guidance tone should sound like from now on (until the next frame renews it)."""
    pan: float              # -1 hard left .. 0 centre .. 1 hard right
    pitch_hz: float
    pulse_hz: float         # throbs per second; 0 = steady
    level: float = 0.5      # 0..1, before the user's tone volume and any ducking
    chime: bool = False     # start the "within reach" chime now

    def __post_init__(self) -> None:
        if not -1.0 <= self.pan <= 1.0:
            raise ValueError(f"pan must be between -1 and 1, got {self.pan}")
        if not 50.0 <= self.pitch_hz <= 5000.0:
            raise ValueError(f"pitch_hz must be between 50 and 5000, got {self.pitch_hz}")
        if self.pulse_hz < 0:
            raise ValueError(f"pulse_hz must be 0 or more, got {self.pulse_hz}")

    @property
    def side(self) -> str:
        return "centre" if self.pan == 0 else "left" if self.pan < 0 else "right"


def gains(pan: float) -> tuple[float, float, float]:
    """(left gain, right gain, interaural delay in s, positive = right ear first): constant power."""
    p = (max(-1.0, min(1.0, pan)) + 1) / 2
    az = pan * math.pi / 2
    return math.cos(p * math.pi / 2), math.sin(p * math.pi / 2), HEAD_RADIUS_M / SPEED_OF_SOUND * (az + math.sin(az))


def render_chime(sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Two bell strikes, centred: [N] float32 mono in -1..1."""
    n = int(CHIME_S * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n, np.float32)
    for i, f in enumerate(CHIME_HZ):
        start = i * 0.12
        tt = t - start
        on = tt >= 0
        env = np.where(on, np.exp(-np.maximum(tt, 0) / 0.12) * np.minimum(1.0, np.maximum(tt, 0) / 0.004), 0.0)
        out += (env * (np.sin(2 * math.pi * f * tt) + 0.3 * np.sin(2 * math.pi * 2.76 * f * tt))).astype(np.float32)
    return out / max(1e-6, float(np.abs(out).max()))


def duck_curve(n: int, start_s: float, spans, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Per-sample gain for the tone over [start_s, start_s + n/sr): 1, dipping to DUCK_SPEECH over
    each (start, end, urgent) span of other sound (DUCK_URGENT when urgent), with ramps either side."""
    g = np.ones(n, np.float32)
    if not spans:
        return g
    t = start_s + np.arange(n) / sample_rate
    for s, e, urgent in spans:
        if e < start_s - DUCK_RAMP_S or s > t[-1] + DUCK_RAMP_S:
            continue
        floor = DUCK_URGENT if urgent else DUCK_SPEECH
        away = np.maximum(s - t, t - e)                     # <= 0 inside the span
        g = np.minimum(g, floor + (1 - floor) * np.clip(away / DUCK_RAMP_S, 0, 1))
    return g


class GuideSynth:
    """Renders the tone block by block, keeping phase, pulse position, pan and level continuous."""

    def __init__(self, sample_rate: int = SAMPLE_RATE, volume: float = 0.8):
        self.sr = sample_rate
        self.volume = volume
        self._phase = 0.0
        self._pulse = 0.0          # position in the pulse cycle, 0..1
        self._pitch = None
        self._left = self._right = 0.0
        self._level = 0.0
        self._delay = (0, 0)       # samples each ear hears the tone late by (left, right)
        self._history = np.zeros(MAX_ITD_SAMPLES, np.float32)
        self._chime = render_chime(sample_rate)
        self._chime_pos: int | None = None
        self._chimed: Tone | None = None

    @property
    def silent(self) -> bool:
        return self._level < 1e-4 and self._chime_pos is None

    def render(self, n: int, tone: Tone | None, duck=1.0) -> np.ndarray:
        """[n, 2] float32 stereo: the next n samples with `tone` (None fades to silence); `duck` is a
        gain (scalar or [n]) for sound being spoken over it."""
        if n <= 0:
            return np.zeros((0, 2), np.float32)
        idx = np.arange(1, n + 1, dtype=np.float64)
        ramp = np.minimum(1.0, idx / max(1, int(0.03 * self.sr)))      # glide over 30 ms
        target_level = 0.0 if tone is None else tone.level
        if tone is not None:
            if self._pitch is None or self._level < 1e-4:
                self._pitch = tone.pitch_hz                 # a new tone starts at its own pitch, not a glide
            l_t, r_t, itd = gains(tone.pan)
            if self._level < 1e-4:
                self._left, self._right = l_t, r_t
            pitch_t = tone.pitch_hz
            d = min(MAX_ITD_SAMPLES, int(round(abs(itd) * self.sr)))
            delay_t = (d, 0) if itd >= 0 else (0, d)           # the far ear hears it later
        else:
            l_t, r_t, pitch_t = self._left, self._right, self._pitch or 440.0
            delay_t = self._delay
        pitch = self._pitch + (pitch_t - self._pitch) * ramp if self._pitch is not None else np.full(n, pitch_t)
        phase = self._phase + np.cumsum(2 * math.pi * pitch / self.sr)
        self._phase = float(phase[-1] % (2 * math.pi))
        wave = np.sin(phase) + 0.15 * np.sin(2 * phase)             # a little body: easier to place than a pure sine
        level = self._level + (target_level - self._level) * ramp
        if tone is not None and tone.pulse_hz > 0:
            pos = (self._pulse + idx * tone.pulse_hz / self.sr) % 1.0
            self._pulse = float(pos[-1])
            cycle_s = 1.0 / tone.pulse_hz
            on_s = PULSE_DUTY * cycle_s
            tc = pos * cycle_s
            gate = np.clip(np.minimum(tc, on_s - tc) / RAMP_S, 0.0, 1.0)
            env = THROB_FLOOR + (1 - THROB_FLOOR) * gate
        else:
            env = np.ones(n)
        mono = (wave * level * env * self.volume * np.asarray(duck, np.float64)).astype(np.float32)
        left = self._left + (l_t - self._left) * ramp
        right = self._right + (r_t - self._right) * ramp
        self._pitch, self._level, self._left, self._right = float(pitch[-1]), float(level[-1]), l_t, r_t
        # Each ear hears the tone late by its delay (integer samples, history kept across blocks); a
        # changed delay cross-fades from the old to the new over the glide, so a side change never clicks.
        hist = np.concatenate([self._history, mono])
        self._history = hist[-MAX_ITD_SAMPLES:]
        out = np.empty((n, 2), np.float32)
        for ch, gain in ((0, left), (1, right)):
            old, new = self._delay[ch], delay_t[ch]
            sig = hist[MAX_ITD_SAMPLES - new:MAX_ITD_SAMPLES - new + n]
            if old != new:
                sig = hist[MAX_ITD_SAMPLES - old:MAX_ITD_SAMPLES - old + n] * (1 - ramp) + sig * ramp
            out[:, ch] = sig * gain
        self._delay = delay_t
        if tone is not None and tone.chime and tone is not self._chimed:
            self._chimed, self._chime_pos = tone, 0
        if self._chime_pos is not None:
            part = self._chime[self._chime_pos:self._chime_pos + n] * (0.7 * self.volume)
            out[:len(part)] += part[:, None]
            self._chime_pos += n
            if self._chime_pos >= len(self._chime):
                self._chime_pos = None
        return out
