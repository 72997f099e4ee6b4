"""The seed's Tier-1 heads (SEED.md "Tiered Head Architecture") over the fused FPN grid, plus the
t5 motion head. Each head's forward returns a dict of named outputs and its `loss` returns a dict
of named losses, so the balancer sees every task by name.

Dense heads predict at each of the g x g grid cells (anchor-free, FCOS-style): objectness [B, L],
class logits [B, L, K], box distances left/top/right/bottom [B, L, 4] in input pixels, distance
zone logits [B, L, 3]. Image-level heads read a pooled feature: urgency [B, 4] and uncertainty
[B, 1] (log of the expected box error).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from training import losses as LF


def _gn(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, c), c)


def tower(channels: int, n: int) -> nn.Sequential:
    layers = []
    for _ in range(n):
        layers += [nn.Conv2d(channels, channels, 3, padding=1), _gn(channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


@dataclass
class Assigned:
    """Dense targets for one batch at the head grid (see assign())."""
    pos: torch.Tensor        # [B, L] bool: cell is responsible for a hard box
    cls: torch.Tensor        # [B, L] long
    box: torch.Tensor        # [B, L, 4] xyxy input pixels
    zone: torch.Tensor       # [B, L] long
    soft: torch.Tensor       # [B, L] float: teacher score map (distillation), 1 at ground-truth cells
    urgency: torch.Tensor    # [B] long
    num_pos: float           # positives in the global batch (all processes), at least 1
    batch_scale: float       # local share of the global batch (1 for one process)


def grid_centres(g: int, stride: int, device) -> torch.Tensor:
    r = (torch.arange(g, device=device, dtype=torch.float32) + 0.5) * stride
    y, x = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], 1)          # [L, 2]


def _assign_one(centres, boxes, scores, stride, radius):
    """Per cell: the smallest box whose centre region (radius * stride, clipped to the box) holds
    the cell; each box also claims the cell nearest its centre, so tiny boxes get a cell."""
    L = len(centres)
    if len(boxes) == 0:
        return torch.full((L,), -1, dtype=torch.long, device=centres.device)
    x, y = centres[:, 0:1], centres[:, 1:2]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    r = radius * stride
    inside = (x > boxes[:, 0]) & (x < boxes[:, 2]) & (y > boxes[:, 1]) & (y < boxes[:, 3])
    central = ((x - cx).abs() < r) & ((y - cy).abs() < r)
    ok = inside & central                                           # [L, M]
    nearest = ((centres[:, None, :] - torch.stack([cx, cy], 1)[None]) ** 2).sum(-1).argmin(0)   # [M]
    ok[nearest, torch.arange(len(boxes), device=centres.device)] = True
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None].expand(L, -1)
    area = torch.where(ok, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(1)
    return torch.where(torch.isfinite(best_area), best, torch.full_like(best, -1))


def assign(targets: list[dict], urgency: torch.Tensor, g: int, stride: int, hard_score: float = 0.999,
           radius: float = 1.5, world: int = 1) -> Assigned:
    dev = urgency.device
    centres = grid_centres(g, stride, dev)
    B, L = len(targets), g * g
    pos = torch.zeros(B, L, dtype=torch.bool, device=dev)
    cls = torch.zeros(B, L, dtype=torch.long, device=dev)
    box = torch.zeros(B, L, 4, device=dev)
    zone = torch.zeros(B, L, dtype=torch.long, device=dev)
    soft = torch.zeros(B, L, device=dev)
    for b, t in enumerate(targets):
        boxes, scores = t["boxes"].to(dev).float(), t["scores"].to(dev).float()
        hard = scores >= hard_score
        idx = _assign_one(centres, boxes[hard], scores[hard], stride, radius)
        m = idx >= 0
        pos[b] = m
        hb = boxes[hard]
        cls[b, m] = t["classes"].to(dev)[hard][idx[m]]
        zone[b, m] = t["zones"].to(dev)[hard][idx[m]]
        box[b, m] = hb[idx[m]]
        sidx = _assign_one(centres, boxes, scores, stride, radius)   # every box, hard or soft
        sm = sidx >= 0
        soft[b, sm] = scores[sidx[sm]]
    num_pos = pos.sum().float()
    if world > 1:
        import torch.distributed as dist
        dist.all_reduce(num_pos)
    return Assigned(pos, cls, box, zone, soft, urgency, max(float(num_pos), 1.0), 1.0 / world)


class ObjectnessHead(nn.Module):
    def __init__(self, c: int, alpha: float, gamma: float):
        super().__init__()
        self.conv = nn.Conv2d(c, 1, 3, padding=1)
        nn.init.constant_(self.conv.bias, -math.log(99))            # prior 1%: stable start for focal loss
        self.alpha, self.gamma = alpha, gamma

    def forward(self, x):
        return {"objectness": self.conv(x).flatten(1)}               # [B, L]

    def loss(self, out, t: Assigned, world: int = 1):
        logits = out["objectness"].float()
        losses = {"objectness": LF.sigmoid_focal(logits, t.pos.float(), self.alpha, self.gamma) / t.num_pos * world}
        # Distillation: the teacher's scores as soft objectness targets (zero where it saw nothing).
        losses["distill"] = LF.quality_focal(logits, t.soft) / t.num_pos * world
        return losses


class ClassHead(nn.Module):
    def __init__(self, c: int, k: int, alpha: float, gamma: float, class_weights: torch.Tensor | None):
        super().__init__()
        self.conv = nn.Conv2d(c, k, 3, padding=1)
        self.alpha, self.gamma = alpha, gamma
        self.register_buffer("class_weights", class_weights if class_weights is not None else torch.ones(k))

    def forward(self, x):
        return {"classification": self.conv(x).flatten(2).transpose(1, 2)}   # [B, L, K]

    def loss(self, out, t: Assigned, world: int = 1):
        logits = out["classification"].float()[t.pos]
        return {"classification": LF.softmax_focal(logits, t.cls[t.pos], self.alpha, self.gamma, self.class_weights) / t.num_pos * world}


class BoxHead(nn.Module):
    def __init__(self, c: int, stride: int, size: int):
        super().__init__()
        self.conv = nn.Conv2d(c, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.tensor(1.0))
        self.stride = stride
        g = size // stride
        self.register_buffer("centres", grid_centres(g, stride, "cpu"), persistent=False)

    def forward(self, x):
        # exp keeps distances positive; clamp keeps fp16 finite. Distances in input pixels.
        d = torch.exp((self.scale * self.conv(x)).clamp(max=8.0)) * self.stride
        return {"box": d.flatten(2).transpose(1, 2)}                 # [B, L, 4] l, t, r, b

    def decode(self, ltrb: torch.Tensor) -> torch.Tensor:
        c = self.centres.to(ltrb.dtype)
        return torch.cat([c - ltrb[..., :2], c + ltrb[..., 2:]], -1)

    def loss(self, out, t: Assigned, world: int = 1):
        boxes = self.decode(out["box"].float())
        per_cell = LF.giou(boxes[t.pos], t.box[t.pos]) if t.pos.any() else boxes.sum() * 0
        # Per-image mean box error, for the uncertainty head's target.
        # (a dense scatter with unique indices rather than index_add, which uses atomics on CUDA)
        dense = torch.zeros(t.pos.shape, device=boxes.device)
        if t.pos.any():
            dense[t.pos] = per_cell.detach()
        err = dense.sum(1) / t.pos.sum(1).clamp(min=1)
        return {"box": per_cell.sum() / t.num_pos * world}, err


class DistanceHead(nn.Module):
    def __init__(self, c: int, zone_weights: torch.Tensor | None):
        super().__init__()
        self.conv = nn.Conv2d(c, 3, 3, padding=1)
        self.register_buffer("zone_weights", zone_weights if zone_weights is not None else torch.ones(3))

    def forward(self, x):
        return {"distance": self.conv(x).flatten(2).transpose(1, 2)}     # [B, L, 3] near/medium/far

    def loss(self, out, t: Assigned, world: int = 1):
        logits = out["distance"].float()[t.pos]
        return {"distance": LF.weighted_ce(logits, t.zone[t.pos], self.zone_weights) / t.num_pos * world}


class UrgencyHead(nn.Module):
    def __init__(self, d: int, weights: list[float], alpha: float, gamma: float):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d, 128), nn.ReLU(inplace=True), nn.Linear(128, 4))
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32))
        self.alpha, self.gamma = alpha, gamma

    def forward(self, v):
        return {"urgency": self.mlp(v)}                               # [B, 4] safe..danger

    def loss(self, out, t: Assigned, world: int = 1):
        n = len(t.urgency)
        return {"urgency": LF.softmax_focal(out["urgency"].float(), t.urgency, self.alpha, self.gamma, self.weights) / n}


class UncertaintyHead(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.fc = nn.Linear(d, 1)

    def forward(self, v):
        return {"uncertainty": self.fc(v)}                            # [B, 1] log expected box error

    def loss(self, out, t: Assigned, box_error: torch.Tensor, world: int = 1):
        has = t.pos.any(1)
        u = out["uncertainty"].float()[:, 0]
        if not has.any():
            return {"uncertainty": u.sum() * 0}
        return {"uncertainty": LF.uncertainty_weighted(box_error[has], u[has]) / len(u)}


class MotionHead(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(c, 2, 1))

    def forward(self, x):
        return {"motion": self.net(x)}                                # [B, 2, g, g] cells per frame

    def loss(self, out, flow: torch.Tensor):
        return {"motion": LF.flow_loss(out["motion"].float(), flow)}


class Tier1Heads(nn.Module):
    """All six Tier-1 heads over dense features [B, C, g, g] and a pooled vector [B, D]."""

    def __init__(self, c: int, d: int, num_classes: int, stride: int, size: int, tower_convs: int, loss_cfg,
                 class_weights: torch.Tensor | None = None, zone_weights: torch.Tensor | None = None):
        super().__init__()
        a, g = loss_cfg.focal_alpha, loss_cfg.focal_gamma
        self.cls_tower, self.box_tower = tower(c, tower_convs), tower(c, tower_convs)
        self.objectness = ObjectnessHead(c, a, g)
        self.classification = ClassHead(c, num_classes, a, g, class_weights)
        self.box = BoxHead(c, stride, size)
        self.distance = DistanceHead(c, zone_weights)
        self.urgency = UrgencyHead(d, loss_cfg.urgency_weights, a, g)
        self.uncertainty = UncertaintyHead(d)

    def forward(self, x, v):
        ct, bt = self.cls_tower(x), self.box_tower(x)
        return {**self.objectness(ct), **self.classification(ct), **self.box(bt), **self.distance(bt),
                **self.urgency(v), **self.uncertainty(v)}

    def loss(self, out, t: Assigned, world: int = 1) -> dict:
        box, err = self.box.loss(out, t, world)
        return {**self.objectness.loss(out, t, world), **self.classification.loss(out, t, world), **box,
                **self.distance.loss(out, t, world), **self.urgency.loss(out, t, world),
                **self.uncertainty.loss(out, t, err, world)}
