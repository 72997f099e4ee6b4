"""Urgency rules, including the issue's example: an approaching car at 5 m outranks a parked car at 2 m."""
from __future__ import annotations

from engine.config import CameraModel
from engine.stage_a import hazards, urgency
from engine.stage_a.geometry import Position, zone_for
from engine.types import Track, Urgency


def pos(d, bearing=0.0):
    return Position(clock=12, bearing_deg=bearing, distance_m=d, zone=zone_for(d), distance_sigma_m=0.1 * d, bounded=False)


def test_approaching_car_outranks_parked_car():
    moving, p_moving = urgency.assess("car", pos(5.0), approaching=True, ttc_s=4.0)
    parked, p_parked = urgency.assess("car", pos(2.0, bearing=25.0), approaching=False, ttc_s=None)
    assert moving >= Urgency.WARNING
    assert parked == Urgency.CAUTION
    assert (moving, p_moving) > (parked, p_parked)


def test_imminent_vehicle_is_danger():
    assert urgency.assess("car", pos(8.0), approaching=True, ttc_s=2.0)[0] == Urgency.DANGER
    assert urgency.assess("bicycle", pos(3.5), approaching=True, ttc_s=5.0)[0] == Urgency.DANGER


def test_obstacle_in_path_warns_and_beside_path_only_cautions():
    assert urgency.assess("chair", pos(1.2, bearing=3.0), False, None)[0] == Urgency.WARNING
    # measured as not getting nearer (standing at a desk, at the fridge): a caution
    assert urgency.assess("chair", pos(1.2, bearing=3.0), False, None, not_closing=True)[0] == Urgency.CAUTION
    assert urgency.assess("refrigerator", pos(1.0, bearing=0.0), False, None, not_closing=True)[0] == Urgency.CAUTION
    # an unsure class judged as its most urgent alternative keeps the standstill
    assert urgency.assess("chair", pos(1.2), False, None, alternatives=("bench",), not_closing=True)[0] == Urgency.CAUTION
    assert urgency.assess("chair", pos(1.2, bearing=28.0), False, None)[0] == Urgency.CAUTION


def test_far_static_things_are_safe_and_signals_worth_a_caution():
    assert urgency.assess("person", pos(12.0), False, None)[0] == Urgency.SAFE
    assert urgency.assess("traffic light", pos(12.0), False, None)[0] == Urgency.CAUTION


def test_approaching_person_close_is_warning():
    assert urgency.assess("person", pos(4.0), True, 6.0)[0] == Urgency.WARNING


def test_hazards_sorted_most_urgent_first_and_only_confirmed():
    cam = CameraModel()
    f = cam.focal_px(640)
    def track(tid, label, d, ttc, confirmed=True):
        h = f * 1.5 / d
        box = (300.0, 240 - h / 2, 340.0, 240 + h / 2)
        return Track(tid, 2, label, box, 0.8, 10, 10, 0, confirmed, (0.0, 0.0), 0.3 if ttc else 0.0, ttc)
    out = hazards.from_tracks((track(1, "car", 12.0, None), track(2, "car", 6.0, 2.0), track(3, "car", 3.0, None, confirmed=False)), 640, 480, cam)
    assert [h.track_id for h in out] == [2, 1]
    assert out[0].urgency == Urgency.DANGER and out[0].approaching


def test_implausible_closing_speed_is_treated_as_noise():
    """Gait bobbing faking a 1.4 s TTC for a person 10 m away (7 m/s) is not an approach;
    a car at the same distance and TTC is."""
    cam = CameraModel()
    f = cam.focal_px(640)
    def track(label, real_h, d, ttc):
        h = f * real_h / d
        box = (300.0, 240 - h / 2, 340.0, 240 + h / 2)
        return Track(1, 0, label, box, 0.8, 10, 10, 0, True, (0.0, 0.0), 0.7, ttc)
    person = hazards.from_tracks((track("person", 1.7, 10.0, 1.4),), 640, 480, cam)[0]
    car = hazards.from_tracks((track("car", 1.5, 10.0, 1.4),), 640, 480, cam)[0]
    assert not person.approaching and person.ttc_s is None and person.urgency < Urgency.WARNING
    assert car.approaching and car.urgency == Urgency.DANGER


def test_far_approach_is_not_yet_a_concern_except_for_vehicles():
    assert urgency.assess("person", pos(25.0), True, 8.0)[0] == Urgency.SAFE
    assert urgency.assess("person", pos(9.0), True, 8.0)[0] == Urgency.CAUTION
    assert urgency.assess("car", pos(25.0), True, 8.0)[0] == Urgency.CAUTION


def test_smoother_ignores_one_frame_flicker_but_never_delays_danger():
    sm = urgency.UrgencySmoother()
    seq = [Urgency.CAUTION, Urgency.WARNING, Urgency.CAUTION, Urgency.CAUTION]
    assert [sm.smooth(1, u, i / 10) for i, u in enumerate(seq)] == [Urgency.CAUTION] * 4
    assert sm.smooth(1, Urgency.DANGER, 0.4) == Urgency.DANGER


def test_smoother_rises_after_two_frames_and_falls_after_a_second():
    sm = urgency.UrgencySmoother()
    out = [sm.smooth(1, u, t) for t, u in [(0.0, Urgency.CAUTION), (0.1, Urgency.WARNING), (0.2, Urgency.WARNING)]]
    assert out == [Urgency.CAUTION, Urgency.CAUTION, Urgency.WARNING]
    assert sm.smooth(1, Urgency.CAUTION, 0.5) == Urgency.WARNING        # held
    assert sm.smooth(1, Urgency.CAUTION, 1.25) == Urgency.CAUTION       # 1 s after the last warning frame
