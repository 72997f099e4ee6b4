"""THE composition root: from a typed Profile and an EngineConfig to the running pipeline, Stage B,
session and outputs. The command line and the window both call `build_runtime`; nothing else builds
these objects. `apply_profile` applies a changed profile to all of them, Stage B included.

Decisions made here and nowhere else:
  * which Stage B processors run (the tier, then the profile: captions on or off, which sounds,
    the user's own sounds);
  * who speaks: MaxSight's own voice, the screen reader's announcer (passed in by the window), or
    both (the profile's speech_output; AUTO follows whether a screen reader runs). When the own
    voice has no sound device, the announcer is used so a cue is never lost;
  * which detector families exist (the training toolkit's torch runner is added lazily, so the
    engine never imports training and nothing loads torch unless a checkpoint is asked for).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from engine.config import EngineConfig, stage_b_tasks, verify
from engine.models.registry import ModelError, Registry, cache_dir, default_registry, verified_path
from engine.pipeline import Pipeline
from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
from maxsight_app.cues.policy import CuePolicy
from maxsight_app.nearmiss import NearMissRecorder
from maxsight_app.outputs.base import SilentOutput
from maxsight_app.outputs.factory import build_outputs
from maxsight_app.outputs.screen import ScreenOutput
from maxsight_app.profile.schema import Profile, SpeechOutput
from maxsight_app.session import Session

log = logging.getLogger(__name__)

# Preferences that change which outputs exist (anything else is read live from the Profile).
OUTPUT_PREFS = ("speech", "speech_output", "speech_rate", "volume", "voice", "earcons", "tone_volume", "haptic",
                "haptic_port", "haptic_strength", "screen_alerts")


def _torch_checkpoint(spec, registry, threads, device):
    try:
        from training.torch_detector import make
    except ImportError:
        raise ModelError("running a training checkpoint needs torch (scripts/setup.sh --training); or export it with "
                         "`maxsight export`, which runs on ONNX Runtime") from None
    return make(spec, registry, threads, device)


def make_registry(include_user: bool = True) -> Registry:
    """The engine's models and families, plus the training toolkit's checkpoint runner."""
    reg = default_registry(include_user=include_user)
    reg.add_family("maxsight-checkpoint", _torch_checkpoint)
    return reg


@dataclass
class Runtime:
    """Everything a running MaxSight holds; close() releases it all (the Stage B process too)."""
    registry: Registry
    config: EngineConfig
    pipeline: Pipeline
    stage_b: StageBScheduler | None
    session: Session
    notes: list[str] = field(default_factory=list)            # one sentence each, for the user
    personal_index: Path | None = None
    audio_out: Path | None = None
    screen_reader: bool = False
    announcer: object | None = None                           # the window's screen-reader output
    extra_outputs: list = field(default_factory=list)
    screen_listeners: list[Callable] = field(default_factory=list)
    _said_notes: set = field(default_factory=set)

    @property
    def profile(self) -> Profile:
        return self.session.profile

    @property
    def stage_b_tasks(self) -> tuple[str, ...]:
        return tuple(self.stage_b.specs) if self.stage_b is not None else ()

    def output_names(self) -> list[str]:
        return [getattr(o, "name", type(o).__name__) for o in self.session.outputs]

    def new_notes(self, notes: list[str]) -> list[str]:
        """Only the notes not said before: "Sound is off" is said once, not on every settings change."""
        fresh = [n for n in notes if n not in self._said_notes]
        self._said_notes.update(fresh)
        self.notes += fresh
        return fresh

    def close(self) -> None:
        try:
            self.session.close()
        finally:
            if self.stage_b is not None:
                self.stage_b.close()
                self.stage_b = None


def speaks_own_voice(profile: Profile, screen_reader: bool) -> bool:
    mode = profile.speech_output
    return profile.speech and (mode in (SpeechOutput.OWN_VOICE, SpeechOutput.BOTH)
                               or (mode is SpeechOutput.AUTO and not screen_reader))


def uses_announcer(profile: Profile, screen_reader: bool) -> bool:
    mode = profile.speech_output
    return mode in (SpeechOutput.SCREEN_READER, SpeechOutput.BOTH) or (mode is SpeechOutput.AUTO and screen_reader)


def _outputs(rt: Runtime, profile: Profile) -> tuple[list, list[str]]:
    own_voice = speaks_own_voice(profile, rt.screen_reader)
    built, notes = build_outputs(profile.replace(speech=own_voice), audio_out=rt.audio_out, clock=rt.session.media_time,
                                 scratch_dir=cache_dir() / "scratch")
    for o in built:
        if isinstance(o, ScreenOutput):
            o.listeners.extend(rt.screen_listeners)
    voice_lost = own_voice and any(isinstance(o, SilentOutput) for o in built)
    if rt.announcer is not None and (uses_announcer(profile, rt.screen_reader) or voice_lost):
        built.append(rt.announcer)
        if voice_lost:
            notes.append("MaxSight's own voice is off, so cues go to your screen reader.")
    return built + list(rt.extra_outputs), notes


def _custom(profile: Profile) -> dict:
    """The user's own sounds as the Stage B sounds processor takes them: name -> embeddings."""
    return {name: np.asarray(e) for name, e in profile.custom_sounds.items()}


