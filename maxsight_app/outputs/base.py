"""Output protocol (check, emit, cancel) and the two backends every kind has: silent and spy."""
from __future__ import annotations

import logging
from typing import Protocol

from maxsight_app.cues.types import Cue

log = logging.getLogger(__name__)


class Output(Protocol):
    name: str

    def check(self) -> str | None:
        """None when usable, else one sentence saying why not (device missing, package missing)."""

    def emit(self, cue: Cue) -> None: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


class SilentOutput:
    """Always available: says nothing. The fallback at the end of every output's chain."""
    name = "silent"

    def check(self) -> str | None:
        return None

    def emit(self, cue: Cue) -> None:
        log.debug("silent: %s", cue.text)

    def cancel(self) -> None:
        pass

    def close(self) -> None:
        pass


class SpyOutput:
    """Records what a user would have received, for tests and `maxsight eval cues`."""
    name = "spy"

    def __init__(self) -> None:
        self.events: list[tuple[str, Cue | None]] = []
        self.tones: list = []          # find mode's guidance tone, one entry per frame (None: silent)

    def check(self) -> str | None:
        return None

    def emit(self, cue: Cue) -> None:
        if cue.text:
            self.events.append(("emit", cue))

    def guide(self, tone) -> None:
        self.tones.append(tone)

    def cancel(self) -> None:
        self.events.append(("cancel", None))

    def close(self) -> None:
        self.events.append(("close", None))

    @property
    def cues(self) -> list[Cue]:
        return [c for kind, c in self.events if kind == "emit"]
