"""Short, speakable phrases: "car, 2 o'clock, 4 metres, approaching". Every direction the app
says or shows goes through clock_words, so speech, screen, summaries and scene descriptions agree."""
from __future__ import annotations

from engine.types import Hazard
from maxsight_app.profile.schema import Units

STEP_M = 0.75
FOOT_M = 0.3048


def distance_words(metres: float, units: Units) -> str:
    if units is Units.FEET:
        v = max(1, round(metres / FOOT_M))
        return f"{v} foot" if v == 1 else f"{v} feet"
    if units is Units.STEPS:
        v = max(1, round(metres / STEP_M))
        return f"{v} step" if v == 1 else f"{v} steps"
    if metres < 10:
        v = max(0.5, round(metres * 2) / 2)     # half metres up close
        text = f"{v:g}"
    else:
        text = f"{round(metres)}"
    return f"{text} metre" if text == "1" else f"{text} metres"


def clock_words(clock: int) -> str:
    return "ahead" if clock == 12 else f"{clock} o'clock"


def hazard_phrase(h: Hazard, units: Units, hedge_below: float, detailed: bool = False) -> str:
    name = f"maybe a {h.label}" if h.score < hedge_below else h.label
    parts = [name, clock_words(h.clock), distance_words(h.distance_m, units)]
    if h.approaching:
        if detailed and h.ttc_s is not None and h.ttc_s < 10:
            parts.append(f"approaching, {max(1, round(h.ttc_s))} seconds")
        else:
            parts.append("approaching")
    return ", ".join(parts)


def sentence(text: str) -> str:
    """Capitalised, with a full stop: how notices are shown and spoken."""
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")) if text else text