# A captions job may hold up to 20 s of speech (MAX_SEGMENT_S): Whisper needs more than the
# scheduler's default 10 s for it on a slow or busy CPU, and a restart loses the stream.
CAPTIONS_TIMEOUT_S = 30.0


def processor_specs(config: EngineConfig, registry: Registry, sound_alerts: tuple[str, ...] | None = None,
                    captions: bool = True, personal_index: str | None = None,
                    custom_sounds: dict | None = None) -> tuple[dict[str, ProcessorSpec], list[str]]:
    """(specs, notes): the Stage B processors the tier asks for whose models are installed and
    intact, as the profile wants them; a note for each one left out and why."""
    specs, notes = {}, []

    def model_ok(name: str, what: str) -> bool:
        try:
            verified_path(registry.get(name))
            return True
        except ModelError as exc:
            notes.append(f"{what} are off: {exc}.")
            return False

    for task in stage_b_tasks(config.tier):
        if task == "sounds":
            if model_ok("yamnet", "Sound alerts"):
                specs[task] = ProcessorSpec("engine.stage_b.processors:sound_events",
                                            {"enabled": sound_alerts, "custom": dict(custom_sounds or {}),
                                             "head": config.sound_head})
        elif task == "captions":
            if captions:
                specs[task] = ProcessorSpec("engine.stage_b.processors:captions", timeout_s=CAPTIONS_TIMEOUT_S)
        elif task == "ocr":
            specs[task] = ProcessorSpec("engine.stage_b.processors:ocr", {"hfov_deg": config.camera.hfov_deg})
        elif task == "recognition":
            if personal_index is not None and model_ok("mobilenet_v2", "Personal objects"):
                specs[task] = ProcessorSpec("engine.stage_b.processors:recognition", {"index_path": personal_index})
    return specs, notes


def _stage_b_specs(config: EngineConfig, registry: Registry, profile: Profile, personal_index: Path | None):
    return processor_specs(config, registry, sound_alerts=profile.sound_alerts, captions=profile.captions,
                           personal_index=str(personal_index) if personal_index else None,
                           custom_sounds=_custom(profile))


def build_runtime(profile: Profile, config: EngineConfig, *, registry: Registry | None = None,
                  personal_index: Path | None = None, with_outputs: bool = True, audio_out: Path | None = None,
                  extra_outputs: list | None = None, announcer=None, screen_reader: bool = False,
                  screen_listeners: list[Callable] | None = None, stage_b: bool = True, detector=None,
                  near_miss_log: tuple[Path, int] | None = None) -> Runtime:
    """Build and start everything. ModelError (one sentence) when Stage A's model cannot run.
    near_miss_log: (profile database, user id) the near-miss log goes to while the profile keeps it."""
    config = verify(config)
    registry = registry or make_registry()
    scheduler, notes = None, []
    if stage_b:
        specs, notes = _stage_b_specs(config, registry, profile, personal_index)
        if specs:
            scheduler = StageBScheduler(specs, memory_mb=config.stage_b_memory_mb)
    try:
        pipeline = Pipeline(config, registry, detector=detector, stage_b=scheduler)
    except Exception:
        if scheduler is not None:
            scheduler.close()
        raise
    notes += pipeline.notes
    session = Session(pipeline, CuePolicy(), profile, [])
    if near_miss_log is not None:
        session.near_misses = NearMissRecorder(*near_miss_log)
    rt = Runtime(registry, config, pipeline, scheduler, session, personal_index=personal_index, audio_out=audio_out,
                 screen_reader=screen_reader, announcer=announcer, extra_outputs=list(extra_outputs or []),
                 screen_listeners=list(screen_listeners or []))
    if with_outputs:
        outputs, out_notes = _outputs(rt, profile)
        session.outputs = outputs
        notes += out_notes
    else:
        session.outputs = list(rt.extra_outputs)
    notes += _watch_notes(rt, profile)
    rt.new_notes(notes)
    return rt


