"""How urgent is a tracked object? Rules over class risk, distance, path and approach.

The rules, in order (the highest level reached wins):
  danger   a moving-risk class (vehicle, bicycle, motorcycle) approaching with time to contact
           under 3 s or within 4 m; anything approaching with time to contact under 1.5 s;
  warning  a vehicle approaching at any distance up to 15 m; a person, dog or bicycle
           approaching within 5 m; any obstacle within 1.5 m in the walking path;
  caution  anything near (<= 3 m); a parked vehicle within 8 m; a traffic light or stop sign
           within 15 m (worth knowing at a crossing); anything approaching within 10 m, or a
           vehicle approaching within 30 m (further away, approach is not yet the user's concern);
  safe     everything else.
So an approaching car at 5 m (warning or danger) outranks a parked car at 2 m (caution).
Priority orders hazards inside a level: closer, sooner and more central first.
"""
from __future__ import annotations

from engine.stage_a.geometry import NEAR_M, Position
from engine.types import Urgency

VEHICLES = frozenset({"car", "bus", "truck", "train", "motorcycle"})
MOVING_RISK = VEHICLES | {"bicycle"}
ANIMATE = frozenset({"person", "dog", "horse", "cow", "bicycle"})
SIGNALS = frozenset({"traffic light", "stop sign"})
PATH_HALF_ANGLE_DEG = 15.0   # about a shoulder width either side at 2 m


def in_path(position: Position) -> bool:
    return abs(position.bearing_deg) <= PATH_HALF_ANGLE_DEG


def assess(label: str, position: Position, approaching: bool, ttc_s: float | None) -> tuple[Urgency, float]:
    d = position.distance_m
    level = Urgency.SAFE
    def bump(to: Urgency) -> None:
        nonlocal level
        level = max(level, to)
    if approaching:
        if ttc_s is not None and ttc_s < 1.5:
            bump(Urgency.DANGER)
        if label in MOVING_RISK and ((ttc_s is not None and ttc_s < 3.0) or d <= 4.0):
            bump(Urgency.DANGER)
        if label in VEHICLES and d <= 15.0:
            bump(Urgency.WARNING)
        if label in ANIMATE and d <= 5.0:
            bump(Urgency.WARNING)
        if d <= 10.0 or (label in VEHICLES and d <= 30.0):
            bump(Urgency.CAUTION)
    if d <= 1.5 and in_path(position):
        bump(Urgency.WARNING)
    if d <= NEAR_M:
        bump(Urgency.CAUTION)
    if label in VEHICLES and d <= 8.0:
        bump(Urgency.CAUTION)
    if label in SIGNALS and d <= 15.0:
        bump(Urgency.CAUTION)
    ttc_term = 0.0 if ttc_s is None else 1.0 / max(ttc_s, 0.2)
    priority = float(level) * 10 + 5.0 / max(d, 0.3) + 2.0 * ttc_term + (1.0 if in_path(position) else 0.0)
    return level, priority


class UrgencySmoother:
    """Per-track hysteresis so a level does not flicker with box jitter: a higher level must hold
    for RISE_FRAMES frames (danger counts at once: never delay it), and a level only falls after
    the raw level has stayed below it for HOLD_S seconds."""
    RISE_FRAMES = 2
    HOLD_S = 1.0

    def __init__(self) -> None:
        self._state: dict[int, list] = {}     # track -> [level, candidate, candidate frames, last time raw >= level]

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

    def forget_except(self, live: set[int]) -> None:
        self._state = {k: v for k, v in self._state.items() if k in live}
