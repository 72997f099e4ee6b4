"""Self-supervised pretraining of the detector's CNN backbone on unlabelled frames (SEED.md Phase 5:
"self-supervised pretraining (MAE, SimCLR)"), before the labelled fine-tune.

`maxsight train CONFIG.yaml` runs this when the YAML has a `pretrain:` section. The rest of the
file is an ordinary training config: `model` says which backbone (and preset) is pretrained,
`optim` the budget (epochs, iters_per_epoch, batch, lr, weight_decay, warmup_iters, min_lr).

Pretext tasks (`pretrain.task`):
  mae     masked autoencoding for a CNN (He et al. 2021, as ConvNeXt V2 / SparK do it for
          convolutions): the image is cut into patch x patch squares (patch = a backbone stride:
          8, 16 or 32), `mask_ratio` of them per image are blanked (set to the ImageNet mean, 0
          after normalisation), and a light decoder on the backbone's feature map at that stride
          predicts every square's pixels; the loss is the mean squared error on the blanked squares
          only, against per-square normalised pixels (MAE's norm_pix_loss).
  simclr  contrastive learning (Chen et al. 2020): two random views of each image (crop, flip,
          colour jitter, grey, blur), the backbone's pooled last feature map through a two-layer
          projection, and the NT-Xent loss at `temperature` over the batch (the other 2B-2 views
          are the negatives).

Data (`pretrain.sources`, see unlabelled.py): videos (every n-th frame), image folders with their
labels ignored (a YOLO set's `train` split, a COCO set's `dev` half, any other folder whole).
`pretrain.holdout` images are kept out of training and probed before and after: MAE's
reconstruction loss with fixed masks, SimCLR's cosine similarity of two views of one image
against views of two images. The probe goes to pretrain.json and the command's report.

The checkpoint (RUN/last.pt) holds the backbone as `stage_a.backbone.*`, with the config and the
model's dimensions, so a detector config takes it like any transfer source:
    transfer: {source: runs/pretrain_mae/last.pt}
(compat.check_sources refuses one pretrained for another preset or backbone, in one sentence).
`--resume RUN/last.pt` continues a pretraining run exactly (batches, views and masks are
functions of (seed, epoch, index) and the step).
"""
from __future__ import annotations

import csv
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training import checkpoint as ckpt
from training.config import ConfigError

log = logging.getLogger(__name__)

TASKS = ("mae", "simclr")
LEVEL_OF_STRIDE = {8: 0, 16: 1, 32: 2}          # backbone outputs C3, C4, C5
KIND = "pretrain"


@dataclass
class PretrainConfig:
    task: str = "mae"
    sources: list[str] = field(default_factory=lambda: ["eval:videos_walking_driving", "eval:accessibility_objects/doors",
                                                        "eval:accessibility_objects/stairs"])
    every_n: int = 10                   # video frames: take every n-th
    max_images: int | None = None       # at most this many images (an even spread over the sources)
    holdout: int = 16                   # images kept out of training for the before/after probe
    # mae
    mask_ratio: float = 0.75
    patch: int = 32                     # a backbone stride: 8, 16 or 32
    decoder_dim: int = 256
    # simclr
    temperature: float = 0.2
    projection_dim: int = 128
    crop_scale: list[float] = field(default_factory=lambda: [0.25, 1.0])


