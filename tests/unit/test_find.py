"""Find mode (maxsight_app/find.py) on scripted tracks through the real pipeline and session: the
tone's side, pitch and chime, "found" and "lost it", hazards still said, personal objects by name,
and findability measured on pixels."""
from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from engine.config import CameraModel, EngineConfig, Tier
from engine.models.registry import load_labels
from engine.stage_a.geometry import clock_from_bearing
from engine.types import Frame, Recognised, Urgency
from maxsight_app.cues.phrasing import clock_words
from maxsight_app.cues.types import CueKind
from maxsight_app.find import (ACCESS_LABELS, LOST_AFTER_S, FindMode, findability, reach_distance, resolve,
                               tone_for, why_not)
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.outputs.guide import GuideSynth
from maxsight_app.profile.schema import Profile
from tests.fakes.detectors import ScriptedDetector

W, H, FPS = 640, 480, 10.0
LABELS = list(load_labels("coco80")[0]) + list(ACCESS_LABELS)
DOOR, CHAIR = LABELS.index("door"), LABELS.index("chair")
F = CameraModel().focal_px(W)


def box_at(bearing_deg: float, width: float = 80, top: float = 100, bottom: float = 420):
    cx = W / 2 + F * math.tan(math.radians(bearing_deg))
    return (cx - width / 2, top, cx + width / 2, bottom)


def frame(i: int, boxes=(), wall=235, door=60) -> Frame:
    img = np.full((H, W, 3), wall, np.uint8)
    for b in boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in b)
        img[max(0, y1):y2, max(0, x1):x2] = door
    return Frame(i, i / FPS, img)


class Run:
    """A session on a scripted detector: script[i] = [(box, class id), ...] for frame i."""

    def __init__(self, script, target="door", profile=Profile(speech=False, earcons=False), personal=()):
        from maxsight_app.compose import build_runtime, make_registry
        self.script = script
        det = ScriptedDetector(SimpleNamespace(name="scripted", spec=None, labels=LABELS),
                               lambda i: [(b, c, 0.9) for b, c in (script[i] if i < len(script) else [])])
        self.rt = build_runtime(profile, EngineConfig(tier=Tier.T0, access=""), registry=make_registry(),
                                with_outputs=False, stage_b=False, detector=det)
        self.spy = SpyOutput()
        self.rt.session.outputs = [self.spy]
        if target is not None:
            self.rt.session.start_find(resolve(target, personal))
        self.ticks = []

    def play(self, images=None):
        try:
            for i, dets in enumerate(self.script):
                fr = images[i] if images else frame(i, [b for b, c in dets if c == DOOR])
                self.ticks.append(self.rt.session.handle(fr))
        finally:
            self.rt.close()
        return self

    def said(self, kind=CueKind.FIND):
        return [(round(c.frame_time, 2), c.text) for c in self.spy.cues if c.kind is kind]


def heard_side(tone) -> str:
    out = GuideSynth().render(2205, tone)
    left, right = np.sqrt((out ** 2).mean(axis=0))
    ild = 20 * math.log10(right / left)
    return "centre" if abs(ild) < 1 else "left" if ild < 0 else "right"


def test_the_tone_is_heard_on_the_targets_side_and_centred_on_it():
    script = [[(box_at(-20), DOOR)]] * 8 + [[(box_at(0), DOOR)]] * 8 + [[(box_at(20), DOOR)]] * 8
    r = Run(script).play()
    tones = r.spy.tones
    assert len(tones) == 24 and tones[0] is None            # not confirmed on the first frame: silent
    for part, want in ((slice(2, 8), "left"), (slice(10, 16), "centre"), (slice(18, 24), "right")):
        assert all(t is not None for t in tones[part])
        assert {heard_side(t) for t in tones[part]} == {want}, (want, [t.pan for t in tones[part]])
    assert all(t.pan == 0 for t in tones[10:16])


