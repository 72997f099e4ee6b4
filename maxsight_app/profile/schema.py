"""Every user preference, declared once: its type (the annotation), default, bounds or choices, the
words the settings dialog shows, and what it is for. `Profile` is the frozen, checked result; the
store's columns, its validation, the settings dialog, the cue policy and the outputs all read it.

A choice among modes is one enum (Verbosity, Units, SpeechOutput, Hearing, ObstacleWarnings); vision
conditions are the names of the simulations in engine.conditions, and sound alerts the sound classes
in engine.types, so neither list is written twice.
"""
from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from engine.conditions import CONDITIONS
from engine.types import SOUND_LABELS

VISION_CONDITIONS = ("none",) + tuple(CONDITIONS)


class Verbosity(enum.Enum):
    DANGER_ONLY = "danger_only"
    BRIEF = "brief"
    NORMAL = "normal"
    DETAILED = "detailed"


class Units(enum.Enum):
    METRES = "metres"
    FEET = "feet"
    STEPS = "steps"


class SpeechOutput(enum.Enum):
    """Who speaks MaxSight's cues: its own voice, the user's screen reader, or both. AUTO means the
    screen reader when one is running, else MaxSight's own voice."""
    AUTO = "auto"
    OWN_VOICE = "own_voice"
    SCREEN_READER = "screen_reader"
    BOTH = "both"


class ObstacleWarnings(enum.Enum):
    """The collision lane (whatever is in the way, named or not): off, or one of its two operating
    points (engine.config.COLLISION_SENSITIVITY)."""
    OFF = "off"
    FEWER = "fewer"
    MORE = "more"


class Hearing(enum.Enum):
    TYPICAL = "typical"
    HARD_OF_HEARING = "hard_of_hearing"
    DEAF = "deaf"


@dataclass(frozen=True)
class Pref:
    """One preference's declaration. `kind` comes from the Profile field's annotation."""
    default: object
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    label: str = ""
    doc: str = ""
    kind: type = object
    hidden: bool = False          # kept in the profile, not shown in the settings dialog

    @property
    def sql_type(self) -> type:
        if self.kind is bool:
            return int
        if isinstance(self.kind, type) and issubclass(self.kind, enum.Enum) or self.kind is tuple:
            return str
        return self.kind


def pref(default, low=None, high=None, *, choices=(), label: str, doc: str, hidden: bool = False):
    return field(default=default, metadata={"pref": Pref(default, low, high, tuple(choices), label, doc, hidden=hidden)})


