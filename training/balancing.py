"""Turning a dict of named losses into one update: the seed's phased unlock, static weights,
GradNorm (Chen et al. 2018, SEED.md "GradNorm Algorithm") and PCGrad (Yu et al. 2020)."""
from __future__ import annotations

import random

import torch


def phase_weights(phases, epoch: int) -> dict[str, float]:
    """The weights of the phase that `epoch` falls in; a loss a phase does not name is off (0)."""
    for ph in phases:
        if ph.until_epoch is None or epoch < ph.until_epoch:
            return dict(ph.weights)
    return dict(phases[-1].weights)


def active(losses: dict, weights: dict) -> list[str]:
    return [k for k in losses if weights.get(k, 0.0) > 0]


class StaticBalancer:
    def total(self, losses: dict, weights: dict) -> torch.Tensor:
        names = active(losses, weights)
        return sum(weights[k] * losses[k] for k in names)

    def task_weights(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class GradNorm:
    """Learned per-task multipliers w_i on top of the phase weights. Every `every` steps:
      G_i = w_i * ||grad_shared(base_i L_i)||, r_i = (L_i / L_i(0)) / mean_j(L_j / L_j(0)),
      target_i = mean(G) * r_i^alpha, L_gn = sum_i |G_i - target_i| (target held fixed),
      w_i <- w_i - lr * dL_gn/dw_i, then renormalised so the w_i sum to the number of tasks.
    Since G_i is linear in w_i, dL_gn/dw_i = sign(G_i - target_i) * ||grad(base_i L_i)||."""

    def __init__(self, alpha: float = 1.5, lr: float = 0.025, every: int = 1):
        self.alpha, self.lr, self.every = alpha, lr, every
        self.w: dict[str, float] = {}
        self.initial: dict[str, float] = {}
        self.steps = 0
        self.last_norms: dict[str, float] = {}

    def update(self, losses: dict, weights: dict, shared: list[torch.Tensor]) -> None:
        names = active(losses, weights)
        for k in names:
            self.w.setdefault(k, 1.0)
            self.initial.setdefault(k, max(float(losses[k].detach()), 1e-8))
        self.steps += 1
        if (self.steps - 1) % self.every or len(names) < 2 or not shared:
            return
        norms = {}
        for k in names:
            grads = torch.autograd.grad(weights[k] * losses[k], shared, retain_graph=True, allow_unused=True)
            norms[k] = float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)))
        rel = {k: float(losses[k].detach()) / self.initial[k] for k in names}
        mean_rel = sum(rel.values()) / len(rel)
        G = {k: self.w[k] * norms[k] for k in names}
        mean_G = sum(G.values()) / len(G)
        for k in names:
            target = mean_G * (rel[k] / mean_rel) ** self.alpha
            grad_w = (1.0 if G[k] > target else -1.0) * norms[k]
            self.w[k] = max(self.w[k] - self.lr * grad_w, 1e-3)
        scale = len(names) / sum(self.w[k] for k in names)
        for k in names:
            self.w[k] *= scale
        self.last_norms = norms

    def total(self, losses: dict, weights: dict) -> torch.Tensor:
        names = active(losses, weights)
        return sum(self.w.get(k, 1.0) * weights[k] * losses[k] for k in names)

    def task_weights(self) -> dict:
        return dict(self.w)

    def sync(self, world: int) -> None:
        """Average the multipliers over processes so every rank applies the same ones."""
        if world > 1 and self.w:
            import torch.distributed as dist
            names = sorted(self.w)
            t = torch.tensor([self.w[k] for k in names], dtype=torch.float64)
            dist.all_reduce(t)
            self.w = {k: float(v) / world for k, v in zip(names, t)}

    def state_dict(self) -> dict:
        return {"w": dict(self.w), "initial": dict(self.initial), "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.w, self.initial, self.steps = dict(state["w"]), dict(state["initial"]), int(state["steps"])


class PCGrad:
    """Per-task gradients over all trainable parameters; where two conflict (negative dot product)
    the first is projected onto the normal plane of the second, in a random task order; the
    projected gradients are summed into .grad. Costs one backward pass per task."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.conflicts = 0

    def backward(self, losses: dict, weights: dict, params: list[torch.Tensor], scale: float = 1.0) -> None:
        names = active(losses, weights)
        flat = []
        for k in names:
            grads = torch.autograd.grad(weights[k] * losses[k] * scale, params, retain_graph=True, allow_unused=True)
            flat.append(torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)]))
        projected = [g.clone() for g in flat]
        for i, gi in enumerate(projected):
            order = [j for j in range(len(flat)) if j != i]
            self.rng.shuffle(order)
            for j in order:
                dot = torch.dot(gi, flat[j])
                if dot < 0:
                    gi -= dot / flat[j].pow(2).sum().clamp(min=1e-12) * flat[j]
                    self.conflicts += 1
        total = torch.stack(projected).sum(0)
        offset = 0
        for p in params:
            n = p.numel()
            g = total[offset:offset + n].view_as(p)
            p.grad = g.clone() if p.grad is None else p.grad + g
            offset += n

    def total(self, losses: dict, weights: dict) -> torch.Tensor:
        return StaticBalancer().total(losses, weights)

    def task_weights(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate(), "conflicts": self.conflicts}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(state["rng"])
        self.conflicts = state["conflicts"]


def make_balancer(cfg, seed: int):
    if cfg.balancing == "gradnorm":
        return GradNorm(cfg.gradnorm.alpha, cfg.gradnorm.lr, cfg.gradnorm.every)
    if cfg.balancing == "pcgrad":
        return PCGrad(seed)
    return StaticBalancer()
