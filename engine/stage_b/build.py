"""Resolve a tier into the Stage B worker's processors, once, and start the scheduler."""
from __future__ import annotations

import logging

from engine.config import EngineConfig, stage_b_tasks
from engine.models.registry import Registry, installed_path, models_dir
from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler

log = logging.getLogger(__name__)


def processor_specs(config: EngineConfig, registry: Registry, sound_alerts: tuple[str, ...] | None = None,
                    captions: bool = True, personal: dict | None = None) -> tuple[dict[str, ProcessorSpec], list[str]]:
    """(specs, notes): the processors the tier asks for whose models are installed; a note for
    each one left out and why."""
    specs, notes = {}, []
    for task in stage_b_tasks(config.tier):
        if task == "sounds":
            if installed_path(registry.get("yamnet")) is None:
                notes.append("Sound alerts are off: the sound model is not installed (run maxsight models fetch).")
                continue
            specs[task] = ProcessorSpec("engine.stage_b.processors:sound_events",
                                        {"model_dir": str(models_dir()), "enabled": sound_alerts or None})
        elif task == "captions":
            if captions:
                specs[task] = ProcessorSpec("engine.stage_b.processors:captions")
        elif task == "ocr":
            specs[task] = ProcessorSpec("engine.stage_b.processors:ocr", {"hfov_deg": config.camera.hfov_deg})
        elif task == "recognition":
            if personal is None:
                continue
            if installed_path(registry.get("mobilenet_v2")) is None:
                notes.append("Personal objects are off: the embedding model is not installed (run maxsight models fetch).")
                continue
            specs[task] = ProcessorSpec("engine.stage_b.processors:recognition", {"model_dir": str(models_dir()), **personal})
    return specs, notes


def start(config: EngineConfig, registry: Registry, **kw) -> tuple[StageBScheduler | None, list[str]]:
    specs, notes = processor_specs(config, registry, **kw)
    return (StageBScheduler(specs) if specs else None), notes
