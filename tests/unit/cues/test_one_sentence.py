"""A warning is never cut by the danger about the same object a moment later: when the danger is
due before the warning could be heard, the cue is the danger now, in one sentence (issue 22).
Hand-made approaches whose answer is known, through the real urgency rules and cue policy."""
from __future__ import annotations

import re

from engine.stage_a import geometry, urgency
from engine.types import FrameQuality, FrameResult, Hazard, Urgency
from maxsight_app.cues.policy import CuePolicy, danger_due
from maxsight_app.profile.schema import Profile

GOOD = FrameQuality(120.0, 800.0, 50.0, False, False, False, 1.0)


def _person(d: float, speed: float, tid: int = 1, sure: bool = True) -> Hazard:
    """A person straight ahead d metres away, closing at `speed` m/s (0: standing), judged by the
    app's own urgency rules."""
    pos = geometry.Position(clock=12, bearing_deg=0.0, distance_m=d, zone=geometry.zone_for(d), distance_sigma_m=0.1,
                            bounded=False)
    ttc = d / speed if speed > 0 else None
    level, prio = urgency.assess("person", pos, ttc is not None, ttc)
    return Hazard(track_id=tid, class_id=0, label="person", box=(300, 100, 340, 300), clock=12, bearing_deg=0.0,
                  distance_m=d, zone=pos.zone, approaching=ttc is not None, ttc_s=ttc, urgency=level, priority=prio,
                  score=0.8, in_path=True, sure=sure)


def _walk(d0: float, speed: float, fps: float = 10.0, until: float = 0.8):
    t, out = 0.0, []
    while d0 - speed * t > until:
        h = _person(d0 - speed * t, speed)
        out.append(FrameResult(frame_index=len(out), timestamp=t, image_size=(640, 480), detections=(), tracks=(),
                               hazards=(h,), quality=GOOD, uncertainty=0.1))
        t += 1 / fps
    return out


def _urgent_cues(frames):
    p, prefs = CuePolicy(), Profile()
    said = []
    for f in frames:
        said += [(f.timestamp, c) for c in p.decide(f, prefs, f.timestamp) if c.urgency >= Urgency.WARNING]
    return said


def test_a_person_walking_up_is_warned_once_then_stop_in_one_sentence():
    said = _urgent_cues(_walk(7.0, 1.0))
    texts = [c.text for _, c in said]
    assert len(said) == 2, texts
    assert texts[0].startswith("Warning, person, straight ahead, 5")
    assert re.fullmatch(r"Stop! person, straight ahead, [\d.]+ metres?", texts[1]), texts
    assert said[1][1].urgency == Urgency.DANGER and said[1][1].interrupt


def test_a_person_running_up_is_one_stop_not_a_warning_cut_by_it():
    # closing at 2 m/s: the warning (time to contact under 3 s) would be a danger (under 1.5 s)
    # before it could be heard, so the first urgent word is "Stop!", said once
    said = _urgent_cues(_walk(8.0, 2.0))
    assert said and said[0][1].text.startswith("Stop! person, straight ahead, ")
    assert not any(c.urgency == Urgency.WARNING for _, c in said)


def test_a_standing_or_far_person_is_no_danger_yet():
    assert not danger_due(_person(1.2, 0.0))                   # not approaching: nothing is due
    assert danger_due(_person(5.0, 2.0))                       # 2 m away in 1.5 s, 1 s to contact
    assert danger_due(_person(5.0, 2.0, sure=False))           # "Stop! something": the danger is due all the same
    far = _person(9.0, 3.2)                                    # a time to contact of 2.8 s at 9 m
    assert far.urgency == Urgency.WARNING and not danger_due(far)


def _hz(tid, label, d, level, clock):
    pos = geometry.Position(clock=clock, bearing_deg=30.0 * (clock if clock <= 3 else clock - 12), distance_m=d,
                            zone=geometry.zone_for(d), distance_sigma_m=0.1, bounded=False)
    return Hazard(track_id=tid, class_id=0, label=label, box=(0, 0, 10, 10), clock=clock, bearing_deg=pos.bearing_deg,
                  distance_m=d, zone=pos.zone, approaching=False, ttc_s=None, urgency=level, priority=float(level) * 10,
                  score=0.8, in_path=False)


