"""What MaxSight tells someone who may not hear: the words for environmental sounds (the built-in
classes and the user's own taught sounds) and the name alert of live captions.

Name alert (as Live Transcribe does): when captions are on and someone says the user's name, or
another word or phrase they listed (the profile's name_alert, comma-separated), the cue "Someone
said your name" is a warning, so it flashes and vibrates too. Matching forgives what speech to
text gets slightly wrong: case, punctuation, a possessive or plural ending ("Ada's", "Adas"), words
run together or split ("fire drill" / "firedrill"), and small spelling changes (one letter in a
word of 4-7 letters, two in a longer one; a word of 3 letters or fewer must match exactly, so
"Al" is not heard in "all"). The first term in the list is the name; the others are said as
themselves ("Someone said: fire drill").

Pure functions and one small state (when the last name alert was given); no I/O."""
from __future__ import annotations

import re

from engine.types import FrameResult, SoundEvent, Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.profile.schema import Profile

NAME_ALERT_GAP_S = 10.0      # the same term is not alerted again within this long
URGENT_WORDS = ("alarm", "smoke", "fire", "siren", "alert", "carbon monoxide", "co detector")


def own_sound_words(label: str) -> tuple[str, Urgency]:
    """A taught sound's cue: "my doorbell" -> "Your doorbell"; an alarm of the user's own is a
    warning, anything else a caution."""
    name = label.strip()
    words = "Your " + name[3:] if name.lower().startswith("my ") else name[:1].upper() + name[1:]
    urgent = any(w in name.lower() for w in URGENT_WORDS)
    return words, Urgency.WARNING if urgent else Urgency.CAUTION


def sound_words(snd: SoundEvent, prefs: Profile, builtin: dict) -> tuple[str, Urgency] | None:
    """(words, urgency) for a sound event the user wants to hear about, else None. builtin: the
    policy's table of MaxSight classes -> (words, urgency)."""
    if snd.own:
        return own_sound_words(snd.label) if snd.label in prefs.custom_sounds else None
    if snd.label not in builtin or snd.label not in prefs.sound_alerts:
        return None
    return builtin[snd.label]


def _words(text: str) -> list[str]:
    t = text.lower().replace("\u2019", "'").replace("-", " ")
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    out = []
    for w in t.split():
        w = w.strip("'")
        if w.endswith("'s"):
            w = w[:-2]
        if w:
            out.append(w)
    return out


def terms(setting: str) -> list[str]:
    """The profile's name_alert as terms, each normalised to its words joined by single spaces."""
    return [" ".join(_words(t)) for t in setting.split(",") if _words(t)]


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def _allowed(n: int) -> int:
    return 0 if n <= 3 else 1 if n <= 7 else 2


def _close(heard: str, term: str) -> bool:
    if heard == term:
        return True
    if len(term) > 3 and heard in (term + "s", term + "es"):
        return True
    return _distance(heard, term) <= _allowed(len(term))


def mentions(text: str, term: str) -> bool:
    """Does `text` (a caption) contain `term` (normalised by `terms`), allowing small variations?"""
    heard = _words(text)
    want = term.split()
    joined = term.replace(" ", "")
    if not heard or not want:
        return False
    for n in {len(want), len(want) - 1, len(want) + 1} - {0}:
        for i in range(len(heard) - n + 1):
            if _close("".join(heard[i:i + n]), joined):
                return True
    return False


class NameAlert:
    """Watches captions for the user's name and listed words."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def check(self, result: FrameResult, prefs: Profile, now: float) -> list[Cue]:
        if not prefs.captions or not prefs.name_alert.strip() or not result.captions:
            return []
        listed = terms(prefs.name_alert)
        cues = []
        for line in result.captions:
            for k, term in enumerate(listed):
                if not mentions(line.text, term) or now - self._last.get(term, -1e9) < NAME_ALERT_GAP_S:
                    continue
                self._last[term] = now
                text = "Someone said your name" if k == 0 else f"Someone said: {term}"
                cues.append(Cue(text, CueKind.SOUND, Priority.NEXT, Urgency.WARNING, result.timestamp, label="name_alert"))
                break
        return cues