def test_pitch_rises_as_the_target_gets_nearer_and_more_centred():
    # Walking up to a door at 15 degrees (the box grows), then turning to face it at the same size.
    grow = [[(box_at(15, width=50 + 6 * i, top=160 - 8 * i, bottom=320 + 8 * i), DOOR)] for i in range(12)]
    turn = [[(box_at(15 - 1.5 * i, width=116, top=72, bottom=408), DOOR)] for i in range(1, 11)]
    r = Run(grow + turn).play()
    walk = [t.pitch_hz for t in r.spy.tones[2:12]]
    facing = [t.pitch_hz for t in r.spy.tones[12:22]]
    assert all(b > a for a, b in zip(walk, walk[1:])), walk
    assert all(b >= a for a, b in zip(facing, facing[1:])) and facing[-1] > facing[0] * 1.1, facing
    assert r.spy.tones[11].pulse_hz > r.spy.tones[2].pulse_hz           # throbs faster as it gets nearer
    assert tone_for(0, 1.0, True, True).pulse_hz == 0                   # steady once centred and within reach


def test_the_chime_sounds_only_when_centred_and_within_reach():
    near_centre = (W / 2 - 310, 0, W / 2 + 310, H)          # a door leaf filling the view: within reach
    near_side = box_at(16, width=300, top=0, bottom=H)        # as near, but off to the side
    far_centre = box_at(0, width=60, top=160, bottom=330)     # centred, far
    script = [[(far_centre, DOOR)]] * 6 + [[(near_side, DOOR)]] * 6 + [[(near_centre, DOOR)]] * 6 + \
             [[(far_centre, DOOR)]] * 20 + [[(near_centre, DOOR)]] * 4
    r = Run(script).play()
    chimes = [i for i, t in enumerate(r.ticks) if "chime" in t.guidance.events]
    # On arriving (the first frame its track is followed), once; again only after leaving for over 1.5 s.
    assert len(chimes) == 2 and 12 <= chimes[0] <= 13 and 38 <= chimes[1] <= 39, chimes
    assert all(not t.guidance.in_reach for t in r.ticks[2:6]) and all(not t.guidance.centred for t in r.ticks[8:12])
    assert r.spy.tones[12].chime and r.spy.tones[13].chime is False


def test_found_is_said_once_with_the_clock_position_when_the_track_is_confirmed():
    script = [[(box_at(24), DOOR)]] * 20
    r = Run(script).play()
    found = [c for c in r.spy.cues if c.kind is CueKind.FIND]
    first = next(i for i, t in enumerate(r.ticks) if any(tr.confirmed for tr in t.result.tracks))
    assert len(found) == 1 and found[0].text == f"door found, {clock_words(clock_from_bearing(24))}" == "door found, 1 o'clock"
    assert found[0].frame_time == pytest.approx(r.ticks[first].result.timestamp)      # the first confirmed frame
    assert r.ticks[first].guidance.events == ("found",)


def test_lost_it_after_more_than_2_s_out_of_view_but_not_after_a_1_s_dropout():
    door = [(box_at(-10), DOOR)]
    script = [door] * 10 + [[]] * 10 + [door] * 10 + [[]] * 35
    r = Run(script).play()
    said = r.said()
    assert [s for _, s in said] == ["door found, straight ahead", "Lost it"]       # nothing after the 1 s dropout
    lost_t = next(t for t, s in said if s == "Lost it")
    last_seen = 2.9                                          # the last frame with a detection
    assert LOST_AFTER_S < lost_t - last_seen <= LOST_AFTER_S + 0.15
    # The tone stops when the door is gone (after the tracker stops matching it), never later than 0.4 s.
    assert all(t is None for t in r.spy.tones[34:])


def test_found_again_after_lost_it():
    door = [(box_at(5), DOOR)]
    r = Run([door] * 5 + [[]] * 30 + [door] * 5).play()
    assert [s for _, s in r.said()] == ["door found, straight ahead", "Lost it", "door found, straight ahead"]


