"""Checkpoints: weights, EMA, optimizer, schedule, balancer and RNG state, plus the config and the
model's dimensions, so a checkpoint alone rebuilds its model (export, evaluation, the app).

Written atomically (temporary file, then rename): a run killed while saving keeps the previous
checkpoint. Read with `weights_only=True`, so a checkpoint cannot run code when loaded.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from training.weights import CheckpointError, load_weights  # noqa: F401 - the checkpoint API

FORMAT = 1
log = logging.getLogger(__name__)


def write(path: Path, payload: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)


def read(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"the checkpoint {path} does not exist")
    data = load_weights(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT or "config" not in data:
        raise CheckpointError(f"{path} is not a MaxSight training checkpoint (format {FORMAT})")
    return data


def model_from(path: str | Path | dict, ema: bool = True):
    """(model in eval mode, config, label names) from a checkpoint (a path, or what read() returned);
    EMA weights when present."""
    from training.config import from_dict
    from training.model import build_model
    data = path if isinstance(path, dict) else read(path)
    cfg = from_dict(data["config"], data["config"].get("source_dir", ""))
    pretrained, cfg.model.pretrained = cfg.model.pretrained, False      # the checkpoint's weights replace any init
    net = build_model(cfg)
    cfg.model.pretrained = pretrained
    if data.get("pruning"):                                              # a pruned model: its own channel counts
        from training.prune import apply_structure
        apply_structure(net, data["pruning"])
    state = data["ema"]["module"] if ema and data.get("ema") else data["model"]
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit the model its config describes (made by another version of "
                              f"MaxSight?): {str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else exc}") from None
    return net.eval(), cfg, list(data["labels"])
