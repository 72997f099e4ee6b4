"""Short, speakable phrases: "car, 2 o'clock, 4 metres, approaching". Every direction the app
says or shows goes through clock_words, so speech, screen, summaries and scene descriptions agree."""
from __future__ import annotations

from engine.types import Hazard, Urgency
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
    # "straight ahead", not "ahead": spoken after a noun, "person, ahead" is heard as "person add"
    # (transcribed with the captions model: 0 of 10 phrases kept "ahead"; "straight ahead" 10 of 10).
    return "straight ahead" if clock == 12 else f"{clock} o'clock"


URGENCY_WORDS = {Urgency.WARNING: "Warning", Urgency.DANGER: "Stop!"}


# How a class is said when its label is not already words (the access detector's classes).
SPOKEN_NAMES = {"stair_down": "stairs going down", "stair_up": "stairs going up", "refrigerator door": "fridge door"}


def spoken_name(label: str) -> str:
    return SPOKEN_NAMES.get(label, label)


def object_words(h: Hazard, hedge_below: float) -> str:
    """The class, or "something" when the class is unsure (the detector keeps changing its mind,
    or its confidence is well under the user's hedge level): never a guess ("maybe a cat" for a
    person seen from behind). Urgency is judged from every class the object was given."""
    return spoken_name(h.label) if h.sure and h.score >= SOMETHING_BELOW * hedge_below else "something"


SOMETHING_BELOW = 0.75      # of the profile's hedge level (0.55: "something" under 0.41)


def hazard_phrase(h: Hazard, units: Units, hedge_below: float, detailed: bool = False, lead: bool = True,
                  sign: str | None = None) -> str:
    """Short and front-loaded: the urgency (warning, danger as "Stop!"), what, where, how far, then
    what helps with it: "door, 1 o'clock, 3 metres, handle on the right, sign: Exit".
    lead=False leaves the urgency word out (lists: "what's around me")."""
    parts = [object_words(h, hedge_below), clock_words(h.clock), distance_words(h.distance_m, units)]
    # A danger is always something closing in (engine/stage_a/urgency.py): "Stop!" says so, and the
    # phrase is a word shorter, so it is heard whole before the next one.
    if h.approaching and not (lead and h.urgency == Urgency.DANGER):
        if detailed and h.ttc_s is not None and h.ttc_s < 10:
            parts.append(f"approaching, {max(1, round(h.ttc_s))} seconds")
        else:
            parts.append("approaching")
    if h.detail:
        parts.append(h.detail)
    if sign:
        parts.append(f"sign: {sign}")
    text = ", ".join(parts)
    word = URGENCY_WORDS.get(h.urgency) if lead else None
    if word:
        text = f"{word} {text}" if word.endswith("!") else f"{word}, {text}"
    return text


PLURALS = {"person": "people", "bus": "buses", "bench": "benches", "potted plant": "potted plants", "sheep": "sheep",
           "stair_down": "flights of stairs going down", "stair_up": "flights of stairs going up",
           "refrigerator door": "fridge doors"}


def group_phrase(members: list[Hazard], units: Units) -> str:
    """'3 people, 11 o'clock, nearest 4 metres': how many, where the nearest is, how near."""
    near = min(members, key=lambda h: h.distance_m)
    label = near.label
    plural = PLURALS.get(label, spoken_name(label) + "s")
    moving = sum(h.approaching for h in members)
    tail = f", {moving} approaching" if moving else ""
    return f"{len(members)} {plural}, {clock_words(near.clock)}, nearest {distance_words(near.distance_m, units)}{tail}"


def sentence(text: str) -> str:
    """Capitalised, with a full stop: how notices are shown and spoken."""
    text = text.strip()
    return (text[:1].upper() + text[1:] + ("" if text.endswith((".", "?", "!")) else ".")) if text else text
