"""Does a checkpoint fit the config that is about to use it? One sentence naming the setting when
it does not, instead of a shape error from deep inside load_state_dict:
- `--resume` needs a checkpoint of the same model (preset, backbone, sizes, classes);
- a pretraining checkpoint (pretrain.py) given as `transfer.source` needs the same preset and
  backbone (it carries only the backbone, and was pretrained for that model section);
- a continual-learning source (ewc.py) needs the same model except for the number of classes.
(A T2 detector checkpoint as the transfer source of a T5 config stays allowed: that is what
transfer.py is for.)
"""
from __future__ import annotations

from pathlib import Path

from training import checkpoint as ckpt
from training.config import ConfigError

# Model settings that decide parameter shapes, in the order a message names them.
SHAPE_FIELDS = ("preset", "backbone", "num_classes", "fpn_channels", "head_stride", "head_levels", "tower_convs", "norm", "vit", "temporal")


def _model_section(data: dict) -> dict:
    return dict(data.get("config", {}).get("model", {}))


def first_difference(theirs: dict, ours, fields=SHAPE_FIELDS) -> tuple[str, object, object] | None:
    """(field, checkpoint's value, config's value) of the first model setting that differs."""
    import dataclasses
    mine = dataclasses.asdict(ours) if dataclasses.is_dataclass(ours) else dict(ours)
    preset = mine.get("preset")
    for f in fields:
        if f not in theirs and f not in mine:
            continue
        if (f == "vit" and preset == "t0") or (f == "temporal" and preset != "t5"):
            continue                                # settings the preset does not build
        a, b = theirs.get(f), mine.get(f)
        if f == "head_levels":                      # older checkpoints carry no head_levels: the fused grid
            a, b = a or [], b or []
        if a != b and (f in theirs or b not in (None, [], {})):
            return f, a, b
    return None


def check_resume(path: str | Path, cfg, config_name: str = "the config") -> dict:
    """The checkpoint `--resume` names, read, after checking it was made by this model."""
    data = ckpt.read(path)
    if data.get("kind") == "pretrain":
        raise ConfigError(f"{path} is a pretraining checkpoint; a detector config takes it as transfer.source, "
                          f"and --resume continues the pretraining config that made it")
    if data.get("pruning"):
        raise ConfigError(f"{path} is a pruned checkpoint, which --resume cannot continue; fine-tune it with maxsight prune --finetune")
    diff = first_difference(_model_section(data), cfg.model)
    if diff:
        f, a, b = diff
        raise ConfigError(f"--resume {path} was trained with model.{f} {a!r}, but {config_name} sets model.{f} {b!r}; "
                          f"resume with the config it was trained with")
    return data


def check_resume_pretrain(data: dict, path, cfg, pc) -> None:
    if data.get("kind") != "pretrain":
        raise ConfigError(f"--resume {path} is not a pretraining checkpoint; resume it with its own detector config")
    if data.get("pretrain", {}).get("task") != pc.task:
        raise ConfigError(f"--resume {path} was pretrained with pretrain.task {data.get('pretrain', {}).get('task')!r}, "
                          f"but this config sets pretrain.task {pc.task!r}")
    diff = first_difference(_model_section(data), cfg.model, ("preset", "backbone", "norm"))
    if diff:
        f, a, b = diff
        raise ConfigError(f"--resume {path} was pretrained with model.{f} {a!r}, but this config sets model.{f} {b!r}")


def check_sources(cfg) -> list[str]:
    """Refuse a pretraining checkpoint made for another model as transfer.source; returns notes."""
    if not (cfg.transfer and cfg.transfer.source):
        return []
    path = cfg.resolve(cfg.transfer.source)
    data = ckpt.read(path)
    if data.get("kind") != "pretrain":
        return []
    theirs = _model_section(data)
    for f in ("preset", "backbone"):
        if theirs.get(f) != getattr(cfg.model, f):
            raise ConfigError(f"transfer.source {cfg.transfer.source} was pretrained for model.{f} {theirs.get(f)!r} "
                              f"(a {theirs.get('preset')} {theirs.get('backbone')} model), but this config builds model.{f} "
                              f"{getattr(cfg.model, f)!r}; pretrain with this config's model section")
    task = data.get("pretrain", {}).get("task", "?")
    return [f"transfer.source is a {task} pretraining checkpoint ({data.get('step', '?')} steps): it gives the backbone's weights"]


def check_continual_source(data: dict, path, cfg, old_classes: int) -> None:
    """A continual source must be a detector of this model with the old classes only."""
    if data.get("kind") == "pretrain":
        raise ConfigError(f"continual.source {path} is a pretraining checkpoint; continual learning starts from a trained detector")
    theirs = _model_section(data)
    diff = first_difference(theirs, cfg.model, tuple(f for f in SHAPE_FIELDS if f != "num_classes"))
    if diff:
        f, a, b = diff
        raise ConfigError(f"continual.source {path} is a model with model.{f} {a!r}, but this config sets model.{f} {b!r}; "
                          f"the new model must be the old one with classes added")
    if cfg.model.num_classes <= old_classes:
        raise ConfigError(f"model.num_classes ({cfg.model.num_classes}) must be more than the {old_classes} classes "
                          f"continual.source {path} knows: the new classes come after them")
