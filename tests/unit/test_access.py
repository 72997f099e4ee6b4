"""Doors, handles and stairs in Stage A (issue 13 item 3): cadence, geometry, urgency, phrasing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config import CameraModel, EngineConfig, TrackerConfig
from engine.stage_a import geometry
from engine.stage_a.access import FIRST_ID, AccessLane, handle_side, with_details
from engine.stage_a.geometry import Position, zone_for
from engine.stage_a.urgency import assess
from engine.types import Frame, Hazard, Track, Urgency
from maxsight_app.cues.phrasing import hazard_phrase
from maxsight_app.profile.schema import Units
from tests.fakes.detectors import ScriptedDetector

ACCESS_LABELS = ["door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up"]
W, H = 640, 480
CAM = CameraModel()


def _pos(distance: float, bearing: float = 0.0) -> Position:
    return Position(clock=12, bearing_deg=bearing, distance_m=distance, zone=zone_for(distance),
                    distance_sigma_m=0.2, bounded=False)


# -- urgency ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("distance, bearing, expected", [
    (1.2, 0.0, Urgency.DANGER), (1.5, 20.0, Urgency.DANGER),
    (2.0, 0.0, Urgency.WARNING), (3.0, -24.0, Urgency.WARNING),
    (2.0, 40.0, Urgency.CAUTION),          # near, but off to the side: not where the next step lands
    (6.0, 0.0, Urgency.CAUTION), (12.0, 0.0, Urgency.SAFE),
])
def test_stairs_going_down(distance, bearing, expected):
    assert assess("stair_down", _pos(distance, bearing), False, None)[0] == expected


@pytest.mark.parametrize("distance, expected", [(1.0, Urgency.CAUTION), (5.0, Urgency.CAUTION), (12.0, Urgency.SAFE)])
def test_stairs_going_up_are_a_caution_never_more(distance, expected):
    assert assess("stair_up", _pos(distance), True, 0.8)[0] == expected


def test_a_door_is_information_unless_in_the_path_and_near():
    assert assess("door", _pos(2.0, 0.0), False, None)[0] == Urgency.CAUTION
    assert assess("door", _pos(1.0, 0.0), True, 0.5)[0] == Urgency.CAUTION      # never a warning: it is a door
    assert assess("door", _pos(2.0, 35.0), False, None)[0] == Urgency.SAFE
    assert assess("door", _pos(5.0, 0.0), False, None)[0] == Urgency.SAFE
    for label in ("handle", "cabinet door", "refrigerator door"):
        assert assess(label, _pos(0.8, 0.0), False, None)[0] == Urgency.SAFE


def test_nearer_stairs_down_outrank_farther_ones():
    assert assess("stair_down", _pos(1.0), False, None)[1] > assess("stair_down", _pos(2.5), False, None)[1]


# -- geometry --------------------------------------------------------------------------------------

def test_stairs_distance_is_where_the_first_step_meets_the_floor():
    # Bottom edge 100 px below the centre row: d = h / tan(tilt + atan(100 / f)).
    f = CAM.focal_px(W)
    box = (200.0, 150.0, 440.0, H / 2 + 100)
    expected = CAM.height_m / math.tan(math.radians(CAM.tilt_deg) + math.atan(100 / f))
    pos = geometry.locate("stair_down", box, W, H, CAM)
    assert pos.distance_m == pytest.approx(expected, rel=1e-6) and not pos.bounded
    # The same box shape higher in the frame (further away) is further: its size says nothing.
    higher = geometry.locate("stair_down", (200.0, 100.0, 440.0, H / 2 + 40), W, H, CAM)
    assert higher.distance_m > pos.distance_m


def test_stairs_cut_by_the_bottom_of_the_frame_are_at_most_the_lowest_rows_distance():
    pos = geometry.locate("stair_down", (100.0, 200.0, 540.0, float(H)), W, H, CAM)
    f = CAM.focal_px(W)
    bound = CAM.height_m / math.tan(math.radians(CAM.tilt_deg) + math.atan((H / 2) / f))
    assert pos.bounded and pos.distance_m == pytest.approx(bound, rel=1e-6)     # 2.4 m for a chest camera
    # Nearer than can be measured, right ahead: a danger, as at 1.5 m.
    assert assess("stair_down", pos, False, None)[0] == Urgency.DANGER
    side = geometry.locate("stair_down", (0.0, 200.0, 120.0, float(H)), W, H, CAM)
    assert side.bounded and assess("stair_down", side, False, None)[0] == Urgency.CAUTION


def test_door_distance_from_its_two_metre_height():
    f = CAM.focal_px(W)
    h_px = 200.0
    box = (300.0, 60.0, 380.0, 60.0 + h_px)
    by_size = f * 2.0 / h_px
    pos = geometry.locate("door", box, W, H, CAM)
    assert abs(pos.distance_m - by_size) < 0.35 * by_size     # fused with the ground plane, near its size estimate


def test_a_door_too_near_for_its_height_is_measured_by_its_width():
    """Within about 2.4 m a door's top and bottom leave the frame: its 0.85 m width still fits."""
    f = CAM.focal_px(W)
    width_px = f * 0.85 / 1.5                                   # a door 1.5 m away
    pos = geometry.locate("door", (320 - width_px / 2, 0.0, 320 + width_px / 2, float(H)), W, H, CAM)
    assert not pos.bounded and pos.distance_m == pytest.approx(1.5, rel=0.01)


