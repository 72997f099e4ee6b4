"""The cue policy over scripted hazard sequences: dedup, approach, barge-in, rate limit,
verbosity, hedging, quality and on-demand requests."""
from __future__ import annotations

import pytest

from engine.stage_a.geometry import zone_for
from engine.types import FrameQuality, FrameResult, Hazard, Urgency
from maxsight_app.cues.phrasing import distance_words, hazard_phrase
from maxsight_app.cues.policy import CuePolicy, overload_events
from maxsight_app.cues.types import CueKind, Priority
from maxsight_app.profile.schema import Profile, Units, Verbosity
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.session import Session

GOOD = FrameQuality(120.0, 800.0, 50.0, False, False, False, 1.0)
DARK = FrameQuality(10.0, 800.0, 50.0, True, False, False, 0.25)


def hz(tid, label="car", d=6.0, urgency=Urgency.CAUTION, approaching=False, clock=2, score=0.8, ttc=None):
    return Hazard(track_id=tid, class_id=0, label=label, box=(0, 0, 10, 10), clock=clock, bearing_deg=30.0 * (clock if clock <= 3 else clock - 12),
                  distance_m=d, zone=zone_for(d), approaching=approaching, ttc_s=ttc, urgency=urgency, priority=float(urgency) * 10,
                  score=score, in_path=False)


def frame(t, *hazards, quality=GOOD):
    return FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(),
                       hazards=tuple(sorted(hazards, key=lambda h: -int(h.urgency))), quality=quality, uncertainty=0.2)


def run(policy, prefs, frames):
    out = []
    for f in frames:
        out += [(f.timestamp, c) for c in policy.decide(f, prefs, f.timestamp)]
    return out


def test_phrase_and_units():
    h = hz(1, "car", d=4.0, urgency=Urgency.WARNING, approaching=True, clock=2)
    assert hazard_phrase(h, Units.METRES, 0.55) == "Warning, car, 2 o'clock, 4 metres, approaching"   # urgency first
    assert hazard_phrase(hz(3, "bus", d=3.0, urgency=Urgency.DANGER, clock=1), Units.METRES, 0.55) == \
        "Stop! bus, 1 o'clock, 3 metres"
    assert distance_words(3.0, Units.FEET) == "10 feet"
    assert distance_words(3.0, Units.STEPS) == "4 steps"
    assert hazard_phrase(hz(2, "person", clock=12, d=1.2), Units.METRES, 0.55) == "person, straight ahead, 1 metre"


def test_an_unsure_class_is_something_never_a_guess():
    """Low confidence, or a class the detector keeps changing its mind about: "something"."""
    assert hazard_phrase(hz(1, "dog", score=0.35), Units.METRES, 0.55).startswith("something, ")
    assert hazard_phrase(hz(1, "dog", score=0.45), Units.METRES, 0.55).startswith("dog, ")     # no "maybe"
    unsure = hz(2, "cat", score=0.8)
    unsure = Hazard(**{**unsure.__dict__, "sure": False})
    assert hazard_phrase(unsure, Units.METRES, 0.55).startswith("something, ")


def test_announces_once_then_stays_quiet_within_cooldown():
    p, prefs = CuePolicy(), Profile()
    said = run(p, prefs, [frame(t / 10, hz(1)) for t in range(60)])     # 6 s of the same parked car
    assert len(said) == 1 and said[0][1].text.startswith("car")


def test_caution_is_not_repeated_after_cooldown_but_warning_is():
    p, prefs = CuePolicy(), Profile(cooldown_s=5)
    said = run(p, prefs, [frame(t / 10, hz(1), hz(2, "person", d=1.0, urgency=Urgency.WARNING, clock=12)) for t in range(120)])
    per_track = {tid: sum(1 for _, c in said if c.track_id == tid) for tid in (1, 2)}
    assert per_track[1] == 1
    assert per_track[2] == 3      # at 0, 5 and 10 s


def test_starting_to_approach_is_announced():
    p, prefs = CuePolicy(), Profile()
    said = run(p, prefs, [frame(0.0, hz(1)), frame(0.5, hz(1)), frame(1.0, hz(1, urgency=Urgency.WARNING, approaching=True))])
    assert [c.text for _, c in said] == ["car, 2 o'clock, 6 metres", "Warning, car, 2 o'clock, 6 metres, approaching"]
    assert said[1][1].priority == Priority.NEXT


def test_danger_interrupts_and_ignores_rate_limit_snooze_and_mute():
    p = CuePolicy()
    prefs = Profile(max_unsolicited=1, class_weights={"car": 0.0})
    p.snooze(0.0)
    said = run(p, prefs, [frame(0.1, hz(1, urgency=Urgency.DANGER, approaching=True, d=3.0), hz(2, "person", urgency=Urgency.WARNING, d=2.0))])
    assert len(said) == 1
    cue = said[0][1]
    assert cue.priority == Priority.NOW and cue.interrupt and cue.label == "car"
    spy = SpyOutput()
    Session(pipeline=None, outputs=[spy]).say(said[0][1])
    assert [kind for kind, _ in spy.events] == ["emit"]    # barge-in is each output's own (sound cuts by urgency)


