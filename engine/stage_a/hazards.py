"""Confirmed tracks -> hazards: position, approach, urgency; most urgent first.

A time to contact is believed only if the closing speed it implies (distance / TTC) is possible
for the class: a walker's box bobbing with each step can fake a 1 s TTC at 10 m (7 m/s), which
no pedestrian approaching a walking user reaches."""
from __future__ import annotations

from engine.config import CameraModel
from engine.stage_a import geometry, urgency
from engine.types import Hazard, Track

# Fastest plausible closing speed (m/s) between the object and a walking user, by class.
MAX_CLOSING_SPEED = {"person": 5.0, "dog": 10.0, "bicycle": 14.0, "motorcycle": 40.0, "car": 40.0,
                     "bus": 30.0, "truck": 30.0, "train": 45.0}
_DEFAULT_MAX_SPEED = 6.0
SURE_SHARE = 0.65    # the track's class holds at least this share of its class vote


def from_tracks(tracks: tuple[Track, ...], width: int, height: int, camera: CameraModel,
                smoother: urgency.UrgencySmoother | None = None, t: float = 0.0) -> tuple[Hazard, ...]:
    out = []
    for tr in tracks:
        if not tr.confirmed:
            continue
        pos = geometry.locate(tr.label, tr.box, width, height, camera)
        ttc = tr.ttc_s
        if ttc is not None and not pos.bounded and pos.distance_m / max(ttc, 1e-3) > MAX_CLOSING_SPEED.get(tr.label, _DEFAULT_MAX_SPEED):
            ttc = None
        approaching = ttc is not None
        sure = tr.class_share >= SURE_SHARE
        level, priority = urgency.assess(tr.label, pos, approaching, ttc, () if sure else tr.alternatives)
        if smoother is not None:
            smoothed = smoother.smooth(tr.track_id, level, t)
            priority += 10 * (int(smoothed) - int(level))
            level = smoothed
        out.append(Hazard(track_id=tr.track_id, class_id=tr.class_id, label=tr.label, box=tr.box,
                          clock=pos.clock, bearing_deg=pos.bearing_deg, distance_m=pos.distance_m,
                          zone=pos.zone, approaching=approaching, ttc_s=ttc, urgency=level,
                          priority=priority, score=tr.score, in_path=urgency.in_path(pos), sure=sure))
    if smoother is not None:
        smoother.forget_except({tr.track_id for tr in tracks})
    out.sort(key=lambda h: (-int(h.urgency), -h.priority))
    return tuple(out)
