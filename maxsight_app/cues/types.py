"""What the cue policy says and the preferences it reads. Pure data, no I/O."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from engine.types import Urgency


class Priority(enum.IntEnum):
    NORMAL = 0
    NEXT = 1      # say before anything normal that is waiting
    NOW = 2       # interrupt whatever is being said


class Verbosity(enum.Enum):
    DANGER_ONLY = "danger_only"
    BRIEF = "brief"
    NORMAL = "normal"
    DETAILED = "detailed"


class Units(enum.Enum):
    METRES = "metres"
    FEET = "feet"
    STEPS = "steps"


# The lowest urgency each verbosity announces unasked.
MIN_URGENCY = {Verbosity.DANGER_ONLY: Urgency.DANGER, Verbosity.BRIEF: Urgency.WARNING,
               Verbosity.NORMAL: Urgency.CAUTION, Verbosity.DETAILED: Urgency.CAUTION}


@dataclass(frozen=True)
class CuePreferences:
    verbosity: Verbosity = Verbosity.NORMAL
    units: Units = Units.METRES
    cooldown_s: float = 8.0            # never say the same thing about a track again within this
    max_unsolicited: int = 3           # non-danger cues allowed per rate window
    rate_window_s: float = 10.0
    hedge_below: float = 0.55          # track score under which we say "maybe"
    class_weights: dict = field(default_factory=dict)   # label -> 0..2, learnt from feedback; 0 mutes
    sound_alerts: tuple[str, ...] = ("doorbell", "knock", "smoke_alarm", "siren", "car_horn", "baby_crying",
                                     "dog_bark", "glass_breaking")
    condition: str = "none"            # the user's vision condition (engine.conditions names)
    severity: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.cooldown_s <= 120:
            raise ValueError(f"cooldown_s must be between 0 and 120 seconds, got {self.cooldown_s}")
        if not 1 <= self.max_unsolicited <= 20:
            raise ValueError(f"max_unsolicited must be between 1 and 20, got {self.max_unsolicited}")
        if not 0 <= self.severity <= 1:
            raise ValueError(f"severity must be between 0 and 1, got {self.severity}")
        for label, w in self.class_weights.items():
            if not 0 <= w <= 2:
                raise ValueError(f"class weight for {label!r} must be between 0 and 2, got {w}")


class CueKind(enum.Enum):
    HAZARD = "hazard"
    QUALITY = "quality"       # "I can't see well"
    SUMMARY = "summary"       # "what's around me"
    REPEAT = "repeat"
    SOUND = "sound"           # an environmental sound (Stage B)
    TEXT = "text"             # text read on request (Stage B)
    OWN = "own"               # one of the user's own objects or places, recognised (Stage B)
    SYSTEM = "system"         # snooze / stop confirmations


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
