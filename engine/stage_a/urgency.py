"""How urgent is a tracked object? Rules over class risk, distance, path and approach.

The rules, in order (the highest level reached wins):
  danger   a moving-risk class (vehicle, bicycle, motorcycle) approaching with time to contact
           under 3 s or within 4 m; a person or animal approaching in the walking path with time
           to contact under 1.5 s;
  warning  a vehicle approaching at any distance up to 15 m; a person, dog or bicycle
           approaching within 5 m, or in the walking path with time to contact under 3 s;
           any obstacle within 1.5 m in the walking path, unless the tracker has not seen it
           getting nearer (`not_closing`: standing at the fridge, at a desk with a chair in
           front): then a caution, said once;
  caution  anything near (<= 3 m); a parked vehicle within 8 m; a traffic light or stop sign
           within 15 m (worth knowing at a crossing); anything approaching within 10 m, or a
           vehicle approaching within 30 m (further away, approach is not yet the user's concern);
  safe     everything else, and any class that is not a hazard to a walker (HAZARD_CLASSES).
Things that cannot move (a chair, a bench, a table) only "approach" because the user walks toward
them: their time to contact is the user's own pace, so for them distance and path decide, never
the time to contact (on synthetic walks into a furnished room, time to contact made every chair a
danger); only a thing not seen getting nearer is lowered, within reach, to a caution.
Doors and stairs (the access detector, engine/stage_a/access.py) have rules of their own:
  stairs going down: danger within 1.5 m ahead (or ahead and running off the bottom of the
           picture, so nearer than can be measured), warning within 3 m ahead, caution when near
           but to the side or within 8 m (a fall is the worst thing that happens indoors);
  stairs going up: caution within 8 m (a step to find, not a drop);
  a door: information (listed, said when asked) unless it is in the path and near: caution;
  handles, cabinet and fridge doors: information only.
When the class is unsure (the detector keeps changing its mind), the object is judged as the most
urgent of the classes it was given.
So an approaching car at 5 m (warning or danger) outranks a parked car at 2 m (caution).
Priority orders hazards inside a level: closer, sooner and more central first.
"""
from __future__ import annotations

from engine.models.boxes import box_iou
from engine.stage_a.geometry import MEDIUM_M, NEAR_M, Position
from engine.types import Urgency

VEHICLES = frozenset({"car", "bus", "truck", "train", "motorcycle"})
MOVING_RISK = VEHICLES | {"bicycle"}
ANIMATE = frozenset({"person", "dog", "horse", "cow", "bicycle", "cat", "bear", "zebra", "giraffe", "elephant"})
SIGNALS = frozenset({"traffic light", "stop sign"})
# What a person walking can collide with or must know is in the way: the classes safety is measured
# on (maxsight eval safety) and the ones said as "something" when the class is unsure.
OBSTACLES = frozenset({"bench", "chair", "fire hydrant", "parking meter", "potted plant", "suitcase", "couch",
                       "dining table", "bed", "toilet", "refrigerator", "door", "stair_down", "stair_up"})
HAZARD_CLASSES = MOVING_RISK | ANIMATE | OBSTACLES | frozenset({"sheep"})
PATH_HALF_ANGLE_DEG = 15.0   # about a shoulder width either side at 2 m
REACH_M = 1.5                # in the path and this near: a step or two away
STAIRS_AHEAD_DEG = 25.0      # a flight is wider than a person: "ahead" reaches further round
STAIRS_DOWN, STAIRS_UP = "stair_down", "stair_up"
INFORMATION = frozenset({"handle", "cabinet door", "refrigerator door"})


def in_path(position: Position) -> bool:
    return abs(position.bearing_deg) <= PATH_HALF_ANGLE_DEG


def assess(label: str, position: Position, approaching: bool, ttc_s: float | None,
           alternatives: tuple[str, ...] = (), not_closing: bool = False) -> tuple[Urgency, float]:
    """Urgency and priority. A class outside HAZARD_CLASSES (a cup, a laptop, a tie) is never more
    than safe: it is listed, not announced. When the class is not sure, `alternatives` holds the
    other classes the detector gave it: the object is judged as the most urgent of them, never
    less because the class is unsure (a person from behind, sometimes called a cat, is a person)."""
    if alternatives:
        return max(assess(a, position, approaching, ttc_s, not_closing=not_closing) for a in (label, *alternatives))
    d = position.distance_m
    level = Urgency.SAFE
    if label in (STAIRS_DOWN, STAIRS_UP, "door") or label in INFORMATION:
        level = _access_level(label, position)
        return level, float(level) * 10 + 5.0 / max(d, 0.3) + (1.0 if in_path(position) else 0.0)
    if label not in HAZARD_CLASSES and label not in SIGNALS:
        return level, 5.0 / max(d, 0.3)
    def bump(to: Urgency) -> None:
        nonlocal level
        level = max(level, to)
    if approaching:
        if label in ANIMATE and ttc_s is not None and ttc_s < 1.5 and in_path(position):
            bump(Urgency.DANGER)
        if label in MOVING_RISK and ((ttc_s is not None and ttc_s < 3.0) or d <= 4.0):
            bump(Urgency.DANGER)
        if label in VEHICLES and d <= 15.0:
            bump(Urgency.WARNING)
        if label in ANIMATE and (d <= 5.0 or (ttc_s is not None and ttc_s < 3.0 and in_path(position))):
            bump(Urgency.WARNING)
        if d <= 10.0 or (label in VEHICLES and d <= 30.0):
            bump(Urgency.CAUTION)
    if d <= REACH_M and in_path(position):
        # Not getting nearer: a warning here would be said, and repeated, at someone standing at
        # their fridge (on the door photos' val-dev half, 11 of the 12 false warnings on 77 calm
        # photos). Growing, or cut at a side so it cannot be measured: a warning.
        bump(Urgency.CAUTION if not_closing and not approaching else Urgency.WARNING)
    if d <= NEAR_M:
        bump(Urgency.CAUTION)
    if label in VEHICLES and d <= 8.0:
        bump(Urgency.CAUTION)
    if label in SIGNALS and d <= 15.0:
        bump(Urgency.CAUTION)
    ttc_term = 0.0 if ttc_s is None else 1.0 / max(ttc_s, 0.2)
    priority = float(level) * 10 + 5.0 / max(d, 0.3) + 2.0 * ttc_term + (1.0 if in_path(position) else 0.0)
    return level, priority