@dataclass(frozen=True)
class Profile:
    """A user's preferences, typed and checked. Build one with `Profile.from_values` (coerces
    strings from the command line or the database) or directly with typed values."""
    verbosity: Verbosity = pref(Verbosity.NORMAL, label="How much to say", doc="how much is said unasked")
    units: Units = pref(Units.METRES, label="Distance units", doc="distance units")
    speech_output: SpeechOutput = pref(SpeechOutput.AUTO, label="Who speaks",
                                       doc="MaxSight's own voice, your screen reader, or both; auto: the screen reader when one runs")
    speech_rate: int = pref(175, 80, 450, label="Speaking rate (words per minute)", doc="words per minute")
    volume: float = pref(0.9, 0.0, 1.0, label="Speech volume", doc="speech volume")
    voice: str = pref("", label="Voice", doc="espeak-ng voice id; empty = English")
    speech: bool = pref(True, label="Speak cues", doc="speak cues")
    earcons: bool = pref(True, label="Direction tones", doc="play spatial tones before hazard cues")
    tone_volume: float = pref(0.8, 0.0, 1.0, label="Tone volume", doc="earcon volume")
    haptic: bool = pref(False, label="Vibrate", doc="vibrate on hazards")
    haptic_port: str = pref("", label="Vibration device port", doc="serial port of a vibration device; empty = game controller")
    haptic_strength: float = pref(1.0, 0.1, 1.0, label="Vibration strength", doc="vibration strength")
    screen_alerts: bool = pref(True, label="Flash alerts on screen", doc="flash and large text for alerts")
    captions: bool = pref(True, label="Live captions", doc="live captions of speech")
    cooldown_s: float = pref(8.0, 2.0, 60.0, label="Do not repeat within (seconds)",
                             doc="never repeat the same cue within this many seconds")
    max_unsolicited: int = pref(3, 1, 10, label="Cues per 10 seconds at most", doc="non-danger cues allowed per 10 seconds")
    hedge_below: float = pref(0.55, 0.0, 1.0, label="Say 'maybe' below confidence", doc="say 'maybe' under this confidence")
    vision_condition: str = pref("none", choices=VISION_CONDITIONS, label="Vision condition", doc="the user's vision condition")
    vision_severity: float = pref(0.0, 0.0, 1.0, label="Severity", doc="severity of the condition")
    hearing: Hearing = pref(Hearing.TYPICAL, label="Hearing", doc="hearing profile")
    text_scale: float = pref(1.0, 0.75, 3.0, label="Text size", doc="in-app text size, times the system size")
    high_contrast: bool = pref(False, label="High contrast", doc="high-contrast colours")
    sound_alerts: tuple = pref(SOUND_LABELS, choices=SOUND_LABELS, label="Sounds to show",
                               doc="environmental sounds to show, comma-separated")
    name_alert: str = pref("", label="Alert me when someone says",
                           doc="your name or other words, comma-separated; captions must be on")
    watching_tick: bool = pref(False, label="Quiet tick while the way is clear",
                               doc="a soft tick every few seconds that means MaxSight is still watching and nothing "
                                   "is in your path")
    obstacle_warnings: ObstacleWarnings = pref(
        ObstacleWarnings.OFF, label="Warn of anything in my path (experimental)",
        doc="warn of obstacles no detector names (a pole, a box, a board at head height) from how the picture moves "
            "as you walk: off, fewer false alarms (about 80-85% of obstacles warned in tests, under one false alarm "
            "a minute), or more obstacles found (about 90%, a little over one false alarm a minute)")
    watch_for: str = pref("", label="Watch for these words",
                          doc="words or numbers to watch for, comma-separated (75, Gate C3): said with where they are "
                              "when the text reader sees one (tier T3 or T4)")
    near_miss_log: bool = pref(False, label="Keep a near-miss log",
                               doc="keep each warning and danger said (time, words, distance, a small picture) on this "
                                   "machine for an instructor to replay")
    near_miss_days: int = pref(30, 1, 365, label="Keep near misses for (days)", doc="near-miss log entries older than "
                                                                                   "this many days are deleted")
    near_miss_max: int = pref(1000, 10, 10000, label="Near misses kept at most", doc="the near-miss log keeps at most "
                                                                                    "this many entries, the newest")
    first_run_done: bool = pref(False, label="First-run set-up finished", doc="the first-run wizard was finished or skipped",
                                hidden=True)
    # Not a preference row: learnt from feedback, stored per class (class_interest table).
    class_weights: Mapping[str, float] = field(default_factory=lambda: types.MappingProxyType({}))
    # Not a preference row: the user's own sounds (custom_sounds table), name -> YAMNet embeddings.
    custom_sounds: "TaughtSounds" = field(default_factory=lambda: TaughtSounds())

    def __post_init__(self) -> None:
        for name, p in PREFERENCES.items():
            object.__setattr__(self, name, validate(name, getattr(self, name)))
        cw = dict(self.class_weights)
        for label, w in cw.items():
            if not isinstance(w, (int, float)) or not CLASS_WEIGHT_RANGE[0] <= w <= CLASS_WEIGHT_RANGE[1]:
                raise ValueError(f"class weight for {label!r} must be between 0 and 2, got {w!r}")
        object.__setattr__(self, "class_weights", types.MappingProxyType(cw))
        if not isinstance(self.custom_sounds, TaughtSounds):
            object.__setattr__(self, "custom_sounds", TaughtSounds(self.custom_sounds))

    @classmethod
    def from_values(cls, values: Mapping[str, object], class_weights: Mapping[str, float] | None = None,
                    custom_sounds: Mapping[str, object] | None = None) -> "Profile":
        """From stored or typed-in values (strings are coerced); unknown names are a ValueError."""
        return cls(**{k: validate(k, v) for k, v in values.items()}, class_weights=dict(class_weights or {}),
                   custom_sounds=TaughtSounds(custom_sounds))

    def replace(self, **changes) -> "Profile":
        return dataclasses.replace(self, **changes)

    def stored(self) -> dict[str, object]:
        """name -> the value as the database stores it (enums as their words, tuples as CSV)."""
        return {name: to_stored(name, getattr(self, name)) for name in PREFERENCES}


CLASS_WEIGHT_RANGE = (0.0, 2.0)
MAX_SOUND_NAME = 60


class TaughtSounds(Mapping):
    """The user's own sounds, read-only: name -> [N, D] float32 embeddings. Two are equal when the
    same names hold the same vectors (so a changed profile can tell whether they changed)."""

    def __init__(self, sounds: Mapping[str, object] | None = None):
        self._d: dict[str, np.ndarray] = {}
        for name, e in (sounds or {}).items():
            if not isinstance(name, str) or not name.strip() or len(name) > MAX_SOUND_NAME:
                raise ValueError(f"custom sound name must be 1..{MAX_SOUND_NAME} characters, got {name!r}")
            a = np.array(e, dtype=np.float32)
            if a.ndim != 2 or not len(a) or not np.isfinite(a).all():
                raise ValueError(f"custom sound {name!r}: embeddings must be a finite [N, D] array, got {a.shape}")
            a.setflags(write=False)
            self._d[name] = a

    def __getitem__(self, name: str) -> np.ndarray:
        return self._d[name]

    def __iter__(self):
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Mapping) or set(self) != set(other):
            return False
        return all(np.array_equal(self[k], np.asarray(other[k])) for k in self)

    __hash__ = None

    def __repr__(self) -> str:
        return f"TaughtSounds({', '.join(f'{k}: {len(v)}' for k, v in self._d.items())})"


