"""The seed's Tier-1 heads (SEED.md "Tiered Head Architecture") over the fused FPN grid, plus the
t5 motion head. Each head's forward returns a dict of named outputs and its `loss` returns a dict
of named losses, so the balancer sees every task by name.

Dense heads predict at each cell of the head grid (anchor-free, FCOS-style): objectness [B, L],
class logits [B, L, K], box distances left/top/right/bottom [B, L, 4] in input pixels, distance
zone logits [B, L, 3]. Image-level heads read a pooled feature: urgency [B, 4] and uncertainty
[B, 1] (log of the expected box error).

The grid is one level (the fused FPN map at one stride: L = g * g) or several FPN levels (e.g.
strides 8, 16, 32: L is the sum of their cells, level by level). With several levels a box is
learned by the cells of the level that suits its size (FCOS scale ranges: a cell takes a box when
the largest of its l, t, r, b distances falls in that level's range, 0-64, 64-128, 128+ px for
strides 8, 16, 32), so a door filling half the photo is found on the coarse level, where its cells
see all of it, and a handle on the fine one. The dense heads' weights are shared by the levels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from training import losses as LF


def _gn(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(32, c), c)


def _dense(conv: nn.Module, xs: list[torch.Tensor]) -> torch.Tensor:
    """conv over each level [B, C, h, w], as [B, L, k] with the levels' cells one after another."""
    return torch.cat([conv(x).flatten(2).transpose(1, 2) for x in xs], 1)


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


@dataclass(frozen=True)
class Level:
    """One level of the head grid: its stride, cells per side, and the range of box reach (the
    largest of a cell's l, t, r, b distances to the box, in input pixels) it is responsible for."""
    stride: int
    size: int
    lo: float
    hi: float


