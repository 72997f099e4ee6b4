"""Urgent words need evidence that holds (issue 22): hand-made cases whose answer is known.

A poster of a person is as big as a near person but meets the floor far off: not a danger. An
unsure class is said as a caution unless it is closing in fast. A class whose precision at its
operating point was under 60% on the dev half (the shipped stairs) raises no warnings. A warning
whose danger is due before it could be heard is said as the danger, in one sentence."""
from __future__ import annotations

import math

from engine.config import CameraModel
from engine.models import calibration
from engine.stage_a import geometry, hazards
from engine.types import Hazard, Track, Urgency, Zone

W, H = 640, 480
CAM = CameraModel()
F = CAM.focal_px(W)


def _bottom_at(d: float) -> float:
    """Where in the frame the floor d metres ahead is."""
    return H / 2 + F * math.tan(math.atan(CAM.height_m / d) - math.radians(CAM.tilt_deg))


def _track(box, label="person", share=1.0, alternatives=(), ttc=None, tid=1, not_closing=False):
    return Track(track_id=tid, class_id=0, label=label, box=box, score=0.8, age=5, hits=5, misses=0, confirmed=True,
                 velocity=(0.0, 0.0), growth_rate=0.5 if ttc else 0.0, ttc_s=ttc, class_share=share, alternatives=alternatives,
                 not_closing=not_closing)


def _poster_box(label="dog", printed_m=0.4, at_m=1.0, bottom_above_floor_m=1.1):
    """Something printed on a poster hung at eye level: its box is the size of a real one near by,
    but its bottom is far above the floor (close to the horizon in the frame)."""
    h_px = F * printed_m / at_m
    bottom = H / 2 + F * math.tan(math.atan((CAM.height_m - bottom_above_floor_m) / at_m) - math.radians(CAM.tilt_deg))
    return (W / 2 - 0.5 * h_px, bottom - h_px, W / 2 + 0.5 * h_px, bottom)


def test_a_dog_on_a_poster_disagrees_with_the_floor():
    pos = geometry.locate("dog", _poster_box(), W, H, CAM)
    assert pos.distance_m <= 3.0 and not pos.bounded and not pos.agree


def test_a_person_standing_on_the_floor_agrees():
    d = 4.0
    h_px = F * 1.7 / d
    b = _bottom_at(d)
    pos = geometry.locate("person", (300, b - h_px, 300 + 0.3 * h_px, b), W, H, CAM)
    assert pos.agree and abs(pos.distance_m - d) < 0.5
    # a seated person (half the height, feet on the floor 2 m away) is not a poster either
    d, h_px = 2.0, F * 0.85 / 2.0
    b = _bottom_at(d)
    assert geometry.locate("person", (300, b - h_px, 300 + h_px, b), W, H, CAM).agree


def test_a_poster_is_not_a_danger():
    # a dog on a poster 1 m away, the user walking slowly toward it (time to contact 4 s): by its
    # size a dog 1.4 m away approaching (a warning), but it floats 1.1 m above the floor: a caution
    hz = hazards.from_tracks((_track(_poster_box(), label="dog", ttc=4.0),), W, H, CAM)[0]
    assert hz.approaching and hz.urgency == Urgency.CAUTION
    # a real dog 1.8 m away on the floor, approaching as slowly: a warning
    h_px, b = F * 0.55 / 1.8, _bottom_at(1.8)
    real = hazards.from_tracks((_track((300, b - h_px, 300 + h_px, b), label="dog", ttc=4.0),), W, H, CAM)[0]
    assert real.urgency == Urgency.WARNING
    # the poster closing in fast (time to contact 1 s) is near and growing: said urgently
    hz = hazards.from_tracks((_track(_poster_box(), label="dog", ttc=1.0),), W, H, CAM)[0]
    assert hz.urgency >= Urgency.WARNING
    # a poster of a person 1 m ahead that fills the frame cannot be told from a person by its
    # geometry (cut by the frame, only a bound of its distance is known): standing still it is
    # never a danger
    person = _track((200, 0, 440, 479), label="person")
    assert hazards.from_tracks((person,), W, H, CAM)[0].urgency < Urgency.DANGER