def _access_level(label: str, position: Position) -> Urgency:
    d = position.distance_m
    if label == STAIRS_DOWN:
        ahead = abs(position.bearing_deg) <= STAIRS_AHEAD_DEG
        # Cut by the bottom of the frame, the first step is nearer than the lowest row shows (2.4 m
        # for a chest camera tilted 5 degrees): it may be at the user's feet, so it is a danger.
        if ahead and (d <= 1.5 or (position.bounded and d <= NEAR_M)):
            return Urgency.DANGER
        if ahead and d <= NEAR_M:
            return Urgency.WARNING
        return Urgency.CAUTION if d <= MEDIUM_M else Urgency.SAFE
    if label == STAIRS_UP:
        return Urgency.CAUTION if d <= MEDIUM_M else Urgency.SAFE
    if label == "door":
        return Urgency.CAUTION if in_path(position) and d <= NEAR_M else Urgency.SAFE
    return Urgency.SAFE


class UrgencySmoother:
    """Per-track hysteresis so a level does not flicker with box jitter: a higher level must hold
    for RISE_FRAMES frames (danger counts at once: never delay it), and a level only falls after
    the raw level has stayed below it for HOLD_S seconds.

    It also bridges the approach estimate (`bridge`): a track whose time to contact drops out for a
    frame or two (a box the fit found too jittery, a frame the detector missed) keeps it, counted
    down, for BRIDGE_S; a new track born where an approaching one was just lost (the tracker gave
    the same object a new id) takes over its time to contact and its level, so an id switch never
    makes a closing object look still."""
    RISE_FRAMES = 2
    HOLD_S = 1.0
    BRIDGE_S = 0.6
    BRIDGE_IOU = 0.3

    def __init__(self) -> None:
        self._state: dict[int, list] = {}     # track -> [level, candidate, candidate frames, last time raw >= level]
        self._ttc: dict[int, tuple] = {}      # track -> (t, ttc, box, label) when it last had a time to contact
        self._lost: list[tuple] = []          # (t lost, ttc then, box, label, smoother state) of approaching tracks

    def bridge(self, track_id: int, ttc: float | None, box, label: str, t: float) -> float | None:
        """The track's time to contact, bridged over short dropouts and id switches."""
        if ttc is not None:
            self._ttc[track_id] = (t, ttc, box, label)
            return ttc
        last = self._ttc.get(track_id)
        if last is None or t - last[0] > self.BRIDGE_S:
            last = self._inherit(track_id, box, label, t) or last
        if last is None or t - last[0] > self.BRIDGE_S:
            return None
        return max(0.0, last[1] - (t - last[0]))

    def _inherit(self, track_id: int, box, label: str, t: float):
        best, best_iou = None, self.BRIDGE_IOU
        for lost in self._lost:
            if t - lost[0] > self.BRIDGE_S or lost[3] != label:
                continue
            iou = box_iou(box, lost[2])
            if iou >= best_iou:
                best, best_iou = lost, iou
        if best is None:
            return None
        self._lost.remove(best)
        self._ttc[track_id] = (best[0], best[1], box, label)
        own = self._state.get(track_id)
        if own is None:
            self._state[track_id] = list(best[4])
        elif best[4][0] > own[0]:
            own[0], own[3] = best[4][0], best[4][3]        # the lost track's level and when it last held
        return self._ttc[track_id]

    def smooth(self, track_id: int, raw: Urgency, t: float) -> Urgency:
        st = self._state.get(track_id)
        if st is None:
            self._state[track_id] = [raw, raw, 0, t]
            return raw
        level, cand, count, last_high = st
        if raw >= level:
            last_high = t
        if raw > level:
            count = count + 1 if raw == cand else 1
            cand = raw
            if raw == Urgency.DANGER or count >= self.RISE_FRAMES:
                level, count = raw, 0
        else:
            cand, count = raw, 0
            if raw < level and t - last_high >= self.HOLD_S:
                level, last_high = raw, t
        self._state[track_id] = [level, cand, count, last_high]
        return level

    def forget_except(self, live: set[int], t: float | None = None) -> None:
        if t is not None:
            for k, (tt, ttc, box, label) in self._ttc.items():
                if k not in live and k in self._state and t - tt <= self.BRIDGE_S:
                    self._lost.append((tt, ttc, box, label, tuple(self._state[k])))
            self._lost = [x for x in self._lost if t - x[0] <= self.BRIDGE_S]
        self._ttc = {k: v for k, v in self._ttc.items() if k in live}
        self._state = {k: v for k, v in self._state.items() if k in live}
