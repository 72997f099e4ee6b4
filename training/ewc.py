"""Continual learning without forgetting (SEED.md Phase 5: "Elastic Weight Consolidation"): add
classes to a trained detector and keep what it knew.

`maxsight train CONFIG.yaml` runs this when the YAML has a `continual:` section:

    continual:
      source: ../runs/door_detector/last.pt   # the trained detector (its EMA weights when it has them)
      ewc_weight: 1000                        # lambda; 0 is plain fine-tuning, for comparison
      fisher_batches: 30                      # batches of the old task that estimate the Fisher information
      fisher_data: []                         # the old task's images (default: the source's own training data)
      fisher_split: ""                        # (default: the source's train_split)
      old_val: []                             # where the old classes are measured before and after
      old_val_split: ""                       # (default: the source's val data and split)

The rest is an ordinary training config whose `data.train` is the new task's data (its own class
names); the new model's classes are the source's classes in their order, then the new data's
classes the source does not know, and `model.num_classes` must count them all. Everything else in
`model` must be the source's (compat.py says which setting differs). The new model starts as the
source, with the class layer grown: old rows copied, new rows freshly initialised.

EWC (Kirkpatrick et al. 2017): F_i, the diagonal of the empirical Fisher information of the old
task at the source weights theta*_i (the mean of squared gradients of the old task's training loss
over `fisher_batches` batches of its data, no augmentation), and every step adds
    ewc_weight / 2 * sum_i F_i (theta_i - theta*_i)^2
to the loss (for the grown class layer, over its old rows). It is logged as loss_ewc (weighted
by ewc_weight only in the total). Anchors and F are computed once and kept in RUN/ewc.pt, so a
resumed run uses the same ones. EWC adds to the static balancer's total; GradNorm and PCGrad
reweight losses by name and are refused here (loss.balancing: static).

At the end the old classes are measured on `old_val` with the source and with the new weights
(per-class AP50, the same evaluation as `maxsight eval detect`), written to RUN/continual.json.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from training import checkpoint as ckpt
from training.config import ConfigError

log = logging.getLogger(__name__)


@dataclass
class ContinualConfig:
    source: str = ""
    ewc_weight: float = 1000.0
    fisher_batches: int = 30
    fisher_data: str | list[str] = field(default_factory=list)
    fisher_split: str = ""
    old_val: str | list[str] = field(default_factory=list)
    old_val_split: str = ""


def parse(section: dict, cfg) -> ContinualConfig:
    from training.sections import build_section
    cc = build_section(ContinualConfig, section, "continual")
    if not cc.source:
        raise ConfigError("continual.source must name the trained detector checkpoint to add classes to")
    if cc.ewc_weight < 0:
        raise ConfigError(f"continual.ewc_weight must be 0 (plain fine-tuning) or more, got {cc.ewc_weight}")
    if cc.fisher_batches < 1:
        raise ConfigError(f"continual.fisher_batches must be at least 1, got {cc.fisher_batches}")
    if cfg.loss.balancing != "static":
        raise ConfigError(f"continual learning adds its EWC penalty to the static balancer's total; set loss.balancing: static "
                          f"(got {cfg.loss.balancing})")
    if cfg.distill:
        raise ConfigError("continual learning trains on labelled data; leave the distill section out")
    return cc


def _paths(v) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


# ---- the penalty ----------------------------------------------------------------------------------
class EWC:
    """Anchors theta* and the Fisher diagonal F by parameter name; penalty(model) is
    1/2 sum F (theta - theta*)^2 over the anchored parameters (their leading rows where the model
    grew a dimension, e.g. the class layer)."""

    def __init__(self, anchors: dict[str, torch.Tensor], fisher: dict[str, torch.Tensor]):
        missing = sorted(set(anchors) ^ set(fisher))
        if missing:
            raise ValueError(f"EWC anchors and Fisher information name different parameters, e.g. {missing[0]}")
        self.anchors, self.fisher = anchors, fisher

    def penalty(self, model: torch.nn.Module) -> torch.Tensor:
        params = dict(model.named_parameters())
        total = None
        for name, a in self.anchors.items():
            p = params.get(name)
            if p is None:
                continue
            f = self.fisher[name].to(p.device)
            cur = p[:a.shape[0]] if p.shape != a.shape else p
            term = (f * (cur - a.to(p.device)) ** 2).sum()
            total = term if total is None else total + term
        if total is None:
            return torch.zeros((), device=next(model.parameters()).device)
        return 0.5 * total

    def state_dict(self) -> dict:
        return {"anchors": self.anchors, "fisher": self.fisher}

    @staticmethod
    def from_state(state: dict) -> "EWC":
        return EWC(state["anchors"], state["fisher"])


def fisher_diagonal(model: torch.nn.Module, batches, loss_fn) -> tuple[dict[str, torch.Tensor], int]:
    """Mean squared gradient of loss_fn(model, batch) per parameter, over the batches."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    n = 0
    was = model.training
    model.train()
    for batch in batches:
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model, batch)
        loss.backward()
        for name, p in params.items():
            if p.grad is not None:
                fisher[name] += p.grad.detach() ** 2
        n += 1
    model.zero_grad(set_to_none=True)
    model.train(was)
    if n == 0:
        raise ValueError("the Fisher information needs at least one batch of the old task")
    return {k: v / n for k, v in fisher.items()}, n