def test_hazards_are_said_the_same_with_find_mode_on_and_before_its_words():
    chair = (0, 100, W, H)        # within 1.5 m in the path, cut at both sides (its standstill cannot be measured): a warning
    script = [[(box_at(-20), DOOR)]] * 4 + [[(box_at(-20), DOOR), (chair, CHAIR)]] * 16
    on, off = Run(script).play(), Run(script, target=None).play()
    hazards_on, hazards_off = on.said(CueKind.HAZARD), off.said(CueKind.HAZARD)
    assert hazards_on == hazards_off and any(s.startswith("Warning, chair") for _, s in hazards_on), hazards_on
    assert any(c.urgency >= Urgency.WARNING for c in on.spy.cues)
    for tick in on.ticks:                                    # within a frame the policy's cues go first
        kinds = [c.kind for c in tick.cues]
        assert kinds == sorted(kinds, key=lambda k: k is CueKind.FIND)
    assert all(t is not None for t in on.spy.tones[4:])      # and the door is still guided to


def test_no_caution_about_the_target_talks_over_its_guidance():
    """A door in the path and near is a caution; while it is the target being guided to, 'door
    found' and the tone say it, not a second phrase about the same door."""
    near_door = box_at(0, width=180, top=20, bottom=465)     # about 2.5 m, straight ahead
    script = [[(near_door, DOOR)]] * 20
    on, off = Run(script).play(), Run(script, target=None).play()
    assert any(s.startswith("door, straight ahead") for _, s in off.said(CueKind.HAZARD)), off.said(CueKind.HAZARD)
    assert on.said(CueKind.HAZARD) == [] and any("door found" in s for _, s in on.said())


def test_a_personal_object_is_found_by_its_taught_name():
    target = resolve("keys", personal=["my keys", "my mug"])
    assert target.personal == "my keys" and target.name == "your keys"
    assert why_not(target, set(LABELS), recognition=False) and why_not(target, set(LABELS), recognition=True) is None
    cup = LABELS.index("cup")
    script = [[((100, 300, 160, 380), cup), ((400, 300, 460, 380), cup)]] * 12
    r = Run(script, target=None)
    mode = FindMode(target)
    out = []
    try:
        for i, dets in enumerate(script):
            res = r.rt.pipeline.step(frame(i))
            ids = sorted(h.track_id for h in res.hazards)
            if i == 5 and ids:           # Stage B names the right-hand cup as the user's keys (its recognition result)
                right = max(res.hazards, key=lambda h: h.box[0]).track_id
                res = replace(res, recognised=(Recognised(right, "my keys", 0.91),))
            out.append(mode.update(res, None, res.timestamp))
    finally:
        r.rt.close()
    assert not any(g.in_view for g in out[:5])
    assert [c.text for g in out for c in g.cues] == [f"your keys found, {clock_words(out[5].hazard.clock)}"]
    assert all(g.in_view and g.hazard.box[0] > 300 for g in out[5:])        # the one recognised, not the other cup
    assert all(g.tone.pan > 0 for g in out[5:])


def test_targets_by_word_and_what_cannot_be_found():
    assert resolve("stairs").labels == {"stair_down", "stair_up"} and resolve("Doors").labels == {"door"}
    assert resolve("cups").labels == {"cup"} and resolve("mobile phone").labels == {"cell phone"}
    with pytest.raises(ValueError, match="I can't find 'unicorn'"):
        resolve("unicorn")
    coco_only = set(LABELS[:80])
    assert "door and stairs detector" in why_not(resolve("door"), coco_only, recognition=True)
    assert why_not(resolve("door"), set(LABELS), recognition=False) is None


