"""Structured pruning (SEED.md "Pruning: structured, remove entire channels"): the inner channels of
the backbone's blocks are removed, so the pruned model is a smaller dense model (fewer multiply-adds
on any runtime), not a masked one.

What is pruned: the channels a block keeps to itself, which nothing outside the block sees:
- MobileNetV2: the expanded channels of each inverted residual (1x1 expand -> 3x3 depthwise ->
  1x1 project); blocks without expansion are left alone;
- ResNet: the channels between conv1 and conv2 of a basic block, and between conv1/conv2 and
  conv2/conv3 of a bottleneck.
The FPN, the heads and every block's output (which residual connections add together) keep their
width. The same share `ratio` is removed from every prunable set, keeping a multiple of 8 channels
(at least 8). A channel's importance is the L1 norm of its filter times its normalisation scale
|gamma| / sqrt(var + eps) (what the channel's output is multiplied by), times the L1 norm of the
weights that read it (and, for MobileNetV2, the same for its depthwise filter): the channels with
the least effect on the block's output go first. Needs model.norm bn or frozen_bn (GroupNorm's
groups would not divide the pruned widths).

A pruned checkpoint records what it kept (`pruning`: {unit path: channels}); checkpoint.model_from
rebuilds that shape before loading, so evaluation, export and the app take it like any other.
`maxsight prune` (training/prune_run.py) prunes a checkpoint, fine-tunes it and measures the change;
this module is only the surgery, so checkpoint.py can rebuild a pruned shape without importing the
trainer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

ROUND_TO = 8


class PruneError(ValueError):
    pass


@dataclass(frozen=True)
class Unit:
    path: str            # module path of the block
    kind: str            # mbv2, basic, bottleneck_a (conv1->conv2), bottleneck_b (conv2->conv3)
    size: int


def _norms():
    from torchvision.ops.misc import FrozenBatchNorm2d
    return (nn.BatchNorm2d, FrozenBatchNorm2d)


def _is_norm(m) -> bool:
    return isinstance(m, _norms())


def _parts(block: nn.Module, kind: str):
    """(producer conv, its norm, [depthwise conv, its norm] or None, consumer conv) of a unit."""
    if kind == "mbv2":
        seq = block.conv
        return seq[0][0], seq[0][1], (seq[1][0], seq[1][1]), seq[2]
    if kind == "basic":
        return block.conv1, block.bn1, None, block.conv2
    if kind == "bottleneck_a":
        return block.conv1, block.bn1, None, block.conv2
    if kind == "bottleneck_b":
        return block.conv2, block.bn2, None, block.conv3
    raise ValueError(kind)


def units(model: nn.Module) -> list[Unit]:
    """The prunable channel sets of the model's backbone, in module order."""
    from torchvision.models.mobilenetv2 import InvertedResidual
    from torchvision.models.resnet import BasicBlock, Bottleneck
    backbone = model.stage_a.backbone
    out = []
    for name, m in backbone.named_modules():
        path = f"stage_a.backbone.{name}"
        if isinstance(m, InvertedResidual) and len(m.conv) == 4:
            out.append(Unit(path, "mbv2", m.conv[0][0].out_channels))
        elif isinstance(m, BasicBlock):
            out.append(Unit(path, "basic", m.conv1.out_channels))
        elif isinstance(m, Bottleneck):
            out.append(Unit(path, "bottleneck_a", m.conv1.out_channels))
            out.append(Unit(path, "bottleneck_b", m.conv2.out_channels))
    for u in out:
        conv, norm, dw, _ = _parts(model.get_submodule(u.path), u.kind)
        if not _is_norm(norm) or (dw is not None and not _is_norm(dw[1])):
            raise PruneError("structured pruning needs model.norm bn or frozen_bn; GroupNorm's groups would not divide the pruned widths")
    return out


def _scale(conv: nn.Conv2d, norm) -> torch.Tensor:
    g = norm.weight.detach().abs() / torch.sqrt(norm.running_var.detach() + getattr(norm, "eps", 1e-5))
    return conv.weight.detach().abs().flatten(1).sum(1) * g


def importance(block: nn.Module, kind: str) -> torch.Tensor:
    conv, norm, dw, consumer = _parts(block, kind)
    score = _scale(conv, norm)
    if dw is not None:
        score = score * _scale(*dw)
    return score * consumer.weight.detach().abs().sum((0, 2, 3))


def kept(size: int, ratio: float) -> int:
    keep = int(round(size * (1 - ratio) / ROUND_TO)) * ROUND_TO
    return min(size, max(ROUND_TO, keep))


