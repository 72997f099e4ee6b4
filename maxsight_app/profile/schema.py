"""Every user preference: type, default and bounds (or choices), declared once. The store's
columns, validation and the settings UI all read this table."""
from __future__ import annotations

from dataclasses import dataclass

from engine.conditions import CONDITIONS

VISION_CONDITIONS = ("none",) + tuple(CONDITIONS)   # one list: the simulations themselves
HEARING = ("typical", "hard_of_hearing", "deaf")
SOUND_ALERTS = ("doorbell", "knock", "smoke_alarm", "siren", "car_horn", "baby_crying", "dog_bark", "glass_breaking", "speech")


@dataclass(frozen=True)
class Pref:
    kind: type
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    @property
    def sql_type(self) -> type:
        return int if self.kind is bool else self.kind


PREFERENCES: dict[str, Pref] = {
    "verbosity": Pref(str, "normal", choices=("danger_only", "brief", "normal", "detailed"), doc="how much is said unasked"),
    "units": Pref(str, "metres", choices=("metres", "feet", "steps"), doc="distance units"),
    "speech_rate": Pref(int, 175, 80, 450, doc="words per minute"),
    "volume": Pref(float, 0.9, 0.0, 1.0, doc="speech volume"),
    "voice": Pref(str, "", doc="espeak-ng voice id; empty = English"),
    "speech": Pref(bool, True, doc="speak cues"),
    "earcons": Pref(bool, True, doc="play spatial tones before hazard cues"),
    "tone_volume": Pref(float, 0.8, 0.0, 1.0, doc="earcon volume"),
    "haptic": Pref(bool, False, doc="vibrate on hazards"),
    "haptic_port": Pref(str, "", doc="serial port of a vibration device; empty = game controller"),
    "haptic_strength": Pref(float, 1.0, 0.1, 1.0, doc="vibration strength"),
    "screen_alerts": Pref(bool, True, doc="flash and large text for alerts"),
    "captions": Pref(bool, True, doc="live captions of speech"),
    "cooldown_s": Pref(float, 8.0, 2.0, 60.0, doc="never repeat the same cue within this many seconds"),
    "max_unsolicited": Pref(int, 3, 1, 10, doc="non-danger cues allowed per 10 seconds"),
    "hedge_below": Pref(float, 0.55, 0.0, 1.0, doc="say 'maybe' under this confidence"),
    "vision_condition": Pref(str, "none", choices=VISION_CONDITIONS, doc="the user's vision condition"),
    "vision_severity": Pref(float, 0.0, 0.0, 1.0, doc="severity of the condition"),
    "hearing": Pref(str, "typical", choices=HEARING, doc="hearing profile"),
    "text_scale": Pref(float, 1.0, 0.75, 3.0, doc="in-app text size, times the system size"),
    "high_contrast": Pref(bool, False, doc="high-contrast colours"),
    "sound_alerts": Pref(str, ",".join(SOUND_ALERTS), doc="environmental sounds to show, comma-separated"),
}

CLASS_WEIGHT_RANGE = (0.0, 2.0)


def validate(name: str, value):
    """Coerce and check one preference; ValueError names the field and what it accepts."""
    if name not in PREFERENCES:
        raise ValueError(f"{name}: there is no such preference (known: {', '.join(PREFERENCES)})")
    p = PREFERENCES[name]
    try:
        if p.kind is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError
                value = value.lower() in ("true", "1", "yes", "on")
            elif not isinstance(value, (bool, int)) or value not in (0, 1):
                raise ValueError
            return bool(value)
        if p.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            value = int(value)
        elif p.kind is float:
            value = float(value)
        else:
            value = str(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected {p.kind.__name__}, got {value!r}") from None
    if name == "sound_alerts":
        unknown = [x for x in value.split(",") if x and x not in SOUND_ALERTS]
        if unknown:
            raise ValueError(f"sound_alerts: unknown sound(s) {', '.join(unknown)}; known: {', '.join(SOUND_ALERTS)}")
    if p.choices and value not in p.choices:
        raise ValueError(f"{name}: must be one of {', '.join(p.choices)}; got {value!r}")
    if p.low is not None and not p.low <= value <= p.high:
        raise ValueError(f"{name}: must be between {p.low:g} and {p.high:g}; got {value!r}")
    return value
