"""Resolve a tier into the Stage B worker's processors, once, and start the scheduler."""
from __future__ import annotations

import logging

from engine.config import EngineConfig, stage_b_tasks
from engine.models.registry import ModelError, Registry, verified_path
from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler

log = logging.getLogger(__name__)


def processor_specs(config: EngineConfig, registry: Registry, sound_alerts: tuple[str, ...] | None = None,
                    captions: bool = True, personal_index: str | None = None,
                    custom_sounds: dict | None = None) -> tuple[dict[str, ProcessorSpec], list[str]]:
    """(specs, notes): the processors the tier asks for whose models are installed and intact; a
    note for each one left out and why."""
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
                                            {"enabled": sound_alerts, "custom": dict(custom_sounds or {})})
        elif task == "captions":
            if captions:
                # A job may hold up to 20 s of speech (MAX_SEGMENT_S): Whisper needs more than the
                # default 10 s for it on a slow or busy CPU, and a restart loses the stream.
                specs[task] = ProcessorSpec("engine.stage_b.processors:captions", timeout_s=CAPTIONS_TIMEOUT_S)
        elif task == "ocr":
            specs[task] = ProcessorSpec("engine.stage_b.processors:ocr", {"hfov_deg": config.camera.hfov_deg})
        elif task == "recognition":
            if personal_index is not None and model_ok("mobilenet_v2", "Personal objects"):
                specs[task] = ProcessorSpec("engine.stage_b.processors:recognition", {"index_path": personal_index})
    return specs, notes


CAPTIONS_TIMEOUT_S = 30.0


def start(config: EngineConfig, registry: Registry, **kw) -> tuple[StageBScheduler | None, list[str]]:
    specs, notes = processor_specs(config, registry, **kw)
    if not specs:
        return None, notes
    return StageBScheduler(specs, memory_mb=config.stage_b_memory_mb), notes
