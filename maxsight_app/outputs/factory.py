"""Build the outputs a profile asks for, each with its fallback order:
    sound:  sound card -> WAV file (when --audio-out is given) -> silent
    haptic: serial device (when a port is set) -> controller rumble -> none
    screen: always
A backend that cannot run is logged in one line and the next one is tried; the reasons are
returned so the app can show or speak them once."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from maxsight_app.outputs.audio import SoundDeviceSink, WavFileSink
from maxsight_app.outputs.base import SilentOutput
from maxsight_app.outputs.haptic import RumbleHaptic, SerialHaptic
from maxsight_app.outputs.screen import ScreenOutput
from maxsight_app.outputs.sound import SoundOutput
from maxsight_app.outputs.speech import SpeechSynth, Voice
from maxsight_app.profile.schema import Profile

log = logging.getLogger(__name__)


def voice_of(profile: Profile) -> Voice:
    return Voice(rate_wpm=profile.speech_rate, volume=profile.volume, voice_id=profile.voice)


def build_outputs(settings: Profile, audio_out: Path | None = None,
                  clock: Callable[[], float] = lambda: 0.0, scratch_dir: Path | None = None) -> tuple[list, list[str]]:
    outputs, notes = [], []
    if settings.speech or settings.earcons:
        synth = SpeechSynth(voice_of(settings), scratch_dir) if settings.speech else None
        if synth is not None and synth.check():
            notes.append(f"Speech is off: {synth.check()}.")
            synth = None
        sink = WavFileSink(audio_out, clock) if audio_out else SoundDeviceSink()
        reason = sink.check()
        if reason:
            notes.append(f"Sound is off: {reason}.")
            outputs.append(SilentOutput())
        elif synth is not None or settings.earcons:
            outputs.append(SoundOutput(sink, synth, earcons=settings.earcons, speech=synth is not None, volume=settings.tone_volume))
    if settings.haptic:
        chain = ([SerialHaptic(settings.haptic_port, strength=settings.haptic_strength)] if settings.haptic_port else []) + \
                [RumbleHaptic(strength=settings.haptic_strength)]
        for backend in chain:
            if backend.check() is None:
                outputs.append(backend)
                break
            notes.append(f"Vibration via {backend.name} is off: {backend.check()}.")
    if settings.screen_alerts:
        outputs.append(ScreenOutput())
    for n in notes:
        log.warning("%s", n)
    return outputs, notes
