"""The cue policy: from a FrameResult and the user's Profile, what is worth saying now?

What it owns: what has been said about each track, the unsolicited-cue budget, snooze, and the
latest result (for on-demand answers). What it never does: I/O, or read a clock of its own (the
caller passes `now`), so every rule is testable over scripted sequences.

Rules:
  * a track is announced when it first reaches the verbosity's urgency, when its urgency rises
    (to danger at once, otherwise a second after its last cue), when its zone gets nearer or it
    starts approaching (2.5 s after its last cue: news waits until the last cue was heard);
  * the same (zone, urgency, approaching) is never said twice within the cooldown; after it, only
    warnings and dangers are repeated (a caution that stays put is not nagged about);
  * danger always speaks, interrupts (barge-in), and ignores rate limits, snooze and muted classes;
  * a warning whose danger is due before it could be heard (closing in, near within SAY_AHEAD_S)
    is said as the danger now, one sentence ("Stop! person, straight ahead, 2 metres"), so the
    danger about the same object never cuts its warning a second later;
  * other unsolicited cues are rate limited (max_unsolicited per rate_window_s) and at most one
    new one per frame, so the default profile stays under 2 overload events per minute, an
    overload event being more than OVERLOAD_CUES cues inside any OVERLOAD_WINDOW_S; warnings
    have WARNING_EXTRA more slots than cautions, so a busy caution scene cannot hide a warning;
  * the same object is not announced again because the tracker gave it a new id: a track of the
    same kind within 10 degrees and 35% of the distance of something said inside the cooldown (and
    after the track's own last cue) inherits what was said, unless it is more urgent;
  * one urgent cue at a time: while a warning or danger is being heard (1.5 s), another is said
    only when it is more urgent, 30% nearer, or over 30 degrees away;
  * "Stop!" is said once: the same thing is not told "Stop!" again for STOP_REPEAT_S, however
    much nearer it comes (on the dev approach clips a person closing in got "Stop! 5.5 metres"
    and "Stop! 2.5 metres" two seconds apart, under two track ids: the second told a stopping
    walker nothing new and was the cue that overloaded the scene); after that it is news as any
    track's is (a nearer zone, or the cooldown), counted from the "Stop!". The same thing: the same
    track, or the same words (or "something") within 30 degrees, no farther than it was and no
    nearer than it could have come since (_stopped_at); another object in the same direction that
    could not be it (a second person 2.5 metres nearer 0.2 s later, a second car behind the first)
    still gets its own "Stop!";
  * in a busy scene, three or more new cautions of one kind become one sentence ("3 people, 11
    o'clock, nearest 4 metres"), or, of mixed kinds, one sentence for the lot ("3 things, nearest
    dog, 2 o'clock, 2 metres"); warnings and dangers are never grouped: the one that matters
    keeps its own cue;
  * cautions do not trickle in one per frame: a new caution within CAUTION_GAP_S of the last one
    waits, and when the gap is over the waiting ones (two or more) are one sentence (a group of
    three or more arriving at once is said without waiting: it is already one sentence);
  * a door says the side of its handle and a sign Stage B read on it ("door, 1 o'clock, 3 metres,
    handle on the right, sign: Exit");
  * poor pictures (dark, blurred, covered) for most of the last 1.5 s give "I can't see well",
    never silence that sounds like all clear; one blurred frame is not worth a cue; nothing here
    ever says "all clear";
  * opt-in (the profile's watching_tick): a soft tick, no words, after TICK_EVERY_S with nothing
    said, while the picture is good and nothing is in the path within MEDIUM_M: "still watching,
    nothing in your path". A poor picture, anything in the path, or snooze stops it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from engine.stage_a import urgency as urgency_rules
from engine.stage_a.geometry import MEDIUM_M
from engine.stage_a.quality import DARK_MEAN
from engine.types import FrameResult, Hazard, Urgency, Zone
from maxsight_app.cues import conditions as cond
from maxsight_app.cues import hearing
from maxsight_app.cues.phrasing import clock_words, distance_words, group_phrase, hazard_phrase, object_words
from maxsight_app.cues.scene import describe
from maxsight_app.cues.types import MIN_URGENCY, Cue, CueKind, Priority
from maxsight_app.profile.schema import Profile, Verbosity

# Environmental sounds worth telling someone who may not hear them: words and urgency.
SOUND_CUES = {
    "smoke_alarm": ("Smoke alarm", Urgency.WARNING), "siren": ("Siren", Urgency.WARNING),
    "car_horn": ("Car horn", Urgency.WARNING), "glass_breaking": ("Glass breaking", Urgency.WARNING),
    "doorbell": ("Doorbell", Urgency.CAUTION), "knock": ("Knock at the door", Urgency.CAUTION),
    "baby_crying": ("Baby crying", Urgency.CAUTION), "dog_bark": ("Dog barking", Urgency.CAUTION),
}
RATE_WINDOW_S = 10.0      # the profile's max_unsolicited counts cues in this window
OVERLOAD_CUES = 4
WARNING_EXTRA = 1
OVERLOAD_WINDOW_S = 10.0
QUALITY_COOLDOWN_S = 15.0
QUALITY_WINDOW_S = 1.5     # poor pictures must fill most of this long before "I can't see well"
QUALITY_SHARE = 0.7
SAME_OBJECT_DEG = 10.0     # a new track this close to something just said is the same object
SAME_OBJECT_DIST = 0.35
GROUP_MIN = 3
URGENT_GAP_S = 1.5        # about how long an urgent phrase takes to say
RISE_GAP_S = 1.0          # a track's rise to warning waits this long after its last cue
NEWS_GAP_S = 2.5          # nearer zone, or starting to approach: this long
NEARER = 0.7              # ... unless the new one is this much nearer
OTHER_SIDE_DEG = 30.0     # ... or this far round
STOP_REPEAT_S = 4.0       # "Stop!" about the same thing is said once in this long
STOP_SAME_DIST = 0.2      # distance noise between two estimates of one object
CLOSING_MAX = {"vehicle": 15.0, "other": 3.0}   # m/s: how fast a thing of this kind can come nearer
_ZONE_RANK = {Zone.FAR: 0, Zone.MEDIUM: 1, Zone.NEAR: 2}
SIGN_BEARERS = frozenset({"door"})
SIGN_FRESH_S = 6.0         # text is read every 3 s at most: two readings old is still the same door
SIGN_MAX_CHARS = 30
CAUTION_GAP_S = 1.0        # a new caution this soon after another waits, and those waiting are one sentence
VOICE_WAIT_S = 1.0         # a caution that would wait longer than this behind the voice waits here instead
TICK_EVERY_S = 4.0         # the "still watching" tick, after this long with nothing said
TICK_MAX_UNCERTAINTY = 0.7  # ... and only while Stage A is sure of its frame (the decision point's own bound)


VOICE_BUSY_WHY = "not said yet: the voice is still busy; it waits until it can be heard"


@dataclass
class _Said:
    zone: Zone
    urgency: Urgency
    approaching: bool
    t: float


# One edge in the floor, whichever lane named it: a "Stop! drop-off" is not said again as
# "Stop! stairs going down" once the stairs detector names the same edge (or the other way round).
EDGE_WORDS = frozenset({"drop-off", "stairs going down"})
EDGE_KIND = "edge in the floor"


def _kind(h: Hazard, prefs: Profile) -> str:
    """What the cue calls it: the same words are the same object to the listener."""
    words = object_words(h, prefs.hedge_below)
    return EDGE_KIND if words in EDGE_WORDS else words


def _words(h: Hazard, prefs: Profile) -> str:
    """What the cue says it is, in words."""
    return object_words(h, prefs.hedge_below)


def _priority(u: Urgency) -> Priority:
    return Priority.NOW if u == Urgency.DANGER else Priority.NEXT if u == Urgency.WARNING else Priority.NORMAL


def _threshold(prefs: Profile, label: str) -> Urgency:
    base = MIN_URGENCY[prefs.verbosity]
    w = prefs.class_weights.get(label, 1.0)
    if w < 0.5:      # the user said this class is not useful: one level stricter
        return Urgency(min(int(base) + 1, int(Urgency.DANGER)))
    if w > 1.5 and base > Urgency.CAUTION:
        return Urgency(int(base) - 1)
    return base


def quality_words(result: FrameResult, prefs: Profile | None = None) -> str | None:
    q = result.quality
    if q.covered:
        return "I can't see well: the camera seems covered"
    if q.dark:
        return "I can't see well: it is too dark"
    if prefs is not None and q.brightness < cond.dark_threshold(prefs.vision_condition, prefs.vision_severity, DARK_MEAN):
        return "It is getting dark: take care"
    if q.blurred:
        return "I can't see well: the picture is blurred"
    return None


class CuePolicy:
    """Decides, per frame, which cues are worth saying; answers on-demand requests."""

    def __init__(self) -> None:
        self._said: dict[int, _Said] = {}
        self._unsolicited: list[float] = []
        self._last_quality_t = -1e9
        self._last: Cue | None = None
        self._snooze_until = -1e9
        self._latest: FrameResult | None = None
        self._latest_texts: tuple = ()
        self._latest_texts_t = -1e9
        self._named: set[tuple[int, str]] = set()   # (track, label) already announced as the user's own
        self._quality: deque = deque()               # (t, frame was poor)
        self._urgent: list[tuple[float, Urgency, float, float]] = []   # warnings/dangers said: (t, level, bearing, distance)
        self._recent: list[tuple[float, str, float, float, Urgency, int]] = []   # said: (t, kind, bearing, distance, urgency, track)
        self._names = hearing.NameAlert()
        self.reasons: dict[int, str] = {}            # track -> what the last decide() did with it, and why
        self._dangers: list[float] = []              # when dangers were said: cautions make room for them
        self._last_caution_t = -1e9                  # when a caution (or a group of them) was last said
        self._held: set[int] = set()                 # cautions waiting for the caution gap, to be said together
        self._quiet_since: float | None = None        # the last cue or tick (the watching tick counts from it)
        self._stops: list[tuple] = []                # "Stop!" said: (t, track, kind, label, bearing, distance, carried)
        self._voice_busy_s = 0.0                     # how long the voice will go on with what it was given

    # -- every frame ---------------------------------------------------------------------------
    def decide(self, result: FrameResult, prefs: Profile, now: float, voice_busy_s: float = 0.0) -> list[Cue]:
        """voice_busy_s: the sound output's backlog (0 when nothing speaks): a caution chosen now
        would only wait behind it, be dropped as stale or cut by the next warning, unheard."""
        self._latest = result
        self._voice_busy_s = voice_busy_s
        live = {h.track_id for h in result.hazards}
        self._said = {k: v for k, v in self._said.items() if k in live}
        self._named = {k for k in self._named if k[0] in live}
        self._unsolicited = [t for t in self._unsolicited if now - t < RATE_WINDOW_S]
        self._dangers = [t for t in self._dangers if now - t < RATE_WINDOW_S]
        self._recent = [r for r in self._recent if now - r[0] < prefs.cooldown_s]
        self._urgent = [u for u in self._urgent if now - u[0] < URGENT_GAP_S]
        self._stops = [s for s in self._stops if now - s[0] < STOP_REPEAT_S]
        snoozed = now < self._snooze_until
        cues: list[Cue] = []
        q_text = self._sustained_quality(result, prefs)
        if q_text and not snoozed and now - self._last_quality_t >= QUALITY_COOLDOWN_S and self._room(prefs):
            cues.append(Cue(q_text, CueKind.QUALITY, Priority.NORMAL, Urgency.CAUTION, result.timestamp))
            self._last_quality_t = now
            self._unsolicited.append(now)
        if result.texts_asked:
            # The answer to "read text now", in reading order, with where the first line is.
            if result.texts:
                first = result.texts[0]
                words = "; ".join(t.text for t in result.texts[:8])
                cues.append(Cue(f"Text {clock_words(first.clock)}: {words}", CueKind.TEXT, Priority.NEXT, Urgency.SAFE,
                                result.timestamp, clock=first.clock))
            else:
                cues.append(Cue("I can't find any text to read", CueKind.TEXT, Priority.NEXT, Urgency.SAFE, result.timestamp))
        if result.texts:
            self._latest_texts, self._latest_texts_t = result.texts, result.timestamp
        by_track = {h.track_id: h for h in result.hazards}
        for rec in result.recognised:
            key = (rec.track_id, rec.label)
            if key in self._named or snoozed or not self._room(prefs):
                continue
            self._named.add(key)
            self._unsolicited.append(now)
            name = "your " + rec.label[3:] if rec.label.lower().startswith("my ") else rec.label
            h = by_track.get(rec.track_id)
            where = "" if h is None else f", {clock_words(h.clock)}"
            cues.append(Cue(name + where, CueKind.OWN, Priority.NORMAL, Urgency.SAFE, result.timestamp, track_id=rec.track_id,
                            label=rec.label, bearing_deg=None if h is None else h.bearing_deg,
                            clock=None if h is None else h.clock))
        cues += self._names.check(result, prefs, now)          # "someone said your name" (hearing.py)
        for snd in result.sounds:
            said = hearing.sound_words(snd, prefs, SOUND_CUES)      # built-in classes and the user's own sounds
            if said is None:
                continue
            words, level = said
            # Alarms get through snooze and the caution budget (warning lane); others obey both.
            if level < Urgency.WARNING and (snoozed or not self._room(prefs)):
                continue
            if level >= Urgency.WARNING and not self._room(prefs, WARNING_EXTRA + 1):
                continue
            self._unsolicited.append(now)
            text = words + (f", on your {snd.direction}" if snd.direction else "")
            cues.append(Cue(text, CueKind.SOUND, _priority(level), level, result.timestamp, label=snd.label))
        cues += self._hazard_cues(result, prefs, now, snoozed)
        cues.sort(key=lambda c: -int(c.priority))
        if cues:
            self._last = cues[0]
        tick = self._tick(result, prefs, now, snoozed, bool(cues) or bool(self._held))   # no tick while cautions wait
        return cues + ([tick] if tick is not None else [])

    def spoke(self, now: float) -> None:
        """Something was said that did not come from decide() (a watched-for word, find mode's
        words, an answer): the watching tick counts its quiet from here."""
        self._quiet_since = now

    def _tick(self, result: FrameResult, prefs: Profile, now: float, snoozed: bool, said: bool) -> Cue | None:
        """The opt-in "still watching, nothing in your path" tick (see the rules above); never
        when the picture is poor, something is in the path, or anything else was just said."""
        if not prefs.watching_tick:         # off (the default): nothing to work out on every frame
            self._quiet_since = now
            return None
        clear = (not snoozed and quality_words(result, prefs) is None and not result.problems
                 and result.uncertainty < TICK_MAX_UNCERTAINTY and not any(h.urgency >= Urgency.WARNING or (h.in_path and h.distance_m <= MEDIUM_M) for h in result.hazards))
        if said or not clear or self._quiet_since is None:
            self._quiet_since = now
            return None
        if now - self._quiet_since < TICK_EVERY_S:
            return None
        self._quiet_since = now
        return Cue("", CueKind.TICK, Priority.NORMAL, Urgency.SAFE, result.timestamp)

    def _hazard_cues(self, result: FrameResult, prefs: Profile, now: float, snoozed: bool) -> list[Cue]:
        c, sev = prefs.vision_condition, prefs.vision_severity
        ordered = sorted(result.hazards, key=lambda h: (-int(h.urgency), -(h.priority + cond.rank_boost(c, sev, h))))
        wanted: list[Hazard] = []
        why = self.reasons = {}
        for h in ordered:
            if h.urgency == Urgency.WARNING and danger_due(h):
                h = replace(h, urgency=Urgency.DANGER)     # one sentence that carries both: "Stop! ..."
            danger = h.urgency == Urgency.DANGER
            if not danger and (snoozed or prefs.class_weights.get(h.label, 1.0) == 0):
                why[h.track_id] = "not said: snoozed or the class is muted"
                continue
            needed = cond.lowest_level(_threshold(prefs, h.label), cond.threshold_shift(c, sev, h))
            if h.urgency < needed:
                why[h.track_id] = f"not said: {h.urgency.word}, under the {needed.word} the profile needs"
                continue
            if not self._worth_saying(h, prefs, now):
                why[h.track_id] = "not said: no news since its last cue"
                continue
            if self._covered(h, prefs, now):
                why[h.track_id] = "not said: the same object was just said under another track"
                continue                     # the same object under another id: what was said stands
            wanted.append(h)
        cues: list[Cue] = []
        groups = self._groups([h for h in wanted if h.urgency <= Urgency.CAUTION], prefs)
        grouped = {h.track_id for members in groups for h in members}
        rest = [h for h in wanted if h.urgency <= Urgency.CAUTION and h.track_id not in grouped]
        self._held &= {h.track_id for h in rest}
        gap_over = now - self._last_caution_t >= CAUTION_GAP_S
        if not groups and (len(rest) >= GROUP_MIN or (gap_over and len(rest) >= 2 and self._held)):
            groups, grouped = [rest], {h.track_id for h in rest}      # a busy scene of mixed kinds: one sentence
        new_normal = 0
        for members in groups:
            if new_normal >= 1 or not self._room(prefs):
                why.update({h.track_id: "not said: a group, over the cue budget" for h in members})
                break
            if self._voice_busy_s > VOICE_WAIT_S:
                self._held |= {h.track_id for h in members}
                why.update({h.track_id: VOICE_BUSY_WHY for h in members})
                break
            new_normal += 1
            self._unsolicited.append(now)
            self._last_caution_t = now
            self._held -= {h.track_id for h in members}
            near = min(members, key=lambda h: h.distance_m)
            kinds = {_words(h, prefs) for h in members}
            if kinds == {"something"}:        # unsure of every one: never a class guessed from a label
                text = (f"{len(members)} things, {clock_words(near.clock)}, nearest "
                        f"{distance_words(near.distance_m, prefs.units)}")
            elif len(kinds) == 1:
                text = group_phrase(members, prefs.units)
            else:
                text = (f"{len(members)} things, nearest {_words(near, prefs)}, {clock_words(near.clock)}, "
                        f"{distance_words(near.distance_m, prefs.units)}")
            cues.append(Cue(text, CueKind.HAZARD, _priority(near.urgency), near.urgency, result.timestamp, track_id=near.track_id,
                            label=near.label, bearing_deg=near.bearing_deg, distance_m=near.distance_m, clock=near.clock,
                            group=tuple(h.track_id for h in members)))
            for h in members:
                self._remember(h, prefs, now)
                why[h.track_id] = f"said in a group of {len(members)}"
        for h in wanted:
            if h.track_id in grouped:
                continue
            if self._covered(h, prefs, now):
                why[h.track_id] = "not said: a cue chosen this frame already spoke for it"
                continue                     # a cue chosen this frame already spoke for it
            if h.urgency >= Urgency.WARNING and self._urgent_lane_busy(h, now):
                why[h.track_id] = "not said: another urgent cue is still being heard"
                continue                     # one urgent cue at a time; the nearest gets through
            stop_t = self._stopped_at(h, prefs, now) if h.urgency == Urgency.DANGER else None
            if stop_t is not None:
                why[h.track_id] = "not said: \"Stop!\" was just said about it"
                self._remember(h, prefs, stop_t, urgent=False)     # as if said then: its own time starts there
                continue
            danger = h.urgency == Urgency.DANGER
            if not danger:
                extra = WARNING_EXTRA if h.urgency == Urgency.WARNING else 0
                if (h.urgency < Urgency.WARNING and new_normal >= 1) or not self._room(prefs, extra):
                    why[h.track_id] = "not said: over the cue budget (rate limit)"
                    continue
                if h.urgency < Urgency.WARNING and not gap_over:
                    self._held.add(h.track_id)
                    why[h.track_id] = "not said yet: a caution was just said; it waits to be said with others"
                    continue
                if h.urgency < Urgency.WARNING and self._voice_busy_s > VOICE_WAIT_S:
                    self._held.add(h.track_id)          # said (with others, or fresher) once it can be heard
                    why[h.track_id] = VOICE_BUSY_WHY
                    continue
                if h.urgency < Urgency.WARNING:
                    self._last_caution_t = now
                    self._held.discard(h.track_id)
                new_normal += h.urgency < Urgency.WARNING
                self._unsolicited.append(now)
            else:
                self._dangers.append(now)
            text = hazard_phrase(h, prefs.units, prefs.hedge_below, detailed=prefs.verbosity is Verbosity.DETAILED,
                                 sign=self._sign_on(h, result.timestamp)) + cond.suffix(c, sev, h)
            carried = self._warned_as_the_same(h, prefs, now) if danger else ()
            cues.append(Cue(text, CueKind.HAZARD, _priority(h.urgency), h.urgency, result.timestamp, track_id=h.track_id,
                            label=h.label, bearing_deg=h.bearing_deg, distance_m=h.distance_m, interrupt=danger,
                            clock=h.clock, group=(h.track_id, *(c[0] for c in carried)) if carried else ()))
            self._remember(h, prefs, now)
            for track, bearing, dist in carried:     # the "Stop!" spoke for them too, where they were
                self._stops.append((now, track, _kind(h, prefs), h.label, bearing, dist, True))
            why[h.track_id] = f"said as {h.urgency.word}"
        return cues

    def _sign_on(self, h: Hazard, t: float) -> str | None:
        """Text Stage B read inside a door's box in the last SIGN_FRESH_S ("Exit", "Toilets"): said
        with the door. Only short text (a sign, not a notice board)."""
        if h.label not in SIGN_BEARERS or t - self._latest_texts_t > SIGN_FRESH_S:
            return None
        x1, y1, x2, y2 = h.box
        for line in self._latest_texts:
            cx = sum(p[0] for p in line.box) / len(line.box)
            cy = sum(p[1] for p in line.box) / len(line.box)
            if x1 <= cx <= x2 and y1 <= cy <= y2 and len(line.text) <= SIGN_MAX_CHARS:
                return line.text
        return None

    def _remember(self, h: Hazard, prefs: Profile, now: float, urgent: bool = True) -> None:
        """What was said (or, urgent=False, what a cue already said stands for) about a track."""
        self._said[h.track_id] = _Said(h.zone, h.urgency, h.approaching, now)
        if not urgent:
            return
        self._recent.append((now, _kind(h, prefs), h.bearing_deg, h.distance_m, h.urgency, h.track_id))
        if h.urgency >= Urgency.WARNING:
            self._urgent.append((now, h.urgency, h.bearing_deg, h.distance_m))
        if h.urgency == Urgency.DANGER:
            self._stops.append((now, h.track_id, _kind(h, prefs), h.label, h.bearing_deg, h.distance_m, False))

    def _stopped_at(self, h: Hazard, prefs: Profile, now: float) -> float | None:
        """When "Stop!" was said about this thing in the last STOP_REPEAT_S, or None. The same thing:
        the same track, or the same words (or "something" on one side) within OTHER_SIDE_DEG, no
        farther than it was (an approaching thing does not recede) and no nearer than it could have
        come since, at the closing speed of the kind that was named (a person's when neither was)."""
        kind = _kind(h, prefs)
        for t, track, k, label, bearing, dist, carried in self._stops:
            if track == h.track_id and not carried:
                return t                     # (a track a "Stop!" only carried is judged by where it was)
            if not (k == kind or "something" in (k, kind)) or abs(bearing - h.bearing_deg) > OTHER_SIDE_DEG:
                continue
            if k == EDGE_KIND and label != h.label and abs(bearing - h.bearing_deg) > SAME_OBJECT_DEG:
                continue                     # a flight off to a side is not the edge ahead that was said
            named = {lb for lb, words in ((label, k), (h.label, kind)) if words != "something"}
            fast = CLOSING_MAX["vehicle" if named & urgency_rules.MOVING_RISK else "other"]
            if dist * (1 - STOP_SAME_DIST) - fast * (now - t) <= h.distance_m <= dist * (1 + STOP_SAME_DIST):
                return t
        return None

    def _covered(self, h: Hazard, prefs: Profile, now: float) -> bool:
        """Was this object just spoken for under another track id (the tracker split or re-found
        it)? Then it inherits what was said instead of being said again."""
        since = self._said[h.track_id].t if h.track_id in self._said else -1e9
        for t, kind, bearing, dist, level, track in self._recent:
            same_words = kind == _kind(h, prefs) or "something" in (kind, _kind(h, prefs))
            if (track != h.track_id and t >= since and same_words and abs(bearing - h.bearing_deg) <= SAME_OBJECT_DEG
                    and abs(dist - h.distance_m) <= SAME_OBJECT_DIST * max(dist, h.distance_m) and h.urgency <= level):
                self._said[h.track_id] = _Said(h.zone, level, h.approaching, t)   # inherits what was said
                return True
        return False

    def _warned_as_the_same(self, h: Hazard, prefs: Profile, now: float) -> list[tuple[int, float, float]]:
        """(track, bearing, distance) of the tracks whose warning is still being heard and that
        are, by `_covered`'s measure, this same object under another id (the tracker's two boxes
        over one person). Their "Stop!" is this one, in one sentence that carries both: the danger
        cuts the warning short, so without it the warning's object was told nothing it could
        hear, then got a "Stop!" of its own. Later, such a track is the thing stopped for only
        where `_stopped_at` finds it could be (from where its warning placed it)."""
        kind = _kind(h, prefs)
        found: dict[int, tuple[int, float, float]] = {}
        for t, k, bearing, dist, level, track in self._recent:
            if (level == Urgency.WARNING and track != h.track_id and now - t < URGENT_GAP_S
                    and (k == kind or "something" in (k, kind)) and abs(bearing - h.bearing_deg) <= SAME_OBJECT_DEG
                    and abs(dist - h.distance_m) <= SAME_OBJECT_DIST * max(dist, h.distance_m)):
                found[track] = (track, bearing, dist)         # the latest warning about it
        return list(found.values())

    def _urgent_lane_busy(self, h: Hazard, now: float) -> bool:
        """A warning or danger is said while the last one is still being heard only when it is
        more urgent, clearly nearer, or somewhere else: three cars closing in are one danger at a
        time, nearest first, not a stream."""
        for t, level, bearing, dist in self._urgent:
            if now - t >= URGENT_GAP_S:
                continue
            if h.urgency > level or h.distance_m < NEARER * dist or abs(h.bearing_deg - bearing) > OTHER_SIDE_DEG:
                continue
            return True
        return False

    def _groups(self, hazards: list[Hazard], prefs: Profile) -> list[list[Hazard]]:
        """Three or more new cautions of one kind: one sentence (largest group first)."""
        by_kind: dict[str, list[Hazard]] = {}
        for h in hazards:
            if h.sure and h.score >= prefs.hedge_below:
                by_kind.setdefault(h.label, []).append(h)
        return sorted((g for g in by_kind.values() if len(g) >= GROUP_MIN), key=len, reverse=True)

    def _sustained_quality(self, result: FrameResult, prefs: Profile) -> str | None:
        """Words for a poor picture, once poor pictures fill most of the last QUALITY_WINDOW_S."""
        words = quality_words(result, prefs)
        t = result.timestamp
        self._quality.append((t, words))
        while self._quality and t - self._quality[0][0] > QUALITY_WINDOW_S:
            self._quality.popleft()
        if words is None or t - self._quality[0][0] < QUALITY_WINDOW_S * 0.8:
            return None
        poor = sum(w is not None for _, w in self._quality) / len(self._quality)
        return words if poor >= QUALITY_SHARE else None

    def _room(self, prefs: Profile, extra: int = 0) -> bool:
        """Is there room in the cue budget? Dangers always speak, but a caution (extra 0) counts
        them too: in a street where dangers were just said, a caution waits (overload)."""
        dangers = len(self._dangers) if extra == 0 else 0
        return len(self._unsolicited) + dangers < prefs.max_unsolicited + extra

    def _worth_saying(self, h: Hazard, prefs: Profile, now: float) -> bool:
        prev = self._said.get(h.track_id)
        if prev is None:
            return True
        since = now - prev.t
        # A rise to danger is said at once; other news about a track waits until its last cue has
        # been heard (a bus closing in is not five phrases in two seconds).
        if h.urgency == Urgency.DANGER and prev.urgency < Urgency.DANGER:
            return True
        if h.urgency > prev.urgency and since >= RISE_GAP_S:
            return True
        if (_ZONE_RANK[h.zone] > _ZONE_RANK[prev.zone] or (h.approaching and not prev.approaching)) and since >= NEWS_GAP_S:
            return True
        if since < prefs.cooldown_s:
            return False
        return h.urgency >= Urgency.WARNING

    def new_source(self) -> None:
        """A new source, or the same video again (the tracker numbers its tracks afresh, the video's
        clock starts again): what was said about tracks, the recent picture quality and text are
        forgotten. Snooze, the cue budget and the last cue (R) stay: the caller's clock goes on."""
        self._said.clear()
        self._named.clear()
        self._recent.clear()
        self._urgent.clear()
        self._stops.clear()
        self._quiet_since = None
        self._last_caution_t = -1e9
        self._held.clear()
        self._quality.clear()
        self._latest = None
        self._latest_texts, self._latest_texts_t = (), -1e9

    # -- on demand -----------------------------------------------------------------------------
    def repeat_last(self, now: float) -> Cue:
        if self._last is None:
            return Cue("Nothing said yet", CueKind.REPEAT, Priority.NEXT, Urgency.SAFE, now)
        return Cue(self._last.text, CueKind.REPEAT, Priority.NEXT, self._last.urgency, self._last.frame_time,
                   track_id=self._last.track_id, label=self._last.label, bearing_deg=self._last.bearing_deg,
                   distance_m=self._last.distance_m, clock=self._last.clock)

    def summary(self, prefs: Profile, now: float, limit: int = 4) -> Cue:
        """'What's around me': the most important things, nearest first within urgency."""
        r = self._latest
        if r is None:
            return Cue("I have not seen anything yet", CueKind.SUMMARY, Priority.NEXT, Urgency.SAFE, now)
        q = quality_words(r, prefs)
        c, sev = prefs.vision_condition, prefs.vision_severity
        ordered = sorted(r.hazards, key=lambda h: (-int(h.urgency), -(h.priority + cond.rank_boost(c, sev, h))))
        items = [hazard_phrase(h, prefs.units, prefs.hedge_below, lead=False, sign=self._sign_on(h, r.timestamp))
                 + cond.suffix(c, sev, h) for h in ordered[:limit]]
        if not items:
            text = q + ", so I cannot tell what is around you" if q else "I don't see anything I recognise nearby"
        else:
            more = len(r.hazards) - len(items)
            text = "; ".join(items) + (f"; and {more} more" if more > 0 else "")
            if q:
                text = q + ". " + text
        top = ordered[0].urgency if ordered else Urgency.SAFE
        return Cue(text, CueKind.SUMMARY, Priority.NEXT, top, r.timestamp)

    @property
    def latest(self) -> FrameResult | None:
        return self._latest

    def describe(self, now: float, recent_sounds=(), prefs: Profile | None = None) -> Cue:
        """'Describe the scene': objects, how they relate, and what was heard."""
        r = self._latest
        if r is None:
            return Cue("I have not seen anything yet", CueKind.SUMMARY, Priority.NEXT, Urgency.SAFE, now)
        q = quality_words(r)
        units = prefs.units if prefs is not None else Profile().units
        report = describe(r.hazards, tuple(recent_sounds), tuple(t.text for t in self._latest_texts[:1]), units=units)
        text = (q + ". " if q else "") + report.text
        return Cue(text, CueKind.SUMMARY, Priority.NEXT, Urgency.SAFE, r.timestamp)

    def snooze(self, now: float, seconds: float = 300.0) -> Cue:
        self._snooze_until = now + seconds
        minutes = max(1, round(seconds / 60))
        return Cue(f"Quiet for {minutes} minutes; I will still warn you of danger", CueKind.SYSTEM, Priority.NEXT, Urgency.SAFE, now)

    def stop_all(self, now: float) -> Cue:
        """Silence what is playing now; the outputs cancel on an interrupting empty cue."""
        return Cue("", CueKind.SYSTEM, Priority.NOW, Urgency.SAFE, now, interrupt=True)


SAY_AHEAD_S = 1.5          # how far ahead a warning looks for the danger that would cut it


def danger_due(h: Hazard, ahead_s: float = SAY_AHEAD_S) -> bool:
    """Will this warning be a danger before it can be heard (within `ahead_s`)? An object closing in
    at its time to contact is re-judged where it will be by then; if that is a danger, the cue is
    the danger now, one sentence ("Stop! person, straight ahead, 2 metres"), instead of a warning
    the danger about the same object would cut a second later (the first words lost). Only when it
    will then be near (NEAR_M): "Stop!" for a person 9 metres away, on a time to contact that box
    jitter can shorten, is crying wolf."""
    from engine.stage_a import geometry, urgency
    if not h.approaching or h.ttc_s is None or h.distance_m > 2 * geometry.NEAR_M:
        return False
    speed = h.distance_m / max(h.ttc_s, 1e-3)
    d = max(0.3, h.distance_m - speed * ahead_s)
    if d > geometry.NEAR_M:
        return False
    later = geometry.Position(clock=h.clock, bearing_deg=h.bearing_deg, distance_m=d, zone=geometry.zone_for(d),
                              distance_sigma_m=0.0, bounded=False)
    level, _ = urgency.assess(h.label, later, True, max(0.0, h.ttc_s - ahead_s))
    return level == Urgency.DANGER


def overload_events(times: list[float], cues: int = OVERLOAD_CUES, window_s: float = OVERLOAD_WINDOW_S) -> int:
    """Count overload events: each time a cue makes more than `cues` inside a `window_s` window
    (overlapping bursts count once per extra cue)."""
    times = sorted(times)
    events = 0
    start = 0
    for i, t in enumerate(times):
        while t - times[start] >= window_s:
            start += 1
        if i - start + 1 > cues:
            events += 1
    return events