def _conv(conv: nn.Conv2d, out_idx=None, in_idx=None) -> nn.Conv2d:
    depthwise = conv.groups == conv.in_channels == conv.out_channels and conv.groups > 1
    w = conv.weight.detach()
    if out_idx is not None:
        w = w[out_idx]
    if in_idx is not None and not depthwise:
        w = w[:, in_idx]
    cout = w.shape[0]
    cin = cout if depthwise else w.shape[1] * conv.groups
    new = nn.Conv2d(cin, cout, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    groups=cout if depthwise else conv.groups, bias=conv.bias is not None, padding_mode=conv.padding_mode)
    with torch.no_grad():
        new.weight.copy_(w)
        if conv.bias is not None:
            new.bias.copy_(conv.bias.detach()[out_idx] if out_idx is not None else conv.bias.detach())
    return new.to(conv.weight.device)


def _norm(norm, idx):
    from torchvision.ops.misc import FrozenBatchNorm2d
    n = len(idx)
    if isinstance(norm, FrozenBatchNorm2d):
        new = FrozenBatchNorm2d(n, eps=norm.eps)
    else:
        new = nn.BatchNorm2d(n, eps=norm.eps, momentum=norm.momentum, affine=norm.affine, track_running_stats=norm.track_running_stats)
    with torch.no_grad():
        for key in ("weight", "bias", "running_mean", "running_var"):
            src, dst = getattr(norm, key, None), getattr(new, key, None)
            if src is not None and dst is not None:
                dst.copy_(src.detach()[idx])
    new.train(norm.training)                     # a new module starts in training mode; keep the model's
    return new.to(norm.weight.device)


def _set(parent: nn.Module, name: str, module: nn.Module) -> None:
    parent._modules[name] = module


def prune_unit(block: nn.Module, kind: str, idx: torch.Tensor) -> None:
    """Keep channels idx of the unit: producer outputs, its norm, the depthwise conv and its norm,
    and the consumer's inputs."""
    idx = torch.as_tensor(idx, dtype=torch.long)
    if kind == "mbv2":
        seq = block.conv
        _set(seq[0], "0", _conv(seq[0][0], out_idx=idx))
        _set(seq[0], "1", _norm(seq[0][1], idx))
        _set(seq[1], "0", _conv(seq[1][0], out_idx=idx))
        _set(seq[1], "1", _norm(seq[1][1], idx))
        _set(seq, "2", _conv(seq[2], in_idx=idx))
        return
    prod, norm, cons = {"basic": ("conv1", "bn1", "conv2"), "bottleneck_a": ("conv1", "bn1", "conv2"),
                        "bottleneck_b": ("conv2", "bn2", "conv3")}[kind]
    _set(block, prod, _conv(getattr(block, prod), out_idx=idx))
    _set(block, norm, _norm(getattr(block, norm), idx))
    _set(block, cons, _conv(getattr(block, cons), in_idx=idx))


def prune(model: nn.Module, ratio: float) -> dict:
    """Prune the model in place; returns the record a checkpoint keeps ({"ratio", "units"})."""
    if not 0 < ratio < 1:
        raise PruneError(f"--ratio must be between 0 and 1 (the share of inner channels removed), got {ratio}")
    record = {}
    for u in units(model):
        block = model.get_submodule(u.path)
        k = kept(u.size, ratio)
        if k < u.size:
            idx = torch.argsort(importance(block, u.kind), descending=True)[:k].sort().values
            prune_unit(block, u.kind, idx)
        record[f"{u.path}:{u.kind}"] = k
    return {"ratio": ratio, "round_to": ROUND_TO, "units": record}


def apply_structure(model: nn.Module, record: dict) -> None:
    """Give a freshly built model the pruned shape a checkpoint records (weights come after)."""
    for key, k in record["units"].items():
        path, kind = key.rsplit(":", 1)
        try:
            block = model.get_submodule(path)
        except AttributeError:
            raise PruneError(f"the pruned checkpoint names {path}, which this model does not have") from None
        if _parts(block, kind)[0].out_channels != k:
            prune_unit(block, kind, torch.arange(k))


def macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of convolutions and linear layers for one forward pass."""
    total = [0]

    def conv_hook(m, inp, out):
        total[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m, inp, out):
        total[0] += out.numel() // out.shape[0] * m.in_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(lin_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        with torch.inference_mode():
            model(example[:1])
    finally:
        for h in hooks:
            h.remove()
    return total[0]
