"""The class-agnostic collision lane (engine/stage_a/collision.py) on hand-made walks with a known
answer, rendered by maxsight_app/measure/collide.py: behaviour, not exact numbers."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.config import CameraModel, CollisionConfig, EngineConfig
from engine.stage_a import quality
from engine.stage_a.collision import DROP, HEAD, OBSTACLE, CollisionLane
from engine.types import Urgency
from maxsight_app.measure import collide


@pytest.fixture(autouse=True)
def shipped_textures(monkeypatch):
    """The walks are textured with the shipped sample clip's frames, with or without the evaluation
    data beside the clone, so these hand-made cases are the same scenes on every machine (with the
    COCO photos as textures the drop-off of seed 0 was said; with the clip's frames it was not)."""
    monkeypatch.setattr(collide, "photo_paths", lambda: [])
    monkeypatch.setattr(collide, "_PHOTOS", None)


def lane() -> CollisionLane:
    return CollisionLane(CameraModel(), CollisionConfig(enabled=True))


def walk(scene, lane_=None):
    """[(t, hazards, truth)] for every frame of the scene."""
    lane_ = lane_ or lane()
    return [(t, lane_.update(img, t), truth) for t, img, truth in collide.frames(scene)]


def test_a_wall_approached_head_on_is_warned_in_time():
    scene = collide.make_scene("wall", 0)
    out = walk(scene)
    hits = [(truth[0].ttc_s, h) for t, hs, truth in out for h in hs
            if h.label in (OBSTACLE, HEAD) and collide._overlaps(h.box, truth[0].box)]
    assert hits, "the wall was never warned of"
    assert max(ttc for ttc, _ in hits) >= collide.WARN_BEFORE_S
    near = [h for ttc, h in hits if ttc < 1.5]
    assert near and all(h.in_path and h.clock in (11, 12, 1) for h in near)
    assert any(h.urgency >= Urgency.WARNING for h in near)
    # Its time to contact is roughly right where it matters.
    errs = [abs(h.ttc_s - ttc) for ttc, h in hits if ttc < 3.0]
    assert np.median(errs) < 1.0


def test_walking_past_a_wall_at_one_side_is_not_warned():
    scene = collide.make_scene("beside_wall", 0)
    assert not scene.obstacles[0].in_path
    said = [h for _, hs, _ in walk(scene) for h in hs]
    assert said == []


ROWS, COLS = 14, 19          # the lane's window grid at 320 x 240


def regions_of(lane_: CollisionLane, persisted: np.ndarray, ttc_s: float = 1.0, t: float = 0.0):
    """The hazards the lane makes of these on-course windows (all at one time to contact) at time t."""
    cx = (np.arange(COLS, dtype=np.float32) + 1) * 16 - 160
    cy = (np.arange(ROWS, dtype=np.float32) + 1) * 16 - 120
    ones = np.ones((ROWS, COLS), np.float32)
    return lane_._regions_to_hazards(persisted, ttc_s * ones, ones, ones, cx, cy, 16, 320, 240, (320, 240), 1.2, t)


def windows(rows: slice, cols: slice) -> np.ndarray:
    out = np.zeros((ROWS, COLS), bool)
    out[rows, cols] = True
    return out


def test_a_new_region_at_a_side_of_the_picture_is_passing_by_but_one_followed_there_is_kept():
    """Something first on course so far to a side that it could be in the corridor only within
    1.1 m is a wall alongside (or too late to help). What the lane already followed from nearer the
    middle stays reported when it reaches the side, also after a few frames without it."""
    lane_ = lane()
    side = windows(slice(2, 5), slice(0, 1))            # x 0-32 of 320 at 60 degrees: beyond 24 degrees
    assert regions_of(lane_, side) == []
    first = regions_of(lane_, windows(slice(2, 5), slice(1, 4)))    # x 16-80: reaches in from the side
    assert len(first) == 1
    assert regions_of(lane_, np.zeros((ROWS, COLS), bool)) == []      # a frame without it
    later = regions_of(lane_, side)                     # the same thing, now at the side
    assert len(later) == 1 and later[0].track_id == first[0].track_id


def test_the_side_rule_holds_for_a_narrow_camera():
    """With a 20-degree camera the outer columns are only 7-10 degrees out: a thing there can be in
    the corridor 2.5 m ahead, so it is not taken for something passing by."""
    narrow = CollisionLane(CameraModel(hfov_deg=20.0), CollisionConfig(enabled=True))
    assert len(regions_of(narrow, windows(slice(2, 5), slice(0, 1)))) == 1


def test_a_new_region_at_the_bottom_about_to_be_hit_is_doubted_but_never_silenced():
    """A new region over the floor at the bottom of the picture, under min_new_ttc_s (0.5 s) from
    contact, is most often the floor's flow at its largest: it is said once it has held for 0.2 s
    (3 frames at 10 fps, 7 at 30). What the lane already followed is said at once as it comes that near."""
    region = windows(slice(10, 13), slice(8, 11))       # the bottom third of the picture
    for fps, first_said in ((10, 2), (30, 6)):
        lane_ = lane()
        said = [regions_of(lane_, region, ttc_s=0.4, t=i / fps) for i in range(first_said + 1)]
        assert all(s == [] for s in said[:first_said]) and len(said[first_said]) == 1, (fps, said)
    lane_ = lane()
    first = regions_of(lane_, region, ttc_s=1.2)
    assert len(first) == 1
    later = regions_of(lane_, region, ttc_s=0.4)
    assert len(later) == 1 and later[0].track_id == first[0].track_id
    higher = windows(slice(4, 7), slice(8, 11))         # not at the bottom: said at once
    assert len(regions_of(lane(), higher, ttc_s=0.4)) == 1


def test_a_camera_that_does_not_move_gives_nothing():
    scene = collide.make_scene("wall", 1, static=True)
    said = [h for _, hs, _ in walk(scene) for h in hs]
    assert said == []


def test_a_covered_camera_gives_no_obstacle_and_the_quality_notice_says_so():
    rng = np.random.default_rng(0)
    ln = lane()
    said = []
    for i in range(40):
        img = np.clip(30 + rng.normal(0, 1.5, (240, 320, 3)), 0, 255).astype(np.uint8)
        said += ln.update(img, i / 10)
        assert quality.measure(img).covered
    assert said == []


def test_a_drop_off_across_the_path_is_said_before_the_edge():
    scene = collide.make_scene("dropoff", 3)     # a 0.8-1.5 m drop (eval collide: large drops 6/8, small steps 0/8)
    out = walk(scene)
    drops = [(truth[0].ttc_s, h) for _, hs, truth in out for h in hs if h.label == DROP]
    assert drops, "the drop-off was never said"
    assert max(ttc for ttc, _ in drops) >= collide.WARN_BEFORE_S


def test_a_drop_off_is_said_where_it_is_and_becomes_stop_before_the_edge():
    """The edge's distance comes from the last row that still moves like floor (not from the first
    row beyond it), and once the edge leaves the bottom of the picture it is carried on at the speed
    walked while it was in sight: before, the distance said here was 1.2-2.2 m too far and "Stop!"
    never came."""
    out = walk(collide.make_scene("dropoff", 3))
    said = [(truth[0].distance_m, h) for _, hs, truth in out for h in hs if h.label == DROP]
    assert said, "the drop-off was never said"
    errors = sorted(abs(h.distance_m - d) for d, h in said)
    assert errors[len(errors) // 2] <= 0.8, [(round(d, 2), round(h.distance_m, 2)) for d, h in said]
    # The walk ends 0.3 m before the edge; "Stop!" comes before that (on this walk only at 0.33 m:
    # the first sighting is 0.45 m too far; eval collide counts how often it comes 1 m before).
    assert any(h.urgency == Urgency.DANGER for d, h in said), [(round(d, 2), h.urgency.name) for d, h in said]
    assert not any(h.urgency == Urgency.DANGER for d, h in said if d > 2.5)


def test_a_walker_who_pauses_before_an_edge_is_not_stopped_there_and_is_warned_on_walking_on(monkeypatch):
    """Standing 3.1 m before a drop-off for 3.5 s: no "Stop!" while standing (the smoothed speed
    lags a stop by a second; the edge was carried onto the walker), the edge is not forgotten
    while standing, and walking on it is a danger before the edge."""
    scene = collide.make_scene("dropoff", 3)
    start, v, pause = scene.obstacles[0].z_front, scene.speed, 3.5
    t_stop = (start - 3.1) / v
    walked = lambda t: v * t if t < t_stop else v * t_stop if t < t_stop + pause else v * (t - pause)
    pose = collide.pose

    def paused(sc, t):
        c, r = pose(sc, t)
        c = c.copy()
        c[2] = walked(t)
        return c, r
    monkeypatch.setattr(collide, "pose", paused)
    scene.duration_s = (start - 0.3) / v + pause
    out = walk(scene)
    standing = [(truth[0].distance_m, h) for t, hs, truth in out for h in hs
                if h.label == DROP and t_stop + 0.5 <= t <= t_stop + pause]
    on = [(truth[0].distance_m, h) for t, hs, truth in out for h in hs if h.label == DROP and t > t_stop + pause]
    assert standing and not any(h.urgency == Urgency.DANGER for _, h in standing), [(d, h.distance_m) for d, h in standing]
    assert on and any(h.urgency == Urgency.DANGER for d, h in on if d > 0.4), [(round(d, 2), h.urgency.name) for d, h in on]


def test_an_edge_of_a_video_that_ended_is_not_carried_into_the_next():
    """The clock goes back (another video, or the same one again, without a reset): the old edge
    is gone, not carried on walking through a picture where the floor does not end."""
    ln = lane()
    old = {h.track_id for _, hs, _ in walk(collide.make_scene("dropoff", 3), ln) for h in hs if h.label == DROP}
    assert old
    again = [h for _, hs, _ in walk(collide.make_scene("wall", 0), ln) for h in hs]
    assert not [h for h in again if h.track_id in old], again


def test_a_confirmed_track_keeps_its_class_name():
    """A region covered by a confirmed track's box is the detectors' to name: the lane says nothing there."""
    from engine.types import Track
    scene = collide.make_scene("wall", 0)
    ln = lane()
    said = []
    for t, img, truth in collide.frames(scene):
        h, w = img.shape[:2]
        track = Track(7, 13, "bench", (0.0, 0.0, float(w), float(h)), 0.9, 10, 10, 0, True, (0.0, 0.0), 0.3, 2.0)
        said += ln.update(img, t, (track,))
    assert [h for h in said if h.label != DROP] == []


def test_the_config_is_checked():
    with pytest.raises(ValueError, match="collision.flow"):
        EngineConfig(collision=CollisionConfig(flow="slow")).with_()
    with pytest.raises(ValueError, match="collision.ttc_s"):
        EngineConfig(collision=CollisionConfig(ttc_s=0.1)).with_()
    with pytest.raises(ValueError, match="collision.min_parallax"):
        EngineConfig(collision=CollisionConfig(min_parallax=-0.1)).with_()
    with pytest.raises(ValueError, match="collision.side_near_m"):
        EngineConfig(collision=CollisionConfig(side_near_m=9.0)).with_()
    with pytest.raises(ValueError, match="collision.min_new_ttc_s"):
        EngineConfig(collision=CollisionConfig(min_new_ttc_s=5.0)).with_()


def _floor_motion(width=320, height=240, step=0.1, horizon=-20.0):
    """The displacement of every pixel of a floor seen by a camera 1.3 m high walking forward by
    step x 1.3 m: a homography (image coordinates, camera tilted so the horizon is `horizon` px
    above the centre), plus a 0.3 px wobble (the flow's own errors)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    e = np.array([width / 2, height / 2 + horizon], np.float32)
    below = np.maximum(ys - e[1], 1.0)                               # rows below the horizon
    g = step * below / 230.0                                         # the step over the floor's depth there
    move = np.stack([xs - e[0], ys - e[1]], -1) * (g / (1 - g))[..., None]
    rng = np.random.default_rng(0)
    return move + rng.normal(0, 0.3, move.shape).astype(np.float32), e


def test_the_floor_has_no_parallax_and_a_box_standing_on_it_has():
    """Plane plus parallax: what moves as the floor does leaves nothing after the floor's
    homography; a box 0.4 m high standing on it moves more (it is nearer than the floor behind it
    in the picture) and stands out where it is (its height over its depth, about 0.16 at its top)."""
    move, e = _floor_motion()
    q = lane()._parallax(move, 0.1, -20.0, 2)
    assert q is not None and np.abs(np.median(q[6:])) < 0.01
    boxed = move.copy()
    ys, xs = np.mgrid[0:240, 0:320].astype(np.float32)
    box = (slice(150, 200), slice(140, 200))
    d = np.stack([xs[box] - e[0], ys[box] - e[1]], -1)
    boxed[box] += d * 0.1 * 0.16                                     # parallax: (p - e) x step x height / depth
    q2 = lane()._parallax(boxed, 0.1, -20.0, 2)
    rows, cols = (150 + 200) // 2 // 16 - 1, (140 + 200) // 2 // 16 - 1
    assert q2[rows, cols] > 2 * CollisionConfig().min_parallax
    assert np.abs(np.median(q2[-2:, :4])) < 0.01                     # the floor beside it stays flat


def test_scenes_are_deterministic_and_know_their_truth():
    a, ta = collide.render(collide.make_scene("pole", 3), 1.0)
    b, tb = collide.render(collide.make_scene("pole", 3), 1.0)
    assert np.array_equal(a, b) and ta == tb
    assert collide.make_scene("pole", 3).split == "test" and collide.make_scene("pole", 4).split == "dev"
    scene = collide.make_scene("wall", 2)
    first, last = ta, None
    for t, _, truth in collide.frames(scene):
        last = truth
    assert last[0].distance_m < 1.0 and last[0].box is not None


def test_the_lane_speaks_through_the_cue_policy_like_any_hazard():
    """One road: a wall warned by the lane is said by the same cue policy, in words a person can use."""
    from engine.types import FrameQuality, FrameResult
    from maxsight_app.cues.policy import CuePolicy
    from maxsight_app.profile.schema import Profile
    scene = collide.make_scene("wall", 0)
    policy, prefs, said = CuePolicy(), Profile(), []
    ln = lane()
    for t, img, truth in collide.frames(scene):
        hs = ln.update(img, t)
        r = FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(img.shape[1], img.shape[0]), detections=(),
                        tracks=(), hazards=hs, quality=quality.measure(img), uncertainty=0.1)
        said += [(truth[0].ttc_s, c) for c in policy.decide(r, prefs, t)]
    words = [c.text for _, c in said]
    assert any(w.startswith(("Warning, obstacle", "obstacle")) for w in words), words
    assert max(ttc for ttc, _ in said) >= collide.WARN_BEFORE_S
    assert len(said) <= 4, words         # dedupe and cooldown hold: a wall is not a stream of cues


def test_the_pipeline_runs_the_lane_when_it_is_on(installed_models):
    """Stage A with the lane on: its hazards join the detectors' in FrameResult, its cost is timed;
    with it off (the default) nothing of it runs."""
    from engine.models.detectors import build
    from engine.pipeline import Pipeline
    from engine.types import Frame
    from tests.fakes.detectors import ScriptedDetector
    spec = installed_models.get("nanodet")
    blind = ScriptedDetector(build(spec, installed_models, threads=1), lambda i: [])
    on = Pipeline(EngineConfig(detector="nanodet", threads=1, collision=CollisionConfig(enabled=True)),
                  installed_models, detector=blind)
    off = Pipeline(EngineConfig(detector="nanodet", threads=1), installed_models, detector=blind)
    assert off.collision is None
    labels, timed = set(), []
    for i, (t, img, truth) in enumerate(collide.frames(collide.make_scene("wall", 0))):
        r = on.step(Frame(i, t, img))
        labels |= {h.label for h in r.hazards}
        timed.append("collision" in r.timings_ms)
        assert not off.step(Frame(i, t, img)).hazards
    assert OBSTACLE in labels and all(timed)


def test_evidence_must_last_the_same_time_at_any_frame_rate():
    """A window on course is believed once its run has lasted persist_s (persist_ground_s over the
    floor), the same at 10 and at 30 frames a second; a neighbour's run counts (the picture drifts)."""
    cfg = CollisionConfig(enabled=True)
    body, ground = windows(slice(2, 4), slice(8, 10)), windows(slice(10, 12), slice(8, 10))
    below = np.zeros((ROWS, COLS), bool)
    below[6:] = True
    for fps in (10, 30, 25):
        ln = lane()
        first = {}
        for i in range(int(fps) + 1):
            t = i / fps
            persisted = ln._persist(body | ground, below, t)
            for name, w in (("body", body), ("ground", ground)):
                if name not in first and persisted[w].all():
                    first[name] = t
        assert abs(first["body"] - cfg.persist_s) < 1 / fps, (fps, first)
        assert abs(first["ground"] - cfg.persist_ground_s) < 1 / fps, (fps, first)
    # a run that drifts one window a frame is still one run; a frame off course starts it again
    ln = lane()
    got = [ln._persist(windows(slice(3, 5), slice(i, i + 2)), below, i / 10).any() for i in range(4)]
    assert got == [False, False, True, True]
    ln._persist(np.zeros((ROWS, COLS), bool), below, 0.4)
    assert not ln._persist(body, below, 0.5).any()


def test_a_run_survives_frames_missing_within_a_tenth_of_a_second():
    """At 30 fps a window off course for one or two frames (under 0.1 s) keeps its run, as it would
    be unseen between two samples at 10 fps; three frames (0.1 s) off course end it."""
    below = np.zeros((ROWS, COLS), bool)
    w, off = windows(slice(2, 4), slice(8, 10)), np.zeros((ROWS, COLS), bool)
    for gap, kept in ((2, True), (4, False)):
        ln = lane()
        pattern = [w] * 3 + [off] * gap + [w] * 3
        got = [ln._persist(p, below, i / 30).any() for i, p in enumerate(pattern)]
        assert bool(got[-1]) == kept, (gap, got)


def _persist_at(ln: CollisionLane, pattern, times, below):
    """_persist over frames at these times, as update() calls it (it knows the frame before)."""
    got, before = [], None
    for p, t in zip(pattern, times):
        ln._t_before = before
        got.append(bool(ln._persist(p, below, t).any()))
        before = t
    return got


def test_a_slow_or_late_frame_breaks_no_run():
    """Under 10 fps, or a 10 fps camera's frame a few ms late, the run goes on: on course on the
    frame before counts however long ago that was (the frame counts never broke a run either)."""
    below = np.zeros((ROWS, COLS), bool)
    w = windows(slice(2, 4), slice(8, 10))
    slow = _persist_at(lane(), [w] * 4, [i / 9 for i in range(4)], below)            # 9 fps: 0.2 s at the 3rd
    assert slow == [False, False, True, True], slow
    late = _persist_at(lane(), [w] * 4, [0.0, 0.103, 0.197, 0.304], below)          # +-3 ms
    assert late == [False, False, False, True], late                                   # 0.197 s is not yet 0.2
    off = np.zeros((ROWS, COLS), bool)                                              # a frame off course still ends it
    assert _persist_at(lane(), [w, w, off, w, w], [i / 9 for i in range(5)], below)[-1] is False


def test_a_clock_gone_back_starts_the_doubt_again_and_does_not_inherit_it():
    """A region doubted on one clock, then the clock starting again at 0 (a video restarted without
    a new source): the doubt starts again on the new clock and ends after 0.2 s, as on any clock."""
    ln = lane()
    region = windows(slice(10, 13), slice(8, 11))
    for t in (500.0, 500.1):
        assert regions_of(ln, region, ttc_s=0.4, t=t) == []
    said = [regions_of(ln, region, ttc_s=0.4, t=i / 10) for i in range(4)]
    assert [len(s) for s in said] == [0, 0, 1, 1], said


# -- the lane's drop-off and the detector's stairs: one edge, one hazard --------------------------

def _first_drop():
    """The lane's own drop-off hazard on a rendered walk to a 0.8-1.5 m drop (a real id and distance)."""
    for _, hs, _ in walk(collide.make_scene("dropoff", 3)):
        for h in hs:
            if h.label == DROP:
                return h
    raise AssertionError("the drop-off was never said")


def _stairs(distance, bearing=5.0, label="stair_down", urgency=Urgency.CAUTION, sure=True, score=0.6,
            box=(50.0, 150.0, 270.0, 240.0), track_id=None):
    from engine.stage_a.access import FIRST_ID
    from engine.stage_a.geometry import clock_from_bearing, zone_for
    from engine.types import Hazard
    return Hazard(track_id=FIRST_ID if track_id is None else track_id, class_id=4, label=label, box=box,
                  clock=clock_from_bearing(bearing), bearing_deg=bearing, distance_m=distance, zone=zone_for(distance),
                  approaching=False, ttc_s=None, urgency=urgency, priority=12.0, score=score, in_path=True, sure=sure)


def _at(h, distance):
    from engine.stage_a.geometry import zone_for
    return replace(h, distance_m=distance, zone=zone_for(distance))


def test_a_drop_off_where_the_detector_sees_stairs_down_is_one_hazard_said_as_stairs():
    from maxsight_app.cues.phrasing import hazard_phrase
    from maxsight_app.profile.schema import Units
    drop = _first_drop()
    stairs = _stairs(drop.distance_m + 0.6, bearing=20.0)     # only a caution, by itself, and to one side
    out = lane().join_stairs((stairs, drop), 1.0)
    assert len(out) == 1, out
    one = out[0]
    assert one.label == "stair_down" and one.track_id == stairs.track_id      # the policy goes on from the stairs
    assert one.urgency == max(drop.urgency, stairs.urgency) >= Urgency.WARNING
    assert one.distance_m == drop.distance_m and one.ttc_s == drop.ttc_s and one.sure
    assert one.clock == drop.clock == 12                       # the edge runs across the path
    words = hazard_phrase(one, Units.METRES, 0.55)
    assert words.startswith(("Warning, stairs going down, straight ahead", "Stop! stairs going down, straight ahead")), words


@pytest.mark.parametrize("stairs_kw", [dict(distance=None, far=5.0), dict(box=(0.0, 150.0, 45.0, 240.0)),
                                       dict(label="stair_up"), dict(sure=False), dict(score=0.3)],
                         ids=["much farther", "off to a side", "stairs going up", "class unsure", "a faint guess"])
def test_a_drop_off_and_other_stairs_stay_two_hazards(stairs_kw):
    """An unsure or faint stairs guess is never made a sure "stairs going down" by the drop-off:
    the listener hears "drop-off" and, at most, "something"."""
    drop = _first_drop()
    kw = dict(stairs_kw)
    kw["distance"] = drop.distance_m + kw.pop("far", 0.0)
    stairs = _stairs(**kw)
    assert lane().join_stairs((stairs, drop), 1.0) == (stairs, drop)


def test_an_edge_once_joined_stays_the_stairs_from_frame_to_frame():
    """A stairs distance that jitters past the join's limit, or a flight that leaves the bottom of
    the picture while the lane carries the edge, does not flip the edge between two names and ids;
    a second apart from both, the pair lets go."""
    ln, drop = lane(), _first_drop()
    stairs = _stairs(drop.distance_m + 0.5)
    frames = [(0.0, (stairs, drop)),
              (0.1, (_at(stairs, drop.distance_m + 1.9), drop)),   # outside the join's limit, inside the hold's
              (0.2, (drop,)),                                       # the flight out of sight
              (0.3, (stairs,)),                                     # the lane missed the edge this frame
              (0.4, (drop,))]
    for t, hs in frames:
        out = ln.join_stairs(hs, t)
        assert [(h.label, h.track_id) for h in out] == [("stair_down", stairs.track_id)], (t, out)
        # what was joined holds: the edge's distance (the nearer), its level and straight ahead
        assert out[0].distance_m <= drop.distance_m and out[0].urgency >= drop.urgency and out[0].clock == 12, (t, out)
    assert ln.join_stairs((drop,), 1.6) == (drop,)               # nothing of either for over a second
    ln.join_stairs((stairs, drop), 2.0)
    aside = replace(stairs, box=(0.0, 150.0, 45.0, 240.0), bearing_deg=-35.0, clock=11)
    out = ln.join_stairs((aside, drop), 2.1)     # the walker turned: the flight is in sight to the left
    assert {(h.label, h.clock) for h in out} == {("stair_down", 11), (DROP, drop.clock)}, out
    ln.join_stairs((stairs, drop), 3.0)
    near_aside = replace(aside, distance_m=0.8, urgency=Urgency.DANGER)
    assert ln.join_stairs((near_aside,), 3.1) == (near_aside,)    # the lane missed the edge; the flight is elsewhere
    assert ln.join_stairs((drop,), 3.2) == (drop,)                # ...so it does not stand for the edge


def test_a_lane_rebuilt_or_reset_never_gives_an_old_id_again():
    a = {h.track_id for _, hs, _ in walk(collide.make_scene("wall", 0)) for h in hs}
    again = lane()
    b = {h.track_id for _, hs, _ in walk(collide.make_scene("wall", 0), again) for h in hs}
    again.reset()
    c = {h.track_id for _, hs, _ in walk(collide.make_scene("wall", 0), again) for h in hs}
    assert a and b and c and not (a & b or b & c or a & c), (a, b, c)


def _policy_said():
    from engine.types import FrameQuality, FrameResult
    from maxsight_app.cues.policy import CuePolicy
    from maxsight_app.profile.schema import Profile
    policy, prefs = CuePolicy(), Profile()
    q = FrameQuality(brightness=120.0, sharpness=200.0, contrast=40.0, dark=False, blurred=False, covered=False, score=1.0)

    def said(hazards, t):
        r = FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(),
                        hazards=hazards, quality=q, uncertainty=0.1)
        return [c.text for c in policy.decide(r, prefs, t)]
    return said


def test_stop_about_an_edge_is_not_said_again_when_the_other_lane_names_it():
    """The lane says "Stop! drop-off"; a moment later the stairs detector names the same edge:
    the listener is not stopped twice for one edge. Another danger elsewhere still gets its Stop."""
    said = _policy_said()
    drop = _at(replace(_first_drop(), urgency=Urgency.DANGER), 1.4)
    assert any(w.startswith("Stop! drop-off") for w in said((drop,), 10.0))
    stairs = _stairs(1.2, bearing=0.0, urgency=Urgency.DANGER)
    assert not any(w.startswith("Stop!") for w in said((stairs,), 11.6))
    person = replace(_stairs(1.0, bearing=-30.0, label="person", urgency=Urgency.DANGER), track_id=5)
    assert any(w.startswith("Stop! person") for w in said((person,), 13.2))
    other = _stairs(1.0, bearing=30.0, urgency=Urgency.DANGER, track_id=stairs.track_id + 1)   # another flight, 1 o'clock
    assert any(w.startswith("Stop! stairs going down, 1 o'clock") for w in said((other,), 13.8))


def test_the_lane_never_reuses_an_id_of_the_door_and_stairs_tracker():
    """The cue policy remembers what it said per id: had the lane's first obstacle shared the first
    stairs track's id, "Stop! stairs going down" would have silenced the obstacle's own "Stop!"."""
    from engine.config import TrackerConfig
    from engine.stage_a.access import FIRST_ID
    from engine.stage_a.tracking import Tracker
    from engine.types import Detection
    lane_ids = sorted({h.track_id for _, hs, _ in walk(collide.make_scene("dropoff", 3)) for h in hs})
    tracker = Tracker(TrackerConfig(), birth_score=lambda *a: 0.3, keep_score=0.2, first_id=FIRST_ID)
    step = [Detection((100.0 + 150 * i, 300.0, 200.0 + 150 * i, 480.0), 4, "stair_down", 0.8) for i in range(3)]
    stairs_ids = set()
    for k in range(5):
        stairs_ids |= {tr.track_id for tr in tracker.update(tuple(step), 0.1 * k, (640, 480))}
    assert lane_ids and stairs_ids and not stairs_ids & set(lane_ids), (lane_ids, stairs_ids)
    stairs = _stairs(1.0, bearing=-20.0, urgency=Urgency.DANGER, track_id=min(stairs_ids))
    obstacle = _stairs(1.2, bearing=0.0, label=OBSTACLE, urgency=Urgency.DANGER, track_id=lane_ids[0])
    said = _policy_said()
    assert any("Stop! stairs going down" in w for w in said((stairs,), 10.0))
    assert any("Stop! obstacle" in w for w in said((obstacle,), 12.0))


def test_the_pipeline_says_the_edge_once_as_the_stairs_the_detector_sees(installed_models):
    """Stage A with the lane on and a door and stairs detector that sees a flight going down where
    the floor truly ends: one hazard for the edge, named as the stairs, never a "drop-off" beside it."""
    from engine.config import TrackerConfig
    from engine.models.detectors import build
    from engine.pipeline import Pipeline
    from engine.stage_a.access import AccessLane
    from engine.types import Frame
    from tests.fakes.detectors import ScriptedDetector
    spec = installed_models.get("nanodet")
    blind = ScriptedDetector(build(spec, installed_models, threads=1), lambda i: [])
    pipe = Pipeline(EngineConfig(detector="nanodet", threads=1, access="", collision=CollisionConfig(enabled=True)),
                    installed_models, detector=blind)
    now = {}
    labels = ["door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up"]

    cam = CameraModel()

    def flight(_):       # a flight of stairs going down, its top step on the floor's row of the true edge
        (h, w), tilt = now["size"], math.radians(cam.tilt_deg)
        y = h / 2 + (cam.height_m / max(now["truth"].distance_m, 0.3) - math.sin(tilt)) * cam.focal_px(w) / math.cos(tilt)
        return [] if y > h + 40 else [((0.25 * w, max(0.0, y - 0.2 * h), 0.75 * w, min(y, float(h))), 4, 0.8)]
    pipe.access = AccessLane(ScriptedDetector(None, flight, labels=labels, name="stairs"), TrackerConfig(),
                             birth_score=lambda *a: 0.3, keep_score=0.2, every_s=0.0)
    seen = []
    for i, (t, img, truth) in enumerate(collide.frames(collide.make_scene("dropoff", 3))):
        now["truth"], now["size"] = truth[0], img.shape[:2]
        r = pipe.step(Frame(i, t, img))
        seen.append([(h.label, round(h.distance_m, 1), h.urgency.name) for h in r.hazards])
    edges = [hs for hs in seen if any(label in (DROP, "stair_down") for label, _, _ in hs)]
    assert any(label == "stair_down" and level in ("WARNING", "DANGER") for hs in edges for label, _, level in hs), seen
    assert not any({DROP, "stair_down"} <= {label for label, _, _ in hs} for hs in edges), seen


def test_eval_collide_says_how_far_off_the_edge_was_and_whether_stop_came_in_time():
    r = collide.run_scene(collide.make_scene("dropoff", 3), lane)
    first_stop = next(truth[0].distance_m for _, hs, truth in walk(collide.make_scene("dropoff", 3))
                      for h in hs if h.label == DROP and h.urgency == Urgency.DANGER)
    assert r.warned and r.dist_errors and r.stop_at_m == pytest.approx(first_stop)
    # Counted over scenes: a Stop! 1.2 m before the edge is in time, one 0.5 m before is not, and a
    # drop-off never found counts in "of".
    made = [replace(r, name=f"{r.name}-{i}", stop_at_m=stop, warned=stop is not None, dist_errors=[0.1, 0.3])
            for i, stop in enumerate((1.2, 0.5, None))]
    out = {"per_kind": 1, "fps": collide.FPS, "size": [320, 240], **collide.summarise(made, [])}
    d = out[r.split]
    assert d["drop_distance_error_m"]["n"] == 6 and d["drop_distance_error_m"]["median"] == pytest.approx(0.2)
    assert d["drop_stop_in_time"] == {"stopped": 1, "said": 2, "of": 3}
    assert "drop-offs: distance error median 0.2 m" in collide.table(out)