def test_cautions_make_room_for_dangers_in_the_cue_budget():
    """Three cues in 10 s at most besides warnings (the default profile): a danger counts for the
    cautions after it, so a street with dangers is not five cues in ten seconds."""
    p, prefs = CuePolicy(), Profile()
    frames = [(0.0, _hz(1, "car", 3.0, Urgency.DANGER, 2))] + \
             [(0.5 + i, _hz(10 + i, label, 2.5, Urgency.CAUTION, clock))
              for i, (label, clock) in enumerate([("chair", 10), ("bench", 11), ("bicycle", 1), ("dog", 9)])]
    said = []
    for t, h in frames:
        f = FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(), hazards=(h,),
                        quality=GOOD, uncertainty=0.1)
        said += [c for c in p.decide(f, prefs, t)]
    assert said[0].text.startswith("Stop! car")
    assert len(said) == prefs.max_unsolicited, [c.text for c in said]      # the danger and two cautions
    assert p.reasons[13] == "not said: over the cue budget (rate limit)"


def test_a_busy_scene_of_mixed_kinds_is_one_sentence():
    p, prefs = CuePolicy(), Profile()
    scene = [_hz(1, "chair", 2.5, Urgency.CAUTION, 10), _hz(2, "dog", 2.0, Urgency.CAUTION, 2),
             _hz(3, "bench", 2.8, Urgency.CAUTION, 12)]
    f = FrameResult(frame_index=0, timestamp=0.0, image_size=(640, 480), detections=(), tracks=(), hazards=tuple(scene),
                    quality=GOOD, uncertainty=0.1)
    said = p.decide(f, prefs, 0.0)
    assert [c.text for c in said] == ["3 things, nearest dog, 2 o'clock, 2 metres"]
    assert set(said[0].group) == {1, 2, 3}
    f2 = FrameResult(frame_index=1, timestamp=0.1, image_size=(640, 480), detections=(), tracks=(), hazards=tuple(scene),
                     quality=GOOD, uncertainty=0.1)
    assert p.decide(f2, prefs, 0.1) == []                     # each of them was said in it


def test_stop_is_said_once_however_near_it_comes():
    # a person closing at 1.5 m/s from 8 m: "Stop!" once; the walker told to stop needs no second
    # "Stop!" two seconds later because it is nearer (issue 22: the cue that overloaded dense clips)
    said = _urgent_cues(_walk(8.0, 1.5, until=0.5))
    stops = [c.text for _, c in said if c.urgency == Urgency.DANGER]
    assert len(stops) == 1, [c.text for _, c in said]


def test_another_thing_in_the_same_direction_still_gets_its_stop():
    p, prefs = CuePolicy(), Profile()
    person = _person(2.0, 2.0)
    car_pos = geometry.Position(clock=12, bearing_deg=5.0, distance_m=4.0, zone=geometry.zone_for(4.0), distance_sigma_m=0.1,
                                bounded=False)
    level, prio = urgency.assess("car", car_pos, True, 1.0)
    car = Hazard(track_id=2, class_id=2, label="car", box=(100, 100, 200, 200), clock=12, bearing_deg=5.0, distance_m=4.0,
                 zone=car_pos.zone, approaching=True, ttc_s=1.0, urgency=level, priority=prio, score=0.8, in_path=True)
    f0 = FrameResult(frame_index=0, timestamp=0.0, image_size=(640, 480), detections=(), tracks=(), hazards=(person,),
                     quality=GOOD, uncertainty=0.1)
    f1 = FrameResult(frame_index=20, timestamp=2.0, image_size=(640, 480), detections=(), tracks=(), hazards=(person, car),
                     quality=GOOD, uncertainty=0.1)
    first = [c.text for c in p.decide(f0, prefs, 0.0)]
    second = [c.text for c in p.decide(f1, prefs, 2.0)]
    assert first and first[0].startswith("Stop! person")
    assert second == ["Stop! car, straight ahead, 4 metres"], second


