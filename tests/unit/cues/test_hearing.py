"""Hearing cues: the name alert forgives what captions get slightly wrong but not unrelated words,
comes as a warning (so it flashes and vibrates), is not repeated within its gap and needs captions
on; the user's own sounds are said by their names, an alarm of theirs as a warning."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.types import CaptionLine, FrameQuality, FrameResult, SoundEvent, Urgency
from maxsight_app.cues.hearing import mentions, own_sound_words, terms
from maxsight_app.cues.policy import CuePolicy
from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.screen import ScreenOutput
from maxsight_app.profile.schema import Profile

GOOD = FrameQuality(120.0, 800.0, 50.0, False, False, False, 1.0)


def frame(t, captions=(), sounds=()):
    return FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(), hazards=(),
                       quality=GOOD, uncertainty=0.2, captions=tuple(CaptionLine(c, t, t) for c in captions),
                       sounds=tuple(sounds))


@pytest.mark.parametrize("caption", ["Maria, your coffee is ready.", "Is that MARIA's bag?", "Excuse me, Mariah?",
                                     "maria, maria!", "Has anyone seen Marie today?"])
def test_the_name_is_heard_through_small_caption_errors(caption):
    assert mentions(caption, terms("Maria")[0])


@pytest.mark.parametrize("caption", ["The area is closed.", "Mark it down.", "I married young.", ""])
def test_other_words_are_not_the_name(caption):
    assert not mentions(caption, terms("Maria")[0])


def test_short_names_must_match_exactly_and_phrases_may_run_together():
    assert mentions("Al, over here", "al") and not mentions("all of it", "al") and not mentions("I'll go", "al")
    listed = terms(" Siobhan , fire drill,, ")
    assert listed == ["siobhan", "fire drill"]
    assert mentions("this is a firedrill", "fire drill") and mentions("Fire-drills at noon", "fire drill")
    assert mentions("Chevonne, phone", "siobhan") is False          # spelling far off: not guessed


def test_name_alert_is_a_warning_once_per_gap_and_needs_captions_on():
    p, prefs = CuePolicy(), Profile(name_alert="Maria, fire drill")
    cues = p.decide(frame(0.0, ["Hi maria, how are you"]), prefs, 0.0)
    assert [(c.text, c.kind, c.urgency) for c in cues] == [("Someone said your name", CueKind.SOUND, Urgency.WARNING)]
    assert p.decide(frame(3.0, ["Maria?"]), prefs, 3.0) == []                    # not again within the gap
    assert [c.text for c in p.decide(frame(4.0, ["There is a fire drill"]), prefs, 4.0)] == ["Someone said: fire drill"]
    assert [c.text for c in p.decide(frame(12.0, ["MARIA!"]), prefs, 12.0)] == ["Someone said your name"]
    assert CuePolicy().decide(frame(0.0, ["Hi maria"]), prefs.replace(captions=False), 0.0) == []
    assert CuePolicy().decide(frame(0.0, ["Hi maria"]), Profile(), 0.0) == []     # nothing listed


def test_a_name_alert_flashes_on_screen():
    flashes = []
    screen = ScreenOutput()
    screen.listeners.append(lambda alert: flashes.append(alert))
    cue = CuePolicy().decide(frame(0.0, ["maria"]), Profile(name_alert="Maria"), 0.0)[0]
    screen.emit(cue)
    assert flashes and flashes[0].flash and flashes[0].urgency == Urgency.WARNING


def test_own_sounds_are_said_by_their_names():
    assert own_sound_words("my microwave") == ("Your microwave", Urgency.CAUTION)
    assert own_sound_words("my smoke alarm") == ("Your smoke alarm", Urgency.WARNING)
    assert own_sound_words("Kettle") == ("Kettle", Urgency.CAUTION)
    prefs = Profile(custom_sounds={"my microwave": np.ones((2, 4)), "my smoke alarm": np.ones((2, 4))}, sound_alerts=("doorbell",))
    own = lambda name: SoundEvent(name, 0.9, 0.0, None, own=True)        # noqa: E731
    cues = CuePolicy().decide(frame(0.0, sounds=(own("my microwave"), own("my smoke alarm"))), prefs, 0.0)
    assert [(c.text, c.urgency) for c in cues] == [("Your smoke alarm", Urgency.WARNING), ("Your microwave", Urgency.CAUTION)]
    forgotten = prefs.replace(custom_sounds={})
    assert CuePolicy().decide(frame(0.0, sounds=(own("my microwave"),)), forgotten, 0.0) == []
