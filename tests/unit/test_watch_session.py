"""Watching for a word in a running session (issue 28, part 1): the session turns the text reader's
voted readings into one WATCH cue per sighting, with a rising earcon from where the word was read;
the command line takes --watch-for and refuses bad words or a tier with no text reader in one
sentence."""
from __future__ import annotations

import numpy as np

from engine.types import Frame, TextRead
from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.outputs.sound import SoundOutput
from maxsight_app.session import Session
from tests.cli import maxsight
from tests.unit.cues.test_policy import frame
from tests.unit.test_session_clock import ScriptedPipeline


def _read(text: str, seen: int = 2, clock: int = 11) -> TextRead:
    return TextRead(text, 0.9, ((10, 10), (60, 10), (60, 30), (10, 30)), clock, -30.0, seen=seen)


def _scene(t: float):
    """A bus sign read from 1 s to 3 s, then gone, then read again from 10 s; '175' all along."""
    reads = [_read("Route 175")]
    if 1.0 <= t < 3.0 or t >= 10.0:
        reads.append(_read("BUS 75 Airport"))
    f = frame(t)
    return type(f)(**{**f.__dict__, "texts": tuple(reads)})


def test_a_watched_word_is_said_once_per_sighting_with_its_direction():
    spy = SpyOutput()
    s = Session(ScriptedPipeline(_scene), outputs=[spy])
    assert s.start_watch("75, Gate C3") == ("75", "Gate C3")
    image = np.zeros((8, 8, 3), np.uint8)
    for i in range(120):
        s.handle(Frame(i, i / 10, image))
    watched = [c for c in spy.cues if c.kind is CueKind.WATCH]
    # Two sightings, never "175"; the distance from the text's height (20 px), as nothing tracked holds it.
    assert [c.text for c in watched] == ["75, 11 o'clock, about 4 metres"] * 2
    assert watched[0].bearing_deg == -30.0 and watched[0].label == "75"
    s.start_watch("")                                   # no words: watching stops
    assert s.watch is None


def test_the_watch_earcon_comes_from_where_the_word_was_read():
    class Silent:
        def render(self, text, rate_factor=1.0):
            return np.zeros(0, np.float32)
    out = SoundOutput(None, Silent(), earcons=True, speech=False)
    s = Session(ScriptedPipeline(_scene), outputs=[SpyOutput()])
    s.start_watch("75")
    cue = next(c for i in range(30) for c in s.handle(Frame(i, i / 10, np.zeros((8, 8, 3), np.uint8))).cues
               if c.kind is CueKind.WATCH)
    clip = out.render(cue)
    assert len(clip) > 0
    assert np.abs(clip[:, 0]).sum() > np.abs(clip[:, 1]).sum()       # 11 o'clock: louder on the left
    assert len(SoundOutput(None, Silent(), earcons=False, speech=False).render(cue)) == 0


def test_the_command_line_refuses_bad_words_and_a_tier_without_the_reader():
    r = maxsight("run", "--source", "no-such.mp4", "--headless", "--watch-for", " , ")
    assert r.returncode != 0 and "--watch-for" in r.stderr and "Traceback" not in r.stderr
    from engine.samples import sample_video
    r = maxsight("run", "--source", str(sample_video()), "--headless", "--quiet", "--max-frames", "3", "--tier", "T0",
                 "--watch-for", "75")
    assert r.returncode != 0 and "needs the text reader" in r.stderr and "Traceback" not in r.stderr


def test_the_watch_for_preference_is_checked_and_kept_tidy():
    import pytest

    from maxsight_app.profile.schema import Profile
    assert Profile(watch_for=" 75 ,Gate  C3, 75").watch_for == "75, Gate C3"
    assert Profile(watch_for="  ").watch_for == ""
    with pytest.raises(ValueError, match="^watch_for: .*empty"):
        Profile.from_values({"watch_for": "75,,C3"})


def test_the_session_follows_the_profiles_words_until_told_otherwise():
    from dataclasses import replace

    from maxsight_app.profile.schema import Profile
    spy = SpyOutput()
    s = Session(ScriptedPipeline(_scene), outputs=[spy], profile=Profile(watch_for="Airport"))
    image = np.zeros((8, 8, 3), np.uint8)
    for i in range(25):
        s.handle(Frame(i, i / 10, image))
    assert [c.text for c in spy.cues if c.kind is CueKind.WATCH] == ["Airport, 11 o'clock, about 4 metres"]
    s.profile = replace(s.profile, watch_for="75")                   # changed in Settings: the next frame follows
    s.handle(Frame(25, 2.5, image))
    assert s.watch.words == ("75",)
    s.start_watch("Gate C3")                                          # --watch-for wins over the profile
    s.profile = replace(s.profile, watch_for="Pharmacy")
    s.handle(Frame(26, 2.6, image))
    assert s.watch.words == ("Gate C3",)


def test_words_to_watch_for_with_no_text_reader_are_said_not_ignored():
    from types import SimpleNamespace

    from maxsight_app.compose import _watch_notes
    from maxsight_app.profile.schema import Profile
    [note] = _watch_notes(SimpleNamespace(stage_b_tasks=("sounds",)), Profile(watch_for="75"))
    assert "needs the text reader" in note and "75" in note
    assert _watch_notes(SimpleNamespace(stage_b_tasks=("ocr",)), Profile(watch_for="75")) == []
    assert _watch_notes(SimpleNamespace(stage_b_tasks=()), Profile()) == []
