"""Haptic pulses by urgency, on a game controller (SDL2 rumble through pygame-ce) or a simple
serial vibration device (pyserial).

Serial byte protocol (write-only, 7 bytes per command, any baud rate the device uses; 9600 default):
    byte 0   0xA5            start of frame
    byte 1   command         0x01 = play pattern, 0x00 = stop now
    byte 2   intensity       0..255
    byte 3   on time         in 10 ms units (1..255)
    byte 4   off time        in 10 ms units (0..255)
    byte 5   repeats         number of pulses (1..255; 0 with stop)
    byte 6   checksum        XOR of bytes 1..5
A new pattern replaces the one playing. A stop frame is all zeros with its checksum 0x00.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from engine.types import Urgency
from maxsight_app.cues.types import Cue

log = logging.getLogger(__name__)
START = 0xA5
CMD_STOP, CMD_PLAY = 0x00, 0x01


@dataclass(frozen=True)
class Pattern:
    intensity: float    # 0..1
    on_ms: int
    off_ms: int
    repeats: int


PATTERNS = {
    Urgency.CAUTION: Pattern(0.4, 80, 0, 1),        # one light tap
    Urgency.WARNING: Pattern(0.7, 120, 100, 2),     # two firm pulses
    Urgency.DANGER: Pattern(1.0, 250, 80, 3),       # three long strong pulses
}


def pattern_for(cue: Cue, strength: float = 1.0) -> Pattern | None:
    p = PATTERNS.get(cue.urgency)
    if p is None:
        return None
    return Pattern(min(1.0, p.intensity * strength), p.on_ms, p.off_ms, p.repeats)


def encode(cmd: int, p: Pattern | None) -> bytes:
    if p is None:
        body = [cmd, 0, 0, 0, 0]
    else:
        body = [cmd, round(255 * p.intensity), max(1, min(255, p.on_ms // 10)), min(255, p.off_ms // 10), max(1, min(255, p.repeats))]
    chk = 0
    for b in body:
        chk ^= b
    return bytes([START, *body, chk])


def decode(frame: bytes) -> tuple[int, Pattern | None]:
    if len(frame) != 7 or frame[0] != START:
        raise ValueError("not a MaxSight haptic frame")
    chk = 0
    for b in frame[1:6]:
        chk ^= b
    if chk != frame[6]:
        raise ValueError("haptic frame checksum mismatch")
    cmd = frame[1]
    if cmd == CMD_STOP:
        return cmd, None
    return cmd, Pattern(frame[2] / 255, frame[3] * 10, frame[4] * 10, frame[5])


class SerialHaptic:
    name = "serial vibration"

    def __init__(self, port: str, baud: int = 9600, strength: float = 1.0):
        self.port, self.baud, self.strength = port, baud, strength
        self._serial = None
        self._error: str | None = None
        try:
            import serial
            self._serial = serial.Serial(port, baud, timeout=0, write_timeout=0.2)
        except ImportError:
            self._error = "the pyserial package is not installed"
        except Exception as exc:  # noqa: BLE001 - SerialException and OSError alike
            self._error = f"the vibration device at {port} cannot be opened ({exc.__class__.__name__})"

    def check(self) -> str | None:
        return self._error

    def emit(self, cue: Cue) -> None:
        p = pattern_for(cue, self.strength)
        if p is not None and self._serial is not None:
            self._serial.write(encode(CMD_PLAY, p))

    def cancel(self) -> None:
        if self._serial is not None:
            self._serial.write(encode(CMD_STOP, None))

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()


class RumbleHaptic:
    """The first game controller's rumble motors through SDL2."""
    name = "controller rumble"

    def __init__(self, strength: float = 1.0):
        self.strength = strength
        self._joy = None
        self._error: str | None = None
        try:
            import os
            os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
            import pygame
            pygame.joystick.init()
            if pygame.joystick.get_count() == 0:
                self._error = "no game controller is connected"
            else:
                self._joy = pygame.joystick.Joystick(0)
        except ImportError:
            self._error = "the pygame-ce package is not installed"
        except Exception as exc:  # noqa: BLE001 - SDL errors
            self._error = f"game controllers are not available ({exc})"

    def check(self) -> str | None:
        return self._error

    def emit(self, cue: Cue) -> None:
        p = pattern_for(cue, self.strength)
        if p is None or self._joy is None:
            return
        # One rumble call covers the whole pattern: SDL has no pulse trains.
        total = p.repeats * p.on_ms + (p.repeats - 1) * p.off_ms
        self._joy.rumble(p.intensity, p.intensity, total)

    def cancel(self) -> None:
        if self._joy is not None:
            self._joy.stop_rumble()

    def close(self) -> None:
        self.cancel()