def _near_in_path_box(d=1.2):
    """An obstacle 1.2 m ahead with its top cut by the frame: only its floor point is trusted."""
    b = _bottom_at(d)
    return (290, 0, 350, b)


def test_an_unsure_class_is_a_caution_unless_closing_fast():
    sure = hazards.from_tracks((_track(_near_in_path_box(), label="chair"),), W, H, CAM)[0]
    assert sure.urgency == Urgency.WARNING                     # an obstacle within 1.5 m in the path
    unsure = hazards.from_tracks((_track(_near_in_path_box(), label="chair", share=0.5, alternatives=("person",)),),
                                 W, H, CAM)[0]
    assert unsure.urgency == Urgency.CAUTION and not unsure.sure
    closing = hazards.from_tracks((_track(_near_in_path_box(), label="chair", share=0.5, alternatives=("person",), ttc=1.0),),
                                  W, H, CAM)[0]
    assert closing.urgency == Urgency.DANGER                   # never dropped when near and growing


def test_a_class_under_60_percent_precision_raises_no_warnings():
    b = _bottom_at(1.0)
    stairs = _track((200, b - 120, 440, b), label="stair_down")
    assert hazards.from_tracks((stairs,), W, H, CAM)[0].urgency == Urgency.DANGER
    cal = calibration.Calibration(0.5, no_warnings=frozenset({"stairs"}))
    hz = hazards.from_tracks((stairs,), W, H, CAM, warns=cal.warns)[0]
    assert hz.urgency == Urgency.CAUTION                       # said, as a caution
    assert cal.warns("person") and not cal.warns("stair_up")


def test_the_shipped_calibration_decides_who_warns():
    # Stairs raised no warnings at 50% (47/94); judged on the frame and its mirror image their
    # operating point clears 60% on the dev half, and the file says they may warn again.
    import json

    import assets
    raw = json.loads(assets.path("calibration", "access.json").read_text())
    access = calibration.load("access", 0.5)
    coco = calibration.load("nanodet", 0.5)
    stairs = raw["operating_point"]["stairs"]
    assert access.warns("stair_down") == (stairs["precision"] >= raw["warn_precision"])
    assert access.warns("stair_down") and access.warns("door")
    assert coco.warns("person") and coco.warns("car")


def test_a_far_person_approaching_is_a_caution_a_far_car_a_warning():
    # 12 m away with a 2.8 s time to contact: for a person that is the walker's own bobbing; a car
    # that far and that fast is real
    d = 12.0
    for label, want in (("person", Urgency.CAUTION), ("car", Urgency.DANGER)):
        h_px = F * geometry.TYPICAL_HEIGHT_M[label] / d
        b = _bottom_at(d)
        hz = hazards.from_tracks((_track((310, b - h_px, 310 + h_px, b), label=label, ttc=2.8),), W, H, CAM)[0]
        assert hz.approaching and hz.urgency == want, (label, hz.urgency)


def test_a_weak_far_guess_is_not_listed_until_it_comes_near_or_closes_in():
    birth = calibration.Calibration(0.5).birth
    d = 6.0
    h_px = F * 1.7 / d
    b = _bottom_at(d)
    box = (300, b - h_px, 300 + 0.35 * h_px, b)                # about 1.6% of the frame
    weak = Track(**{**_track(box).__dict__, "score": 0.35})
    assert hazards.from_tracks((weak,), W, H, CAM, report_score=birth) == ()
    strong = Track(**{**_track(box).__dict__, "score": 0.6})
    assert len(hazards.from_tracks((strong,), W, H, CAM, report_score=birth)) == 1
    closing = Track(**{**_track(box, ttc=2.5).__dict__, "score": 0.35})
    assert len(hazards.from_tracks((closing,), W, H, CAM, report_score=birth)) == 1
    near = Track(**{**_track(_near_in_path_box(), label="chair").__dict__, "score": 0.35})
    assert hazards.from_tracks((near,), W, H, CAM, report_score=birth)[0].urgency == Urgency.WARNING
    # stood still in front of, it is a caution, and still listed however weak (within reach)
    still = Track(**{**_track(_near_in_path_box(), label="chair", not_closing=True).__dict__, "score": 0.35})
    assert hazards.from_tracks((still,), W, H, CAM, report_score=birth)[0].urgency == Urgency.CAUTION


