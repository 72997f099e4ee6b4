"""Visual alerts for deaf and hard-of-hearing users: an event (flash + large text) that the UI,
or the terminal in headless mode, shows. Qt-free: listeners are plain callables."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

from engine.types import Urgency
from maxsight_app.cues.phrasing import clock_words
from maxsight_app.cues.types import Cue, CueKind


@dataclass(frozen=True)
class VisualAlert:
    text: str
    urgency: Urgency
    flash: bool              # full-window flash for warnings, dangers and "can't see well"
    direction: str           # "2 o'clock" etc. when known, for an arrow beside the text
    kind: CueKind


class ScreenOutput:
    name = "screen"

    def __init__(self, history: int = 50):
        self.listeners: list[Callable[[VisualAlert | None], None]] = []
        self.history: deque[VisualAlert] = deque(maxlen=history)

    def check(self) -> str | None:
        return None

    def emit(self, cue: Cue) -> None:
        if not cue.text:
            return
        direction = clock_words(cue.clock) if cue.kind is CueKind.HAZARD and cue.clock is not None else ""
        alert = VisualAlert(cue.text, cue.urgency, flash=cue.urgency >= Urgency.WARNING or cue.kind is CueKind.QUALITY,
                            direction=direction, kind=cue.kind)
        self.history.append(alert)
        for listener in self.listeners:
            listener(alert)

    def cancel(self) -> None:
        for listener in self.listeners:
            listener(None)

    def close(self) -> None:
        pass
