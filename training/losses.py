"""Loss functions (SEED.md, "Loss Functions"), each on plain tensors, summed (callers normalise).

focal (sigmoid, objectness), softmax focal (classes, urgency; optional per-class weights), GIoU for
boxes, weighted cross-entropy for distance zones, quality focal (soft targets, distillation),
uncertainty-weighted regression (Kendall and Gal), flow with a smoothness term.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_focal(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """-alpha_t (1 - p_t)^gamma log(p_t), summed. targets in {0, 1}."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    a_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (a_t * (1 - p_t) ** gamma * ce).sum()


def softmax_focal(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0,
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """-w_target alpha (1 - p_t)^gamma log(p_t) with p_t = softmax(logits)[target], summed."""
    logp = F.log_softmax(logits, -1).gather(-1, target[:, None])[:, 0]
    loss = -alpha * (1 - logp.exp()) ** gamma * logp
    if weights is not None:
        loss = loss * weights[target]
    return loss.sum()


def iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU per box pair, [N, 4] xyxy each."""
    x1, y1 = torch.max(pred[:, 0], target[:, 0]), torch.max(pred[:, 1], target[:, 1])
    x2, y2 = torch.min(pred[:, 2], target[:, 2]), torch.min(pred[:, 3], target[:, 3])
    inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    area_p = (pred[:, 2] - pred[:, 0]).clamp(min=0) * (pred[:, 3] - pred[:, 1]).clamp(min=0)
    area_t = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    return inter / (area_p + area_t - inter).clamp(min=1e-6)


def giou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - GIoU per box pair, [N, 4] xyxy each; 0 for a perfect box, up to 2."""
    x1, y1 = torch.max(pred[:, 0], target[:, 0]), torch.max(pred[:, 1], target[:, 1])
    x2, y2 = torch.min(pred[:, 2], target[:, 2]), torch.min(pred[:, 3], target[:, 3])
    inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    area_p = (pred[:, 2] - pred[:, 0]).clamp(min=0) * (pred[:, 3] - pred[:, 1]).clamp(min=0)
    area_t = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    union = area_p + area_t - inter
    iou = inter / union.clamp(min=1e-6)
    ex1, ey1 = torch.min(pred[:, 0], target[:, 0]), torch.min(pred[:, 1], target[:, 1])
    ex2, ey2 = torch.max(pred[:, 2], target[:, 2]), torch.max(pred[:, 3], target[:, 3])
    enclose = ((ex2 - ex1) * (ey2 - ey1)).clamp(min=1e-6)
    return 1 - (iou - (enclose - union) / enclose)


def weighted_ce(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """-sum_i w_target log softmax(logits)[target], summed."""
    return F.cross_entropy(logits, target, weight=weights, reduction="none").sum() if weights is None else \
        (F.cross_entropy(logits, target, reduction="none") * weights[target]).sum()


def quality_focal(logits: torch.Tensor, soft: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """|y - sigma|^beta * BCE(sigma, y) for soft targets y in [0, 1] (GFL), summed."""
    p = torch.sigmoid(logits)
    return ((soft - p).abs() ** beta * F.binary_cross_entropy_with_logits(logits, soft, reduction="none")).sum()


def uncertainty_weighted(error: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Kendall and Gal: error * exp(-u) + u, minus its minimum over u (1 + log error), so the value
    is >= 0 and 0 when u equals log(error); the gradient in u is unchanged. `error` is detached by
    the caller, so the weighting teaches the uncertainty head without rescaling the box head."""
    e = error.clamp(min=1e-4)
    return (e * torch.exp(-log_var) + log_var - (1 + torch.log(e))).sum()


def flow_loss(pred: torch.Tensor, target: torch.Tensor, smooth: float = 0.1) -> torch.Tensor:
    """Mean squared flow error plus smooth * mean absolute neighbour difference (SEED.md motion)."""
    l2 = ((pred - target) ** 2).sum(1).mean()
    tv = (pred[:, :, 1:, :] - pred[:, :, :-1, :]).abs().mean() + (pred[:, :, :, 1:] - pred[:, :, :, :-1]).abs().mean()
    return l2 + smooth * tv
