"""Where and how far: clock direction and distance from a box, through a pinhole camera.

Distance comes from two independent estimates, fused by inverse variance:
  * size: typical real height of the class over its height in pixels (d = f * H / h);
    about 20% spread because people, cars and dogs vary in size;
  * ground plane: for things that stand on the floor, the angle down to the box's bottom edge
    with the camera's height and tilt (d = h_cam / tan(tilt + angle)); precise near, poor far,
    since its error grows with d^2.
A box cut by the frame edge only bounds its estimate, so that estimate is dropped; if nothing is
left the size estimate is kept and marked as a bound. No monocular depth model ships offline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from engine.config import CameraModel
from engine.types import Box, Zone

# Typical height (m) of each class as it stands; used for the size estimate. Missing classes use
# the box width with _DEFAULT_WIDTH, a weak guess flagged by a larger spread.
TYPICAL_HEIGHT_M = {
    "person": 1.70, "bicycle": 1.05, "car": 1.50, "motorcycle": 1.15, "bus": 3.10, "truck": 3.00,
    "train": 3.80, "dog": 0.55, "cat": 0.30, "horse": 1.60, "cow": 1.40, "sheep": 0.90,
    "traffic light": 0.90, "stop sign": 0.75, "fire hydrant": 0.75, "parking meter": 1.30,
    "bench": 0.85, "chair": 0.90, "couch": 0.85, "bed": 0.60, "dining table": 0.75,
    "potted plant": 0.60, "toilet": 0.75, "refrigerator": 1.75, "suitcase": 0.65, "backpack": 0.50,
    "umbrella": 0.90, "tv": 0.55, "laptop": 0.25, "bottle": 0.25, "cup": 0.10, "skateboard": 0.12,
    # The access detector's classes (engine/stage_a/access.py): a door leaf is about 2.0 m high
    # (1.98-2.1 m in most building codes), a fridge door 1.75 m, a kitchen cabinet door 0.7 m.
    "door": 2.0, "refrigerator door": 1.75, "cabinet door": 0.70,
}
# Typical width (m) where the height is often cut: a door seen from within 2.4 m fills the frame
# top to bottom, but its 0.8-0.9 m leaf still fits across.
TYPICAL_WIDTH_M = {"door": 0.85}
_WIDTH_REL_SIGMA = 0.25         # doors are 0.7-1.0 m wide, and seen at an angle look narrower
# Classes whose box bottom touches the floor, so the ground-plane estimate applies.
STANDS_ON_GROUND = frozenset({
    "person", "bicycle", "car", "motorcycle", "bus", "truck", "train", "dog", "cat", "horse", "cow",
    "sheep", "fire hydrant", "parking meter", "bench", "chair", "couch", "bed", "dining table",
    "potted plant", "toilet", "refrigerator", "suitcase", "door", "refrigerator door", "stair_down", "stair_up",
})
# Stairs have no typical height in a picture (a flight of 3 or of 20 steps): their distance is where
# the first step meets the floor (the box's bottom edge) and nothing else.
GROUND_ONLY = frozenset({"stair_down", "stair_up"})
_DEFAULT_HEIGHT = 0.5
_SIZE_REL_SIGMA = 0.20          # people, cars, dogs vary ~20% around the typical height
_UNKNOWN_REL_SIGMA = 0.6
_ANGLE_SIGMA_RAD = math.radians(1.5)   # tilt is only roughly known
_EDGE_PX = 2.0

DISAGREE_RATIO = 2.5  # the floor says more than this times the size estimate: they disagree
MAX_M = 60.0        # beyond this a pinhole estimate from a few pixels means nothing
NEAR_M = 3.0        # near: within about four steps
MEDIUM_M = 8.0      # medium: within a short walk; far beyond


@dataclass(frozen=True)
class Position:
    clock: int
    bearing_deg: float
    distance_m: float
    zone: Zone
    distance_sigma_m: float
    bounded: bool        # True when the only estimate came from a box cut by the frame edge
    agree: bool = True   # False when the box's size says far nearer than where it meets the floor


def bearing_deg(box: Box, width: int, camera: CameraModel) -> float:
    cx = (box[0] + box[2]) / 2
    return math.degrees(math.atan((cx - width / 2) / camera.focal_px(width)))


def clock_from_bearing(bearing: float) -> int:
    """12 is straight ahead, each hour is 30 degrees; clamped to 9 (left) .. 3 (right)."""
    hours = max(-3, min(3, round(bearing / 30.0)))
    return 12 if hours == 0 else (hours if hours > 0 else 12 + hours)


def zone_for(distance_m: float) -> Zone:
    if distance_m <= NEAR_M:
        return Zone.NEAR
    if distance_m <= MEDIUM_M:
        return Zone.MEDIUM
    return Zone.FAR


def size_estimate(label: str, box: Box, width: int, height: int, camera: CameraModel) -> tuple[float, float, bool]:
    """(distance, sigma, cut) from the class's typical height; cut = box touches top or bottom."""
    f = camera.focal_px(width)
    h_px = max(box[3] - box[1], 1.0)
    real = TYPICAL_HEIGHT_M.get(label, _DEFAULT_HEIGHT)
    rel = _SIZE_REL_SIGMA if label in TYPICAL_HEIGHT_M else _UNKNOWN_REL_SIGMA
    d = f * real / h_px
    cut = box[1] <= _EDGE_PX or box[3] >= height - _EDGE_PX
    return d, d * rel, cut