def head_levels(input_size: int, strides) -> list[Level]:
    """The levels for these strides (ascending). One level takes every box; with several, level i
    takes reach [4 * stride_i, 8 * stride_i) (FCOS: 0-64, 64-128, 128+ for strides 8, 16, 32), the
    first from 0 and the last without an upper bound, each starting where the previous ends."""
    strides = list(strides)
    if strides != sorted(set(strides)):
        raise ValueError(f"head levels must be distinct strides in ascending order, got {strides}")
    out, lo = [], 0.0
    for i, s in enumerate(strides):
        hi = float("inf") if i == len(strides) - 1 else 8.0 * s
        out.append(Level(s, input_size // s, lo, hi))
        lo = hi
    return out


@dataclass(frozen=True)
class Cells:
    """Every cell of the head grid, level after level: centre [L, 2] (input pixels), stride [L],
    the reach range [L] lo and hi, and the level index [L]."""
    centres: torch.Tensor
    stride: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor
    level: torch.Tensor

    @staticmethod
    def of(levels: list[Level], device) -> "Cells":
        parts = [(grid_centres(lv.size, lv.stride, device), lv) for lv in levels]
        n = [len(c) for c, _ in parts]
        full = lambda attr: torch.cat([torch.full((k,), float(getattr(lv, attr)), device=device) for k, (_, lv) in zip(n, parts)])
        level = torch.cat([torch.full((k,), i, dtype=torch.long, device=device) for i, k in enumerate(n)])
        return Cells(torch.cat([c for c, _ in parts]), full("stride"), full("lo"), full("hi"), level)


def _assign_one(cells: Cells, boxes, radius):
    """Per cell: the smallest box that holds the cell in its centre region (radius * the cell's
    stride around the box centre, clipped to the box) and whose reach from the cell is in the
    cell's level range. Each box also claims the cell nearest its centre on the level its own size
    belongs to (reach max(w, h) / 2), so tiny boxes get a cell."""
    centres = cells.centres
    L = len(centres)
    if len(boxes) == 0:
        return torch.full((L,), -1, dtype=torch.long, device=centres.device)
    x, y = centres[:, 0:1], centres[:, 1:2]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    r = radius * cells.stride[:, None]                              # [L, 1]
    ltrb = torch.stack([x - boxes[:, 0], y - boxes[:, 1], boxes[:, 2] - x, boxes[:, 3] - y], -1)   # [L, M, 4]
    inside = ltrb.min(-1).values > 0
    central = ((x - cx).abs() < r) & ((y - cy).abs() < r)
    reach = ltrb.max(-1).values
    in_range = (reach >= cells.lo[:, None]) & (reach <= cells.hi[:, None])
    ok = inside & central & in_range                                # [L, M]
    # The level each box's own size belongs to, and its cell nearest the box centre.
    own = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2               # [M]
    n_levels = int(cells.level.max()) + 1
    lo_per_level = torch.stack([cells.lo[cells.level == i][0] for i in range(n_levels)])
    box_level = ((own[:, None] >= lo_per_level[None]).sum(1) - 1).clamp(min=0)                    # [M]
    dist = ((centres[:, None, :] - torch.stack([cx, cy], 1)[None]) ** 2).sum(-1)                  # [L, M]
    dist = torch.where(cells.level[:, None] == box_level[None], dist, torch.full_like(dist, float("inf")))
    nearest = dist.argmin(0)                                        # [M]
    ok[nearest, torch.arange(len(boxes), device=centres.device)] = True
    area = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None].expand(L, -1)
    area = torch.where(ok, area, torch.full_like(area, float("inf")))
    best_area, best = area.min(1)
    return torch.where(torch.isfinite(best_area), best, torch.full_like(best, -1))


def assign(targets: list[dict], urgency: torch.Tensor, g: int = 0, stride: int = 0, hard_score: float = 0.999,
           radius: float = 1.5, world: int = 1, levels: list[Level] | None = None) -> Assigned:
    """Dense targets for a batch: on one g x g grid at `stride`, or on `levels` (head_levels)."""
    dev = urgency.device
    cells = Cells.of(levels if levels is not None else [Level(stride, g, 0.0, float("inf"))], dev)
    B, L = len(targets), len(cells.centres)
    pos = torch.zeros(B, L, dtype=torch.bool, device=dev)
    cls = torch.zeros(B, L, dtype=torch.long, device=dev)
    box = torch.zeros(B, L, 4, device=dev)
    zone = torch.zeros(B, L, dtype=torch.long, device=dev)
    soft = torch.zeros(B, L, device=dev)
    for b, t in enumerate(targets):
        boxes, scores = t["boxes"].to(dev).float(), t["scores"].to(dev).float()
        hard = scores >= hard_score
        idx = _assign_one(cells, boxes[hard], radius)
        m = idx >= 0
        pos[b] = m
        hb = boxes[hard]
        cls[b, m] = t["classes"].to(dev)[hard][idx[m]]
        zone[b, m] = t["zones"].to(dev)[hard][idx[m]]
        box[b, m] = hb[idx[m]]
        sidx = _assign_one(cells, boxes, radius)                    # every box, hard or soft
        sm = sidx >= 0
        soft[b, sm] = scores[sidx[sm]]
    num_pos = pos.sum().float()
    if world > 1:
        import torch.distributed as dist
        dist.all_reduce(num_pos)
    return Assigned(pos, cls, box, zone, soft, urgency, max(float(num_pos), 1.0), 1.0 / world)


OBJECTNESS_TARGETS = ("binary", "iou")


class ObjectnessHead(nn.Module):
    """Objectness [B, L]. target "binary": 1 at assigned cells, 0 elsewhere (sigmoid focal loss);
    "iou": at assigned cells the IoU of the box that cell predicts with its object, 0 elsewhere
    (quality focal loss, GFL), so a cell's score ranks how well it places its box, which is what
    AP rewards: of several cells on one door, the one with the best box survives NMS."""

    def __init__(self, c: int, alpha: float, gamma: float, target: str = "binary"):
        super().__init__()
        if target not in OBJECTNESS_TARGETS:
            raise ValueError(f"objectness target must be one of {', '.join(OBJECTNESS_TARGETS)}, got {target!r}")
        self.conv = nn.Conv2d(c, 1, 3, padding=1)
        nn.init.constant_(self.conv.bias, -math.log(99))            # prior 1%: stable start for focal loss
        self.alpha, self.gamma, self.target = alpha, gamma, target

    def forward(self, xs):
        return {"objectness": _dense(self.conv, xs)[..., 0]}         # [B, L]

    def loss(self, out, t: Assigned, world: int = 1, iou: torch.Tensor | None = None):
        """iou [P]: the IoU of each assigned cell's predicted box with its object (target "iou")."""
        logits = out["objectness"].float()
        if self.target == "iou":
            quality = torch.zeros_like(logits)
            if iou is not None and t.pos.any():
                quality[t.pos] = iou.detach().clamp(0, 1).to(quality.dtype)
            main = LF.quality_focal(logits, quality)
        else:
            main = LF.sigmoid_focal(logits, t.pos.float(), self.alpha, self.gamma)
        losses = {"objectness": main / t.num_pos * world}
        # Distillation: the teacher's scores as soft objectness targets (zero where it saw nothing).
        losses["distill"] = LF.quality_focal(logits, t.soft) / t.num_pos * world
        return losses


class ClassHead(nn.Module):
    def __init__(self, c: int, k: int, alpha: float, gamma: float, class_weights: torch.Tensor | None):
        super().__init__()
        self.conv = nn.Conv2d(c, k, 3, padding=1)
        self.alpha, self.gamma = alpha, gamma
        self.register_buffer("class_weights", class_weights if class_weights is not None else torch.ones(k))

    def forward(self, xs):
        return {"classification": _dense(self.conv, xs)}             # [B, L, K]

    def loss(self, out, t: Assigned, world: int = 1):
        logits = out["classification"].float()[t.pos]
        return {"classification": LF.softmax_focal(logits, t.cls[t.pos], self.alpha, self.gamma, self.class_weights) / t.num_pos * world}


class BoxHead(nn.Module):
    """Distances l, t, r, b from each cell centre, exp(scale_level * conv) * stride_level: one
    learnt scale per level (FCOS), the conv shared by the levels."""

    def __init__(self, c: int, levels: list[Level]):
        super().__init__()
        self.conv = nn.Conv2d(c, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.tensor(1.0) if len(levels) == 1 else torch.ones(len(levels)))
        self.strides = [lv.stride for lv in levels]
        self.register_buffer("centres", Cells.of(levels, "cpu").centres, persistent=False)

    def forward(self, xs):
        scales = self.scale.reshape(-1)
        assert len(xs) == len(self.strides), f"the box head has {len(self.strides)} levels, got {len(xs)} feature maps"
        # exp keeps distances positive; clamp keeps fp16 finite. Distances in input pixels.
        d = [torch.exp((scales[i] * self.conv(x)).clamp(max=8.0)) * s for i, (x, s) in enumerate(zip(xs, self.strides))]
        return {"box": torch.cat([v.flatten(2).transpose(1, 2) for v in d], 1)}   # [B, L, 4] l, t, r, b

    def decode(self, ltrb: torch.Tensor) -> torch.Tensor:
        c = self.centres.to(ltrb.dtype)
        return torch.cat([c - ltrb[..., :2], c + ltrb[..., 2:]], -1)

    def loss(self, out, t: Assigned, world: int = 1):
        boxes = self.decode(out["box"].float())
        assert boxes.shape[1] == t.pos.shape[1], f"the box head has {boxes.shape[1]} cells, the targets {t.pos.shape[1]}"
        per_cell = LF.giou(boxes[t.pos], t.box[t.pos]) if t.pos.any() else boxes.sum() * 0
        iou = LF.iou(boxes[t.pos].detach(), t.box[t.pos]) if t.pos.any() else None
        # Per-image mean box error, for the uncertainty head's target.
        # (a dense scatter with unique indices rather than index_add, which uses atomics on CUDA)
        dense = torch.zeros(t.pos.shape, device=boxes.device)
        if t.pos.any():
            dense[t.pos] = per_cell.detach()
        err = dense.sum(1) / t.pos.sum(1).clamp(min=1)
        return {"box": per_cell.sum() / t.num_pos * world}, err, iou


class DistanceHead(nn.Module):
    def __init__(self, c: int, zone_weights: torch.Tensor | None):
        super().__init__()
        self.conv = nn.Conv2d(c, 3, 3, padding=1)
        self.register_buffer("zone_weights", zone_weights if zone_weights is not None else torch.ones(3))

    def forward(self, xs):
        return {"distance": _dense(self.conv, xs)}                   # [B, L, 3] near/medium/far

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
    """All six Tier-1 heads over dense features (one map [B, C, g, g], or a list of them, one per
    level of `levels`) and a pooled vector [B, D]. The towers and dense heads are shared by the
    levels; their outputs hold the levels' cells one after another."""

    def __init__(self, c: int, d: int, num_classes: int, levels: list[Level], tower_convs: int, loss_cfg,
                 class_weights: torch.Tensor | None = None, zone_weights: torch.Tensor | None = None):
        super().__init__()
        a, g = loss_cfg.focal_alpha, loss_cfg.focal_gamma
        self.levels = list(levels)
        self.cls_tower, self.box_tower = tower(c, tower_convs), tower(c, tower_convs)
        self.objectness = ObjectnessHead(c, a, g, getattr(loss_cfg, "objectness", "binary"))
        self.classification = ClassHead(c, num_classes, a, g, class_weights)
        self.box = BoxHead(c, self.levels)
        self.distance = DistanceHead(c, zone_weights)
        self.urgency = UrgencyHead(d, loss_cfg.urgency_weights, a, g)
        self.uncertainty = UncertaintyHead(d)

    def forward(self, x, v):
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        for lv, f in zip(self.levels, xs):
            assert f.shape[-2:] == (lv.size, lv.size), f"level at stride {lv.stride} must be {lv.size} x {lv.size}, got {tuple(f.shape)}"
        ct, bt = [self.cls_tower(f) for f in xs], [self.box_tower(f) for f in xs]
        return {**self.objectness(ct), **self.classification(ct), **self.box(bt), **self.distance(bt),
                **self.urgency(v), **self.uncertainty(v)}

    def loss(self, out, t: Assigned, world: int = 1) -> dict:
        box, err, iou = self.box.loss(out, t, world)
        return {**self.objectness.loss(out, t, world, iou), **self.classification.loss(out, t, world), **box,
                **self.distance.loss(out, t, world), **self.urgency.loss(out, t, world),
                **self.uncertainty.loss(out, t, err, world)}
