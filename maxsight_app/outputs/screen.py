"""Visual alerts for deaf and hard-of-hearing users: an event (flash + large text) that the UI,
or the terminal in headless mode, shows. Qt-free: listeners are plain callables."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

from engine.types import Urgency
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
        direction = ""
        if cue.kind is CueKind.HAZARD and cue.bearing_deg is not None:
            from engine.stage_a.geometry import clock_from_bearing
            clock = clock_from_bearing(cue.bearing_deg)
            direction = "ahead" if clock == 12 else f"{clock} o'clock"
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