def _watch_notes(rt: Runtime, profile: Profile) -> list[str]:
    """Words to watch for with no text reader to see them: said, never silently ignored."""
    if profile.watch_for and "ocr" not in rt.stage_b_tasks:
        return [f"Watching for {profile.watch_for} needs the text reader, which is off at this tier "
                f"(T3 or T4 runs it)."]
    return []


def apply_profile(rt: Runtime, profile: Profile, with_outputs: bool = True) -> list[str]:
    """A changed profile, live: the policy reads it from the next frame, outputs are rebuilt only
    when an output preference changed, Stage B's sound filter and captions follow. Returns the
    notes not said before. Call it on the thread that runs the session."""
    old = rt.session.profile
    rt.session.profile = profile
    notes: list[str] = []
    if with_outputs and any(getattr(old, k) != getattr(profile, k) for k in OUTPUT_PREFS):
        notes = _rebuild_outputs(rt, profile)
    specs, _ = _stage_b_specs(rt.config, rt.registry, profile, rt.personal_index)
    if rt.stage_b is None and specs:          # e.g. captions turned on where nothing else ran
        rt.stage_b = rt.pipeline.stage_b = StageBScheduler(specs, memory_mb=rt.config.stage_b_memory_mb)
    elif rt.stage_b is not None:
        if old.sound_alerts != profile.sound_alerts and "sounds" in rt.stage_b.specs:
            rt.stage_b.configure("sounds", enabled=profile.sound_alerts)   # live, the model stays loaded
        if old.custom_sounds != profile.custom_sounds and "sounds" in rt.stage_b.specs:
            rt.stage_b.configure("sounds", custom=_custom(profile))        # taught or forgotten, live
        for task in ("captions", "recognition"):                            # on, off, or another user's index
            if specs.get(task) != rt.stage_b.specs.get(task):
                rt.stage_b.set_task(task, specs.get(task))
    if profile.watch_for != old.watch_for:
        notes += _watch_notes(rt, profile)
    return rt.new_notes(notes)


def _rebuild_outputs(rt: Runtime, profile: Profile) -> list[str]:
    outputs, notes = _outputs(rt, profile)
    for o in rt.session.outputs:
        if o not in outputs:
            try:
                o.close()
            except Exception:  # noqa: BLE001 - a device that fails to close must not block the change
                log.exception("closing output %s failed", getattr(o, "name", o))
    rt.session.outputs = outputs
    return notes


def set_screen_reader(rt: Runtime, running: bool) -> list[str]:
    """A screen reader started or stopped while MaxSight runs. With Who speaks on automatic the
    cues move to it, or back to MaxSight's own voice, and the user is told; other choices keep
    their outputs. Call it on the thread that runs the session."""
    if rt.screen_reader == running:
        return []
    rt.screen_reader = running
    profile = rt.session.profile
    if profile.speech_output is not SpeechOutput.AUTO:
        return []
    notes = rt.new_notes(_rebuild_outputs(rt, profile))
    return notes + ["A screen reader is running: cues now go to it." if running
                    else "The screen reader stopped: MaxSight speaks the cues again."]


def switch_user(rt: Runtime, profile: Profile, personal_index: Path | None) -> list[str]:
    """Another user's profile (and their own objects), live."""
    rt.personal_index = personal_index
    return apply_profile(rt, profile)


def build_voice(profile: Profile, *, announcer=None, screen_reader: bool = False) -> tuple[list, list[str]]:
    """The outputs that speak, without an engine: for the first-run set-up, which must talk before
    any model is installed. The same choice as build_runtime (own voice, screen reader, or both; the
    screen reader when the own voice has no sound device); no screen alerts (the wizard is on screen)."""
    own_voice = speaks_own_voice(profile, screen_reader)
    built, notes = build_outputs(profile.replace(speech=own_voice, screen_alerts=False, haptic=False),
                                 scratch_dir=cache_dir() / "scratch")
    voice_lost = own_voice and any(isinstance(o, SilentOutput) for o in built)
    if announcer is not None and (uses_announcer(profile, screen_reader) or voice_lost):
        built.append(announcer)
    return built, notes
