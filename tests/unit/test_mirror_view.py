"""The mirror view (engine/models/detectors/flip.py, issue 22): classes judged on the frame and on
its mirror image keep what both views see and halve what only one view saw; the door and stairs
lane runs the two views on two frames in a row, so no frame pays for both."""
from __future__ import annotations

import numpy as np
import pytest

from engine.config import TrackerConfig
from engine.models.detectors.flip import FlipAveraged, mirror_boxes
from engine.models.registry import default_registry
from engine.stage_a.access import AccessLane
from engine.types import Frame
from tests.fakes.detectors import ScriptedDetector

LABELS = ["door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up"]
DOOR, STAIR_DOWN = LABELS.index("door"), LABELS.index("stair_down")
W, H = 640, 480
IMAGE = np.zeros((H, W, 3), np.uint8)
FLIGHT = (100.0, 300.0, 300.0, 470.0)      # a flight of stairs, left of centre


def _mirrored(box):
    return tuple(mirror_boxes(np.array([box], np.float32), W)[0])


def seen_in_both(call):
    """A real flight: the plain view (even calls) sees it where it is, the mirror view (odd calls)
    sees it mirrored, as a detector run on the flipped image would."""
    return [(FLIGHT if call % 2 == 0 else _mirrored(FLIGHT), STAIR_DOWN, 0.6)]


class PaintedStairs(ScriptedDetector):
    """A detector that sees what is painted: the bounding box of the image's bright pixels is a
    flight of stairs going down (score 0.6), wherever a view puts it, mirror view or not."""

    def __init__(self):
        super().__init__(None, self._look, labels=LABELS, name="access")
        self.image = None

    def detect_raw(self, image, min_score=0.05, timings=None):
        self.image = image
        return super().detect_raw(image, min_score, timings)

    def _look(self, call):
        ys, xs = np.nonzero(self.image[:, :, 0] > 128)
        if len(xs) == 0:
            return []
        return [((float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)), STAIR_DOWN, 0.6)]


def painted(box=FLIGHT):
    image = np.zeros((H, W, 3), np.uint8)
    x1, y1, x2, y2 = (int(v) for v in box)
    image[y1:y2, x1:x2] = 255
    return image


def test_mirror_boxes_map_back_onto_the_image():
    assert _mirrored(FLIGHT) == pytest.approx((340.0, 300.0, 540.0, 470.0))
    assert _mirrored(_mirrored(FLIGHT)) == pytest.approx(FLIGHT)


def test_what_both_views_see_keeps_its_box_and_score():
    det = FlipAveraged(ScriptedDetector(None, seen_in_both, labels=LABELS), 0.45, ("stair_down", "stair_up"))
    raw = det.detect_raw(IMAGE, min_score=0.25)
    assert len(raw.scores) == 1 and raw.classes[0] == STAIR_DOWN
    assert raw.scores[0] == pytest.approx(0.6) and tuple(raw.boxes[0]) == pytest.approx(FLIGHT)


def test_what_only_one_view_saw_keeps_half_its_score():
    # A patterned floor the plain view takes for stairs at 0.6, the mirror view does not.
    only_plain = ScriptedDetector(None, lambda call: [(FLIGHT, STAIR_DOWN, 0.6)] if call % 2 == 0 else [], labels=LABELS)
    raw = FlipAveraged(only_plain, 0.45, ("stair_down",)).detect_raw(IMAGE, min_score=0.25)
    assert raw.scores.tolist() == pytest.approx([0.3])
    # At 0.4 in one view it falls under the floor and is gone.
    weak = ScriptedDetector(None, lambda call: [(FLIGHT, STAIR_DOWN, 0.4)] if call % 2 == 0 else [], labels=LABELS)
    assert len(FlipAveraged(weak, 0.45, ("stair_down",)).detect_raw(IMAGE, min_score=0.25).scores) == 0


def test_the_two_views_must_overlap_to_agree():
    # The mirror view sees stairs, but elsewhere (its box maps onto the other side of the picture).
    elsewhere = ScriptedDetector(None, lambda call: [(FLIGHT, STAIR_DOWN, 0.6)], labels=LABELS)
    raw = FlipAveraged(elsewhere, 0.45, ("stair_down",)).detect_raw(IMAGE, min_score=0.25)
    assert sorted(raw.scores.tolist()) == pytest.approx([0.3, 0.3])


def test_other_classes_come_from_the_plain_view_alone():
    door = (400.0, 100.0, 520.0, 460.0)
    script = ScriptedDetector(None, lambda call: [(door, DOOR, 0.7)] if call % 2 == 0 else [], labels=LABELS)
    raw = FlipAveraged(script, 0.45, ("stair_down", "stair_up")).detect_raw(IMAGE, min_score=0.25)
    assert raw.classes.tolist() == [DOOR] and raw.scores.tolist() == pytest.approx([0.7])
    assert tuple(raw.boxes[0]) == pytest.approx(door)