def check(pc: PretrainConfig, cfg) -> PretrainConfig:
    def need(cond, msg):
        if not cond:
            raise ConfigError(msg)
    need(pc.task in TASKS, f"pretrain.task must be one of {', '.join(TASKS)}, got {pc.task!r}")
    need(bool(pc.sources), "pretrain.sources must list at least one video, image folder or dataset")
    need(pc.every_n >= 1, f"pretrain.every_n must be at least 1, got {pc.every_n}")
    need(pc.max_images is None or pc.max_images >= 2, f"pretrain.max_images must be at least 2 (or left out), got {pc.max_images}")
    need(pc.holdout >= 0, f"pretrain.holdout must be 0 or more, got {pc.holdout}")
    need(0 < pc.mask_ratio < 1, f"pretrain.mask_ratio must be between 0 and 1 (exclusive), got {pc.mask_ratio}")
    need(pc.patch in LEVEL_OF_STRIDE, f"pretrain.patch must be a backbone stride (8, 16 or 32), got {pc.patch}")
    need(cfg.model.input_size % pc.patch == 0, f"model.input_size ({cfg.model.input_size}) must be a multiple of pretrain.patch ({pc.patch})")
    need(pc.decoder_dim >= 8, f"pretrain.decoder_dim must be at least 8, got {pc.decoder_dim}")
    need(pc.temperature > 0, f"pretrain.temperature must be > 0, got {pc.temperature}")
    need(pc.projection_dim >= 2, f"pretrain.projection_dim must be at least 2, got {pc.projection_dim}")
    need(len(pc.crop_scale) == 2 and 0 < pc.crop_scale[0] <= pc.crop_scale[1] <= 1,
         f"pretrain.crop_scale must be [low, high] with 0 < low <= high <= 1, got {pc.crop_scale}")
    need(cfg.optim.batch >= 2, f"optim.batch must be at least 2 for pretraining (SimCLR needs negatives), got {cfg.optim.batch}")
    return pc


def parse(section: dict, cfg) -> PretrainConfig:
    from training.sections import build_section
    return check(build_section(PretrainConfig, section, "pretrain"), cfg)


# ---- pretext heads and losses ---------------------------------------------------------------------
def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """[B, 3, S, S] -> [B, N, p*p*3], squares in row-major order (the feature map's flatten order)."""
    B, C, H, W = x.shape
    assert H % p == 0 and W % p == 0, f"image {H}x{W} is not a whole number of {p}-pixel squares"
    h, w = H // p, W // p
    return x.reshape(B, C, h, p, w, p).permute(0, 2, 4, 3, 5, 1).reshape(B, h * w, p * p * C)


def random_mask(batch: int, n: int, ratio: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """[B, N] bool: exactly round(ratio * N) squares per image are True (masked), at least 1 and
    at most N - 1, chosen uniformly."""
    k = min(max(int(round(ratio * n)), 1), n - 1)
    order = torch.rand(batch, n, generator=generator).argsort(1)
    mask = torch.zeros(batch, n, dtype=torch.bool)
    mask.scatter_(1, order[:, :k], True)
    return mask


def mask_pixels(x: torch.Tensor, mask: torch.Tensor, p: int) -> torch.Tensor:
    """Blank the masked squares of x [B, 3, S, S] (to 0: the ImageNet mean after normalisation)."""
    B, _, H, W = x.shape
    m = mask.reshape(B, 1, H // p, W // p).to(x.dtype)
    m = m.repeat_interleave(p, 2).repeat_interleave(p, 3)
    return x * (1 - m)


class MAEDecoder(nn.Module):
    """Backbone feature map at the patch stride [B, C, h, w] -> pixels of every square [B, N, p*p*3]."""

    def __init__(self, cin: int, patch: int, dim: int):
        super().__init__()
        self.patch = patch
        g = math.gcd(32, dim)
        self.net = nn.Sequential(nn.Conv2d(cin, dim, 1), nn.GroupNorm(g, dim), nn.GELU(),
                                 nn.Conv2d(dim, dim, 3, padding=1), nn.GroupNorm(g, dim), nn.GELU(),
                                 nn.Conv2d(dim, dim, 3, padding=1), nn.GroupNorm(g, dim), nn.GELU(),
                                 nn.Conv2d(dim, 3 * patch * patch, 1))

    def forward(self, feat):
        return self.net(feat).flatten(2).transpose(1, 2)


def mae_loss(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, p: int) -> torch.Tensor:
    """Mean squared error over the masked squares, targets normalised per square."""
    target = patchify(image, p)
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
    target = (target - mean) / (var + 1e-6).sqrt()
    assert pred.shape == target.shape, f"the decoder gives {tuple(pred.shape)}, the squares are {tuple(target.shape)}"
    per = ((pred.float() - target) ** 2).mean(-1)                           # [B, N]
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp(min=1)


class Projection(nn.Module):
    """SimCLR's projection: pooled features [B, C] -> [B, D]."""

    def __init__(self, cin: int, out: int, hidden: int = 512):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))

    def forward(self, feat):
        return self.net(feat.mean((2, 3)))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent: each view's positive is the other view of its image, the rest of the 2B views are negatives."""
    B = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)]).to(z.device)
    return F.cross_entropy(sim, target)


