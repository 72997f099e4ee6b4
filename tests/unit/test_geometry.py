"""Distance and direction through a known camera: a person 2-8 m away must come out within 20%."""
from __future__ import annotations

import math

import pytest

from engine.config import CameraModel
from engine.stage_a import geometry
from engine.types import Zone

W, H = 640, 480
CAM = CameraModel(hfov_deg=60.0, height_m=1.3, tilt_deg=5.0)


def project_standing(distance_m: float, height_m: float, lateral_m: float = 0.0, width_m: float = 0.5):
    """Pixel box of an upright object standing on the floor, seen by CAM (exact pinhole projection
    with the camera pitched down by tilt)."""
    f = CAM.focal_px(W)
    t = math.radians(CAM.tilt_deg)
    def proj(x, y_up, z):
        # camera frame: y down; world point at height y_up above the floor, distance z ahead
        yc = CAM.height_m - y_up
        y_cam = yc * math.cos(t) - z * math.sin(t)
        z_cam = yc * math.sin(t) + z * math.cos(t)
        return W / 2 + f * x / z_cam, H / 2 + f * y_cam / z_cam
    x1, y_top = proj(lateral_m - width_m / 2, height_m, distance_m)
    x2, y_bot = proj(lateral_m + width_m / 2, 0.0, distance_m)
    return (x1, y_top, x2, y_bot)


@pytest.mark.parametrize("distance", [2.0, 3.0, 4.5, 6.0, 8.0])
@pytest.mark.parametrize("real_height", [1.55, 1.70, 1.90])
def test_person_distance_within_20_percent(distance, real_height):
    box = project_standing(distance, real_height)
    pos = geometry.locate("person", box, W, H, CAM)
    assert abs(pos.distance_m - distance) / distance <= 0.20, (distance, real_height, pos.distance_m)


def test_ground_plane_fixes_an_unusually_short_person_up_close():
    """A 1.2 m child at 2.5 m: size alone says ~3.5 m (40% off); the ground plane pulls it back."""
    box = project_standing(2.5, 1.2)
    d_size, _, _ = geometry.size_estimate("person", box, W, H, CAM)
    pos = geometry.locate("person", box, W, H, CAM)
    assert abs(d_size - 2.5) / 2.5 > 0.3
    assert abs(pos.distance_m - 2.5) / 2.5 < 0.15


def test_box_cut_by_frame_bottom_is_marked_as_bound():
    box = (200.0, 100.0, 300.0, float(H))
    pos = geometry.locate("person", box, W, H, CAM)
    assert pos.bounded


def test_clock_direction():
    assert geometry.clock_from_bearing(0) == 12
    assert geometry.clock_from_bearing(-30) == 11
    assert geometry.clock_from_bearing(31) == 1
    assert geometry.clock_from_bearing(-89) == 9
    assert geometry.clock_from_bearing(95) == 3
    left = geometry.locate("person", project_standing(3.0, 1.7, lateral_m=-1.5), W, H, CAM)
    right = geometry.locate("person", project_standing(3.0, 1.7, lateral_m=1.5), W, H, CAM)
    assert left.bearing_deg < -20 and left.clock == 11
    assert right.bearing_deg > 20 and right.clock == 1


def test_zones_follow_distance():
    assert geometry.zone_for(1.0) is Zone.NEAR
    assert geometry.zone_for(5.0) is Zone.MEDIUM
    assert geometry.zone_for(12.0) is Zone.FAR
