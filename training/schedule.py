"""Learning-rate schedule and weight averaging for the training loop."""
from __future__ import annotations

import copy
import math

import torch


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warmup from 1% to 100% over `warmup` steps, then cosine down to min_lr / lr."""
    if warmup > 0 and step < warmup:
        return 0.01 + 0.99 * step / warmup
    span = max(total - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of the weights (buffers copied). The decay ramps up over the
    first updates, d = decay * (1 - exp(-n / 2000)), so early averages are not dominated by the
    random initialisation."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay, self.updates = decay, 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / 2000))
        src = model.state_dict()
        for k, v in self.module.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(src[k].detach(), alpha=1 - d)
            else:
                v.copy_(src[k])

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = state["updates"]