def _person_at(tid: int, d: float, t: float, ttc: float = 1.0) -> FrameResult:
    pos = geometry.Position(clock=12, bearing_deg=0.0, distance_m=d, zone=geometry.zone_for(d), distance_sigma_m=0.1,
                            bounded=False)
    level, prio = urgency.assess("person", pos, True, ttc)
    h = Hazard(track_id=tid, class_id=0, label="person", box=(300, 100, 340, 300), clock=12, bearing_deg=0.0, distance_m=d,
               zone=pos.zone, approaching=True, ttc_s=ttc, urgency=level, priority=prio, score=0.8, in_path=True)
    return FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(), hazards=(h,),
                       quality=GOOD, uncertainty=0.1)


def test_the_same_person_under_a_new_track_id_is_not_stopped_twice_but_a_nearer_one_is():
    p, prefs = CuePolicy(), Profile()
    assert p.decide(_person_at(1, 5.5, 0.0), prefs, 0.0)[0].text.startswith("Stop! person")
    # 2 s later at 2.5 m under another id: a person can close 3 m in 2 s, so it is the same one
    assert p.decide(_person_at(2, 2.5, 2.0), prefs, 2.0) == []
    # another person 2.5 m nearer than a "Stop!" 0.2 s ago cannot be the one said: it gets its own
    q = CuePolicy()
    q.decide(_person_at(1, 6.0, 0.0), prefs, 0.0)
    said = q.decide(_person_at(2, 3.5, 0.2), prefs, 0.2)
    assert [c.text for c in said] == ["Stop! person, straight ahead, 3.5 metres"]


def _car_at(tid: int, d: float, t: float) -> FrameResult:
    pos = geometry.Position(clock=12, bearing_deg=0.0, distance_m=d, zone=geometry.zone_for(d), distance_sigma_m=0.1,
                            bounded=False)
    level, prio = urgency.assess("car", pos, True, 1.0)
    h = Hazard(track_id=tid, class_id=2, label="car", box=(300, 100, 340, 300), clock=12, bearing_deg=0.0, distance_m=d,
               zone=pos.zone, approaching=True, ttc_s=1.0, urgency=level, priority=prio, score=0.8, in_path=True)
    return FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(), hazards=(h,),
                       quality=GOOD, uncertainty=0.1)


def test_a_second_car_behind_the_first_gets_its_own_stop():
    p, prefs = CuePolicy(), Profile()
    assert p.decide(_car_at(1, 4.0, 0.0), prefs, 0.0)[0].text.startswith("Stop! car")
    # 2 s later a car 10 m away: farther than the one said, so not it (an approaching car does not recede)
    assert [c.text for c in p.decide(_car_at(2, 10.0, 2.0), prefs, 2.0)] == ["Stop! car, straight ahead, 10 metres"]


def test_after_a_held_stop_the_track_is_news_again_from_the_stops_own_time():
    p, prefs = CuePolicy(), Profile()
    p.decide(_person_at(1, 5.5, 0.0), prefs, 0.0)
    assert p.decide(_person_at(2, 2.5, 2.0), prefs, 2.0) == []                 # the same person: held
    assert p.decide(_person_at(2, 2.0, 7.0), prefs, 7.0) == []                 # within the cooldown of the Stop
    again = p.decide(_person_at(2, 1.5, 8.1), prefs, 8.1)                       # the cooldown counts from 0.0, not 2.0
    assert [c.text for c in again] == ["Stop! person, straight ahead, 1.5 metres"]


def _at(t: float, *hazards: Hazard) -> FrameResult:
    return FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(),
                       hazards=hazards, quality=GOOD, uncertainty=0.1)


