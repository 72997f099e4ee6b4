"""T2 -> T5 transfer (SEED.md "Transfer Learning: T2 -> T5"): copy every weight whose name and
shape match, put parameters in named groups with their own learning-rate multipliers, and follow
a freeze schedule by epoch.

Groups: cnn (backbone, FPN, fusion), vit (hybrid branch and cross-connections), detection (the
Tier-1 heads), temporal (ConvLSTM), new_heads (motion head).
"""
from __future__ import annotations

import torch

GROUPS = ("cnn", "vit", "detection", "temporal", "new_heads")
_PREFIX = {"stage_a.": "cnn", "vit.": "vit", "heads.": "detection", "temporal.": "temporal", "motion.": "new_heads"}


def group_of(name: str) -> str:
    for prefix, group in _PREFIX.items():
        if name.startswith(prefix):
            return group
    raise KeyError(f"parameter {name} belongs to no group")


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
    for name, p in model.named_parameters():
        decay = p.ndim > 1
        buckets.setdefault((group_of(name), decay), []).append(p)
    out = []
    for (group, decay), params in sorted(buckets.items()):
        mult = multipliers.get(group, 1.0)
        out.append({"params": params, "lr": base_lr * mult, "base_lr": base_lr * mult,
                    "weight_decay": weight_decay if decay else 0.0, "name": f"{group}{'' if decay else '_nodecay'}"})
    return out


def frozen_groups(freeze, epoch: int) -> list[str]:
    for step in freeze:
        if step.until_epoch is None or epoch < step.until_epoch:
            return list(step.frozen)
    return []


def apply_freeze(model: torch.nn.Module, frozen: list[str]) -> None:
    for name, p in model.named_parameters():
        p.requires_grad_(group_of(name) not in frozen)
