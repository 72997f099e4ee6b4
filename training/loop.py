"""The training loop: AMP where the device supports it, EMA, gradient accumulation and clipping,
warmup + cosine to min_lr, phased loss unlock, GradNorm or PCGrad, the T2 -> T5 freeze schedule,
atomic checkpoints with exact resume, CSV (and TensorBoard when installed) logs, curve plots, and
DistributedDataParallel when started by `torchrun` (gloo on CPU, NCCL on CUDA).

With `eval_every: N` the EMA weights are evaluated on the val split every N epochs (and after the
last): a row per evaluation in val.csv (mAP, mAP50, per-class AP50), and best.pt is a copy of the
checkpoint with the best val mAP50 so far.

Exact resume: batches and augmentations are functions of (seed, epoch, index) (data.py), and a
checkpoint holds every piece of mutable state (weights, EMA, optimizer, scaler, balancer, RNG,
position in the epoch). A run killed after a checkpoint and resumed from it ends with the same
weights as a run that was never interrupted (tests/training/test_loop.py checks this).
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from training import checkpoint as ckpt
from training.augment import Augmenter
from training.balancing import GradNorm, PCGrad, make_balancer, phase_weights
from training.data import CocoDataset, DataError, TrainingSet, collate, epoch_batches, open_dataset
from training.labels import class_weights
from training.model import build_model
from training.schedule import EMA, lr_factor
from training.transfer import apply_freeze, frozen_groups, load_matching, param_groups

log = logging.getLogger(__name__)


class SimulatedCrash(RuntimeError):
    """Raised at a chosen iteration to stand in for a killed process (tests, `--crash-at`)."""


@dataclass
class RunResult:
    out_dir: Path
    checkpoint: Path
    steps: int
    iterations: int
    first_loss: float
    last_loss: float
    images_per_s: float
    seconds: float
    evaluation: dict | None = None
    notes: list[str] = field(default_factory=list)


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but torch sees no CUDA GPU; use device: auto or cpu")
    return torch.device(name, local_rank) if name == "cuda" else torch.device(name)


def amp_dtype(mode: str, device: torch.device):
    """None (full fp32) or the autocast dtype. auto: bf16 on CUDA GPUs that have it, else fp16 on
    CUDA; off on CPU and MPS (CPU bf16 autocast is slower than fp32 on CPUs without AMX)."""
    if mode == "off":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if mode == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def _scalar(x) -> float:
    return float(x.detach()) if torch.is_tensor(x) else float(x)


def _class_and_zone_weights(source, cfg):
    """Class and zone weights from the training labels (COCO boxes or the teacher's pseudo-labels)."""
    cw = class_weights(source.class_counts()[:cfg.model.num_classes]) if cfg.loss.class_weights else None
    return cw, class_weights(source.zone_counts(), floor=0.5, cap=2.0)


class Trainer:
    def __init__(self, cfg, resume: str | Path | None = None, progress: bool = True, crash_at: int | None = None,
                 out_dir: Path | None = None):
        self.cfg, self.progress, self.crash_at = cfg, progress, crash_at
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = pick_device(cfg.device, self.local_rank)
        if cfg.deterministic:
            # cuBLAS reads this when its handle is made; ops with no deterministic CUDA kernel warn.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self.out = Path(out_dir) if out_dir else cfg.out_dir()
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        m, o = cfg.model, cfg.optim
        self.hard_score = cfg.distill.hard_score if cfg.distill else 0.999
        self.source = self._source()
        cw, zw = _class_and_zone_weights(self.source, cfg)
        self.label_names = self.source.label_names[:m.num_classes]
        aug = Augmenter(cfg.data.augment, m.input_size, m.head_stride, train=True)
        self.dataset = TrainingSet(self.source, aug, cfg.seed, m.temporal.frames if m.preset == "t5" else 0, self.hard_score)
        self.model = build_model(cfg, cw, zw).to(self.device)
        self.notes: list[str] = []
        if cfg.transfer and cfg.transfer.source:
            copied, fresh = load_matching(self.model, str(cfg.resolve(cfg.transfer.source)))
            self.notes.append(f"transfer: {len(copied)} tensors copied from {cfg.transfer.source}, {len(fresh)} newly initialised")
        mult = cfg.transfer.lr_groups if cfg.transfer else {}
        groups = param_groups(self.model, o.lr, o.weight_decay, mult)
        self.opt = torch.optim.AdamW(groups, lr=o.lr) if o.optimizer == "adamw" else torch.optim.SGD(groups, lr=o.lr, momentum=0.9)
        self.iters_per_epoch = len(epoch_batches(len(self.dataset), o.batch, cfg.seed, 0, 0, self.world, o.iters_per_epoch))
        self.total_steps = max(1, o.epochs * self.iters_per_epoch // o.accum)
        self.amp = amp_dtype(o.amp, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        self.ema = EMA(self.model, o.ema) if o.ema else None
        self.balancer = make_balancer(cfg.loss, cfg.seed)
        self.epoch, self.iteration, self.step = 0, 0, 0
        self.best_val: float | None = None                  # best val mAP50 seen by eval_every
        self.last_eval: dict | None = None
        self.frozen: list[str] | None = None
        self.ddp = None
        if resume:
            self._load(resume)

    # ---- set-up ---------------------------------------------------------------------------------
    def _source(self):
        cfg = self.cfg
        if cfg.distill:
            from training.distill import TeacherFrames
            paths = [cfg.resolve(v) for v in cfg.distill.videos]
            return TeacherFrames(paths, self.out.parent / "teacher_cache", cfg.distill.teacher, cfg.distill.every_n,
                                 cfg.distill.soft_floor, cfg.distill.hard_score, progress=self.progress and self.rank == 0)
        return train_source(cfg)

    def _wrap(self):
        """(Re)wrap in DDP; needed again when the freeze schedule changes what is trainable."""
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = DDP(self.model, device_ids=ids, find_unused_parameters=bool(self.cfg.transfer))
        else:
            self.ddp = None

    @property
    def forward_model(self):
        return self.ddp if self.ddp is not None else self.model

    # ---- state ----------------------------------------------------------------------------------
    def state(self) -> dict:
        cfg = self.cfg
        return {
            "config": cfg.to_dict(), "labels": self.label_names,
            "dims": {"preset": cfg.model.preset, "backbone": cfg.model.backbone, "input_size": cfg.model.input_size,
                     "head_stride": cfg.model.head_stride, "grid": cfg.model.input_size // cfg.model.head_stride,
                     "head_levels": list(cfg.model.head_levels),
                     "num_classes": cfg.model.num_classes, "clip_frames": self.model.clip_frames},
            "model": self.model.state_dict(), "ema": self.ema.state_dict() if self.ema else None,
            "optimizer": self.opt.state_dict(), "scaler": self.scaler.state_dict(),
            "balancer": self.balancer.state_dict(), "rng": torch.get_rng_state(),
            "epoch": self.epoch, "iteration": self.iteration, "step": self.step, "best_val": self.best_val,
        }

    def _load(self, path):
        data = ckpt.read(path)
        self.model.load_state_dict(data["model"])
        if self.ema and data.get("ema"):
            self.ema.load_state_dict(data["ema"])
        self.opt.load_state_dict(data["optimizer"])
        self.scaler.load_state_dict(data["scaler"])
        self.balancer.load_state_dict(data["balancer"])
        torch.set_rng_state(data["rng"])
        self.epoch, self.iteration, self.step = data["epoch"], data["iteration"], data["step"]
        self.best_val = data.get("best_val")
        self.notes.append(f"resumed from {path} at epoch {self.epoch}, iteration {self.iteration}, step {self.step}")
        self._trim_log()

    def save(self, name: str = "last.pt") -> Path:
        path = self.out / name
        if self.rank == 0:
            ckpt.write(path, self.state())
        return path

    # ---- logging --------------------------------------------------------------------------------
    def _trim_log(self):
        """Drop log rows past the resumed step, so the curves have no duplicates."""
        for path in (self.out / "metrics.csv", self.out / "val.csv"):
            if self.rank or not path.is_file():
                continue
            rows = list(csv.DictReader(path.open()))
            keep = [r for r in rows if int(r["step"]) <= self.step]
            if rows:
                with path.open("w", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=list(rows[0]))
                    w.writeheader()
                    w.writerows(keep)

    def _validate(self) -> dict:
        """Evaluate the checkpoint just written on the val split; log it to val.csv; keep best.pt."""
        import shutil
        ev = evaluate_checkpoint(self.out / "last.pt", self.cfg)
        row = {"epoch": self.epoch, "step": self.step, "images": ev["images"], "boxes": ev["boxes"],
               "mAP": round(ev["coco"]["mAP"], 3), "mAP50": round(ev["coco"]["mAP50"], 3),
               **{f"AP50_{r['class'].split(' (')[0]}": round(r["AP50"], 3) for r in ev["per_class"]}}
        path = self.out / "val.csv"
        new = not path.is_file()
        fields = list(row) if new else next(csv.reader(path.open()))
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
        score = float(ev["coco"]["mAP50"])                     # a numpy scalar would make the checkpoint unreadable with weights_only
        if self.best_val is None or score > self.best_val:
            self.best_val = score
            self.save()                                       # last.pt records the new best before it is copied
            shutil.copyfile(self.out / "last.pt", self.out / "best.pt")
        else:
            self.save()
        log.info("epoch %d: val mAP50 %.1f (best %.1f)", self.epoch, score, self.best_val)
        self.last_eval = ev
        return ev

    def _log_row(self, row: dict):
        if self.rank:
            return
        path = self.out / "metrics.csv"
        fields = list(row)
        if path.is_file():
            with path.open() as f:
                header = next(csv.reader(f), None)
            if header and set(header) >= set(fields):
                fields = header
        new = not path.is_file()
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("epoch", "iteration", "step") and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])

    # ---- the loop -------------------------------------------------------------------------------
    def _micro_step(self, batch, weights, last_micro: bool) -> dict:
        o = self.cfg.optim
        images = batch["image"].to(self.device, non_blocking=True)
        batch = {**batch, "urgency": batch["urgency"].to(self.device),
                 **({"flow": batch["flow"].to(self.device)} if "flow" in batch else {})}
        pcgrad = isinstance(self.balancer, PCGrad)
        # PCGrad takes per-task gradients with autograd.grad and averages them itself, so DDP's own
        # reduction stays off for it; otherwise DDP reduces on the last micro-batch only.
        sync = contextlib.nullcontext() if (self.ddp is None or (last_micro and not pcgrad)) else self.ddp.no_sync()
        with sync:
            with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                out = self.forward_model(images)
            losses = self.model.loss(out, batch, self.hard_score, self.world)
            if isinstance(self.balancer, GradNorm):
                self.balancer.update(losses, weights, self.model.shared_parameters())
                self.balancer.sync(self.world)
            if pcgrad:
                params = [p for p in self.model.parameters() if p.requires_grad]
                scale = (self.scaler.get_scale() if self.scaler.is_enabled() else 1.0) / o.accum
                self.balancer.backward(losses, weights, params, scale)
                if self.world > 1:
                    for p in params:
                        if p.grad is not None:
                            torch.distributed.all_reduce(p.grad)
                            p.grad /= self.world
                total = self.balancer.total(losses, weights)
            else:
                total = self.balancer.total(losses, weights)
                self.scaler.scale(total / o.accum).backward()
        if not math.isfinite(_scalar(total)):
            raise FloatingPointError(f"the loss became {float(total)} at epoch {self.epoch}, iteration {self.iteration}; "
                                     f"lower optim.lr or turn on optim.clip")
        return {"total": _scalar(total), **{k: _scalar(v) for k, v in losses.items()}}

    def _optimizer_step(self):
        o = self.cfg.optim
        factor = lr_factor(self.step, self.total_steps, o.warmup_iters, o.min_lr / o.lr)
        for g in self.opt.param_groups:
            g["lr"] = g["base_lr"] * factor
        if o.clip:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.grad is not None], o.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.opt.zero_grad(set_to_none=True)
        self.step += 1
        if self.ema:
            self.ema.update(self.model)
        return factor

    def run(self) -> RunResult:
        from tqdm import tqdm
        cfg, o = self.cfg, self.cfg.optim
        self.tb = None
        if self.rank == 0:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(str(self.out / "tensorboard"))
            except ImportError:
                self.notes.append("TensorBoard logs skipped: the tensorboard package is not installed (CSV and plots are written)")
        (self.out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
        t_start = time.perf_counter()
        first = last = None
        rates = []
        window, n_images, t_window = [], 0, time.perf_counter()
        iterations_done = 0
        self.model.train()
        try:
            while self.epoch < o.epochs:
                frozen = frozen_groups(cfg.transfer.freeze, self.epoch) if cfg.transfer else []
                if frozen != self.frozen or self.ddp is None and self.world > 1:
                    apply_freeze(self.model, frozen)
                    self.frozen = frozen
                    self._wrap()
                weights = phase_weights(cfg.loss.phases, self.epoch)
                batches = epoch_batches(len(self.dataset), o.batch, cfg.seed, self.epoch, self.rank, self.world, o.iters_per_epoch)
                todo = batches[self.iteration:]
                loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=todo, collate_fn=collate,
                                                     num_workers=cfg.data.workers, pin_memory=self.device.type == "cuda")
                bar = tqdm(total=len(batches), initial=self.iteration, desc=f"epoch {self.epoch + 1}/{o.epochs}",
                           disable=not self.progress or self.rank != 0, unit="it", leave=False)
                for batch in loader:
                    g_iter = self.epoch * self.iters_per_epoch + self.iteration
                    if self.crash_at is not None and g_iter == self.crash_at:
                        raise SimulatedCrash(f"simulated crash at iteration {g_iter}")
                    last_micro = (self.iteration + 1) % o.accum == 0 or self.iteration + 1 == len(batches)
                    values = self._micro_step(batch, weights, last_micro)
                    window.append(values)
                    n_images += len(batch["image"]) * self.world
                    self.iteration += 1
                    iterations_done += 1
                    bar.update(1)
                    if not last_micro:
                        continue
                    lr = self._optimizer_step()
                    if first is None:
                        first = values["total"]
                    last = values["total"]
                    if self.step % cfg.log_every == 0 or self.iteration == len(batches):
                        dt = time.perf_counter() - t_window
                        rate = n_images / max(dt, 1e-9)
                        rates.append(rate)
                        mean = {k: float(np.mean([w[k] for w in window])) for k in window[0]}
                        row = {"epoch": self.epoch, "iteration": self.iteration, "step": self.step,
                               "lr": o.lr * lr, "images_per_s": round(rate, 3), **{f"loss_{k}": round(v, 6) for k, v in mean.items()},
                               **{f"weight_{k}": round(v, 5) for k, v in self.balancer.task_weights().items()}}
                        self._log_row(row)
                        bar.set_postfix(loss=f"{mean['total']:.3f}", lr=f"{o.lr * lr:.2e}")
                        window, n_images, t_window = [], 0, time.perf_counter()
                    if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.iteration < len(batches):
                        self.save()
                bar.close()
                self.epoch += 1
                self.iteration = 0
                self.save()
                if cfg.eval_every and self.rank == 0 and (self.epoch % cfg.eval_every == 0 or self.epoch == o.epochs):
                    self._validate()
                if self.rank == 0:
                    from training.plots import plot_curves
                    plot_curves(self.out / "metrics.csv", self.out / "curves.png")
        finally:
            if self.tb is not None:
                self.tb.close()
        result = RunResult(self.out, self.out / "last.pt", self.step, iterations_done, first if first is not None else float("nan"),
                           last if last is not None else float("nan"), float(np.median(rates)) if rates else 0.0,
                           time.perf_counter() - t_start, notes=self.notes)
        if cfg.evaluate and self.rank == 0:
            # eval_every has already measured the last epoch's checkpoint
            result.evaluation = self.last_eval if self.last_eval is not None else evaluate_checkpoint(result.checkpoint, cfg)
            (self.out / "eval.json").write_text(json.dumps(result.evaluation, indent=1))
        return result


