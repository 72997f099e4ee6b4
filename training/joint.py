"""One detector for COCO's 80 classes and doors and stairs: NanoDet grown by six classes (issue 24).

The student is NanoDet-g (training/nanodet_torch.py) with its class layer grown from 80 to 80 + K
rows; the new rows start at score 0.01 and the old rows keep their weights, so at step 0 the old
80 outputs are NanoDet's exactly. The teacher is the original NanoDet, frozen, run on the same
augmented batch:
- old classes: quality focal loss (GFL) of the student's 80 class logits against the teacher's
  own scores, every cell (soft targets: a person or chair in a doorway is taught as the teacher
  sees it, never as background, which is what made the continual-learning run forget);
- old boxes: KL divergence of the student's box bins to the teacher's, at cells where the teacher
  scores some class >= `teacher_box_floor`, weighted by that score;
- new classes: quality focal loss with the IoU of the cell's predicted box as the positive target
  (GFL), cells assigned FCOS-style (training/heads.py `_assign_one`: centre region, the level for
  the box's reach), plus GIoU and distribution focal loss on their boxes.

Training is resumable: `last.pt` (training/checkpoint.py format) holds the weights, the optimizer,
the step, the RNG and the curve; the batches of step s are a function of (seed, s), so a resumed
run sees what an uninterrupted one would.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training import checkpoint as ckpt
from training import losses as LF
from training import nanodet_torch as N
from training.config import AugmentConfig, ConfigError, _build

log = logging.getLogger(__name__)

NEW_CLASSES = ["door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up"]
KIND = "joint_nanodet"


@dataclass
class JointConfig:
    name: str = "joint_nanodet"
    out: str = "../runs/{name}"
    seed: int = 0
    device: str = "auto"                       # auto: cuda when present
    data: list[str] = field(default_factory=lambda: ["eval:accessibility_objects/doors", "eval:accessibility_objects/stairs"])
    train_split: str = "train"
    classes: list[str] = field(default_factory=lambda: list(NEW_CLASSES))
    coco: str = "eval:coco_val2017_128"        # COCO set whose test half measures what the old classes kept
    batch: int = 16
    iters: int = 3000
    lr: float = 0.001
    weight_decay: float = 0.05
    warmup_iters: int = 100
    body_lr_mult: float = 0.1                  # the pretrained body learns at lr x this; the three final layers at lr
    min_lr_ratio: float = 0.05
    clip: float = 10.0
    amp: str = "bf16"                          # bf16 on CUDA; ignored on CPU
    workers: int = 0
    radius: float = 1.5                        # centre region of a box, in strides of the level
    new_cls_weight: float = 1.0
    giou_weight: float = 2.0
    dfl_weight: float = 0.25
    distill_weight: float = 1.0
    box_distill_weight: float = 1.0
    teacher_box_floor: float = 0.3
    checkpoint_every: int = 100
    log_every: int = 10
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(cutout=0.2, condition=0.1))
    source_dir: str = ""

    def resolve(self, path: str) -> Path:
        if path.startswith("eval:"):
            from engine.eval_data import require
            return require(path[len("eval:"):])
        p = Path(path).expanduser()
        return p if p.is_absolute() or not self.source_dir else Path(self.source_dir) / p

    def out_dir(self) -> Path:
        return self.resolve(self.out.format(name=self.name))

    def labels(self) -> list[str]:
        from engine.models.spec import load_labels
        return load_labels("coco80")[0] + list(self.classes)


def validate(cfg: JointConfig) -> JointConfig:
    checks = [
        (cfg.batch >= 1, f"batch must be at least 1, got {cfg.batch}"),
        (cfg.iters >= 1, f"iters must be at least 1, got {cfg.iters}"),
        (cfg.lr > 0, f"lr must be positive, got {cfg.lr}"),
        (0 < cfg.min_lr_ratio <= 1, f"min_lr_ratio must be in (0, 1], got {cfg.min_lr_ratio}"),
        (0 <= cfg.body_lr_mult <= 1, f"body_lr_mult must be in [0, 1], got {cfg.body_lr_mult}"),
        (cfg.amp in ("bf16", "fp16", "off"), f"amp must be bf16, fp16 or off, got {cfg.amp!r}"),
        (len(cfg.classes) >= 1 and len(set(cfg.classes)) == len(cfg.classes), f"classes must name distinct classes, got {cfg.classes}"),
        (0 <= cfg.teacher_box_floor <= 1, f"teacher_box_floor must be in [0, 1], got {cfg.teacher_box_floor}"),
        (cfg.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {cfg.device!r}"),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)
    return cfg


def load_config(path: str | Path, overrides: dict | None = None) -> JointConfig:
    import yaml
    path = Path(path)
    data = yaml.safe_load(path.read_text()) or {}
    data.update(overrides or {})
    data.setdefault("source_dir", str(path.parent.resolve()))
    return validate(_build(JointConfig, data, ""))


# ---- model ----------------------------------------------------------------------------------------
def build_student(k: int, teacher: N.NanoDetTorch | None = None, seed: int = 0) -> N.NanoDetTorch:
    net = copy.deepcopy(teacher) if teacher is not None else N.NanoDetTorch.from_files()
    net.grow_classes(k, seed=seed)
    for p in net.parameters():          # a frozen teacher's copy would stay frozen
        p.requires_grad_(True)
    return net


def model_from(path_or_data) -> tuple[N.NanoDetTorch, dict, list[str]]:
    """(joint model in eval mode, its config dict, labels) from a joint checkpoint."""
    data = path_or_data if isinstance(path_or_data, dict) else ckpt.read(path_or_data)
    if data.get("kind") != KIND:
        raise ckpt.CheckpointError(f"{path_or_data} is not a joint NanoDet checkpoint (kind {data.get('kind')!r})")
    labels = list(data["labels"])
    net = build_student(len(labels) - N.COCO_CLASSES)
    net.load_state_dict(data["model"])
    return net.eval(), data["config"], labels


# ---- data -----------------------------------------------------------------------------------------
class JointBatches(torch.utils.data.Dataset):
    """Item (step, j): the j-th image of step `step`, augmented with a generator seeded by
    (seed, step, j); the images of a step are drawn by (seed, step)."""

    def __init__(self, source, aug_cfg: AugmentConfig, seed: int, size: int = N.INPUT_SIZE):
        from training.augment import Augmenter
        self.source, self.seed = source, seed
        self.aug = Augmenter(aug_cfg, size, 8, train=True)

    def index(self, step: int, batch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, step])
        return rng.choice(len(self.source), size=batch, replace=batch > len(self.source))

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key):
        step, j, i = key
        s = self.aug(self.source.load(int(i)), np.random.default_rng([self.seed, step, j]))
        return {"image": torch.from_numpy(np.ascontiguousarray(s.image.transpose(2, 0, 1))),       # [3, S, S] uint8 BGR
                "boxes": torch.from_numpy(s.boxes.astype(np.float32)).reshape(-1, 4),
                "classes": torch.from_numpy(s.classes.astype(np.int64))}


class _StepSampler(torch.utils.data.Sampler):
    def __init__(self, data: JointBatches, start: int, stop: int, batch: int):
        self.data, self.start, self.stop, self.batch = data, start, stop, batch

    def __iter__(self):
        for step in range(self.start, self.stop):
            yield [(step, j, int(i)) for j, i in enumerate(self.data.index(step, self.batch))]

    def __len__(self):
        return max(0, self.stop - self.start)


def collate(items: list[dict]) -> dict:
    return {"image": torch.stack([it["image"] for it in items]),
            "targets": [{"boxes": it["boxes"], "classes": it["classes"]} for it in items]}


# ---- loss -----------------------------------------------------------------------------------------
def _dfl(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Distribution focal loss: logits [N, 4, 11], target [N, 4] in bins (0..10 - eps), per row summed over sides."""
    left = target.floor().long().clamp(0, N.REG_MAX - 1)
    wl = (left + 1).float() - target
    wr = target - left.float()
    lp = F.log_softmax(logits, -1)
    return -(lp.gather(-1, left[..., None])[..., 0] * wl + lp.gather(-1, (left + 1)[..., None])[..., 0] * wr).sum(-1)