# -- handle side and phrasing -----------------------------------------------------------------------

def _track(tid, label, box, score=0.8, confirmed=True, misses=0) -> Track:
    return Track(track_id=tid, class_id=ACCESS_LABELS.index(label), label=label, box=box, score=score, age=5, hits=5,
                 misses=misses, confirmed=confirmed, velocity=(0.0, 0.0), growth_rate=0.0, ttc_s=None)


def _hazard(label, box, urgency=Urgency.CAUTION, clock=1, distance=3.0) -> Hazard:
    return Hazard(track_id=FIRST_ID, class_id=0, label=label, box=box, clock=clock, bearing_deg=25.0, distance_m=distance,
                  zone=zone_for(distance), approaching=False, ttc_s=None, urgency=urgency, priority=10.0, score=0.9,
                  in_path=False)


DOOR = (300.0, 40.0, 420.0, 400.0)


@pytest.mark.parametrize("handle_x, side", [(400.0, "right"), (310.0, "left"), (425.0, "right")])
def test_the_handle_side_is_told_from_a_handle_inside_the_door(handle_x, side):
    handle = _track(FIRST_ID + 1, "handle", (handle_x - 6, 220.0, handle_x + 6, 236.0), confirmed=False)
    assert handle_side(_hazard("door", DOOR), (handle,)) == side


def test_handles_elsewhere_lost_or_faint_are_not_this_doors():
    elsewhere = _track(2, "handle", (100.0, 220.0, 112.0, 236.0))
    lost = _track(3, "handle", (400.0, 220.0, 412.0, 236.0), misses=2)
    faint = _track(4, "handle", (400.0, 220.0, 412.0, 236.0), score=0.1)
    assert handle_side(_hazard("door", DOOR), (elsewhere, lost, faint)) is None


def test_a_door_is_said_with_its_handle_side():
    handle = _track(FIRST_ID + 1, "handle", (394.0, 220.0, 406.0, 236.0))
    (door,) = with_details((_hazard("door", DOOR),), (handle,))
    assert hazard_phrase(door, Units.METRES, 0.55) == "door, 1 o'clock, 3 metres, handle on the right"
    assert hazard_phrase(door, Units.METRES, 0.55, sign="Exit") == "door, 1 o'clock, 3 metres, handle on the right, sign: Exit"


def test_stairs_are_said_in_words_with_the_urgency_first():
    h = _hazard("stair_down", (100.0, 300.0, 500.0, 470.0), urgency=Urgency.WARNING, clock=12, distance=2.0)
    assert hazard_phrase(h, Units.METRES, 0.55) == "Warning, stairs going down, straight ahead, 2 metres"
    h = _hazard("stair_up", (100.0, 300.0, 500.0, 470.0), urgency=Urgency.CAUTION, clock=12, distance=4.0)
    assert hazard_phrase(h, Units.STEPS, 0.55) == "stairs going up, straight ahead, 5 steps"