def test_bad_settings_are_refused_in_one_sentence():
    script = ScriptedDetector(None, seen_in_both, labels=LABELS)
    assert FlipAveraged(script, 0.45, ("stair_up", "stair_down")).class_ids.tolist() == [4, 5]
    with pytest.raises(ValueError, match="has no stairs"):
        FlipAveraged(script, 0.45, ("stairs",))
    with pytest.raises(ValueError, match="between 0 and 1"):
        FlipAveraged(script, 1.5, ("stair_down",))


def _lane(script, every_s=0.2):
    return AccessLane(FlipAveraged(script, 0.45, ("stair_down", "stair_up")), TrackerConfig(), birth_score=0.5,
                      keep_score=0.25, every_s=every_s)


def test_the_access_lane_runs_one_view_per_frame_and_tracks_what_both_saw():
    det = PaintedStairs()
    lane = _lane(det)
    calls, scores = [], []
    for i in range(8):                                   # 10 fps for 0.8 s
        before = det.calls
        dets, tracks, problem = lane.run(Frame(i, i * 0.1, painted()))
        calls.append(det.calls - before)
        scores.append([round(d.score, 3) for d in dets])
        assert problem is None
    # Both views on the first frame; then the plain view when due (the tracker is told then, as
    # with one view) and the mirror view on the frame after: never two inferences in one frame.
    assert calls == [2, 1, 1, 1, 1, 1, 1, 1]
    assert scores == [[0.6], [], [0.6], [], [0.6], [], [0.6], []]
    assert [t.label for t in tracks] == ["stair_down"] and tracks[0].box == pytest.approx(FLIGHT, abs=2.0)


def test_a_door_is_tracked_on_the_plain_view_alone():
    door = (400.0, 100.0, 520.0, 460.0)
    lane = _lane(ScriptedDetector(None, lambda call: [(door, DOOR, 0.7)], labels=LABELS))
    first, _, _ = lane.run(Frame(0, 0.0, IMAGE))
    assert [(d.label, round(d.score, 3)) for d in first] == [("door", 0.7)]


def test_a_stale_mirror_view_is_not_merged():
    # Frames stop for a while (a stalled camera): the mirror view from before saw a flight the
    # plain view no longer sees. It is not merged; this frame runs both views.
    det = PaintedStairs()
    lane = _lane(det)
    for i in range(4):
        lane.run(Frame(i, i * 0.1, painted()))         # the last, at 0.3 s, is a mirror view of the flight
    before = det.calls
    dets, _, _ = lane.run(Frame(4, 1.5, IMAGE))          # 1.2 s later, an empty scene
    assert det.calls - before == 2 and dets == ()
    # Had it been fresh, the old mirror view would have lent the empty scene half a flight.
    lane = _lane(PaintedStairs())
    for i in range(4):
        lane.run(Frame(i, i * 0.1, painted()))
    dets, _, _ = lane.run(Frame(4, 0.4, IMAGE))
    assert [round(d.score, 3) for d in dets] == [0.3]


def test_the_access_lane_forgets_the_mirror_view_when_the_source_starts_again():
    det = PaintedStairs()
    lane = _lane(det)
    lane.run(Frame(0, 5.0, painted()))
    lane.run(Frame(1, 5.1, painted()))                   # a mirror view of the old clip
    before = det.calls
    dets, tracks, _ = lane.run(Frame(2, 0.0, painted()))  # the clip looped: tracks and views start again
    assert det.calls - before == 2 and [round(d.score, 3) for d in dets] == [0.6]
    assert all(t.age <= 1 for t in tracks)


def test_the_shipped_models_say_which_classes_have_a_mirror_view():
    reg = default_registry(include_user=False)
    assert reg.get("nanodet").flip_classes == () and reg.get("nanodet-int8").flip_classes == ()
    if "access" in reg.names():
        assert set(reg.get("access").flip_classes) == {"stair_down", "stair_up"}


def test_a_failed_mirror_view_is_said_and_the_next_run_looks_with_both():
    class FailsOnce(PaintedStairs):
        def detect_raw(self, image, min_score=0.05, timings=None):
            if self.calls == 2:                          # the first mirror view of its own frame
                self.calls += 1
                raise RuntimeError("ONNXRuntimeError: device lost")
            return super().detect_raw(image, min_score, timings)

    det = FailsOnce()
    lane = _lane(det)
    _, tracks0, _ = lane.run(Frame(0, 0.0, painted()))
    dets, tracks1, problem = lane.run(Frame(1, 0.1, painted()))
    assert dets == () and tracks1 == tracks0 and "door and stairs detector failed" in problem
    before = det.calls
    dets, _, problem = lane.run(Frame(2, 0.2, painted()))
    assert problem is None and det.calls - before == 2 and [round(d.score, 3) for d in dets] == [0.6]