def assign(targets: list[dict], device, radius: float = 1.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pos [B, L] bool, cls [B, L] long (new-class index), box [B, L, 4]) over NanoDet's cells."""
    from training.heads import Cells, _assign_one, head_levels
    cells = Cells.of(head_levels(N.INPUT_SIZE, N.STRIDES), device)
    B, L = len(targets), len(cells.centres)
    pos = torch.zeros(B, L, dtype=torch.bool, device=device)
    cls = torch.zeros(B, L, dtype=torch.long, device=device)
    box = torch.zeros(B, L, 4, device=device)
    for b, t in enumerate(targets):
        boxes = t["boxes"].to(device).float()
        idx = _assign_one(cells, boxes, radius)
        m = idx >= 0
        pos[b], cls[b, m], box[b, m] = m, t["classes"].to(device)[idx[m]], boxes[idx[m]]
    return pos, cls, box


def joint_loss(out: dict, teacher: dict, targets: list[dict], cfg: JointConfig, grid) -> dict[str, torch.Tensor]:
    """Every loss term (already weighted) and 'total'. out/teacher: NanoDetTorch outputs
    {"cls": [B, L, C], "reg": [B, L, 44]} (teacher C = 80)."""
    centres, stride = grid
    cls, reg = out["cls"].float(), out["reg"].float()
    B, L, C = cls.shape
    c_old = N.COCO_CLASSES
    assert teacher["cls"].shape == (B, L, c_old), f"teacher class scores must be [B, L, {c_old}], got {tuple(teacher['cls'].shape)}"
    t_score = torch.sigmoid(teacher["cls"].float())                                  # [B, L, 80]
    t_reg = teacher["reg"].float()
    pos, gcls, gbox = assign(targets, cls.device, cfg.radius)
    n_pos = max(float(pos.sum()), 1.0)
    boxes = N.decode_boxes(reg, centres, stride)                                     # [B, L, 4]
    # new classes: IoU-quality targets at assigned cells
    q = torch.zeros(B, L, C - c_old, device=cls.device)
    losses = {}
    if pos.any():
        pb, tb = boxes[pos], gbox[pos]
        iou = LF.iou(pb.detach(), tb).clamp(min=0.0)
        q[pos, gcls[pos]] = iou
        losses["giou"] = cfg.giou_weight * LF.giou(pb, tb).sum() / n_pos
        s = stride[None].expand(B, L)[pos]
        c = centres[None].expand(B, L, 2)[pos]
        ltrb = torch.cat([c - tb[:, :2], tb[:, 2:] - c], 1) / s[:, None]
        losses["dfl"] = cfg.dfl_weight * _dfl(reg[pos].reshape(-1, 4, N.NUM_BINS), ltrb.clamp(0, N.REG_MAX - 0.01)).sum() / (4 * n_pos)
    else:
        losses["giou"] = losses["dfl"] = reg.sum() * 0.0
    losses["new_cls"] = cfg.new_cls_weight * LF.quality_focal(cls[..., c_old:], q) / n_pos
    # old classes: the teacher's own scores as soft targets, everywhere
    t_max = t_score.max(-1).values                                                   # [B, L]
    n_teacher = max(float((t_max >= cfg.teacher_box_floor).sum()), 1.0)
    losses["distill_cls"] = cfg.distill_weight * LF.quality_focal(cls[..., :c_old], t_score) / n_teacher
    keep = (t_max >= cfg.teacher_box_floor) & ~pos
    if keep.any():
        w = t_max[keep]
        t_p = t_reg[keep].reshape(-1, 4, N.NUM_BINS).softmax(-1)
        s_lp = F.log_softmax(reg[keep].reshape(-1, 4, N.NUM_BINS), -1)
        kl = (t_p * (torch.log(t_p.clamp(min=1e-9)) - s_lp)).sum(-1).mean(-1)         # [k]
        losses["distill_box"] = cfg.box_distill_weight * (kl * w).sum() / w.sum().clamp(min=1e-6)
    else:
        losses["distill_box"] = reg.sum() * 0.0
    losses["total"] = sum(losses.values())
    return losses