def grow_into(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Copy the source weights into a model with more classes: tensors of equal shape whole, tensors
    that grew along their first dimension (the class layer) into their leading rows. Returns (copied
    whole, copied into leading rows). The class-weight buffer is the new data's own."""
    own = model.state_dict()
    whole, rows = [], []
    with torch.no_grad():
        for k, v in state.items():
            if k not in own or k.endswith("class_weights"):
                continue
            t = own[k]
            if t.shape == v.shape:
                t.copy_(v)
                whole.append(k)
            elif t.ndim == v.ndim and t.shape[1:] == v.shape[1:] and t.shape[0] > v.shape[0]:
                t[:v.shape[0]].copy_(v)
                rows.append(k)
    return whole, rows


# ---- data -----------------------------------------------------------------------------------------
class GrownClasses:
    """The new task's data with its classes numbered after the old ones (old names first, then
    the new names this data adds), as a training source (load, class_counts, zone_counts)."""

    def __init__(self, source, old_names: list[str]):
        self.source = source
        self.label_names = list(old_names) + [n for n in source.label_names if n not in old_names]
        index = {n: i for i, n in enumerate(self.label_names)}
        self.map = np.array([index[n] for n in source.label_names], np.int64)

    def __len__(self) -> int:
        return len(self.source)

    def load(self, i: int):
        s = self.source.load(i)
        s.classes = self.map[s.classes] if len(s.classes) else s.classes
        return s

    def class_counts(self) -> np.ndarray:
        counts = np.zeros(len(self.label_names), np.int64)
        np.add.at(counts, self.map, self.source.class_counts())
        return counts

    def zone_counts(self) -> np.ndarray:
        return self.source.zone_counts()


def new_task_source(cfg, old_names: list[str]) -> GrownClasses:
    from training.data import open_dataset
    src = open_dataset(cfg.resolve_all(cfg.data.train), cfg.data.train_split)
    grown = GrownClasses(src, old_names)
    added = grown.label_names[len(old_names):]
    if not added:
        raise ConfigError(f"data.train ({cfg.data.train}) names no class that continual.source does not know already; "
                          f"it knows {', '.join(old_names)}")
    if cfg.model.num_classes != len(grown.label_names):
        raise ConfigError(f"model.num_classes must be {len(grown.label_names)}: the {len(old_names)} classes of continual.source "
                          f"and the {len(added)} new ones of data.train ({', '.join(added)}), got {cfg.model.num_classes}")
    if cfg.data.classes and list(cfg.data.classes) != grown.label_names:
        raise ConfigError(f"data.classes must be the old classes then the new ones ({', '.join(grown.label_names)}), "
                          f"or left out; got {', '.join(cfg.data.classes)}")
    return grown


def old_task_batches(old_cfg, old_names: list[str], cc: ContinualConfig, batch: int, resolve=None):
    """`fisher_batches` batches of the old task's training data, letterboxed, no augmentation.
    `resolve` turns continual.fisher_data paths into folders (the continual config's own resolve)."""
    import dataclasses

    from training.augment import Augmenter
    from training.data import CocoDataset, TrainingSet, collate, epoch_batches, open_dataset
    resolve = resolve or old_cfg.resolve
    paths = [resolve(p) for p in _paths(cc.fisher_data)] if _paths(cc.fisher_data) else old_cfg.resolve_all(old_cfg.data.train)
    split = cc.fisher_split or old_cfg.data.train_split
    src = open_dataset(paths, split, old_names)
    if not isinstance(src, CocoDataset) and list(src.label_names) != list(old_names):
        raise ConfigError(f"continual.fisher_data must label the source's classes ({', '.join(old_names)}); it labels {', '.join(src.label_names)}")
    aug_cfg = dataclasses.replace(old_cfg.data.augment, mosaic=0.0)
    ds = TrainingSet(src, Augmenter(aug_cfg, old_cfg.model.input_size, old_cfg.model.head_stride, train=False), old_cfg.seed)
    for keys in epoch_batches(len(ds), batch, old_cfg.seed, 0, iters=cc.fisher_batches):
        yield collate([ds[k] for k in keys])


def compute_ewc(data: dict, cc: ContinualConfig, batch: int, resolve=None) -> tuple[EWC, dict]:
    """Anchors (the source's weights) and the Fisher diagonal of its own task."""
    from training.balancing import StaticBalancer, phase_weights
    net, old_cfg, old_names = ckpt.model_from(data)
    anchors = {n: p.detach().clone() for n, p in net.named_parameters()}
    weights = phase_weights(old_cfg.loss.phases, 10 ** 6)
    bal = StaticBalancer()

    def loss_fn(model, b):
        out = model(b["image"])
        return bal.total(model.loss(out, b), weights)

    fisher, n = fisher_diagonal(net, old_task_batches(old_cfg, old_names, cc, batch, resolve), loss_fn)
    total = float(sum(f.sum() for f in fisher.values()))
    return EWC(anchors, fisher), {"fisher_batches": n, "batch": batch, "fisher_sum": total,
                                  "parameters": int(sum(a.numel() for a in anchors.values()))}


# ---- the trainer ----------------------------------------------------------------------------------
class _PlusEWC:
    """The static balancer's total plus ewc_weight * the 'ewc' entry of the losses."""

    def __init__(self, inner, weight: float):
        self.inner, self.weight = inner, weight

    def total(self, losses: dict, weights: dict):
        return self.inner.total(losses, weights) + self.weight * losses["ewc"]

    def task_weights(self) -> dict:
        return self.inner.task_weights()

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)