def test_rate_limit_keeps_busy_scenes_under_overload():
    """20 people arriving one per 0.3 s, each a new caution: the policy must not flood."""
    p, prefs = CuePolicy(), Profile()
    frames, present = [], []
    for i in range(200):
        t = i * 0.1
        if i % 3 == 0 and len(present) < 20:
            n = len(present)
            present.append(hz(n + 1, "person", d=2.5 + 0.25 * (n % 5), clock=(10, 11, 12, 1, 2)[n % 5]))
        frames.append(frame(t, *present))
    said = run(p, prefs, frames)
    times = [t for t, _ in said]
    assert overload_events(times) == 0
    assert 1 <= len(said) <= 3 * 2 + 1      # at most 3 per 10 s window over 20 s
    assert any(c.group and " people, " in c.text for _, c in said)                          # grouped, not one by one


def test_verbosity_levels():
    hazards = (hz(1, urgency=Urgency.CAUTION), hz(2, "person", urgency=Urgency.WARNING, d=1.2, clock=12), hz(3, "bus", urgency=Urgency.DANGER, d=3.0, approaching=True))
    counts = {}
    for v in Verbosity:
        p = CuePolicy()
        said = run(p, Profile(verbosity=v), [frame(t / 10, *hazards) for t in range(30)])
        counts[v] = {c.track_id for _, c in said}
    assert counts[Verbosity.DANGER_ONLY] == {3}
    assert counts[Verbosity.BRIEF] == {2, 3}
    assert counts[Verbosity.NORMAL] == {1, 2, 3}


def test_muted_class_stays_quiet_below_danger():
    p = CuePolicy()
    said = run(p, Profile(class_weights={"person": 0.0}), [frame(0.0, hz(1, "person", urgency=Urgency.WARNING, d=1.0))])
    assert said == []


def test_dark_frame_says_cannot_see_and_never_all_clear():
    p, prefs = CuePolicy(), Profile()
    said = run(p, prefs, [frame(t / 10, quality=DARK) for t in range(30)])
    assert [c.kind for _, c in said] == [CueKind.QUALITY]
    assert "can't see well" in said[0][1].text
    summary = p.summary(prefs, 3.0)
    assert "cannot tell" in summary.text and "clear" not in summary.text


def test_summary_and_repeat():
    p, prefs = CuePolicy(), Profile()
    p.decide(frame(0.0, hz(1, urgency=Urgency.WARNING, approaching=True, d=5.0), hz(2, "person", d=2.0, clock=11)), prefs, 0.0)
    s = p.summary(prefs, 0.1)
    assert s.text == "car, 2 o'clock, 5 metres, approaching; person, 11 o'clock, 2 metres"
    assert p.repeat_last(0.2).text == "Warning, car, 2 o'clock, 5 metres, approaching"


def test_stop_all_cancels_outputs():
    spy = SpyOutput()
    Session(pipeline=None, outputs=[spy]).say(CuePolicy().stop_all(1.0))
    assert spy.events == [("cancel", None)]


def test_overload_event_counting():
    assert overload_events([0, 1, 2, 3]) == 0
    assert overload_events([0, 1, 2, 3, 4]) == 1
    assert overload_events([0, 1, 2, 3, 4, 5, 20]) == 2


def test_preferences_are_checked():
    with pytest.raises(ValueError, match="max_unsolicited: must be between 1 and 10"):
        Profile(max_unsolicited=0)
    with pytest.raises(ValueError, match="class weight for 'dog'"):
        Profile(class_weights={"dog": 5})


def test_a_busy_caution_scene_cannot_hide_a_warning():
    p, prefs = CuePolicy(), Profile()
    cautions = [hz(i, kind, d=2.8, clock=c) for i, (kind, c) in enumerate((("person", 12), ("bench", 10), ("dog", 2)), 1)]
    # cautions coming into view one by one: the first is said, the two that follow within a second
    # wait and are then one sentence (issue 22: cautions must not trickle in one per frame)
    said = run(p, prefs, [frame(t / 10, *cautions[:t + 1]) for t in range(11)])
    assert [c.text for _, c in said] == ["person, straight ahead, 3 metres", "2 things, nearest bench, 10 o'clock, 3 metres"]
    said = run(p, prefs, [frame(1.1 + t / 10, *cautions, hz(9, "bicycle", d=4.0, urgency=Urgency.WARNING, approaching=True))
                          for t in range(3)])
    assert [c.track_id for _, c in said] == [9]                                # the warning is never held


