"""`maxsight eval safety` on hand-made cases whose answer is known: a hazard never cued is false
reassurance, a perfect detector is told in time, nothing near gives no nuisance; the synthetic
clips' truth agrees with the app's own geometry; malformed labels are one sentence."""
from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest

from engine.config import CameraModel, EngineConfig, Tier
from engine.stage_a import geometry
from maxsight_app.measure import approach, safety
from tests.fakes.detectors import ScriptedDetector

PERSON = 0


def _photo_with_person(tmp_path):
    """A real COCO photo and its largest person, as a clip spec."""
    from engine.eval_data import require
    root = require("coco_val2017_128")
    data = json.loads((root / "instances.json").read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    ims = {im["id"]: im for im in data["images"]}
    anns: dict = {}
    for a in data["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    specs = [s for s in approach.plan(list(ims.values()), anns, cats) if s.kind == "approach" and s.label == "person"]
    spec = specs[0]
    return spec, cv2.imread(str(root / "images" / spec.file))


def _session_factory(installed_models, script, speak=False):
    from maxsight_app.compose import build_runtime
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.profile.schema import Profile
    made = []

    def make():
        from engine.models.detectors import build
        inner = build(installed_models.get("nanodet"), installed_models, threads=1)
        rt = build_runtime(Profile(speech=False), EngineConfig(tier=Tier.T0), registry=installed_models, with_outputs=False,
                           stage_b=False, detector=ScriptedDetector(inner, script))
        rt.session.outputs = [SpyOutput()]
        made.append(rt)
        return rt.session, None
    return make, made


def test_clip_truth_agrees_with_the_apps_geometry(eval_data):
    spec, photo = _photo_with_person(None)
    frames = list(approach.render(spec, photo))
    assert frames[0].distance_m >= 4.0 and frames[-1].distance_m < 1.0
    onset = approach.onset(frames)
    assert onset is not None and frames[0].t <= onset <= frames[-1].t
    cam = CameraModel()
    for fr in frames[:len(frames) // 2]:                          # before the box is cut by the frame
        if fr.box and fr.box[1] > 2 and fr.box[3] < approach.H - 2:
            d = geometry.locate("person", fr.box, approach.W, approach.H, cam).distance_m
            assert d == pytest.approx(fr.distance_m, rel=0.15), (fr.t, d, fr.distance_m)
    assert [f.t for f in frames] == [f.t for f in approach.render(spec, photo)]          # deterministic
    assert np.array_equal(frames[5].image, list(approach.render(spec, photo))[5].image)


def test_a_hazard_never_reported_is_false_reassurance(eval_data, installed_models):
    spec, photo = _photo_with_person(None)
    make, made = _session_factory(installed_models, lambda i: [])                   # a blind detector
    try:
        out = safety.run_clip(spec, photo, make, CameraModel())
    finally:
        for rt in made:
            rt.close()
    assert out.onset_s is not None and out.cued is False and out.missed_because == "no cue about it within 1 s"
    s = safety.summarise_clips([out])
    assert s["false_reassurance"]["missed"] == 1 and s["cued_within_1s"]["n"] == 0


def test_a_perfect_detector_is_told_in_time(eval_data, installed_models):
    spec, photo = _photo_with_person(None)
    truth = [f.box for f in approach.render(spec, photo)]
    make, made = _session_factory(installed_models, lambda i: [(truth[i], PERSON, 0.9)] if i < len(truth) and truth[i] else [])
    try:
        out = safety.run_clip(spec, photo, make, CameraModel())
    finally:
        for rt in made:
            rt.close()
    assert out.cued is True and out.latency_s is not None and out.latency_s <= 1.0
    assert any(t.startswith(("Warning", "Stop!")) for t in out.said)


def test_nothing_near_gives_no_nuisance(eval_data, installed_models):
    spec = approach.ClipSpec("hazard_free", 0, "x.jpg", "", (0, 0, 0, 0), 0, 1)
    photo = (np.random.default_rng(0).random((480, 640, 3)) * 255).astype(np.uint8)
    make, made = _session_factory(installed_models, lambda i: [])
    try:
        out = safety.run_clip(spec, photo, make, CameraModel())
    finally:
        for rt in made:
            rt.close()
    s = safety.summarise_clips([out])
    assert out.onset_s is None and s["nuisance_per_min"]["cues"] == 0 and s["nuisance_per_min"]["value"] == 0.0


def test_understood_needs_the_object_the_direction_and_the_distance():
    from engine.stage_b.captions import normalise
    said = "Warning, person, straight ahead, 2.5 metres, approaching"
    assert safety.understood(said, "Warning person straight ahead 2.5 meters approaching", normalise)
    assert safety.understood(said, "warning, person straight ahead two and a half meters", normalise)
    assert not safety.understood(said, "and add 2.5 meters approaching", normalise)        # the object lost
    assert not safety.understood(said, "Warning person straight ahead 3 meters", normalise)
    assert safety.understood("Stop! motorcycle, 2 o'clock, 4 metres", "Stop motor cycle two o'clock four meters", normalise)
    assert not safety.understood("Stop! car, 2 o'clock, 4 metres", "Stop car to the clock four meters", normalise)


@pytest.mark.parametrize("line, message", [
    ("1,2,3,4,5", "expected frame,id,x,y,w,h"),
    ("1,2,3,4,five,6,1,1,1", "every field must be a number"),
    ("0,2,3,4,5,6,1,1,1", "frame number must be a whole number from 1"),
    ("1,2,3,4,-5,6,1,1,1", "width and height must be positive"),
])
def test_malformed_gt_lines_are_one_sentence_naming_file_and_line(tmp_path, line, message):
    seq = tmp_path / "MOT-test"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    cv2.imwrite(str(seq / "img1" / "000001.jpg"), np.zeros((48, 64, 3), np.uint8))
    (seq / "gt" / "gt.txt").write_text("1,1,10,10,5,5,1,1,1.0\n" + line + "\n")
    with pytest.raises(safety.SafetyDataError, match=f"gt.txt, line 2: .*{message}"):
        safety.load_mot(tmp_path)


def test_an_empty_folder_is_one_sentence(tmp_path):
    with pytest.raises(safety.SafetyDataError, match="holds no MOTChallenge sequence"):
        safety.load_mot(tmp_path)


def test_the_approach_clips_frame_time_is_milliseconds_or_wall():
    import argparse

    from maxsight_app.commands.eval import REPLAY_FRAME_S, _frame_time
    assert _frame_time("40") == pytest.approx(0.04) and _frame_time(" WALL ") is None and REPLAY_FRAME_S == 0.04
    for bad, says in (("fast", "milliseconds (0-1000) or 'wall'"), ("-5", "from 0 to 1000"), ("nan", "from 0 to 1000")):
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(says)):
            _frame_time(bad)


def test_eval_safety_replays_approach_clips_at_the_fixed_frame_time_unless_told_wall():
    from maxsight_app.cli import build_parser
    parser = build_parser()
    assert parser.parse_args(["eval", "safety"]).frame_time == pytest.approx(0.04)
    assert parser.parse_args(["eval", "safety", "--frame-time", "25"]).frame_time == pytest.approx(0.025)
    assert parser.parse_args(["eval", "safety", "--frame-time", "wall"]).frame_time is None


def test_the_approach_table_says_how_each_frame_was_timed():
    a = safety.summarise_clips([safety.ClipOutcome("hazard_free-1-scene", "hazard_free", "", 6.0, None, None, None, 0)])
    a["frame_time_ms"] = 40.0
    assert "each frame handled in 40.0 ms" in safety.table({"approach": a})
    a["frame_time_ms"] = "wall"
    assert "each frame handled in wall-clock time" in safety.table({"approach": a})


def test_cues_not_heard_in_full_are_counted_by_why(tmp_path):
    from maxsight_app.outputs.audio import MAX_WAIT_S, SAMPLE_RATE, WavFileSink
    now = [0.0]
    sink = WavFileSink(tmp_path / "heard.wav", lambda: now[0])
    second = np.zeros((SAMPLE_RATE, 2), np.float32)     # stereo, as the sink mixes
    sink.play(np.zeros((int((MAX_WAIT_S + 2) * SAMPLE_RATE), 2), np.float32), "caution, long", 1)
    sink.play(second, "caution, waits too long", 1)                 # would start after MAX_WAIT_S: stale
    now[0] = 0.5
    sink.play(second, "Warning, person", 2)                          # cuts the long caution short
    assert safety.unheard_counts(sink) == {"dropped_stale": 1, "yielded": 0, "cut": 1}
    sink.close()
    a = safety.summarise_clips([safety.ClipOutcome("approach-1-person", "approach", "person", 6.0, None, None, None, 1,
                                                   unheard=safety.unheard_counts(sink)),
                                safety.ClipOutcome("hazard_free-2-x", "hazard_free", "", 6.0, None, None, None, 0,
                                                   unheard=safety.unheard_counts(None))])
    assert a["unheard"] == {"dropped_stale": 1, "yielded": 0, "cut": 1}
    a["frame_time_ms"] = 40.0
    assert "dropped as stale 1, yielded to a more urgent cue 0, cut short 1" in safety.table({"approach": a})


def _caution(t: float, text: str = "person, straight ahead, 3 metres"):
    from engine.types import Urgency
    from maxsight_app.cues.types import Cue, CueKind, Priority
    return t, Cue(text, CueKind.HAZARD, Priority.NORMAL, Urgency.CAUTION, t, track_id=1)


def test_a_cue_counts_only_when_heard_in_full_and_from_when_it_was_heard(tmp_path):
    """A caution the user never heard (dropped as stale behind a long phrase) or heard only after
    the window (waiting behind another phrase) is no cue in time; one heard at once is."""
    from maxsight_app.outputs.audio import SAMPLE_RATE, WavFileSink
    now = [0.0]

    def sink_busy_until(seconds: float) -> WavFileSink:
        sink = WavFileSink(tmp_path / f"busy{seconds}.wav", lambda: now[0])
        now[0] = 0.0
        sink.play(np.zeros((int(seconds * SAMPLE_RATE), 2), np.float32), "dog, 9 o'clock, 2 metres", 1)
        return sink

    phrase = np.zeros((SAMPLE_RATE, 2), np.float32)
    onset = 1.5
    for busy, chosen, cued, why in ((0.0, 1.0, True, ""),
                                    (3.0, 1.0, False, "heard only 1.5 s after the onset"),       # waited 2 s
                                    (4.0, 1.0, False, "its caution cue was dropped as stale")):
        sink = sink_busy_until(busy) if busy else WavFileSink(tmp_path / "idle.wav", lambda: now[0])
        t, cue = _caution(chosen)
        now[0] = t
        sink.play(phrase, cue.text, 1)
        (state, heard_t), = safety.heard_states(sink, [(t, cue)])
        good, said_why = safety.judge_heard([(t, cue, state, heard_t)], onset)
        assert bool(good) is cued and why in said_why, (busy, good, said_why)
        if cued:
            assert good == [pytest.approx(1.0)]
        sink.close()


def test_the_same_words_heard_before_do_not_make_a_later_dropped_cue_heard(tmp_path):
    from maxsight_app.outputs.audio import MAX_WAIT_S, SAMPLE_RATE, WavFileSink
    now = [0.0]
    sink = WavFileSink(tmp_path / "twice.wav", lambda: now[0])
    first, again = _caution(0.0), _caution(2.5)
    sink.play(np.zeros((SAMPLE_RATE, 2), np.float32), first[1].text, 1)          # heard 0-1 s
    now[0] = 2.0
    sink.play(np.zeros((int((MAX_WAIT_S + 2) * SAMPLE_RATE), 2), np.float32), "dog, 9 o'clock, 2 metres", 1)
    now[0] = 2.5
    sink.play(np.zeros((SAMPLE_RATE, 2), np.float32), again[1].text, 1)          # behind 4 s of dog: stale
    states = safety.heard_states(sink, [first, (2.0, _caution(2.0, "dog, 9 o'clock, 2 metres")[1]), again])
    assert [s for s, _ in states] == ["played", "played", "dropped as stale"]
    t, cue = again
    good, why = safety.judge_heard([(t, cue, *states[2])], onset=3.0)
    assert good == [] and why == "its caution cue was dropped as stale"
    sink.close()
