"""How the user's vision condition changes what is announced first and how. Each rule applies once
severity reaches ACTIVE_FROM; the numbers are documented beside each rule.

  glaucoma, retinitis_pigmentosa (peripheral loss): objects outside the central 15 degrees and
      within 8 m are announced one level earlier (a safe bench at the side is said), because the
      user will not see them coming from the side.
  amd (central loss): objects inside the central 15 degrees rank first (and text, once Stage B
      reads it), because that is exactly where the user cannot see.
  retinitis_pigmentosa (night blindness): "it is getting dark" when the scene's brightness drops
      below 90 (a typical eye is only warned below 40), since rods fail first.
  hemianopia_left / hemianopia_right: objects on the blind side are announced one level earlier,
      rank first within their level, and are named "on your blind side".
"""
from __future__ import annotations

from engine.types import Hazard, Urgency

ACTIVE_FROM = 0.2
CENTRAL_DEG = 15.0
PERIPHERAL_NEAR_M = 8.0
RP_DARK_BRIGHTNESS = 90.0
PERIPHERAL_LOSS = ("glaucoma", "retinitis_pigmentosa")


def active(condition: str, severity: float) -> bool:
    return condition != "none" and severity >= ACTIVE_FROM


def blind_side(condition: str, h: Hazard) -> bool:
    return (condition == "hemianopia_left" and h.bearing_deg < -5) or (condition == "hemianopia_right" and h.bearing_deg > 5)


def threshold_shift(condition: str, severity: float, h: Hazard) -> int:
    """Levels to lower the announcement threshold by for this hazard (0 or 1)."""
    if not active(condition, severity):
        return 0
    if condition in PERIPHERAL_LOSS and abs(h.bearing_deg) >= CENTRAL_DEG and h.distance_m <= PERIPHERAL_NEAR_M:
        return 1
    if blind_side(condition, h) and h.distance_m <= PERIPHERAL_NEAR_M:
        return 1
    return 0


def rank_boost(condition: str, severity: float, h: Hazard) -> float:
    """Added to a hazard's priority within its urgency level."""
    if not active(condition, severity):
        return 0.0
    if condition == "amd" and abs(h.bearing_deg) < CENTRAL_DEG:
        return 50.0
    if condition in PERIPHERAL_LOSS and abs(h.bearing_deg) >= CENTRAL_DEG:
        return 5.0
    if blind_side(condition, h):
        return 50.0
    return 0.0


def suffix(condition: str, severity: float, h: Hazard) -> str:
    return ", on your blind side" if active(condition, severity) and blind_side(condition, h) else ""


def dark_threshold(condition: str, severity: float, default: float) -> float:
    return RP_DARK_BRIGHTNESS if condition == "retinitis_pigmentosa" and active(condition, severity) else default


def lowest_level(base: Urgency, shift: int) -> Urgency:
    return Urgency(max(int(Urgency.SAFE), int(base) - shift))