def _sound(label, t=0.0):
    from engine.types import SoundEvent
    return SoundEvent(label=label, score=0.9, start_s=t, direction=None)


def test_sounds_become_cues_per_profile_and_alarms_get_through_snooze():
    from dataclasses import replace
    p, prefs = CuePolicy(), Profile()
    f = replace(frame(0.0), sounds=(_sound("smoke_alarm"), _sound("speech"), _sound("doorbell")))
    cues = p.decide(f, prefs, 0.0)
    assert [(c.kind, c.text, c.urgency) for c in cues] == [(CueKind.SOUND, "Smoke alarm", Urgency.WARNING),
                                                           (CueKind.SOUND, "Doorbell", Urgency.CAUTION)]
    p2 = CuePolicy()
    p2.snooze(0.0)
    cues = p2.decide(replace(frame(1.0), sounds=(_sound("siren"), _sound("dog_bark"))), prefs, 1.0)
    assert [c.text for c in cues] == ["Siren"]                       # snoozed: the dog is not said, the siren is
    only_doorbell = Profile(sound_alerts=("doorbell",))
    assert [c.text for c in CuePolicy().decide(replace(frame(2.0), sounds=(_sound("siren"), _sound("doorbell"))), only_doorbell, 2.0)] == ["Doorbell"]


def test_three_new_cautions_of_one_kind_are_one_sentence_and_warnings_stay_their_own():
    p, prefs = CuePolicy(), Profile()
    people = [hz(i, "person", d=3.0 + i, clock=(11, 12, 1)[i % 3]) for i in range(3)]
    said = run(p, prefs, [frame(0.0, *people, hz(9, "car", d=5.0, urgency=Urgency.WARNING, approaching=True))])
    texts = [c.text for _, c in said]
    assert "Warning, car, 2 o'clock, 5 metres, approaching" in texts
    group = next(c for _, c in said if c.group)
    assert group.text == "3 people, 11 o'clock, nearest 3 metres" and set(group.group) == {0, 1, 2}
    assert len(said) == 2


def test_the_same_object_under_a_new_track_id_is_not_announced_again():
    p, prefs = CuePolicy(), Profile()
    said = run(p, prefs, [frame(0.0, hz(1, "person", d=4.0, clock=12))])
    assert len(said) == 1
    said = run(p, prefs, [frame(0.5, hz(7, "person", d=4.3, clock=12))])            # the tracker lost and re-found it
    assert said == []
    said = run(p, prefs, [frame(1.0, hz(8, "person", d=4.3, clock=12, urgency=Urgency.WARNING, approaching=True))])
    assert len(said) == 1                                                           # more urgent: said


def test_one_blurred_frame_is_not_worth_a_cue_but_a_blurred_second_is():
    blurred = FrameQuality(120.0, 100.0, 50.0, False, True, False, 0.5)
    p, prefs = CuePolicy(), Profile()
    one = [FrameResult(i, i / 10, (640, 480), (), (), (), blurred if i == 3 else GOOD, 0.1) for i in range(20)]
    assert [c for _, c in run(p, prefs, one)] == []
    p = CuePolicy()
    many = [FrameResult(i, i / 10, (640, 480), (), (), (), blurred, 0.1) for i in range(20)]
    said = [c for _, c in run(p, prefs, many)]
    assert [c.kind for c in said] == [CueKind.QUALITY] and "blurred" in said[0].text


def test_one_urgent_cue_at_a_time_unless_nearer_or_elsewhere():
    p, prefs = CuePolicy(), Profile()
    cars = [hz(1, "car", d=8.0, urgency=Urgency.DANGER, approaching=True, clock=12),
            hz(2, "truck", d=7.5, urgency=Urgency.DANGER, approaching=True, clock=12)]
    said = run(p, prefs, [frame(0.0, *cars)])
    assert len(said) == 1                                                    # not a stream of dangers
    said = run(p, prefs, [frame(0.3, hz(3, "bus", d=4.0, urgency=Urgency.DANGER, approaching=True, clock=12))])
    assert len(said) == 1                                                    # clearly nearer: said
    said = run(p, prefs, [frame(0.5, hz(4, "car", d=6.0, urgency=Urgency.DANGER, approaching=True, clock=3))])
    assert len(said) == 1                                                    # another side: said
    said = run(p, prefs, [frame(2.5, *cars)])
    assert len(said) == 1                                                    # once heard, the next one


def test_unsure_things_in_a_group_are_never_named_by_a_guess():
    p, prefs = CuePolicy(), Profile()
    unsure = [hz(1, "dog", d=2.0, clock=12, score=0.3), hz(2, "person", d=2.5, clock=11, score=0.3),
              hz(3, "cat", d=2.8, clock=1, score=0.3)]
    said = [c.text for _, c in run(p, prefs, [frame(0.0, *unsure)])]
    assert said == ["3 things, straight ahead, nearest 2 metres"]
