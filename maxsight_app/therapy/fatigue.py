"""A fatigue estimate from the trend of response times and errors within a session.

    slowing   = median RT of the last WINDOW trials / median RT of the first WINDOW, minus 1
    erring    = error rate of the last WINDOW trials minus that of the first WINDOW
    fatigue   = clip(slowing / 0.5 * 0.6 + erring / 0.3 * 0.4, 0, 1)
So 50% slower and 30 points more errors is full fatigue. The first 2 * WINDOW trials set the
baseline, so fatigue is 0 until then. Breaks: suggested at BREAK_AT, or after MAX_MINUTES of
work; the session pauses itself at PAUSE_AT (the therapist or user resumes it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 5
BREAK_AT = 0.5
PAUSE_AT = 0.8
MAX_MINUTES = 15.0


@dataclass(frozen=True)
class FatigueState:
    fatigue: float
    slowing: float
    erring: float
    advice: str            # "continue" | "break" | "pause"


def estimate(rts: list[float], correct: list[bool], minutes: float) -> FatigueState:
    if len(rts) < 2 * WINDOW:
        f, slowing, erring = 0.0, 0.0, 0.0
    else:
        slowing = float(np.median(rts[-WINDOW:]) / max(np.median(rts[:WINDOW]), 1e-3) - 1)
        erring = float(np.mean([not c for c in correct[-WINDOW:]]) - np.mean([not c for c in correct[:WINDOW]]))
        f = float(np.clip(max(slowing, 0) / 0.5 * 0.6 + max(erring, 0) / 0.3 * 0.4, 0, 1))
    if f >= PAUSE_AT:
        advice = "pause"
    elif f >= BREAK_AT or minutes >= MAX_MINUTES:
        advice = "break"
    else:
        advice = "continue"
    return FatigueState(f, slowing, erring, advice)
