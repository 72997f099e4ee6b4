"""T2 -> T5 transfer (SEED.md "Transfer Learning: T2 -> T5"): copy every weight whose name and
shape match, put parameters in named groups with their own learning-rate multipliers, and follow
a freeze schedule by epoch.

Groups: cnn (backbone, FPN, fusion), backbone (the ImageNet-initialised part of cnn, which a
setting may name on its own: a config naming cnn names it too, unless it also names backbone, as
in `lr_groups: {cnn: 1.0, backbone: 0.1}`, or `frozen: [backbone]` to train only FPN and heads
over frozen ImageNet features), vit_low (patch embedding, position, cross-connections and
the lower 60% of the transformer blocks), vit_top (the top 40% of the blocks, unfrozen first, as
in the seed), detection (the Tier-1 heads), temporal (ConvLSTM), new_heads (motion head).
"""
from __future__ import annotations

import re

import torch

from training.config import TRANSFER_GROUPS as GROUPS   # declared with the settings that name them

_PREFIX = {"stage_a.backbone.": "backbone", "stage_a.": "cnn", "heads.": "detection", "temporal.": "temporal", "motion.": "new_heads"}


def group_of(name: str, vit_depth: int = 12) -> str:
    for prefix, group in _PREFIX.items():
        if name.startswith(prefix):
            return group
    if name.startswith("vit."):
        m = re.match(r"vit\.blocks\.(\d+)\.", name)
        return "vit_top" if m and int(m.group(1)) >= int(vit_depth * 0.6) else "vit_low"
    raise KeyError(f"parameter {name} belongs to no group")


PARENT = {"backbone": "cnn"}       # a group inside another: a setting for the outer group covers it


def _multiplier(multipliers: dict[str, float], group: str) -> float:
    if group in multipliers:
        return multipliers[group]
    return multipliers.get(PARENT.get(group, ""), 1.0)


def _depth(model) -> int:
    vit = getattr(model, "vit", None)
    return len(vit.blocks) if vit is not None else 0


def load_matching(model: torch.nn.Module, checkpoint: str) -> tuple[list[str], list[str]]:
    """Copy matching weights from a checkpoint; returns (copied, left at initialisation)."""
    from training.checkpoint import read
    state = read(checkpoint)["model"]
    own = model.state_dict()
    copied = [k for k, v in state.items() if k in own and own[k].shape == v.shape]
    own.update({k: state[k] for k in copied})
    model.load_state_dict(own)
    return copied, [k for k in own if k not in set(copied)]


def param_groups(model: torch.nn.Module, base_lr: float, weight_decay: float, multipliers: dict[str, float]) -> list[dict]:
    """AdamW groups per (group, decay or not); norms and biases get no weight decay."""
    buckets: dict[tuple[str, bool], list] = {}
    depth = _depth(model)
    for name, p in model.named_parameters():
        decay = p.ndim > 1
        buckets.setdefault((group_of(name, depth), decay), []).append(p)
    out = []
    for (group, decay), params in sorted(buckets.items()):
        mult = _multiplier(multipliers, group)
        out.append({"params": params, "lr": base_lr * mult, "base_lr": base_lr * mult,
                    "weight_decay": weight_decay if decay else 0.0, "name": f"{group}{'' if decay else '_nodecay'}"})
    return out


def frozen_groups(freeze, epoch: int) -> list[str]:
    for step in freeze:
        if step.until_epoch is None or epoch < step.until_epoch:
            return list(step.frozen)
    return []


def apply_freeze(model: torch.nn.Module, frozen: list[str]) -> None:
    depth = _depth(model)
    for name, p in model.named_parameters():
        g = group_of(name, depth)
        p.requires_grad_(g not in frozen and PARENT.get(g) not in frozen)
