"""Labels derived from boxes, following the seed's rules (SEED.md, "Dataset Loading").

Distance zone, from the box's share of the whole image (a larger box means a closer object):
    area > 10%  -> 0 near,   area > 1% -> 1 medium,   else 2 far.
Urgency (0 safe, 1 caution, 2 warning, 3 danger), from the class map below; the seed raises a
moving vehicle to danger and a moving person or bicycle to warning. A still photo shows no motion,
so a near box stands in for it: a vehicle in the near zone is danger, a person in the near zone is
warning. An image's urgency is the highest over its objects (safe when it has none).

Accessibility classes (doors and stairs sets, see training/yolo.py): a stair going down is a fall
risk (warning), one going up a trip risk (caution); doors, handles, cabinet and refrigerator doors
are landmarks, not hazards (safe, as is every class not in the table).

These are coarse labels for training the Tier-1 heads, not the app's urgency: Stage A computes
urgency from metric distance, path and tracked approach (engine/stage_a/urgency.py).
"""
from __future__ import annotations

import numpy as np

NEAR, MEDIUM, FAR = 0, 1, 2
SAFE, CAUTION, WARNING, DANGER = 0, 1, 2, 3
VEHICLES = frozenset({"car", "truck", "bus", "motorcycle", "bicycle", "train"})
CLASS_URGENCY = {
    "person": CAUTION, "bicycle": WARNING, "car": WARNING, "motorcycle": WARNING, "bus": WARNING,
    "truck": WARNING, "train": WARNING, "dog": CAUTION, "horse": CAUTION, "stop sign": CAUTION,
    "traffic light": CAUTION, "fire hydrant": SAFE,
    "stair_down": WARNING, "stair_up": CAUTION,
}


def distance_zones(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """[N, 4] xyxy pixel boxes in a width x height image -> [N] zone ids."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    frac = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / float(width * height)
    return np.where(frac > 0.10, NEAR, np.where(frac > 0.01, MEDIUM, FAR)).astype(np.int64)


def object_urgency(labels: list[str], zones: np.ndarray) -> np.ndarray:
    out = np.zeros(len(labels), np.int64)
    for i, (name, zone) in enumerate(zip(labels, zones)):
        u = CLASS_URGENCY.get(name, SAFE)
        if zone == NEAR and name in VEHICLES:
            u = DANGER
        elif zone == NEAR and name == "person":
            u = max(u, WARNING)
        out[i] = u
    return out


def image_urgency(object_levels: np.ndarray) -> int:
    return int(object_levels.max()) if len(object_levels) else SAFE


def class_weights(counts: np.ndarray, floor: float = 0.25, cap: float = 4.0) -> np.ndarray:
    """Inverse-square-root frequency weights with mean 1 over the classes that occur; classes with
    no examples get weight 1. Clipped to [floor, cap] so one rare class cannot dominate."""
    counts = np.asarray(counts, np.float64)
    w = np.ones_like(counts)
    seen = counts > 0
    if seen.any():
        w[seen] = 1.0 / np.sqrt(counts[seen])
        w[seen] /= w[seen].mean()
    return np.clip(w, floor, cap).astype(np.float32)