def _declarations() -> dict[str, Pref]:
    hints = typing.get_type_hints(Profile)
    out = {}
    for f in dataclasses.fields(Profile):
        if "pref" in f.metadata:
            kind = hints[f.name]
            out[f.name] = dataclasses.replace(f.metadata["pref"], kind=kind if isinstance(kind, type) else tuple)
    return out


PREFERENCES: dict[str, Pref] = _declarations()


def _parse_bool(name: str, value) -> bool:
    if isinstance(value, str):
        v = value.strip().lower()
        if v not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError(f"{name}: expected true or false, got {value!r}")
        return v in ("true", "1", "yes", "on")
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"{name}: expected true or false, got {value!r}")


def validate(name: str, value):
    """Coerce and check one preference; ValueError names the field and what it accepts."""
    if name not in PREFERENCES:
        raise ValueError(f"{name}: there is no such preference (known: {', '.join(PREFERENCES)})")
    p = PREFERENCES[name]
    kind = p.kind
    if kind is bool:
        return _parse_bool(name, value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        if isinstance(value, kind):
            return value
        words = [m.value for m in kind]
        if not isinstance(value, str) or value not in words:
            raise ValueError(f"{name}: must be one of {', '.join(words)}; got {value!r}")
        return kind(value)
    if kind is tuple:
        items = tuple(x.strip() for x in value.split(",") if x.strip()) if isinstance(value, str) else value
        if not isinstance(items, (tuple, list)) or not all(isinstance(x, str) for x in items):
            raise ValueError(f"{name}: expected a comma-separated list, got {value!r}")
        unknown = [x for x in items if x not in p.choices]
        if unknown:
            raise ValueError(f"{name}: unknown {', '.join(unknown)}; known: {', '.join(p.choices)}")
        return tuple(dict.fromkeys(items))
    try:
        if isinstance(value, bool):
            raise ValueError
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            value = int(value)
        elif kind is float:
            value = float(value)
            if value != value:               # NaN never compares inside bounds
                raise ValueError
        else:
            if not isinstance(value, str):
                raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected {kind.__name__}, got {value!r}") from None
    if p.choices and value not in p.choices:
        raise ValueError(f"{name}: must be one of {', '.join(p.choices)}; got {value!r}")
    if p.low is not None and not p.low <= value <= p.high:
        raise ValueError(f"{name}: must be between {p.low:g} and {p.high:g}; got {value!r}")
    if kind is str and len(value) > 500:
        raise ValueError(f"{name}: at most 500 characters")
    if name == "watch_for":
        try:
            return ", ".join(watch_words(value)) if value.strip() else ""
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return value


MAX_WATCH_WORD = 40
MAX_WATCH_WORDS = 10


def watch_words(value) -> tuple[str, ...]:
    """The words to watch for (a comma-separated string or a list), as typed, without repeats.
    ValueError in one sentence for an empty word, one longer than MAX_WATCH_WORD characters, one
    with no letter or digit, or more than MAX_WATCH_WORDS (maxsight_app/cues/watch.py matches them)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        w = " ".join(str(raw).split())
        if not w:
            raise ValueError("a word to watch for is empty: type a word or number, e.g. 75 or Gate C3")
        if len(w) > MAX_WATCH_WORD:
            raise ValueError(f"'{w[:20]}...' is {len(w)} characters long: a word to watch for can be at most {MAX_WATCH_WORD}")
        if not re.search(r"[0-9A-Za-z]", w):
            raise ValueError(f"{w!r} holds no letter or digit to look for")
        if w.lower() not in (o.lower() for o in out):
            out.append(w)
    if len(out) > MAX_WATCH_WORDS:
        raise ValueError(f"at most {MAX_WATCH_WORDS} words can be watched for at once, got {len(out)}")
    return tuple(out)


def to_stored(name: str, value):
    """A typed value as the database column holds it."""
    p = PREFERENCES[name]
    if isinstance(value, enum.Enum):
        return value.value
    if p.kind is tuple:
        return ",".join(value)
    if p.kind is bool:
        return int(bool(value))
    return value


def word(value) -> str:
    """How a value reads in the command line and reports."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)