def test_a_stop_about_a_second_box_over_the_warned_person_carries_the_warning():
    """The tracker's two boxes over one person: "Warning, person ... 4.5 metres" on one id, then
    "Stop! person ... 6 metres" on the other cuts it short. That "Stop!" speaks for both ids (one
    sentence that carries both), so the first id gets no "Stop!" of its own a moment later; a
    warned thing elsewhere is not carried."""
    from dataclasses import replace
    p, prefs = CuePolicy(), Profile()
    warned = _hz(1, "person", 4.5, Urgency.WARNING, 12)
    aside = _hz(3, "dog", 3.0, Urgency.WARNING, 3)
    said = p.decide(_at(0.0, warned, aside), prefs, 0.0)
    assert [c.text for c in said] == ["Warning, person, straight ahead, 4.5 metres", "Warning, dog, 3 o'clock, 3 metres"]
    second_box = replace(_hz(2, "person", 6.0, Urgency.DANGER, 12), bearing_deg=4.0)
    stop = p.decide(_at(0.3, warned, second_box), prefs, 0.3)
    assert [c.text for c in stop] == ["Stop! person, straight ahead, 6 metres"]
    assert set(stop[0].group) == {1, 2}                                  # not 3: the dog is 90 degrees round
    nearer = _hz(1, "person", 3.5, Urgency.DANGER, 12)
    assert p.decide(_at(0.6, nearer, second_box), prefs, 0.6) == []
    assert p.reasons[1] == "not said: \"Stop!\" was just said about it"
    # judged from where its warning placed it (4.5 m): 1 m away 0.3 s later, it cannot be that person
    q = CuePolicy()
    q.decide(_at(0.0, warned), prefs, 0.0)
    q.decide(_at(0.3, warned, second_box), prefs, 0.3)
    close = q.decide(_at(0.6, _hz(1, "person", 1.0, Urgency.DANGER, 12), second_box), prefs, 0.6)
    assert [c.text for c in close] == ["Stop! person, straight ahead, 1 metre"]


def test_a_stop_long_after_a_warning_carries_nothing():
    from dataclasses import replace
    p, prefs = CuePolicy(), Profile()
    p.decide(_at(0.0, _hz(1, "person", 4.5, Urgency.WARNING, 12)), prefs, 0.0)
    late = replace(_hz(2, "person", 4.0, Urgency.DANGER, 12), bearing_deg=4.0)
    stop = p.decide(_at(2.0, late), prefs, 2.0)                           # the warning was heard out by then
    assert [c.text for c in stop] == ["Stop! person, straight ahead, 4 metres"] and stop[0].group == ()


def test_a_caution_waits_while_the_voice_is_busy_and_a_warning_does_not():
    """A caution chosen while the voice has seconds left to say would only wait, be dropped as
    stale or be cut by the next warning, unheard: the policy holds it until it can be heard (the
    cautions held meanwhile are then one sentence). Warnings and dangers never wait for it."""
    from maxsight_app.cues.policy import VOICE_BUSY_WHY, VOICE_WAIT_S
    p, prefs = CuePolicy(), Profile()
    chair, bench = _hz(1, "chair", 2.5, Urgency.CAUTION, 10), _hz(2, "bench", 2.8, Urgency.CAUTION, 2)
    assert p.decide(_at(0.0, chair), prefs, 0.0, voice_busy_s=VOICE_WAIT_S + 2.0) == []
    assert p.reasons[1] == VOICE_BUSY_WHY
    dog = _hz(3, "dog", 2.0, Urgency.WARNING, 12)
    said = p.decide(_at(0.5, chair, bench, dog), prefs, 0.5, voice_busy_s=VOICE_WAIT_S + 1.5)
    assert [c.text for c in said] == ["Warning, dog, straight ahead, 2 metres"]
    later = p.decide(_at(2.0, chair, bench, dog), prefs, 2.0, voice_busy_s=0.2)
    assert [c.text for c in later] == ["2 things, nearest chair, 10 o'clock, 2.5 metres"]     # held, then together


def test_the_sound_outputs_backlog_is_its_sinks(tmp_path):
    import numpy as np

    from maxsight_app.outputs.audio import SAMPLE_RATE, WavFileSink
    from maxsight_app.outputs.sound import SoundOutput
    now = [0.0]
    out = SoundOutput(WavFileSink(tmp_path / "heard.wav", lambda: now[0]), None)
    assert out.backlog_s() == 0.0
    out.sink.play(np.zeros((3 * SAMPLE_RATE, 2), np.float32), "chair, 10 o'clock, 2.5 metres", 1)
    now[0] = 1.0
    assert abs(out.backlog_s() - 2.0) < 1e-6
    out.close()