# ---- views ---------------------------------------------------------------------------------------
def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    from engine.models.mobilenet_v2 import imagenet_chw
    return torch.from_numpy(np.stack([imagenet_chw(im) for im in images]))


def resized_crop(image: np.ndarray, size: int, rng: np.random.Generator, scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3)) -> np.ndarray:
    """A random crop of `scale` of the area with aspect in `ratio`, resized to size x size."""
    h, w = image.shape[:2]
    area = h * w
    for _ in range(10):
        a = area * rng.uniform(*scale)
        r = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw, ch = int(round(math.sqrt(a * r))), int(round(math.sqrt(a / r)))
        if 0 < cw <= w and 0 < ch <= h:
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            break
    else:                                            # a central square
        cw = ch = min(h, w)
        x, y = (w - cw) // 2, (h - ch) // 2
    return cv2.resize(image[y:y + ch, x:x + cw], (size, size), interpolation=cv2.INTER_AREA)


def center_square(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return cv2.resize(image[y:y + s, x:x + s], (size, size), interpolation=cv2.INTER_AREA)


def simclr_view(image: np.ndarray, size: int, rng: np.random.Generator, scale) -> np.ndarray:
    """SimCLR's augmentations: crop and resize, flip, colour jitter (p 0.8), grey (p 0.2), blur (p 0.5)."""
    v = resized_crop(image, size, rng, tuple(scale))
    if rng.random() < 0.5:
        v = v[:, ::-1]
    v = v.astype(np.float32)
    if rng.random() < 0.8:
        b, c, s = rng.uniform(0.6, 1.4, 3)
        v = v * b
        v = (v - v.mean()) * c + v.mean()
        grey = v.mean(2, keepdims=True)
        v = (v - grey) * s + grey
        hsv = cv2.cvtColor(np.clip(v, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV).astype(np.int32)
        hsv[..., 0] = (hsv[..., 0] + int(rng.integers(-9, 10))) % 180       # hue +-0.05 of the circle
        v = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    if rng.random() < 0.2:
        v = np.repeat(v.mean(2, keepdims=True), 3, 2)
    v = np.clip(v, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        sigma = rng.uniform(0.1, 2.0)
        v = cv2.GaussianBlur(v, (0, 0), sigma)
    return np.ascontiguousarray(v)


# ---- the model ------------------------------------------------------------------------------------
class Pretext(nn.Module):
    """The detector's backbone plus the pretext head; forward(batch) -> loss."""

    def __init__(self, cfg, pc: PretrainConfig):
        super().__init__()
        from training.model import build_model
        net = build_model(cfg)
        self.backbone = net.stage_a.backbone             # the very module (and names) the detector has
        del net
        self.pc = pc
        chans = self.backbone.channels
        if pc.task == "mae":
            self.level = LEVEL_OF_STRIDE[pc.patch]
            self.head = MAEDecoder(chans[self.level], pc.patch, pc.decoder_dim)
        else:
            self.head = Projection(chans[2], pc.projection_dim)

    def mae(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(mask_pixels(x, mask, self.pc.patch))
        return mae_loss(self.head(feats[self.level]), x, mask, self.pc.patch)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[2])

    def simclr(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        z = self.embed(torch.cat([v1, v2]))
        return nt_xent(z[:len(v1)], z[len(v1):], self.pc.temperature)


# ---- the run -------------------------------------------------------------------------------------
@dataclass
class PretrainResult:
    out_dir: Path
    checkpoint: Path
    steps: int
    images: int
    first_loss: float
    last_loss: float
    seconds: float
    probe_before: dict
    probe_after: dict
    sources: str
    notes: list[str] = field(default_factory=list)


def split_holdout(n: int, holdout: int) -> tuple[list[int], list[int]]:
    """(train indices, held-out indices): an even spread of `holdout` images is kept out."""
    if holdout <= 0 or n < holdout + 2:
        return list(range(n)), []
    held = set(np.linspace(0, n - 1, holdout).round().astype(int).tolist())
    return [i for i in range(n) if i not in held], sorted(held)


class Pretrainer:
    def __init__(self, cfg, pc: PretrainConfig, resume: str | Path | None = None, progress: bool = True,
                 crash_at: int | None = None):
        from training.loop import pick_device
        from training.unlabelled import UnlabelledImages
        self.cfg, self.pc, self.progress, self.crash_at = cfg, pc, progress, crash_at
        self.device = pick_device(cfg.device)
        self.out = cfg.out_dir()
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        self.images = UnlabelledImages([cfg.resolve(s) for s in pc.sources], pc.every_n,
                                       max_side=max(2 * cfg.model.input_size, 256), max_images=pc.max_images)
        self.train_idx, self.held_idx = split_holdout(len(self.images), pc.holdout)
        self.model = Pretext(cfg, pc).to(self.device)
        o = cfg.optim
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 else decay).append(p)
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=o.lr)
        from training.data import epoch_batches
        self.iters_per_epoch = len(epoch_batches(len(self.train_idx), o.batch, cfg.seed, 0, iters=o.iters_per_epoch))
        self.total_steps = max(1, o.epochs * self.iters_per_epoch)
        self.epoch = self.iteration = self.step = 0
        self.notes: list[str] = []
        if resume:
            self._load(resume)

    # ---- state --------------------------------------------------------------------------------------
    def state(self) -> dict:
        cfg = self.cfg
        return {"kind": KIND, "config": cfg.to_dict(), "pretrain": asdict(self.pc), "labels": [],
                "dims": {"preset": cfg.model.preset, "backbone": cfg.model.backbone, "input_size": cfg.model.input_size},
                "model": {f"stage_a.backbone.{k}": v for k, v in self.model.backbone.state_dict().items()},
                "pretext": self.model.head.state_dict(), "optimizer": self.opt.state_dict(), "rng": torch.get_rng_state(),
                "epoch": self.epoch, "iteration": self.iteration, "step": self.step}

    def _load(self, path):
        from training.compat import check_resume_pretrain
        data = ckpt.read(path)
        check_resume_pretrain(data, path, self.cfg, self.pc)
        prefix = "stage_a.backbone."
        self.model.backbone.load_state_dict({k[len(prefix):]: v for k, v in data["model"].items()})
        self.model.head.load_state_dict(data["pretext"])
        self.opt.load_state_dict(data["optimizer"])
        torch.set_rng_state(data["rng"])
        self.epoch, self.iteration, self.step = data["epoch"], data["iteration"], data["step"]
        self.notes.append(f"resumed from {path} at epoch {self.epoch}, iteration {self.iteration}, step {self.step}")
        path_csv = self.out / "metrics.csv"
        if path_csv.is_file():
            rows = [r for r in csv.DictReader(path_csv.open()) if int(r["step"]) <= self.step]
            with path_csv.open("w", newline="") as f:
                if rows:
                    w = csv.DictWriter(f, fieldnames=list(rows[0]))
                    w.writeheader()
                    w.writerows(rows)

    def save(self) -> Path:
        path = self.out / "last.pt"
        ckpt.write(path, self.state())
        return path

    # ---- batches ------------------------------------------------------------------------------------
    def batch(self, keys: list[tuple[int, int]]) -> tuple:
        """The batch for (epoch, position) keys: MAE (images, masks) or SimCLR (view 1, view 2)."""
        size, pc = self.cfg.model.input_size, self.pc
        if pc.task == "mae":
            ims = []
            for epoch, k in keys:
                rng = np.random.default_rng([self.cfg.seed, epoch, k])
                v = resized_crop(self.images.load(self.train_idx[k]), size, rng, (0.5, 1.0))
                ims.append(np.ascontiguousarray(v[:, ::-1]) if rng.random() < 0.5 else v)
            g = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.step)
            n = (size // pc.patch) ** 2
            return to_tensor(ims), random_mask(len(ims), n, pc.mask_ratio, g)
        v1, v2 = [], []
        for epoch, k in keys:
            rng = np.random.default_rng([self.cfg.seed, epoch, k])
            im = self.images.load(self.train_idx[k])
            v1.append(simclr_view(im, size, rng, pc.crop_scale))
            v2.append(simclr_view(im, size, rng, pc.crop_scale))
        return to_tensor(v1), to_tensor(v2)

    @torch.no_grad()
    def probe(self) -> dict:
        """Held-out images: MAE's loss with fixed masks; SimCLR's loss and the mean cosine similarity
        of two views of one image (positive) and of views of two images (negative)."""
        if not self.held_idx:
            return {}
        was = self.model.training
        self.model.eval()
        size, pc = self.cfg.model.input_size, self.pc
        ims = [self.images.load(i) for i in self.held_idx]
        try:
            if pc.task == "mae":
                x = to_tensor([center_square(im, size) for im in ims]).to(self.device)
                g = torch.Generator().manual_seed(12345)
                mask = random_mask(len(ims), (size // pc.patch) ** 2, pc.mask_ratio, g).to(self.device)
                return {"images": len(ims), "mae_loss": float(self.model.mae(x, mask)), "masked_share": float(mask.float().mean())}
            rng = np.random.default_rng(12345)
            v1 = to_tensor([simclr_view(im, size, rng, pc.crop_scale) for im in ims]).to(self.device)
            v2 = to_tensor([simclr_view(im, size, rng, pc.crop_scale) for im in ims]).to(self.device)
            return {"images": len(ims), **view_similarity(self.model, v1, v2, pc.temperature)}
        finally:
            self.model.train(was)

    # ---- loop ---------------------------------------------------------------------------------------
    def run(self) -> PretrainResult:
        from tqdm import tqdm

        from training.data import epoch_batches
        from training.loop import SimulatedCrash
        from training.plots import plot_curves
        from training.schedule import lr_factor
        cfg, o, pc = self.cfg, self.cfg.optim, self.pc
        (self.out / "config.json").write_text(json.dumps({**cfg.to_dict(), "pretrain": asdict(pc)}, indent=1))
        probe_file = self.out / "probe_before.json"
        if self.step == 0:                                        # a resumed run keeps the first run's probe
            probe_file.write_text(json.dumps(self.probe()))
        before = json.loads(probe_file.read_text()) if probe_file.is_file() else {}
        t0 = time.perf_counter()
        first = last = None
        window, n_img, t_win = [], 0, time.perf_counter()
        images_seen = 0
        self.model.train()
        while self.epoch < o.epochs:
            batches = epoch_batches(len(self.train_idx), o.batch, cfg.seed, self.epoch, iters=o.iters_per_epoch)
            bar = tqdm(total=len(batches), initial=self.iteration, desc=f"pretrain {pc.task} epoch {self.epoch + 1}/{o.epochs}",
                       disable=not self.progress, unit="it", leave=False)
            for keys in batches[self.iteration:]:
                g_iter = self.epoch * self.iters_per_epoch + self.iteration
                if self.crash_at is not None and g_iter == self.crash_at:
                    raise SimulatedCrash(f"simulated crash at iteration {g_iter}")
                a, b = (t.to(self.device) for t in self.batch(keys))
                factor = lr_factor(self.step, self.total_steps, o.warmup_iters, o.min_lr / o.lr)
                for grp in self.opt.param_groups:
                    grp["lr"] = o.lr * factor
                loss = self.model.mae(a, b) if pc.task == "mae" else self.model.simclr(a, b)
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise FloatingPointError(f"the pretraining loss became {value} at step {self.step}; lower optim.lr")
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                if o.clip:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.clip)
                self.opt.step()
                self.step += 1
                self.iteration += 1
                images_seen += len(keys)
                n_img += len(keys)
                window.append(value)
                first = value if first is None else first
                last = value
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.iteration == len(batches):
                    dt = time.perf_counter() - t_win
                    self._log({"epoch": self.epoch, "iteration": self.iteration, "step": self.step, "lr": o.lr * factor,
                               "images_per_s": round(n_img / max(dt, 1e-9), 3), "loss_total": round(float(np.mean(window)), 6),
                               f"loss_{pc.task}": round(float(np.mean(window)), 6)})
                    window, n_img, t_win = [], 0, time.perf_counter()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.iteration < len(batches):
                    self.save()
            bar.close()
            self.epoch += 1
            self.iteration = 0
            self.save()
            plot_curves(self.out / "metrics.csv", self.out / "curves.png")
        after = self.probe()
        seconds = time.perf_counter() - t0
        result = PretrainResult(self.out, self.out / "last.pt", self.step, len(self.train_idx), first if first is not None else float("nan"),
                                last if last is not None else float("nan"), seconds, before, after, self.images.describe(), self.notes)
        (self.out / "pretrain.json").write_text(json.dumps({
            "task": pc.task, "steps": self.step, "train_images": len(self.train_idx), "held_out_images": len(self.held_idx),
            "sources": self.images.counts, "seconds": round(seconds, 1), "first_loss": result.first_loss, "last_loss": result.last_loss,
            "probe_before": before, "probe_after": after}, indent=1))
        return result

    def _log(self, row: dict) -> None:
        path = self.out / "metrics.csv"
        new = not path.is_file()
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)


@torch.no_grad()
def view_similarity(model: Pretext, v1: torch.Tensor, v2: torch.Tensor, temperature: float) -> dict:
    """Mean cosine similarity of the two views of each image (positive), of views of different
    images (negative), and the NT-Xent loss, for views v1[i], v2[i] of image i."""
    z1, z2 = F.normalize(model.embed(v1).float(), dim=1), F.normalize(model.embed(v2).float(), dim=1)
    sim = z1 @ z2.t()                                                        # [B, B]
    B = len(sim)
    pos = sim.diagonal().mean()
    neg = (sim.sum() - sim.diagonal().sum()) / max(B * B - B, 1)
    return {"positive_cos": float(pos), "negative_cos": float(neg), "nt_xent": float(nt_xent(z1, z2, temperature))}


def report(result: PretrainResult, pc: PretrainConfig) -> list[str]:
    lines = [f"Pretrained ({pc.task}) on {result.images} unlabelled images ({result.sources}): {result.steps} steps in "
             f"{result.seconds:.0f} s; loss {result.first_loss:.4f} at the first step, {result.last_loss:.4f} at the last"]
    b, a = result.probe_before, result.probe_after
    if pc.task == "mae" and a:
        lines.append(f"  held-out probe ({a['images']} images, {100 * a['masked_share']:.0f}% of squares masked): reconstruction "
                     f"loss {b.get('mae_loss', float('nan')):.4f} before, {a['mae_loss']:.4f} after")
    elif a:
        lines.append(f"  held-out probe ({a['images']} images): two views of one image cos {b.get('positive_cos', float('nan')):.3f} -> "
                     f"{a['positive_cos']:.3f}, views of two images {b.get('negative_cos', float('nan')):.3f} -> {a['negative_cos']:.3f}")
    lines.append(f"  checkpoint: {result.checkpoint} (a detector config takes it as transfer: {{source: {result.checkpoint}}})")
    return lines