def _trainer_class():
    from training.loop import Trainer
    from training.schedule import EMA

    class ContinualTrainer(Trainer):
        """Trainer on the new task, starting from the grown source model, with the EWC penalty."""

        def __init__(self, cfg, cc: ContinualConfig, resume=None, progress: bool = True, crash_at: int | None = None):
            from training.compat import check_continual_source
            self.cc = cc
            self.source_path = cfg.resolve(cc.source)
            self.source_data = ckpt.read(self.source_path)
            self.old_names = list(self.source_data["labels"])
            check_continual_source(self.source_data, cc.source, cfg, len(self.old_names))
            super().__init__(cfg, resume=None, progress=progress, crash_at=crash_at)
            d = self.source_data
            state = d["ema"]["module"] if d.get("ema") else d["model"]
            whole, rows = grow_into(self.model, state)
            self.notes.append(f"continual: {len(whole)} tensors copied from {cc.source}, {len(rows)} grown "
                              f"({', '.join(rows)}); classes {', '.join(self.label_names)}")
            if self.ema is not None:
                self.ema = EMA(self.model, cfg.optim.ema)
            self.ewc, self.ewc_info = self._ewc()
            plain_loss = self.model.loss

            def loss_with_ewc(out, batch, hard_score: float = 0.999, world: int = 1):
                losses = plain_loss(out, batch, hard_score, world)
                losses["ewc"] = self.ewc.penalty(self.model)
                return losses

            self.model.loss = loss_with_ewc
            self.balancer = _PlusEWC(self.balancer, cc.ewc_weight)
            if resume:
                self._load(resume)

        def _source(self):
            return new_task_source(self.cfg, self.old_names)

        def _ewc(self) -> tuple[EWC, dict]:
            path = self.out / "ewc.pt"
            if path.is_file():
                saved = torch.load(path, map_location="cpu", weights_only=True)
                if saved.get("source") == str(self.source_path) and saved.get("fisher_batches") == self.cc.fisher_batches:
                    return EWC.from_state(saved), saved["info"]
            ewc, info = compute_ewc(self.source_data, self.cc, self.cfg.optim.batch, self.cfg.resolve)
            if self.rank == 0:
                torch.save({**ewc.state_dict(), "source": str(self.source_path), "fisher_batches": self.cc.fisher_batches,
                            "info": info}, path)
            return ewc, info

        def state(self) -> dict:
            return {**super().state(), "continual": {"source": str(self.source_path), "ewc_weight": self.cc.ewc_weight,
                                                      "old_classes": self.old_names}}

    return ContinualTrainer


def make_trainer(cfg, cc: ContinualConfig, resume=None, progress: bool = True, crash_at: int | None = None):
    return _trainer_class()(cfg, cc, resume=resume, progress=progress, crash_at=crash_at)


def old_class_report(cfg, cc: ContinualConfig, source_data: dict, new_checkpoint: Path, limit: int | None = None) -> dict:
    """The old classes' AP50 on old_val with the source and with the new weights."""
    from training.evaluate import evaluate_dataset
    from training.torch_detector import TorchDetector
    from training.config import from_dict
    old_cfg = from_dict(source_data["config"], source_data["config"].get("source_dir", ""))
    paths = [cfg.resolve(p) for p in _paths(cc.old_val)] if _paths(cc.old_val) else old_cfg.resolve_all(old_cfg.data.val)
    split = cc.old_val_split or old_cfg.data.val_split
    old_names = list(source_data["labels"])
    rows = {}
    for name, det in (("before", TorchDetector.from_checkpoint(source_data, name="source")),
                      ("after", TorchDetector.from_checkpoint(new_checkpoint, name="continual"))):
        ev = evaluate_dataset(paths, split, det, limit=limit)
        per = {r["class"]: r for r in ev["per_class"] if r["class"] in old_names}
        rows[name] = {"images": ev["images"], "boxes": ev["boxes"], "per_class": per,
                      "mean_AP50": float(np.mean([r["AP50"] for r in per.values()])) if per else None}
    out = {"data": [str(p) for p in paths], "split": split, "old_classes": old_names, "ewc_weight": cc.ewc_weight, **rows}
    return out