# ---- trainer --------------------------------------------------------------------------------------
def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for but torch sees no CUDA device")
    return torch.device(name)


@dataclass
class JointResult:
    out: Path
    checkpoint: Path
    step: int
    iterations: int
    seconds: float
    seconds_per_iter: float
    first_loss: float
    last_loss: float
    stopped_by: str


class JointTrainer:
    def __init__(self, cfg: JointConfig, out_dir: Path | None = None, resume: Path | str | None = "auto",
                 progress: bool = True):
        from training.yolo import YoloDataset
        self.cfg, self.progress = cfg, progress
        self.device = pick_device(cfg.device)
        self.out = Path(out_dir) if out_dir else cfg.out_dir()
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(cfg.seed)
        self.labels = cfg.labels()
        self.source = YoloDataset(cfg_paths(cfg), cfg.train_split, list(cfg.classes))
        self.data = JointBatches(self.source, cfg.augment, cfg.seed)
        self.teacher = N.NanoDetTorch.from_files().to(self.device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.model = build_student(len(cfg.classes), self.teacher, cfg.seed).to(self.device)
        groups = [{"params": list(self.model.body.parameters()), "lr_mult": cfg.body_lr_mult},
                  {"params": list(self.model.heads.parameters()), "lr_mult": 1.0}]
        self.opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.grid = tuple(t.to(self.device) for t in N.cells(N.INPUT_SIZE))
        self.step = 0
        self.curve: list[dict] = []
        self.notes: list[str] = []
        self.amp = None
        if self.device.type == "cuda" and cfg.amp != "off":
            self.amp = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
        if resume == "auto":
            resume = self.out / "last.pt" if (self.out / "last.pt").is_file() else None
        if resume:
            self._load(resume)

    def state(self) -> dict:
        return {"kind": KIND, "config": dataclasses.asdict(self.cfg), "labels": self.labels,
                "dims": {"input_size": N.INPUT_SIZE, "strides": list(N.STRIDES), "reg_max": N.REG_MAX,
                         "num_classes": len(self.labels)},
                "model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                "rng": torch.get_rng_state(), "curve": self.curve}

    def _load(self, path) -> None:
        data = ckpt.read(path)
        if data.get("kind") != KIND:
            raise ckpt.CheckpointError(f"{path} is not a joint NanoDet checkpoint")
        if list(data["labels"]) != self.labels:
            raise ckpt.CheckpointError(f"{path} was trained for the classes {data['labels'][80:]}, this config names {self.labels[80:]}")
        self.model.load_state_dict(data["model"])
        self.step, self.curve = int(data["step"]), list(data.get("curve", []))
        if "optimizer" in data:
            self.opt.load_state_dict(data["optimizer"])
            torch.set_rng_state(data["rng"])
            self.notes.append(f"resumed from {path} at step {self.step}")
        else:                                                        # save_weights(): weights only
            self.notes.append(f"resumed from the weights in {path} at step {self.step}; the optimizer starts afresh")

    def save(self, name: str = "last.pt") -> Path:
        path = self.out / name
        ckpt.write(path, self.state())
        return path

    def save_weights(self, path: Path) -> Path:
        """Weights, step, config, labels and curve without the optimizer (a third of last.pt's
        size: 15 MB), which resume (optimizer afresh), model_from and export read."""
        state = self.state()
        for k in ("optimizer", "rng"):
            state.pop(k)
        ckpt.write(Path(path), state)
        return Path(path)

    def lr_at(self, step: int) -> float:
        c = self.cfg
        if step < c.warmup_iters:
            return c.lr * (step + 1) / c.warmup_iters
        t = min(1.0, (step - c.warmup_iters) / max(1, c.iters - c.warmup_iters))
        return c.lr * (c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t)))

    def run(self, max_iters: int | None = None, max_seconds: float | None = None) -> JointResult:
        """Train from self.step to cfg.iters, or fewer: max_iters more steps, or until max_seconds
        have passed (checked after each step; the checkpoint is written before returning)."""
        cfg = self.cfg
        stop = cfg.iters if max_iters is None else min(cfg.iters, self.step + max_iters)
        loader = torch.utils.data.DataLoader(self.data, batch_sampler=_StepSampler(self.data, self.step, stop, cfg.batch),
                                             collate_fn=collate, num_workers=cfg.workers,
                                             pin_memory=self.device.type == "cuda", persistent_workers=False)
        t0 = time.perf_counter()
        done, first, last, stopped_by = 0, None, None, "iters"
        window: list[dict] = []
        self.model.train()
        (self.out / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
        for batch in loader:
            ts = time.perf_counter()
            x = N.normalise(batch["image"].to(self.device, non_blocking=True))
            for g in self.opt.param_groups:
                g["lr"] = self.lr_at(self.step) * g["lr_mult"]
            with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
                with torch.no_grad():
                    t_out = self.teacher(x)
                out = self.model(x)
            losses = joint_loss(out, t_out, batch["targets"], cfg, self.grid)
            total = losses["total"]
            if not math.isfinite(float(total.detach())):
                raise FloatingPointError(f"the loss became {float(total)} at step {self.step}; lower lr")
            self.opt.zero_grad(set_to_none=True)
            total.backward()
            if cfg.clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
            self.opt.step()
            self.step += 1
            done += 1
            vals = {k: float(v.detach()) for k, v in losses.items()}
            first = vals["total"] if first is None else first
            last = vals["total"]
            window.append({**vals, "seconds": time.perf_counter() - ts})
            if self.step % cfg.log_every == 0 or self.step == stop:
                row = {"step": self.step, "lr": self.lr_at(self.step - 1),
                       **{f"loss_{k}": round(float(np.mean([w[k] for w in window])), 6) for k in vals},
                       "seconds_per_iter": round(float(np.mean([w["seconds"] for w in window])), 4),
                       "images_per_s": round(cfg.batch / max(float(np.mean([w["seconds"] for w in window])), 1e-9), 3)}
                self.curve.append(row)
                window = []
                if self.progress:
                    log.info("step %d: loss %.4f (%s)", self.step, row["loss_total"], ", ".join(
                        f"{k[5:]} {v:.4f}" for k, v in row.items() if k.startswith("loss_") and k != "loss_total"))
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save()
            if max_seconds is not None and time.perf_counter() - t0 >= max_seconds and self.step < stop:
                stopped_by = "time"
                break
        path = self.save()
        write_curve(self.curve, self.out)
        secs = time.perf_counter() - t0
        return JointResult(self.out, path, self.step, done, secs, secs / max(done, 1),
                           first if first is not None else float("nan"), last if last is not None else float("nan"), stopped_by)


def cfg_paths(cfg: JointConfig) -> list[Path]:
    return [cfg.resolve(p) for p in cfg.data]


def write_curve(rows: list[dict], out: Path) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / "curve.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        steps = [r["step"] for r in rows]
        for k in keys:
            if k.startswith("loss_"):
                ax.plot(steps, [r.get(k, float("nan")) for r in rows], label=k[5:])
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
        fig.tight_layout()
        tmp = out / "curve.tmp.png"
        fig.savefig(tmp)
        plt.close(fig)
        tmp.replace(out / "curve.png")
    except ImportError:
        log.info("matplotlib is not installed: curve.csv written, no plot")


# ---- inference and evaluation ---------------------------------------------------------------------
class NanoDetPredictor(torch.nn.Module):
    """scores [B, L, C] (sigmoid), boxes [B, L, 4] xyxy input pixels: what parity compares."""

    def __init__(self, net: N.NanoDetTorch):
        super().__init__()
        self.net = net
        c, s = N.cells(N.INPUT_SIZE)
        self.register_buffer("centres", c, persistent=False)
        self.register_buffer("stride", s, persistent=False)

    def forward(self, x):
        out = self.net(x)
        return torch.sigmoid(out["cls"]), N.decode_boxes(out["reg"], self.centres, self.stride)


class NanoDetLayout(torch.nn.Module):
    """The exported graph: NanoDet's own outputs, per stride 8/16/32 class scores [B, g*g, C]
    (sigmoid) then box bins [B, g*g, 44], so the engine's NanoDet family runs it."""

    def __init__(self, net: N.NanoDetTorch):
        super().__init__()
        self.net = net
        self.sizes = [(N.INPUT_SIZE // s) ** 2 for s in N.STRIDES]

    def forward(self, x):
        out = self.net(x)
        cls = torch.split(torch.sigmoid(out["cls"]), self.sizes, 1)
        reg = torch.split(out["reg"], self.sizes, 1)
        return (*cls, *reg)


def layout_names() -> list[str]:
    return [f"scores_{s}" for s in N.STRIDES] + [f"boxes_{s}" for s in N.STRIDES]


def torch_detector(net: N.NanoDetTorch, labels: list[str], name: str, device="cpu"):
    """An engine detector (prepare/infer/decode of engine/models/detectors/nanodet.py) that runs
    the torch model, for evaluating checkpoints without an export."""
    from engine.models.detectors.nanodet import NanoDet

    class TorchNanoDet(NanoDet):
        def __init__(self):
            self.name, self.spec, self.labels, self.size = name, None, list(labels), N.INPUT_SIZE
            self.net = net.to(device).eval()
            self.levels = []
            for s in N.STRIDES:
                g = N.INPUT_SIZE // s
                i = np.arange(g * g)
                self.levels.append((s, f"scores_{s}", f"boxes_{s}", (np.stack([(i % g) + 0.5, (i // g) + 0.5], 1) * s).astype(np.float32)))
            self.layout = NanoDetLayout(self.net)

        def infer(self, prepared):
            x, _ = prepared
            with torch.inference_mode():
                ys = self.layout(torch.from_numpy(x).to(device))
            return {n: y.float().cpu().numpy() for n, y in zip(layout_names(), ys)}

    return TorchNanoDet()


def evaluate(net: N.NanoDetTorch, labels: list[str], cfg: JointConfig, splits=("val-dev", "val-test"),
             coco_split: str | None = "test", limit: int | None = None, device="cpu") -> dict:
    """AP per class on the door/stairs splits and COCO mAP on the COCO set's split, through the
    engine's own NanoDet decoding (letterbox, NMS) and pycocotools."""
    from training.evaluate import evaluate_dataset
    det = torch_detector(net, labels, "joint-nanodet", device)
    res = {}
    for split in splits:
        r = evaluate_dataset(cfg_paths(cfg), split, det, limit=limit)
        res[split] = {"images": r["images"], "boxes": r["boxes"], "coco": r["coco"], "per_class": r["per_class"]}
    if coco_split:
        r = evaluate_dataset(cfg.resolve(cfg.coco), coco_split, det, limit=limit)
        res[f"coco-{coco_split}"] = {"images": r["images"], "boxes": r["boxes"], "coco": r["coco"], "safety": r["safety"]}
    return res


def onnx_runner(path: Path, threads: int = 2):
    """x [1, 3, 416, 416] -> [scores [1, L, C], boxes [1, L, 4]] from an ONNX file in NanoDet's
    layout (the installed nanodet.onnx, or an export of NanoDetLayout): outputs paired by grid size,
    44 channels being the box bins."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    shapes = {o.name: o.shape for o in sess.get_outputs()}
    order = []
    for s in N.STRIDES:
        n = (N.INPUT_SIZE // s) ** 2
        reg = [k for k, v in shapes.items() if v[1] == n and v[2] == 4 * N.NUM_BINS]
        cls = [k for k, v in shapes.items() if v[1] == n and v[2] != 4 * N.NUM_BINS]
        if len(reg) != 1 or len(cls) != 1:
            raise ValueError(f"{path} does not have NanoDet's outputs for stride {s} (outputs: {shapes})")
        order.append((cls[0], reg[0]))
    c, st = N.cells(N.INPUT_SIZE)
    names = [n for pair in order for n in pair]
    in_name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> list[np.ndarray]:
        got = dict(zip(names, sess.run(names, {in_name: x})))
        scores = np.concatenate([got[a] for a, _ in order], 1)
        reg = torch.from_numpy(np.concatenate([got[b] for _, b in order], 1))
        return [scores, N.decode_boxes(reg, c, st).numpy()]
    return run


def parity(net: N.NanoDetTorch, onnx_path: Path, images: list[np.ndarray]) -> dict:
    """training/export.py's parity measure (largest score and box differences, top-100 agreement)
    of eager torch against an ONNX file in NanoDet's layout, on real images, with `ok` by the
    tolerance exports are held to (export.parity_ok)."""
    from training.export import _parity, parity_ok
    eager = NanoDetPredictor(net).eval()
    inputs = [N.preprocess(im)[0] for im in images]
    p = _parity(onnx_runner(onnx_path), lambda x: list(eager(x)), inputs)
    p["ok"] = parity_ok(p, N.INPUT_SIZE)
    return p


class AppLayout(torch.nn.Module):
    """The exported graph, in the layout of every MaxSight export (engine/models/detectors/maxsight.py,
    family "maxsight"): input "image" [B, 3, S, S] letterboxed RGB with ImageNet mean/std, outputs
    "scores" [B, L, C] and "boxes" [B, L, 4] xyxy input pixels. NanoDet's own BGR normalisation is
    done inside the graph (one affine map per channel), so the app runs it like any export."""

    def __init__(self, net: N.NanoDetTorch):
        super().__init__()
        self.pred = NanoDetPredictor(net)
        from engine.models.mobilenet_v2 import MEAN, STD                 # RGB, 0..1
        mean_rgb = torch.tensor(np.asarray(MEAN, np.float32)).view(1, 3, 1, 1)
        std_rgb = torch.tensor(np.asarray(STD, np.float32)).view(1, 3, 1, 1)
        # x_bgr_nanodet = (255 * (x * std + mean))[BGR] - MEAN_BGR) / STD_BGR = x * scale + shift
        mb, sb = torch.tensor(N.MEAN_BGR).view(1, 3, 1, 1), torch.tensor(N.STD_BGR).view(1, 3, 1, 1)
        self.register_buffer("scale", (255 * std_rgb.flip(1)) / sb, persistent=False)
        self.register_buffer("shift", (255 * mean_rgb.flip(1) - mb) / sb, persistent=False)

    def forward(self, image):
        assert image.dim() == 4 and image.shape[1] == 3, f"image must be [B, 3, S, S], got {tuple(image.shape)}"
        x = image.flip(1) * self.scale + self.shift                           # RGB ImageNet -> NanoDet's BGR input
        return self.pred(x)


def export_onnx(net: N.NanoDetTorch, labels: list[str], path: Path, images: list[np.ndarray], extra: dict | None = None,
                birth_score: float = 0.45, keep_score: float = 0.25) -> dict:
    """The joint model as a MaxSight ONNX export (AppLayout, opset 17) with its sidecar JSON, parity-checked against eager torch on `images` by
    training/export.py's measure and tolerance. A model that fails parity is removed and
    ExportError raised. Returns the parity numbers."""
    from engine.models.detectors.maxsight import preprocess
    from training.export import ExportError, _parity, parity_ok, sidecar_labels
    import onnxruntime as ort
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    eager = AppLayout(net.cpu().eval()).eval()
    inputs = [preprocess(im, N.INPUT_SIZE)[0][None] for im in images]
    with torch.inference_mode():
        # the TorchScript-based exporter, as training/export.py uses (a plain graph ORT optimises well)
        torch.onnx.export(eager, (torch.from_numpy(inputs[0]),), str(path), input_names=["image"],
                          output_names=["scores", "boxes"], opset_version=17, dynamo=False)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    p = _parity(lambda x: sess.run(["scores", "boxes"], {"image": x}), lambda x: list(eager(x)), inputs)
    p["ok"] = parity_ok(p, N.INPUT_SIZE)
    if not p["ok"]:
        path.unlink(missing_ok=True)
        raise ExportError(f"the ONNX export does not match eager torch (score diff {p['max_abs_score']:.2e}, "
                          f"box diff {p['max_abs_box_px']:.3f} px); not written")
    side = {"name": path.stem, "onnx": path.name, "format": "maxsight-onnx-1",
            "description": f"NanoDet-g 416 grown to {len(labels)} classes (COCO-80 + {', '.join(labels[N.COCO_CLASSES:])})",
            "preset": "joint-nanodet", "backbone": "nanodet-g", "input_size": N.INPUT_SIZE, "clip_frames": 0,
            "labels": sidecar_labels(labels), "num_classes": len(labels), "outputs": ["scores", "boxes"],
            "parity": p, "birth_score": birth_score, "keep_score": keep_score, **(extra or {})}
    path.with_suffix(".json").write_text(json.dumps(side, indent=1))
    return p


def old_class_drift(student: N.NanoDetTorch, teacher: N.NanoDetTorch, images: list[np.ndarray], device="cpu") -> dict:
    """How far the student's 80 old class scores and boxes moved from the teacher's on real images:
    max and mean absolute score difference, and the mean box difference (px) at cells the teacher
    scores >= 0.3."""
    smax = smean = 0.0
    box_diffs = []
    c, s = N.cells(N.INPUT_SIZE, device)
    with torch.inference_mode():
        for im in images:
            x = torch.from_numpy(N.preprocess(im)[0]).to(device)
            a, b = student.eval()(x), teacher.eval()(x)
            sa, sb = torch.sigmoid(a["cls"][..., :N.COCO_CLASSES]), torch.sigmoid(b["cls"])
            d = (sa - sb).abs()
            smax, smean = max(smax, float(d.max())), smean + float(d.mean()) / len(images)
            m = sb.max(-1).values[0] >= 0.3
            if m.any():
                box_diffs.append(float((N.decode_boxes(a["reg"], c, s)[0][m] - N.decode_boxes(b["reg"], c, s)[0][m]).abs().mean()))
    return {"max_abs_score": smax, "mean_abs_score": smean,
            "mean_abs_box_px": float(np.mean(box_diffs)) if box_diffs else 0.0, "images": len(images)}