def train_source(cfg):
    """The config's training set (COCO, or YOLO-layout folders merged by class name). Its class
    list must be as long as model.num_classes (a COCO set's 80 classes may be cut to the first K)."""
    source = open_dataset(cfg.resolve_all(cfg.data.train), cfg.data.train_split, cfg.data.classes or None)
    n = len(source.label_names)
    if n < cfg.model.num_classes or (n > cfg.model.num_classes and not isinstance(source, CocoDataset)):
        raise DataError(f"model.num_classes is {cfg.model.num_classes} but the training data has {n} classes "
                        f"({', '.join(source.label_names[:8])}{', ...' if n > 8 else ''}); set model.num_classes: {n}")
    return source


def evaluate_checkpoint(path: Path, cfg, split: str | None = None, limit: int | None = None) -> dict:
    """The same evaluation as `maxsight eval detect` (training/evaluate.py), on the config's val set."""
    from training.evaluate import evaluate_dataset
    from training.torch_detector import TorchDetector
    det = TorchDetector.from_checkpoint(path)
    return evaluate_dataset(cfg.resolve_all(cfg.data.val), split or cfg.data.val_split, det, limit=limit)


def dry_run(cfg) -> dict:
    """Check a config and its data without training: every image listed exists, the teacher (for
    distillation) is installed, the model builds, and one batch runs forward and through the
    losses. Returns what a run would do."""
    from engine.models.registry import ModelError, default_registry, installed_path
    from training.data import DataError
    m, o = cfg.model, cfg.optim
    info: dict = {"name": cfg.name, "preset": m.preset, "backbone": m.backbone, "input_size": m.input_size}
    if cfg.distill:
        from training.distill import _sources
        reg = default_registry(include_user=False)
        spec = reg.get(cfg.distill.teacher)
        for part in spec.parts or (spec.name,):
            if installed_path(reg.get(part)) is None:
                raise ModelError(f"the teacher {part!r} is not installed; run `maxsight models fetch`")
        srcs = _sources([cfg.resolve(v) for v in cfg.distill.videos])
        info["data"] = f"{len(srcs)} video/image sources, every {cfg.distill.every_n} frame(s), teacher {cfg.distill.teacher}"
        source = None
    else:
        source = train_source(cfg)
        if isinstance(source, CocoDataset):      # YOLO sets pair every label file with its image when read
            missing = [im["file_name"] for im in source.images if not (source.images_dir / im["file_name"]).is_file()]
            if missing:
                raise DataError(f"{len(missing)} image file(s) listed in the annotations are missing from {source.images_dir}, e.g. {missing[0]}")
        info["data"] = f"{len(source)} images, {int(source.class_counts().sum())} boxes ({cfg.data.train_split} split of {cfg.data.train})"
        info["classes"] = ", ".join(f"{n} {c}" for n, c in zip(source.label_names, source.class_counts()))
    val = open_dataset(cfg.resolve_all(cfg.data.val), cfg.data.val_split,
                       source.label_names if source is not None and not isinstance(source, CocoDataset) else None)
    info["val_data"] = f"{len(val)} images, {int(val.class_counts().sum())} boxes ({cfg.data.val_split} split of {cfg.data.val})"
    net = build_model(cfg)
    info["parameters_m"] = round(sum(p.numel() for p in net.parameters()) / 1e6, 2)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if source is not None:
        aug = Augmenter(cfg.data.augment, m.input_size, m.head_stride, train=True)
        ds = TrainingSet(source, aug, cfg.seed, net.clip_frames)
        batches = epoch_batches(len(ds), o.batch, cfg.seed, 0, 0, world, o.iters_per_epoch)
        batch = collate([ds[k] for k in batches[0]])
        net.train()
        with torch.no_grad():
            losses = net.loss(net(batch["image"]), batch)
        weights = phase_weights(cfg.loss.phases, 0)
        info["first_batch_losses"] = {k: round(float(v), 4) for k, v in losses.items() if weights.get(k, 0) > 0}
        info["iterations_per_epoch"] = len(batches)
        info["optimizer_steps"] = o.epochs * len(batches) // o.accum
    device = pick_device(cfg.device)
    info["device"] = str(device)
    info["amp"] = str(amp_dtype(o.amp, device)).replace("torch.", "") if amp_dtype(o.amp, device) else "off"
    info["out"] = str(cfg.out_dir())
    return info
