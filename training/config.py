"""Training configuration: one YAML file per run, read into typed dataclasses and checked field by
field, so a typo or a bad value is one sentence naming the field ("optim.lr must be > 0, got -1").

A tier preset (t0, t2, t5) is a config file in `configs/`; the model code reads `model.preset`
once when it is built and never branches on flags inside `forward`.

Data paths may start with `eval:` to mean the evaluation-data folder ($MAXSIGHT_EVAL_DATA, see
engine/eval_data.py), e.g. `eval:coco_val2017_128`; other relative paths are relative to the
config file. `data.train` and `data.val` may each list several YOLO-layout folders, merged into
one class list by name (training/yolo.py); `data.classes` fixes that list's order.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PRESETS = ("t0", "t2", "t5")
BACKBONES = ("resnet50", "resnet18", "mobilenet_v2")
NORMS = ("bn", "frozen_bn", "gn")
BALANCING = ("static", "gradnorm", "pcgrad")
SPLITS = ("dev", "test", "all", "train", "val")   # dev/test: COCO sets' halves; train/val: YOLO sets' split by source photo
TEACHERS = ("nanodet", "centernet", "fused")
# The losses a Tier-1 model computes (plus 'motion' for t5); phase weights may name only these.
TIER1_LOSSES = ("objectness", "classification", "box", "distance", "urgency", "uncertainty")
ALL_LOSSES = TIER1_LOSSES + ("motion", "distill")
# Parameter groups the transfer settings may name (training/transfer.py sorts parameters into them).
TRANSFER_GROUPS = ("cnn", "backbone", "vit_low", "vit_top", "detection", "temporal", "new_heads")   # backbone: the part of cnn


class ConfigError(ValueError):
    """A config problem, as one sentence naming the field."""


@dataclass
class VitConfig:
    dim: int = 768
    depth: int = 12
    heads: int = 12
    patch: int = 16
    alpha: float = 0.1          # initial CNN<->ViT cross-connection scale (kept in 0..1 by a sigmoid)
    fusion_beta: float = 0.5    # initial weight of CNN features against the ViT CLS token


@dataclass
class TemporalConfig:
    hidden: int = 128           # ConvLSTM hidden channels
    frames: int = 4             # clip length T
    motion_head: bool = True    # predict [B, 2, H, W] flow at the head grid


@dataclass
class ModelConfig:
    preset: str = "t0"
    backbone: str = "resnet50"
    pretrained: bool | str = False   # true: the backbone's shipped ImageNet weights; a path: a state dict
    input_size: int = 320
    fpn_channels: int = 256
    head_stride: int = 16            # fused FPN grid: 16 = P4 (the seed), 8 = P3 (better for small objects)
    head_levels: list[int] = field(default_factory=list)   # e.g. [8, 16, 32]: FCOS-style heads on P3-P5 (head_stride unused); empty: the fused grid
    tower_convs: int = 2
    num_classes: int = 80
    norm: str = "bn"
    vit: VitConfig = field(default_factory=VitConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)


@dataclass
class AugmentConfig:
    flip: float = 0.5
    scale: list[float] = field(default_factory=lambda: [0.75, 1.25])
    translate: float = 0.1
    photometric: float = 0.8
    cutout: float = 0.3
    mosaic: float = 0.0
    condition: float = 0.2           # probability of a vision-condition simulation (engine/conditions.py)
    conditions: list[str] = field(default_factory=list)   # empty: all 14
    severity: list[float] = field(default_factory=lambda: [0.2, 0.8])


@dataclass
class DataConfig:
    train: str | list[str] = "eval:coco_val2017_128"   # one COCO folder, or one or more YOLO-layout folders
    train_split: str = "dev"
    val: str | list[str] = "eval:coco_val2017_128"
    val_split: str = "dev"
    classes: list[str] = field(default_factory=list)   # YOLO sets: the class list, in order (empty: merged from the sets)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    workers: int = 0


@dataclass
class Phase:
    until_epoch: int | None = None   # None: the last phase, open-ended
    weights: dict[str, float] = field(default_factory=dict)


def _seed_phases() -> list[Phase]:
    # The seed's phased unlock, Tier-1 part: detection first, motion from epoch 10.
    tier1 = {"objectness": 1.0, "classification": 1.2, "box": 3.0, "distance": 0.7, "urgency": 1.5, "uncertainty": 0.5}
    return [Phase(10, {**tier1, "motion": 0.0}), Phase(None, {**tier1, "motion": 0.6})]


@dataclass
class GradNormConfig:
    alpha: float = 1.5
    lr: float = 0.025
    every: int = 1


@dataclass
class LossConfig:
    balancing: str = "static"
    gradnorm: GradNormConfig = field(default_factory=GradNormConfig)
    phases: list[Phase] = field(default_factory=_seed_phases)
    urgency_weights: list[float] = field(default_factory=lambda: [1.0, 1.5, 2.0, 3.0])
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    class_weights: bool = True       # inverse-sqrt-frequency class weights from the training set
    objectness: str = "binary"       # objectness target: binary (1 at assigned cells) or iou (their predicted box's IoU, GFL)
    center_radius: float = 1.5       # cells within this many strides of a box centre (and inside it) learn the box


@dataclass
class OptimConfig:
    optimizer: str = "adamw"             # adamw (the seed's) or sgd (momentum 0.9, the FCOS recipe)
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    epochs: int = 1
    iters_per_epoch: int | None = None   # None: one pass over the data
    batch: int = 8                       # per process
    accum: int = 1
    clip: float | None = 10.0
    warmup_iters: int = 100
    min_lr: float = 1e-6
    ema: float | None = 0.9998
    amp: str = "auto"                    # auto (CUDA: bf16 or fp16), off, bf16, fp16


@dataclass
class DistillConfig:
    teacher: str = "fused"
    videos: list[str] = field(default_factory=lambda: ["eval:videos_walking_driving"])
    every_n: int = 5                     # take every n-th frame
    hard_score: float = 0.40             # teacher boxes at or above this are pseudo-labels
    soft_floor: float = 0.10             # boxes from here up shape the soft objectness target
    soft_weight: float = 1.0


@dataclass
class FreezeStep:
    until_epoch: int | None = None
    frozen: list[str] = field(default_factory=list)   # parameter groups kept frozen in this step


@dataclass
class TransferConfig:
    source: str = ""                     # checkpoint to copy matching weights from ("" = none)
    lr_groups: dict[str, float] = field(default_factory=dict)   # group -> multiplier of optim.lr
    freeze: list[FreezeStep] = field(default_factory=list)


@dataclass
class TrainConfig:
    name: str = "run"
    out: str = "runs/{name}"
    seed: int = 0
    device: str = "auto"
    deterministic: bool = False          # CUDA: deterministic kernels where torch has them (slower); CPU always is
    log_every: int = 10
    checkpoint_every: int = 0            # iterations between mid-epoch checkpoints (0: epoch ends only)
    evaluate: bool = True                # run the COCO evaluation after training
    eval_every: int = 0                  # epochs between val-split evaluations while training (0: none); best.pt keeps the best mAP50
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    distill: DistillConfig | None = None
    transfer: TransferConfig | None = None
    source_dir: str = ""                 # folder of the YAML file (for relative paths); set by load()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def out_dir(self) -> Path:
        return self.resolve(self.out.format(name=self.name))

    def resolve_all(self, paths: str | list[str]) -> list[Path]:
        """Every path of a data setting (one or a list), resolved as resolve() does."""
        return [self.resolve(p) for p in ([paths] if isinstance(paths, str) else paths)]

    def resolve(self, path: str) -> Path:
        """A data path from the config: `eval:` means the evaluation-data folder (EvalDataMissing, one
        sentence naming MAXSIGHT_EVAL_DATA, when it is not on this machine)."""
        if path.startswith("eval:"):
            from engine.eval_data import require
            return require(path[len("eval:"):])
        p = Path(path).expanduser()
        return p if p.is_absolute() or not self.source_dir else Path(self.source_dir) / p


def _build(cls, data, where: str):
    """Turn a mapping into dataclass `cls`, checking names and types; errors name the field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'the config'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where + '.' if where else ''}{unknown[0]} is not a known setting; known: {', '.join(sorted(names))}")
    kwargs = {k: _value(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    return cls(**kwargs)


def _value(hint, v, where: str):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if v is None and type(None) in args:
            return None
        errors = []
        for a in (a for a in args if a is not type(None)):
            try:
                return _value(a, v, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise errors[0] if len(errors) == 1 else ConfigError(f"{where} has the wrong type: {v!r}")
    if dataclasses.is_dataclass(hint):
        return _build(hint, v, where)
    if origin is list:
        if not isinstance(v, list):
            raise ConfigError(f"{where} must be a list, got {v!r}")
        return [_value(args[0], x, f"{where}[{i}]") for i, x in enumerate(v)]
    if origin is dict:
        if not isinstance(v, dict):
            raise ConfigError(f"{where} must be a mapping, got {v!r}")
        return {str(k): _value(args[1], x, f"{where}.{k}") for k, x in v.items()}
    if hint is bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{where} must be true or false, got {v!r}")
        return v
    if hint is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where} must be a whole number, got {v!r}")
        return v
    if hint is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where} must be a number, got {v!r}")
        return float(v)
    if hint is str:
        if not isinstance(v, str):
            raise ConfigError(f"{where} must be text, got {v!r}")
        return v
    raise ConfigError(f"{where}: unsupported setting type {hint}")


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def validate(cfg: TrainConfig) -> TrainConfig:
    m, o, a, lo = cfg.model, cfg.optim, cfg.data.augment, cfg.loss
    _check(m.preset in PRESETS, f"model.preset must be one of {', '.join(PRESETS)}, got {m.preset!r}")
    _check(m.backbone in BACKBONES, f"model.backbone must be one of {', '.join(BACKBONES)}, got {m.backbone!r}")
    _check(m.norm in NORMS, f"model.norm must be one of {', '.join(NORMS)}, got {m.norm!r}")
    _check(m.head_stride in (8, 16), f"model.head_stride must be 8 or 16, got {m.head_stride}")
    if m.head_levels:
        _check(m.head_levels == sorted(set(m.head_levels)) and all(s in (8, 16, 32) for s in m.head_levels),
               f"model.head_levels must list distinct strides from 8, 16, 32 in ascending order, got {m.head_levels}")
        _check(m.preset != "t5", "model.head_levels is for t0 and t2; t5 reads one fused grid (leave head_levels out)")
    _check(m.input_size % 32 == 0 and 64 <= m.input_size <= 1024,
           f"model.input_size must be a multiple of 32 between 64 and 1024, got {m.input_size}")
    _check(m.num_classes >= 1, f"model.num_classes must be at least 1, got {m.num_classes}")
    _check(m.fpn_channels >= 8, f"model.fpn_channels must be at least 8, got {m.fpn_channels}")
    if m.preset in ("t2", "t5"):
        _check(m.vit.dim % m.vit.heads == 0, f"model.vit.dim ({m.vit.dim}) must be divisible by model.vit.heads ({m.vit.heads})")
        _check(m.input_size % m.vit.patch == 0, f"model.input_size ({m.input_size}) must be a multiple of model.vit.patch ({m.vit.patch})")
        _check(0 < m.vit.alpha < 1 and 0 < m.vit.fusion_beta < 1, "model.vit.alpha and model.vit.fusion_beta must be between 0 and 1")
    if m.preset == "t5":
        _check(m.temporal.frames >= 2, f"model.temporal.frames must be at least 2, got {m.temporal.frames}")
    _check(cfg.data.train_split in SPLITS and cfg.data.val_split in SPLITS, f"data.train_split and data.val_split must be one of {', '.join(SPLITS)}")
    for key in ("train", "val"):
        v = getattr(cfg.data, key)
        _check(bool(v) and all(isinstance(p, str) and p for p in ([v] if isinstance(v, str) else v)),
               f"data.{key} must be a dataset path or a non-empty list of them, got {v!r}")
    _check(len(set(cfg.data.classes)) == len(cfg.data.classes), f"data.classes names a class twice: {cfg.data.classes}")
    if cfg.data.classes:
        _check(m.num_classes == len(cfg.data.classes),
               f"model.num_classes is {m.num_classes} but data.classes names {len(cfg.data.classes)} classes; they must match")
    for name in ("flip", "photometric", "cutout", "mosaic", "condition"):
        _check(0 <= getattr(a, name) <= 1, f"data.augment.{name} is a probability and must be between 0 and 1, got {getattr(a, name)}")
    _check(len(a.scale) == 2 and 0 < a.scale[0] <= a.scale[1], f"data.augment.scale must be [low, high] with 0 < low <= high, got {a.scale}")
    _check(len(a.severity) == 2 and 0 <= a.severity[0] <= a.severity[1] <= 1, f"data.augment.severity must be [low, high] within 0..1, got {a.severity}")
    from engine.conditions import CONDITIONS
    for c in a.conditions:
        _check(c in CONDITIONS, f"data.augment.conditions: {c!r} is not a condition; known: {', '.join(CONDITIONS)}")
    _check(cfg.data.workers >= 0, "data.workers must be 0 or more")
    _check(cfg.eval_every >= 0, f"eval_every must be 0 (off) or a number of epochs, got {cfg.eval_every}")
    _check(lo.balancing in BALANCING, f"loss.balancing must be one of {', '.join(BALANCING)}, got {lo.balancing!r}")
    _check(lo.objectness in ("binary", "iou"), f"loss.objectness must be binary or iou, got {lo.objectness!r}")
    _check(lo.center_radius > 0, f"loss.center_radius must be > 0, got {lo.center_radius}")
    _check(len(lo.urgency_weights) == 4, f"loss.urgency_weights needs 4 numbers (safe, caution, warning, danger), got {lo.urgency_weights}")
    _check(len(lo.phases) >= 1, "loss.phases needs at least one phase")
    last = -1
    for i, ph in enumerate(lo.phases):
        for k in ph.weights:
            _check(k in ALL_LOSSES, f"loss.phases[{i}].weights.{k} is not a loss; known: {', '.join(ALL_LOSSES)}")
        if ph.until_epoch is None:
            _check(i == len(lo.phases) - 1, f"loss.phases[{i}] has no until_epoch, so it must be the last phase")
        else:
            _check(ph.until_epoch > last, f"loss.phases[{i}].until_epoch must grow from phase to phase")
            last = ph.until_epoch
    _check(o.optimizer in ("adamw", "sgd"), f"optim.optimizer must be adamw or sgd, got {o.optimizer!r}")
    _check(o.lr > 0, f"optim.lr must be > 0, got {o.lr}")
    _check(0 <= o.min_lr <= o.lr, f"optim.min_lr must be between 0 and optim.lr, got {o.min_lr}")
    _check(o.epochs >= 1 and o.batch >= 1 and o.accum >= 1, "optim.epochs, optim.batch and optim.accum must be at least 1")
    _check(o.iters_per_epoch is None or o.iters_per_epoch >= 1, "optim.iters_per_epoch must be at least 1 (or left out)")
    _check(o.ema is None or 0 < o.ema < 1, f"optim.ema must be between 0 and 1 (or null), got {o.ema}")
    _check(o.clip is None or o.clip > 0, f"optim.clip must be > 0 (or null), got {o.clip}")
    _check(o.amp in ("auto", "off", "bf16", "fp16"), f"optim.amp must be auto, off, bf16 or fp16, got {o.amp!r}")
    _check(cfg.device in ("auto", "cpu", "cuda", "mps"), f"device must be auto, cpu, cuda or mps, got {cfg.device!r}")
    if cfg.distill:
        d = cfg.distill
        _check(d.teacher in TEACHERS, f"distill.teacher must be one of {', '.join(TEACHERS)}, got {d.teacher!r}")
        _check(0 < d.soft_floor <= d.hard_score < 1, "distill.soft_floor must be > 0 and at most distill.hard_score, which must be below 1")
        _check(d.every_n >= 1, "distill.every_n must be at least 1")
    if cfg.transfer:
        for g in list(cfg.transfer.lr_groups) + [g for s in cfg.transfer.freeze for g in s.frozen]:
            _check(g in TRANSFER_GROUPS, f"transfer: {g!r} is not a parameter group; known: {', '.join(TRANSFER_GROUPS)}")
    return cfg


def from_dict(data: dict, source_dir: str = "") -> TrainConfig:
    cfg = _build(TrainConfig, data, "")
    cfg.source_dir = source_dir
    return validate(cfg)


def load(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """Read a YAML config; `overrides` are `dotted.key=value` strings (value parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"the config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"--set needs key=value, got {item!r}")
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {p} is not a section")
        node[parts[-1]] = yaml.safe_load(raw)
    return from_dict(data, str(path.resolve().parent))
