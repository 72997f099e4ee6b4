"""Confirmed tracks -> hazards: position, approach, urgency; most urgent first.

A time to contact is believed only if the closing speed it implies (distance / TTC) is possible
for the class: a walker's box bobbing with each step can fake a 1 s TTC at 10 m (7 m/s), which
no pedestrian approaching a walking user reaches."""
from __future__ import annotations

from engine.config import CameraModel
from engine.stage_a import geometry, urgency
from engine.stage_a.tracking import cut_at_side
from engine.types import Hazard, Track, Urgency

# Fastest plausible closing speed (m/s) between the object and a walking user, by class.
MAX_CLOSING_SPEED = {"person": 5.0, "dog": 10.0, "bicycle": 14.0, "motorcycle": 40.0, "car": 40.0,
                     "bus": 30.0, "truck": 30.0, "train": 45.0}
_DEFAULT_MAX_SPEED = 6.0
SURE_SHARE = 0.65    # the track's class holds at least this share of its class vote


def evidence_gap(label: str, pos: geometry.Position, sure: bool, ttc: float | None, warns=None) -> str | None:
    """Why a warning or danger about this track would not be worth believing, or None when the
    evidence holds. Such a track is said as a caution (never dropped):
      * its class group's precision at its operating point was under 60% on the dev half
        (calibration `no_warnings`; the door and stairs detector's stairs were, until judged on a
        mirror view too);
      * its class is unsure (the detector keeps changing its mind), unless it is closing in fast
        (time to contact under CLOSING_TTC_S): near and growing is said, as "something";
      * its size says near but its bottom meets the floor far off (a poster, a reflection, a
        screen), unless it is closing in fast;
      * it is urgent only because it approaches, beyond MEDIUM_M, and is not a vehicle or a bicycle:
        a person's box growth 12 m away is mostly the walker's own bobbing."""
    if warns is not None and not warns(label):
        return "class under 60% precision"
    closing = ttc is not None and ttc < CLOSING_TTC_S
    if not sure and not closing:
        return "class unsure"
    if not pos.agree and not closing:
        return "size and floor disagree"
    if ttc is not None and pos.distance_m > geometry.MEDIUM_M and label not in urgency.MOVING_RISK:
        return "approach too far to be sure"
    return None


CLOSING_TTC_S = 3.0
REPORT_NEAR_AREA = 0.10     # as the tracker's and the calibration's "near" box


def from_tracks(tracks: tuple[Track, ...], width: int, height: int, camera: CameraModel,
                smoother: urgency.UrgencySmoother | None = None, t: float = 0.0, warns=None,
                report_score=None, still=None) -> tuple[Hazard, ...]:
    """warns(label) -> bool: may this class raise warnings (the calibration's per-class verdict).
    report_score(label, area fraction) -> score: a track whose box is not near (10% of the frame or
    less), that is not approaching, not within reach in the path and is no more than a caution is
    reported only when its score reaches this (the calibrated birth score): a track confirmed from
    many weak detections (summed evidence) is kept, and said once it comes near or closes in, but a
    weak far guess is not a hazard to list (on the dev half such reports were right 3 times in 9).
    still(box) -> bool: did the picture, and this box in it, hold still (stage_a/stillness.py)? A
    thing within reach in the path that is cut at a side cannot be sized (Track.not_closing is
    False); when it cannot move by itself (urgency.OBSTACLES) and its picture held still, it is not
    getting nearer."""
    out = []
    for tr in tracks:
        if not tr.confirmed:
            continue
        pos = geometry.locate(tr.label, tr.box, width, height, camera)
        ttc = tr.ttc_s
        if ttc is not None and not pos.bounded and pos.distance_m / max(ttc, 1e-3) > MAX_CLOSING_SPEED.get(tr.label, _DEFAULT_MAX_SPEED):
            ttc = None
        if smoother is not None:
            ttc = smoother.bridge(tr.track_id, ttc, tr.box, tr.label, t)     # dropouts and id switches
        approaching = ttc is not None
        sure = tr.class_share >= SURE_SHARE
        within_reach = pos.distance_m <= urgency.REACH_M and urgency.in_path(pos)
        # Only what cannot move by itself: a person or a dog cut at a side may be coming at a still user.
        not_closing = tr.not_closing or (still is not None and within_reach and not approaching
                                         and all(c in urgency.OBSTACLES for c in (tr.label, *([] if sure else tr.alternatives)))
                                         and cut_at_side(tr.box, (width, height)) and still(tr.box))
        level, priority = urgency.assess(tr.label, pos, approaching, ttc, () if sure else tr.alternatives,
                                         not_closing=not_closing)
        if level >= Urgency.WARNING and evidence_gap(tr.label, pos, sure, ttc, warns) is not None:
            priority -= 10 * (int(level) - int(Urgency.CAUTION))
            level = Urgency.CAUTION
        if report_score is not None and level <= Urgency.CAUTION and not approaching and not within_reach:
            frac = (tr.box[2] - tr.box[0]) * (tr.box[3] - tr.box[1]) / float(width * height)
            if frac <= REPORT_NEAR_AREA and tr.score < report_score(tr.label, frac):
                continue
        if smoother is not None:
            smoothed = smoother.smooth(tr.track_id, level, t)
            priority += 10 * (int(smoothed) - int(level))
            level = smoothed
        out.append(Hazard(track_id=tr.track_id, class_id=tr.class_id, label=tr.label, box=tr.box,
                          clock=pos.clock, bearing_deg=pos.bearing_deg, distance_m=pos.distance_m,
                          zone=pos.zone, approaching=approaching, ttc_s=ttc, urgency=level,
                          priority=priority, score=tr.score, in_path=urgency.in_path(pos), sure=sure))
    if smoother is not None:
        smoother.forget_except({tr.track_id for tr in tracks}, t)
    out.sort(key=lambda h: (-int(h.urgency), -h.priority))
    return tuple(out)