def test_within_reach_and_measured_still_is_a_caution_else_a_warning():
    assert hazards.from_tracks((_track(_near_in_path_box(), label="chair", not_closing=True),), W, H, CAM)[0].urgency == Urgency.CAUTION
    assert hazards.from_tracks((_track(_near_in_path_box(), label="chair"),), W, H, CAM)[0].urgency == Urgency.WARNING


def test_within_reach_cut_at_a_side_is_a_caution_only_when_its_picture_held_still():
    """A chair 1.3 m ahead cut at the left side cannot be sized (not_closing False): the picture's
    stillness decides. Still: a caution; moving, or approaching, or not within reach: untouched,
    and the (costly) stillness test is not asked for what is not within reach or can move by itself."""
    asked = []

    def still(box):
        asked.append(box)
        return True
    cut = (0, 100, 480, H)             # 1.3 m ahead, in the path, cut at the left side and the bottom
    assert hazards.from_tracks((_track(cut, label="chair"),), W, H, CAM, still=still)[0].urgency == Urgency.CAUTION
    assert hazards.from_tracks((_track(cut, label="chair"),), W, H, CAM, still=lambda box: False)[0].urgency == Urgency.WARNING
    assert hazards.from_tracks((_track(cut, label="chair"),), W, H, CAM)[0].urgency == Urgency.WARNING
    asked.clear()
    approaching = hazards.from_tracks((_track(cut, label="chair", ttc=1.0),), W, H, CAM, still=still)[0]
    assert approaching.urgency == Urgency.WARNING and not asked
    # a dog (or a chair the detector sometimes calls a dog) may be coming at a still user
    dog = hazards.from_tracks((_track(cut, label="dog"),), W, H, CAM, still=still)[0]
    assert dog.distance_m <= 1.5 and dog.urgency == Urgency.WARNING
    hazards.from_tracks((_track(cut, label="chair", share=0.5, alternatives=("dog",)),), W, H, CAM, still=still)
    assert not asked
    far = _bottom_at(4.0)
    hazards.from_tracks((_track((0, far - 80, 120, far), label="chair"),), W, H, CAM, still=still)
    assert not asked


def test_an_approach_survives_a_dropout_and_an_id_switch():
    """A person closing in whose time to contact drops out for a frame keeps it (counted down);
    a new id on the same box takes over the lost track's approach and level."""
    from engine.stage_a.urgency import UrgencySmoother
    sm = UrgencySmoother()
    d = 2.5
    h_px, b = F * 1.7 / d, _bottom_at(d)
    box = (300, b - h_px, 300 + 0.35 * h_px, b)
    for i in range(3):                                         # closing, time to contact 1.2 s
        hz = hazards.from_tracks((_track(box, ttc=1.2 - 0.1 * i),), W, H, CAM, smoother=sm, t=0.1 * i)[0]
    assert hz.urgency == Urgency.DANGER
    hz = hazards.from_tracks((_track(box, ttc=None),), W, H, CAM, smoother=sm, t=0.3)[0]     # a dropout
    assert hz.approaching and abs(hz.ttc_s - 0.9) < 1e-6 and hz.urgency == Urgency.DANGER
    # the tracker loses id 1 and starts id 2 on the same person, with no approach history yet
    hazards.from_tracks((), W, H, CAM, smoother=sm, t=0.4)
    hz = hazards.from_tracks((_track(box, ttc=None, tid=2),), W, H, CAM, smoother=sm, t=0.5)[0]
    assert hz.track_id == 2 and hz.approaching and hz.urgency == Urgency.DANGER
    # without the bridge (a new smoother) the same frame is a standing person: no danger
    assert hazards.from_tracks((_track(box, ttc=None, tid=2),), W, H, CAM, smoother=UrgencySmoother(), t=0.5)[0].urgency \
        < Urgency.DANGER
    # long after (over BRIDGE_S), a still person is still again
    hz = hazards.from_tracks((_track(box, ttc=None, tid=2),), W, H, CAM, smoother=sm, t=2.0)[0]
    assert not hz.approaching
