"""The condition-aware policy orders and chooses cues as maxsight_app/cues/conditions.py documents."""
from __future__ import annotations

from engine.stage_a.geometry import clock_from_bearing, zone_for
from engine.types import FrameQuality, FrameResult, Hazard, Urgency
from maxsight_app.cues.policy import CuePolicy
from maxsight_app.cues.types import CueKind
from maxsight_app.profile.schema import Profile

GOOD = FrameQuality(120.0, 800.0, 50.0, False, False, False, 1.0)


def hz(tid, label, bearing, d, urgency=Urgency.SAFE, priority=None):
    return Hazard(tid, 0, label, (0, 0, 10, 10), clock_from_bearing(bearing), bearing, d, zone_for(d), False, None,
                  urgency, priority if priority is not None else float(urgency) * 10 + 5 / d, 0.8, abs(bearing) <= 15)


def frame(*hazards, brightness=120.0):
    q = GOOD if brightness == 120.0 else FrameQuality(brightness, 800.0, 50.0, brightness < 40, False, False, 1.0)
    return FrameResult(0, 0.0, (640, 480), (), (), hazards, q, 0.1)


def said(prefs, *hazards, **kw):
    """What the policy says about a scene held for 1.5 s (a poor picture must last before it is said)."""
    p = CuePolicy()
    out = []
    for i in range(16):
        f = frame(*hazards, **kw)
        out += p.decide(FrameResult(i, i / 10, f.image_size, (), (), f.hazards, f.quality, 0.1), prefs, i / 10)
    return out


def test_glaucoma_hears_about_peripheral_objects_earlier():
    side_bench = hz(1, "bench", bearing=-28, d=4.0)                        # safe, at the side
    assert said(Profile(), side_bench) == []
    cues = said(Profile(vision_condition="glaucoma", vision_severity=0.6), side_bench)
    assert [c.label for c in cues] == ["bench"]
    assert said(Profile(vision_condition="glaucoma", vision_severity=0.6), hz(2, "bench", bearing=2, d=4.0)) == []   # centre: as usual
    assert said(Profile(vision_condition="glaucoma", vision_severity=0.1), side_bench) == []                        # too mild to matter


def test_amd_puts_central_objects_first():
    side = hz(1, "person", bearing=-30, d=2.0, urgency=Urgency.CAUTION)            # nearer: higher base priority
    centre = hz(2, "chair", bearing=3, d=2.8, urgency=Urgency.CAUTION)
    assert said(Profile(), side, centre)[0].label == "person"
    assert said(Profile(vision_condition="amd", vision_severity=0.7), side, centre)[0].label == "chair"
    p = CuePolicy()
    p.decide(frame(side, centre), Profile(vision_condition="amd", vision_severity=0.7), 0.0)
    assert p.summary(Profile(vision_condition="amd", vision_severity=0.7), 0.1).text.startswith("chair")


def test_hemianopia_favours_and_names_the_blind_side():
    left = hz(1, "bicycle", bearing=-25, d=5.0)
    right = hz(2, "bicycle", bearing=25, d=5.0)
    prefs = Profile(vision_condition="hemianopia_left", vision_severity=0.8)
    cues = said(prefs, left, right)
    assert [c.track_id for c in cues] == [1]
    assert cues[0].text.endswith("on your blind side")
    both = said(prefs, hz(1, "dog", -25, 2.5, Urgency.CAUTION, priority=5), hz(2, "dog", 25, 2.5, Urgency.CAUTION, priority=9))
    assert both[0].track_id == 1                                                   # blind side first despite lower priority
    assert said(Profile(vision_condition="hemianopia_right", vision_severity=0.8), left, right)[0].track_id == 2


def test_night_blindness_warns_on_low_light():
    dim = dict(brightness=70.0)                                                    # not dark for a typical eye
    assert said(Profile(), **dim) == []
    cues = said(Profile(vision_condition="retinitis_pigmentosa", vision_severity=0.5), **dim)
    assert [c.kind for c in cues] == [CueKind.QUALITY] and "getting dark" in cues[0].text


def test_danger_is_unchanged_by_condition():
    car = hz(1, "car", bearing=2, d=3.0, urgency=Urgency.DANGER)
    for c in ("none", "amd", "glaucoma", "hemianopia_right"):
        cues = said(Profile(vision_condition=c, vision_severity=0.9), car)
        assert cues[0].interrupt and cues[0].label == "car"