# -- the lane: cadence, ids, and the whole pipeline ---------------------------------------------------

def _frames(n, fps=10.0):
    img = np.full((H, W, 3), 90, np.uint8)
    return [Frame(index=i, timestamp=i / fps, image=img) for i in range(n)]


def test_the_access_detector_runs_five_times_a_second_and_its_tracks_stand_between_runs():
    stairs = ((150.0, 330.0, 490.0, 440.0), ACCESS_LABELS.index("stair_down"), 0.9)
    det = ScriptedDetector(None, lambda call: [stairs], labels=ACCESS_LABELS, name="access")
    lane = AccessLane(det, TrackerConfig(), birth_score=0.5, keep_score=0.25, every_s=0.2)
    ran, kept = [], []
    for f in _frames(30, fps=10.0):
        timings = {}
        dets, tracks, problem = lane.run(f, timings)
        ran.append(bool(dets))
        kept.append(tracks)
        assert problem is None
    assert sum(ran) == 15 and ran[:4] == [True, False, True, False]          # every other frame at 10 fps
    assert det.calls == 15
    confirmed = [t for t in kept[-1] if t.confirmed]
    assert len(confirmed) == 1 and confirmed[0].track_id >= FIRST_ID and confirmed[0].label == "stair_down"
    assert kept[-2] == kept[-3] or kept[-1] == kept[-2]                        # between runs: the same tracks


def test_a_30_fps_camera_still_gets_five_runs_a_second():
    det = ScriptedDetector(None, lambda call: [], labels=ACCESS_LABELS, name="access")
    lane = AccessLane(det, TrackerConfig(), birth_score=0.5, keep_score=0.25, every_s=0.2)
    for f in _frames(90, fps=30.0):
        lane.run(f)
    assert 14 <= det.calls <= 16


def test_a_failing_access_detector_is_one_problem_and_stage_a_goes_on(caplog):
    def script(call):
        raise RuntimeError("device lost")
    lane = AccessLane(ScriptedDetector(None, script, labels=ACCESS_LABELS), TrackerConfig(), 0.5, 0.25)
    _, tracks, problem = lane.run(_frames(1)[0])
    assert tracks == () and "door and stairs detector failed: device lost" in problem


def test_the_pipeline_warns_of_stairs_down_ahead_beside_the_coco_objects(installed_models):
    """The real COCO detector on a plain frame, the access lane scripted: the stairs get their own
    id range, their warning, and say how far in words."""
    from engine.pipeline import Pipeline
    pipe = Pipeline(EngineConfig(detector="nanodet", threads=1, device="cpu"), installed_models)
    assert pipe.access is None                                    # off unless asked for
    box = (160.0, 300.0, 480.0, H / 2 + 230)                      # first step 2.5 m ahead (ground plane)
    det = ScriptedDetector(None, lambda call: [(box, ACCESS_LABELS.index("stair_down"), 0.9)], labels=ACCESS_LABELS)
    pipe.access = AccessLane(det, TrackerConfig(), 0.5, 0.25, every_s=0.2)
    results = [pipe.step(f) for f in _frames(12)]
    last = results[-1]
    stairs = [h for h in last.hazards if h.label == "stair_down"]
    assert len(stairs) == 1 and stairs[0].track_id >= FIRST_ID
    assert stairs[0].urgency == Urgency.WARNING and 1.5 < stairs[0].distance_m <= 3.0
    assert last.hazards[0].label == "stair_down"                  # the most urgent thing comes first
    assert sum("access" in r.timings_ms for r in results) == 6     # 5 Hz of 10 fps
    assert all(r.timings_ms["stage_a"] >= r.timings_ms.get("access", 0.0) for r in results)


def test_no_access_model_is_one_note_not_a_failure(installed_models):
    from engine.pipeline import Pipeline
    pipe = Pipeline(EngineConfig(detector="nanodet", threads=1, device="cpu", access="no-such-door-model"), installed_models)
    assert pipe.access is None
    assert pipe.notes == ["Doors and stairs are not detected: this MaxSight has no door and stairs model."]
    pipe.step(_frames(1)[0])