def test_a_door_too_near_to_measure_by_height_is_judged_by_its_width():
    from engine.types import Hazard, Zone
    h = Hazard(1, 0, "door", (10, 0, 630, 480), 12, 0.0, 2.3, Zone.NEAR, False, None, Urgency.SAFE, 0.0, 0.9, True)
    assert reach_distance(h, (W, H), 60.0) < 0.9             # 0.85 m of door filling 620 px: under a metre
    far = replace(h, box=(280, 0, 360, 480))
    assert reach_distance(far, (W, H), 60.0) == pytest.approx(2.3)   # 80 px wide: the height bound is nearer
    cup = replace(h, label="cup", box=(10, 0, 630, 480))
    assert reach_distance(cup, (W, H), 60.0) == 2.3


# -- findability -------------------------------------------------------------------------------
def scene():
    img = np.full((H, W, 3), 128, np.uint8)
    img[150:330, 370:470] = 20                              # a big dark door just right of the middle
    img[200:216, 30:42] = 140                               # a small faint box far to the left
    return img, (370, 150, 470, 330), (30, 200, 42, 216)


@pytest.mark.parametrize("condition,severity", [("hemianopia_left", 1.0), ("glaucoma", 0.6),
                                                ("retinitis_pigmentosa", 0.7), ("none", 0.0)])
def test_a_small_faint_target_in_the_lost_field_is_harder_than_a_big_clear_one(condition, severity):
    img, big, small = scene()
    a = findability(img, big, condition, severity)
    b = findability(img, small, condition, severity)
    assert a.score > 0.8 and b.score < 0.2 and a.score > 4 * b.score, (a, b)
    assert "small" in b.reasons and "low in contrast" in b.reasons and not a.reasons
    if condition != "none":
        assert b.field < 0.5 and "in the part of the field that is lost" in b.reasons and a.field > 0.9


def test_central_loss_makes_a_target_in_the_middle_harder():
    img, big, small = scene()
    assert findability(img, big, "amd", 0.8).score < 0.5 * findability(img, big).score
    assert "in the part of the field that is lost" in findability(img, big, "amd", 0.8).reasons
    assert findability(img, small, "amd", 0.8).field == pytest.approx(1.0, abs=1e-3)    # the edge of the view is untouched


def test_a_condition_that_lowers_contrast_makes_the_same_target_harder():
    img, big, _ = scene()
    typical = findability(img, big)
    low = findability(img, big, "low_contrast", 0.9)
    assert low.contrast < 0.3 * typical.contrast and low.contrast_typical == pytest.approx(typical.contrast)
    assert low.score < typical.score and low.level != "easy"


def test_low_contrast_is_said_once_and_not_for_a_clear_target():
    door = [(box_at(0, width=120), DOOR)]
    faint = Run([door] * 40).play(images=[frame(i, [door[0][0]], wall=200, door=206) for i in range(40)])
    clear = Run([door] * 40).play()
    low = [s for _, s in faint.said() if "low in contrast" in s]
    assert low == ["It is there but low in contrast."]
    assert not [s for _, s in clear.said() if "low in contrast" in s]
    g = faint.ticks[-1].guidance
    assert g.findability.low_contrast and g.findability.contrast < 10


def test_a_group_cue_that_names_other_things_besides_the_target_is_still_said():
    """A sentence for a busy scene ("3 things, nearest ...") that speaks for the door being guided
    to and for other things too is said: dropping it would leave the others marked as said and
    never heard. One about the door alone is not (the test above)."""
    dog, bench = LABELS.index("dog"), LABELS.index("bench")
    scene = [(box_at(0, width=180, top=20, bottom=465), DOOR), (box_at(-25, width=120, top=200, bottom=470), CHAIR),
             (box_at(25, width=140, top=220, bottom=475), dog), (box_at(12, width=160, top=230, bottom=478), bench)]
    on = Run([scene] * 12).play()
    groups = [c for c in on.spy.cues if c.kind is CueKind.HAZARD and len(c.group) >= 2]
    target = on.rt.session.find.s.track_id
    assert target is not None and any(target in c.group for c in groups), (target, on.said(CueKind.HAZARD))
    assert all(c.urgency <= Urgency.CAUTION for c in groups)
