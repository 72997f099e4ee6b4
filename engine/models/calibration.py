"""Birth scores calibrated per class group and distance zone: the score a detection needs to start
a track, fitted on the COCO dev half so that 90% of the tracks it starts are real (`maxsight eval
calibrate`), shipped with the model (assets/calibration/NAME.json) and used by the tracker.

One score for everything was either too strict for near people (often scored 0.35-0.53, MODELS.md)
or too loose for far clutter. Zones are by box size, which the detector knows before any geometry:
near (over 10% of the frame), medium (1-10%), far (under 1%). Cells with too few examples to fit
keep the model's own birth score.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import assets
from engine.stage_a.urgency import ANIMATE, MOVING_RISK, OBSTACLES

NEAR_AREA, FAR_AREA = 0.10, 0.01
ZONES = ("near", "medium", "far")


# MaxSight's own door and stairs detector (registry "access"): its classes in groups of their own.
ACCESS_GROUPS = {"door": "door", "cabinet door": "door", "refrigerator door": "door", "handle": "handle",
                 "stair_down": "stairs", "stair_up": "stairs"}


def group_of(label: str) -> str:
    if label in ACCESS_GROUPS:
        return ACCESS_GROUPS[label]
    if label == "person":
        return "person"
    if label in MOVING_RISK:
        return "vehicle"
    if label in ANIMATE:
        return "animal"
    if label in OBSTACLES:
        return "obstacle"
    return "other"


def zone_of(area_fraction: float) -> str:
    return "near" if area_fraction > NEAR_AREA else "medium" if area_fraction > FAR_AREA else "far"


@dataclass(frozen=True)
class Calibration:
    default: float                                  # the model's own birth score
    thresholds: dict = field(default_factory=dict)  # "group:zone" -> birth score
    precision: dict = field(default_factory=dict)   # "group:zone" -> precision at that score on the fitting data
    support: dict = field(default_factory=dict)     # "group:zone" -> detections at or above it that were right
    fitted_on: str = ""
    no_warnings: frozenset = frozenset()            # groups under 60% precision at their operating point (dev half)

    def birth(self, label: str, area_fraction: float) -> float:
        return self.thresholds.get(f"{group_of(label)}:{zone_of(area_fraction)}", self.default)

    def warns(self, label: str) -> bool:
        """May this class raise a warning or danger? Not when its group's precision at its
        operating point was under 60% on the half it was fitted on: it is said as a caution."""
        return group_of(label) not in self.no_warnings


def load(model: str, default: float) -> Calibration:
    """The shipped calibration of `model`, or just its default birth score when none ships."""
    try:
        data = json.loads(assets.path("calibration", f"{model}.json").read_text())
    except (FileNotFoundError, OSError, ValueError):
        return Calibration(default)
    return Calibration(default, {k: float(v) for k, v in data.get("thresholds", {}).items()}, data.get("precision", {}),
                       data.get("support", {}), data.get("fitted_on", ""), frozenset(data.get("no_warnings", ())))
