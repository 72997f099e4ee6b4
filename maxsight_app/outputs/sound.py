"""The sound output: an earcon (where, how near, how urgent) followed by speech, as one clip, so a
danger's barge-in cuts the old sound once and its own earcon and words play together. The sink
makes room by urgency (maxsight_app/outputs/audio.py); under a backlog the words are spoken faster
(BACKLOG_RATE times the user's rate) rather than waiting."""
from __future__ import annotations

import logging

import numpy as np

from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.speech import SpeechSynth
from maxsight_app.outputs.tones import SAMPLE_RATE, render_earcon, render_tick, render_watch_earcon

log = logging.getLogger(__name__)
# Between the earcon and the first word: at 60 ms the earcon's tail could mask the first word (the
# object); 150 ms keeps them apart.
_GAP = np.zeros((int(0.15 * SAMPLE_RATE), 2), np.float32)
BACKLOG_S = 1.0
BACKLOG_RATE = 1.25


class SoundOutput:
    def __init__(self, sink, synth: SpeechSynth | None, earcons: bool = True, speech: bool = True, volume: float = 0.8):
        self.sink = sink
        self.synth = synth
        self.earcons = earcons
        self.speech = speech and synth is not None and synth.check() is None
        self.volume = volume
        self.name = f"sound ({sink.name})" if sink is not None else "sound (render only)"

    def check(self) -> str | None:
        return self.sink.check()

    def render(self, cue: Cue, rate_factor: float = 1.0) -> np.ndarray:
        parts = []
        if self.earcons and cue.kind is CueKind.HAZARD and cue.bearing_deg is not None and cue.distance_m is not None:
            parts += [render_earcon(cue.urgency, cue.bearing_deg, cue.distance_m, self.volume), _GAP]
        elif self.earcons and cue.kind is CueKind.WATCH and cue.bearing_deg is not None:
            parts += [render_watch_earcon(cue.bearing_deg, self.volume), _GAP]
        elif cue.kind is CueKind.TICK:          # asked for on its own (the profile's watching_tick)
            parts.append(render_tick(self.volume))
        if self.speech and cue.text:
            mono = self.synth.render(cue.text, rate_factor)
            parts.append(np.stack([mono, mono], 1))
        return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)

    def emit(self, cue: Cue) -> None:
        """Barge-in is the sink's: a danger cuts less urgent sound (the session does not cancel)."""
        backlog = self.sink.backlog_s() if hasattr(self.sink, "backlog_s") else 0.0
        clip = self.render(cue, BACKLOG_RATE if backlog > BACKLOG_S else 1.0)
        if len(clip):
            # Find mode's "found" (Priority.NOW) is what the user is waiting for: it cuts cautions, never warnings.
            barge = {"barge": True} if cue.kind is CueKind.FIND and cue.priority is Priority.NOW else {}
            self.sink.play(clip, label=cue.text, urgency=int(cue.urgency), key=cue.track_id, **barge)

    def backlog_s(self) -> float:
        """How long the voice will go on with what it was given (the cue policy holds cautions
        that would only wait behind it)."""
        return self.sink.backlog_s() if self.sink is not None and hasattr(self.sink, "backlog_s") else 0.0

    def guide(self, tone) -> None:
        """Find mode's guidance tone (outputs/guide.py), beside the clips; None fades it out."""
        if self.sink is not None and hasattr(self.sink, "guide"):
            self.sink.guide(tone, volume=self.volume)

    def cancel(self) -> None:
        self.sink.stop()

    def close(self) -> None:
        self.sink.close()