def ground_estimate(box: Box, width: int, height: int, camera: CameraModel) -> tuple[float, float] | None:
    """(distance, sigma) from where the box meets the floor, or None when the ray misses the floor."""
    f = camera.focal_px(width)
    below_axis = math.atan((box[3] - height / 2) / f)
    angle = math.radians(camera.tilt_deg) + below_axis
    if angle <= math.radians(0.5):
        return None        # bottom edge at or above the horizon: not standing on our floor
    d = camera.height_m / math.tan(angle)
    sigma = d * d / camera.height_m * _ANGLE_SIGMA_RAD + 0.05
    return d, sigma


def locate(label: str, box: Box, width: int, height: int, camera: CameraModel) -> Position:
    if label in GROUND_ONLY:
        return _locate_on_ground(box, width, height, camera)
    estimates: list[tuple[float, float]] = []
    d_size, s_size, cut = size_estimate(label, box, width, height, camera)
    if not cut:
        estimates.append((d_size, s_size))
    side_cut = box[0] <= _EDGE_PX or box[2] >= width - _EDGE_PX
    if cut and label in TYPICAL_WIDTH_M and not side_cut:
        d_w = camera.focal_px(width) * TYPICAL_WIDTH_M[label] / max(box[2] - box[0], 1.0)
        estimates.append((d_w, d_w * _WIDTH_REL_SIGMA))
    bottom_cut = box[3] >= height - _EDGE_PX
    if label in STANDS_ON_GROUND and not bottom_cut:
        g = ground_estimate(box, width, height, camera)
        if g is not None:
            estimates.append(g)
    agree = True
    if label in STANDS_ON_GROUND and not cut and not bottom_cut and d_size <= NEAR_M:
        # Near by its size, so its bottom must meet the floor near: a person on a poster, in a
        # mirror or on a screen is as big as a near one but stands (or floats) far off.
        g = ground_estimate(box, width, height, camera)
        agree = g is not None and g[0] <= DISAGREE_RATIO * d_size
    bounded = not estimates
    if bounded:
        # Cut at the frame edge: the visible part is smaller than the object, so it is nearer
        # than the size estimate says. Report that bound; callers may treat it as "at most".
        estimates.append((d_size, s_size))
    w = [1 / (s * s) for _, s in estimates]
    d = min(MAX_M, sum(di * wi for (di, _), wi in zip(estimates, w)) / sum(w))
    sigma = math.sqrt(1 / sum(w))
    b = bearing_deg(box, width, camera)
    return Position(clock=clock_from_bearing(b), bearing_deg=b, distance_m=d, zone=zone_for(d),
                    distance_sigma_m=sigma, bounded=bounded, agree=agree)


def _locate_on_ground(box: Box, width: int, height: int, camera: CameraModel) -> Position:
    """Stairs: the ground-plane distance to the first step (box bottom). A box cut by the bottom of
    the frame starts nearer than the frame's lowest row shows: that row's distance is reported as
    a bound. With the bottom edge at or above the horizon (a camera tilted up) nothing is known but
    that it is not underfoot: MEDIUM_M, bounded."""
    bottom_cut = box[3] >= height - _EDGE_PX
    edge = (box[0], box[1], box[2], float(height)) if bottom_cut else box
    g = ground_estimate(edge, width, height, camera)
    d, sigma = g if g is not None else (MEDIUM_M, MEDIUM_M)
    d = min(MAX_M, d)
    b = bearing_deg(box, width, camera)
    return Position(clock=clock_from_bearing(b), bearing_deg=b, distance_m=d, zone=zone_for(d),
                    distance_sigma_m=sigma, bounded=bottom_cut or g is None)
