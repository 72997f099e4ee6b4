"""Confirmed tracks -> hazards: position, approach, urgency; most urgent first."""
from __future__ import annotations

from engine.config import CameraModel
from engine.stage_a import geometry, urgency
from engine.types import Hazard, Track


def from_tracks(tracks: tuple[Track, ...], width: int, height: int, camera: CameraModel) -> tuple[Hazard, ...]:
    out = []
    for tr in tracks:
        if not tr.confirmed:
            continue
        pos = geometry.locate(tr.label, tr.box, width, height, camera)
        approaching = tr.ttc_s is not None
        level, priority = urgency.assess(tr.label, pos, approaching, tr.ttc_s)
        out.append(Hazard(track_id=tr.track_id, class_id=tr.class_id, label=tr.label, box=tr.box,
                          clock=pos.clock, bearing_deg=pos.bearing_deg, distance_m=pos.distance_m,
                          zone=pos.zone, approaching=approaching, ttc_s=tr.ttc_s, urgency=level,
                          priority=priority, score=tr.score, in_path=urgency.in_path(pos)))
    out.sort(key=lambda h: (-int(h.urgency), -h.priority))
    return tuple(out)
