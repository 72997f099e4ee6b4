"""Spatial earcons: where (stereo panning by level AND time difference between the ears), how near
(pitch and repetition rate rise as distance falls, like a parking sensor) and how urgent (a
distinct timbre per level). Pure numpy; returns [N, 2] float32 stereo in -1..1."""
from __future__ import annotations

import math

import numpy as np

from engine.types import Urgency

SAMPLE_RATE = 22050
HEAD_RADIUS_M = 0.0875
SPEED_OF_SOUND = 343.0
# Distance -> pitch: 1 m sounds at the top, 10 m and beyond at the bottom.
PITCH_NEAR_HZ, PITCH_FAR_HZ = 1100.0, 440.0
NEAR_M, FAR_M = 1.0, 10.0
BEEP_S = 0.07


def pitch_for(distance_m: float) -> float:
    x = (min(max(distance_m, NEAR_M), FAR_M) - NEAR_M) / (FAR_M - NEAR_M)
    return PITCH_NEAR_HZ * (PITCH_FAR_HZ / PITCH_NEAR_HZ) ** x     # log-spaced: equal steps sound equal


def beeps_for(distance_m: float) -> int:
    """More beeps, closer together, as things get nearer: 1 beep far, up to 5 close."""
    if distance_m <= 1.5:
        return 5
    if distance_m <= 3.0:
        return 4
    if distance_m <= 6.0:
        return 3
    if distance_m <= 10.0:
        return 2
    return 1


def _wave(urgency: Urgency, f: float, t: np.ndarray) -> np.ndarray:
    """Timbre per urgency: caution a soft sine, warning a bright sine + 3rd harmonic, danger a
    buzzy two-tone (root and tritone, with odd harmonics) nobody mistakes for the others."""
    ph = 2 * math.pi * f * t
    if urgency <= Urgency.CAUTION:
        return np.sin(ph)
    if urgency == Urgency.WARNING:
        return 0.75 * np.sin(ph) + 0.25 * np.sin(3 * ph)
    ph2 = 2 * math.pi * f * math.sqrt(2) * t
    sq = sum(np.sin(k * ph) / k for k in (1, 3, 5, 7))
    return 0.6 * sq + 0.4 * np.sin(ph2)


def pan_gains(bearing_deg: float) -> tuple[float, float, float]:
    """(left gain, right gain, interaural delay in seconds, positive = right ear first)."""
    az = math.radians(max(-90.0, min(90.0, bearing_deg)))
    # Constant-power panning for the level difference.
    p = (az / (math.pi / 2) + 1) / 2          # 0 = hard left, 1 = hard right
    left, right = math.cos(p * math.pi / 2), math.sin(p * math.pi / 2)
    itd = HEAD_RADIUS_M / SPEED_OF_SOUND * (az + math.sin(az))   # Woodworth: up to ~0.66 ms
    return left, right, itd


TICK_HZ = 1800.0
TICK_S = 0.02


def render_tick(volume: float = 0.8, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The quiet "still watching" tick: a 20 ms click from straight ahead, a quarter as loud as an
    earcon, so it is felt more than heard and never taken for a hazard."""
    n = int(TICK_S * sample_rate)
    t = np.arange(n) / sample_rate
    mono = (np.sin(2 * np.pi * TICK_HZ * t) * np.exp(-t / 0.004)).astype(np.float32) * 0.25 * float(volume)
    return np.stack([mono, mono], 1)


WATCH_NOTES_HZ = (660.0, 990.0)     # a rising fifth: unlike any hazard earcon (those fall or repeat one pitch)
WATCH_NOTE_S = 0.09


def render_watch_earcon(bearing_deg: float, volume: float = 0.8, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The earcon of a watched-for word seen (cues/watch.py): two rising notes from its direction."""
    n = int(WATCH_NOTE_S * sample_rate)
    t = np.arange(n) / sample_rate
    env = np.minimum(1.0, np.minimum(t, WATCH_NOTE_S - t) / 0.008)
    mono = np.concatenate([np.sin(2 * np.pi * f * t) * env for f in WATCH_NOTES_HZ]).astype(np.float32)
    left, right, _ = pan_gains(bearing_deg)
    return np.stack([mono * left, mono * right], 1).astype(np.float32) * float(volume)


def render_earcon(urgency: Urgency, bearing_deg: float, distance_m: float, volume: float = 0.8,
                  sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    f = pitch_for(distance_m)
    n_beeps = beeps_for(distance_m)
    gap = 0.05 + 0.03 * (5 - n_beeps)
    beep_n = int(BEEP_S * sample_rate)
    t = np.arange(beep_n) / sample_rate
    env = np.minimum(1.0, np.minimum(t, BEEP_S - t) / 0.008)      # 8 ms ramps: no clicks
    beep = (_wave(urgency, f, t) * env).astype(np.float32)
    beep /= max(1e-6, float(np.abs(beep).max()))
    step = beep_n + int(gap * sample_rate)
    mono = np.zeros(step * (n_beeps - 1) + beep_n, np.float32)
    for i in range(n_beeps):
        mono[i * step:i * step + beep_n] += beep
    left, right, itd = pan_gains(bearing_deg)
    delay = int(round(abs(itd) * sample_rate))
    out = np.zeros((len(mono) + delay, 2), np.float32)
    # The far ear hears the sound later.
    l_off, r_off = (delay, 0) if itd > 0 else (0, delay)
    out[l_off:l_off + len(mono), 0] = mono * left
    out[r_off:r_off + len(mono), 1] = mono * right
    return out * float(volume)