def test_two_boxes_from_one_view_are_still_one_view():
    # Two overlapping stairs boxes in the plain view (IoU about 0.5, both kept by the model's NMS),
    # none in the mirror view: still a flight only one view saw, half the mean of its boxes.
    second = (130.0, 330.0, 330.0, 480.0)
    script = ScriptedDetector(None, lambda call: [(FLIGHT, STAIR_DOWN, 0.6), (second, STAIR_DOWN, 0.5)] if call % 2 == 0 else [],
                              labels=LABELS)
    raw = FlipAveraged(script, 0.45, ("stair_down",)).detect_raw(IMAGE, min_score=0.25)
    assert raw.scores.tolist() == pytest.approx([0.275])


def test_at_5_fps_and_slower_each_run_looks_with_both_views():
    # Every frame is due: the mirror view never takes a frame the plain view needs.
    det = PaintedStairs()
    lane = _lane(det)
    calls, scores = [], []
    for i in range(4):
        before = det.calls
        dets, _, _ = lane.run(Frame(i, i * 0.25, painted()))
        calls.append(det.calls - before)
        scores.append([round(d.score, 3) for d in dets])
    assert calls == [2, 2, 2, 2] and scores == [[0.6]] * 4


def test_a_mirror_view_of_another_frame_size_is_not_merged():
    det = PaintedStairs()
    lane = _lane(det)
    lane.run(Frame(0, 0.0, painted()))
    lane.run(Frame(1, 0.1, painted()))                   # mirror view of a 640 x 480 frame
    small = np.zeros((240, 320, 3), np.uint8)            # the camera switched to 320 x 240: nothing there
    before = det.calls
    dets, _, _ = lane.run(Frame(2, 0.2, small))
    assert det.calls - before == 2 and dets == ()


def _export_sidecar(tmp_path, **extra):
    """A trained model's sidecar as `maxsight export` writes it (the ONNX file is not read here)."""
    import json
    (tmp_path / "m.onnx").write_bytes(b"")
    side = {"onnx": "m.onnx", "preset": "joint-nanodet", "input_size": 416, "num_classes": 3,
            "labels": ["person", "stair_down", "stair_up"], **extra}
    (tmp_path / "m.json").write_text(json.dumps(side))
    return tmp_path / "m.onnx"


def test_an_export_says_which_classes_its_mirror_view_judges(tmp_path):
    # A model measured against the shipped door and stairs model (whose stairs have a mirror view)
    # can be run the same way: its sidecar names the classes.
    from engine.models.registry import spec_from_path
    assert spec_from_path(_export_sidecar(tmp_path)).flip_classes == ()
    spec = spec_from_path(_export_sidecar(tmp_path, flip_classes=["stair_down", "stair_up"]))
    assert spec.flip_classes == ("stair_down", "stair_up")


def test_an_export_naming_a_mirror_class_it_lacks_is_refused(tmp_path):
    from engine.models.registry import ModelError, spec_from_path
    with pytest.raises(ModelError, match="does not have: \\['door'\\]"):
        spec_from_path(_export_sidecar(tmp_path, flip_classes=["door"]))
    with pytest.raises(ModelError, match="flip_classes must be a list"):
        spec_from_path(_export_sidecar(tmp_path, flip_classes="stair_down"))
    # a sidecar that names a label map is checked against the map's names
    with pytest.raises(ModelError, match="does not have: \\['stairs'\\]"):
        spec_from_path(_export_sidecar(tmp_path, labels="coco80", num_classes=80, flip_classes=["stairs"]))
    assert spec_from_path(_export_sidecar(tmp_path, labels="coco80", num_classes=80, flip_classes=["person"])).flip_classes == ("person",)
    with pytest.raises(ModelError, match="label map 'no-such-map' does not exist"):
        spec_from_path(_export_sidecar(tmp_path, labels="no-such-map", flip_classes=["person"]))


def test_an_older_export_without_labels_or_mirror_classes_still_reads_as_coco(tmp_path):
    import json

    from engine.models.registry import spec_from_path
    path = _export_sidecar(tmp_path)
    side = json.loads(path.with_suffix(".json").read_text())
    side.pop("labels")
    path.with_suffix(".json").write_text(json.dumps(side))
    spec = spec_from_path(path)
    assert spec.labels == "coco80" and spec.flip_classes == ()
