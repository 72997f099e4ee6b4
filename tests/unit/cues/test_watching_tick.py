"""The opt-in "still watching, nothing in your path" tick (issue 23): silence never has to mean
"clear". Scripted frames whose answer is known: a clear way ticks every few seconds, and only when
asked for; a poor picture, something in the path, or anything said stops it; it has no words."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from maxsight_app.cues.policy import TICK_EVERY_S, CuePolicy
from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.sound import SoundOutput
from maxsight_app.profile.schema import Profile
from tests.unit.cues.test_policy import DARK, frame, hz


def _ticks(frames, prefs):
    p = CuePolicy()
    return [f.timestamp for f in frames for c in p.decide(f, prefs, f.timestamp) if c.kind is CueKind.TICK]


def test_a_clear_way_ticks_every_few_seconds_only_when_asked():
    clear = [frame(t / 10) for t in range(130)]
    ticks = _ticks(clear, Profile(watching_tick=True))
    assert len(ticks) == 3 and all(b - a >= TICK_EVERY_S for a, b in zip(ticks, ticks[1:]))
    assert _ticks(clear, Profile()) == []                                  # off by default


def test_no_tick_when_the_picture_is_poor_or_something_is_in_the_way():
    prefs = Profile(watching_tick=True)
    assert _ticks([frame(t / 10, quality=DARK) for t in range(130)], prefs) == []          # can't see: never "clear"
    pole = replace(hz(1, "chair", d=4.0, clock=12), in_path=True)
    assert _ticks([frame(t / 10, pole) for t in range(130)], prefs) == []                 # in the path
    aside = hz(2, "chair", d=4.0, clock=3)                                                # beside the path: still clear
    assert len(_ticks([frame(t / 10, aside) for t in range(130)], prefs)) >= 2


def test_the_tick_is_a_soft_sound_and_no_words():
    p = CuePolicy()
    prefs = Profile(watching_tick=True)
    tick = next(c for t in range(60) for c in p.decide(frame(t / 10), prefs, t / 10) if c.kind is CueKind.TICK)
    assert tick.text == "" and p.repeat_last(6.0).text == "Nothing said yet"         # R does not repeat a tick

    class Silent:
        def render(self, text, rate_factor=1.0):
            return np.zeros(0, np.float32)
    clip = SoundOutput(None, Silent(), earcons=False, speech=False).render(tick)
    assert 0 < len(clip) < 0.05 * 16000 * 3 and float(np.abs(clip).max()) < 0.3


def test_no_tick_while_the_detector_is_failing_or_unsure():
    prefs = Profile(watching_tick=True)
    failing = [replace(frame(t / 10), problems=("detector failed: model file damaged",), uncertainty=1.0) for t in range(130)]
    assert _ticks(failing, prefs) == []
    unsure = [replace(frame(t / 10), uncertainty=0.9) for t in range(130)]
    assert _ticks(unsure, prefs) == []


def test_no_tick_in_a_frame_where_a_watched_word_is_said():
    from engine.types import Frame, TextRead
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.session import Session
    from tests.unit.test_session_clock import ScriptedPipeline

    sign = TextRead("BUS 75", 0.9, ((10, 10), (60, 10), (60, 30), (10, 30)), 12, 0.0, seen=2)

    def scene(t):
        return replace(frame(t), texts=(sign,) if t >= 4.0 else ())
    spy = SpyOutput()
    s = Session(ScriptedPipeline(scene), outputs=[spy], profile=Profile(watching_tick=True, watch_for="75"))
    for i in range(45):
        s.handle(Frame(i, i / 10, np.zeros((8, 8, 3), np.uint8)))
    kinds = [c.kind for c in spy.cues]
    assert CueKind.WATCH in kinds and CueKind.TICK not in kinds       # the word at 4.0 s took the tick's place
