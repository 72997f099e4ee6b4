"""The session's media clock never goes back (maxsight_app/session.py): a replay (F5 after the end)
or another source restarts the video's own clock, and the cue policy must speak about the new play
as it did about the first. Before, cautions went silent after the first play: the policy's budget
and timers held times from the first play that the replayed clock had not reached again."""
from __future__ import annotations

import numpy as np

from engine.types import Frame, Urgency
from maxsight_app.cues.policy import CuePolicy
from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.schema import Profile
from maxsight_app.session import Session
from tests.unit.cues.test_policy import frame, hz


class ScriptedPipeline:
    """Hands back a scripted FrameResult per frame index; counts resets like the real pipeline's."""

    def __init__(self, script):
        self.script, self.resets = script, 0

    def step(self, frame: Frame, audio=None):
        return self.script(frame.timestamp)

    def reset(self) -> None:
        self.resets += 1


def play(session: Session, seconds: float = 12.0, fps: int = 10) -> list:
    image = np.zeros((8, 8, 3), np.uint8)
    cues = []
    for i in range(int(seconds * fps)):
        cues += session.handle(Frame(i, i / fps, image)).cues
    return cues


def cautions(cues) -> list[str]:
    return [c.text for c in cues if c.kind is CueKind.HAZARD and c.urgency == Urgency.CAUTION]


def scene(t: float):
    """A bicycle throughout, a person from 5 s on: two cautions each play."""
    return frame(t, hz(1, "bicycle", d=4.0, clock=1), *([hz(2, "person", d=5.0, clock=11)] if t >= 5.0 else []))


def test_a_replay_speaks_cautions_again():
    spy = SpyOutput()
    pipeline = ScriptedPipeline(scene)
    session = Session(pipeline, CuePolicy(), Profile(), [spy])
    first = cautions(play(session))
    assert first, "the scene has cautions to say"
    session.restart()                         # F5 after the end: the same video again
    second = cautions(play(session))
    assert pipeline.resets == 1
    assert first == ["bicycle, 1 o'clock, 4 metres", "person, 11 o'clock, 5 metres"]
    assert second == first                    # the replay is heard as the first play was
    # and with no restart() call (a source whose clock just jumps back), the same holds
    assert cautions(play(session)) == first


def test_media_time_never_goes_back():
    session = Session(ScriptedPipeline(scene), CuePolicy(), Profile(), [])
    play(session, 3.0)
    before = session.media_time()
    session.restart()
    session.handle(Frame(0, 0.0, np.zeros((8, 8, 3), np.uint8)))
    assert session.media_time() >= before


class SlowPipeline(ScriptedPipeline):
    """A pipeline that takes `cost(t)` seconds of wall time over the frame at time t."""

    def __init__(self, script, cost):
        super().__init__(script)
        self.cost = cost

    def step(self, frame: Frame, audio=None):
        import time
        time.sleep(self.cost(frame.timestamp))
        return super().step(frame, audio)


def test_a_replay_latency_gives_the_same_cues_at_the_same_times_however_slow_the_machine():
    # `eval safety`'s approach clips: on the wall clock, a busy machine moved where the cues fell.
    def heard(cost):
        session = Session(SlowPipeline(scene, cost), CuePolicy(), Profile(), [SpyOutput()])
        session.replay_latency_s = 0.04
        out = []
        for i in range(70):
            tick = session.handle(Frame(i, i / 10, np.zeros((8, 8, 3), np.uint8)))
            out += [(round(session.media_time(), 6), c.text) for c in tick.cues]
        return out
    quick, slow = heard(lambda t: 0.0), heard(lambda t: 0.03 if 4.5 <= t < 5.5 else 0.0)
    assert quick == slow and [text for _, text in quick] == ["bicycle, 1 o'clock, 4 metres", "person, 11 o'clock, 5 metres"]
    assert quick[1][0] == 5.0 + 0.04                  # the frame's own time plus the fixed cost
    live = Session(SlowPipeline(scene, lambda t: 0.02), CuePolicy(), Profile(), [SpyOutput()])
    live.handle(Frame(0, 0.0, np.zeros((8, 8, 3), np.uint8)))
    assert live.media_time() >= 0.02                  # live (no replay latency): the wall clock's time


def test_the_session_tells_the_policy_how_busy_the_voice_is(tmp_path):
    """While the sound output still has seconds to say, a new caution waits in the policy (not
    handed out to be dropped as stale); once the voice is free it is said."""
    from maxsight_app.cues.policy import VOICE_BUSY_WHY, VOICE_WAIT_S
    from maxsight_app.outputs.audio import SAMPLE_RATE, WavFileSink
    from maxsight_app.outputs.sound import SoundOutput
    spy = SpyOutput()
    session = Session(ScriptedPipeline(lambda t: frame(t, hz(1, "bicycle", d=4.0, clock=1))), CuePolicy(), Profile(), [])
    session.replay_latency_s = 0.0            # media time is the frame's time, however busy the machine
    voice = SoundOutput(WavFileSink(tmp_path / "heard.wav", session.media_time), None, earcons=False)
    session.outputs = [voice, spy]
    seconds = VOICE_WAIT_S + 2.0
    voice.sink.play(np.zeros((int(seconds * SAMPLE_RATE), 2), np.float32), "something said before", 1)
    image = np.zeros((8, 8, 3), np.uint8)
    assert session.handle(Frame(0, 0.0, image)).cues == []
    assert session.policy.reasons[1] == VOICE_BUSY_WHY
    said = []
    for i in range(1, int(seconds * 10) + 5):
        said += session.handle(Frame(i, i / 10, image)).cues
    assert cautions(said) == ["bicycle, 1 o'clock, 4 metres"]
    assert said[0].frame_time >= seconds - VOICE_WAIT_S - 0.2          # only once the voice was nearly free
    voice.close()
