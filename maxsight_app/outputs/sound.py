"""The sound output: an earcon (where, how near, how urgent) followed by speech, as one clip, so
a danger cue's barge-in cuts the old sound once and its own earcon and words play together."""
from __future__ import annotations

import logging

import numpy as np

from maxsight_app.cues.types import Cue, CueKind
from maxsight_app.outputs.speech import SpeechSynth
from maxsight_app.outputs.tones import SAMPLE_RATE, render_earcon

log = logging.getLogger(__name__)
_GAP = np.zeros((int(0.06 * SAMPLE_RATE), 2), np.float32)


class SoundOutput:
    def __init__(self, sink, synth: SpeechSynth | None, earcons: bool = True, speech: bool = True, volume: float = 0.8):
        self.sink = sink
        self.synth = synth
        self.earcons = earcons
        self.speech = speech and synth is not None and synth.check() is None
        self.volume = volume
        self.name = f"sound ({sink.name})"

    def check(self) -> str | None:
        return self.sink.check()

    def render(self, cue: Cue) -> np.ndarray:
        parts = []
        if self.earcons and cue.kind is CueKind.HAZARD and cue.bearing_deg is not None and cue.distance_m is not None:
            parts += [render_earcon(cue.urgency, cue.bearing_deg, cue.distance_m, self.volume), _GAP]
        if self.speech and cue.text:
            mono = self.synth.render(cue.text)
            parts.append(np.stack([mono, mono], 1))
        return np.concatenate(parts) if parts else np.zeros((0, 2), np.float32)

    def emit(self, cue: Cue) -> None:
        # Barge-in: the session cancels every output before an interrupting cue; not again here.
        clip = self.render(cue)
        if len(clip):
            self.sink.play(clip, label=cue.text, interrupt=False)

    def cancel(self) -> None:
        self.sink.stop()

    def close(self) -> None:
        self.sink.close()
