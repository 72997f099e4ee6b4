"""What the cue policy says. Pure data, no I/O. The preferences it reads are the user's Profile
(maxsight_app.profile.schema), declared once there."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from engine.types import Urgency
from maxsight_app.profile.schema import Verbosity


class Priority(enum.IntEnum):
    NORMAL = 0
    NEXT = 1      # say before anything normal that is waiting
    NOW = 2       # interrupt whatever is being said


# The lowest urgency each verbosity announces unasked.
MIN_URGENCY = {Verbosity.DANGER_ONLY: Urgency.DANGER, Verbosity.BRIEF: Urgency.WARNING,
               Verbosity.NORMAL: Urgency.CAUTION, Verbosity.DETAILED: Urgency.CAUTION}


class CueKind(enum.Enum):
    HAZARD = "hazard"
    QUALITY = "quality"       # "I can't see well"
    SUMMARY = "summary"       # "what's around me"
    REPEAT = "repeat"
    SOUND = "sound"           # an environmental sound (Stage B)
    TEXT = "text"             # text read on request (Stage B)
    OWN = "own"               # one of the user's own objects or places, recognised (Stage B)
    SYSTEM = "system"         # snooze / stop confirmations, notices
    FIND = "find"             # find mode: "door found, 2 o'clock", "lost it", "it is there but low in contrast"
    WATCH = "watch"           # a word the user watches for was read: "75, 11 o'clock" (cues/watch.py)
    TICK = "tick"             # "still watching, nothing in your path": a soft click, no words (opt-in)


@dataclass(frozen=True)
class Cue:
    text: str
    kind: CueKind
    priority: Priority
    urgency: Urgency
    frame_time: float                  # timestamp of the frame that caused it
    track_id: int | None = None
    label: str = ""
    bearing_deg: float | None = None   # for spatial tones: negative = left
    distance_m: float | None = None
    interrupt: bool = False            # barge in over anything playing
    clock: int | None = None           # where, as the words say it (12 = ahead), so outputs need no geometry
    group: tuple[int, ...] = ()        # a grouped cue ("3 people ..."): the tracks it speaks for
