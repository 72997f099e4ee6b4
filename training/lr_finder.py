"""Learning-rate finder (Smith 2017, "Cyclical learning rates", section 3.3; the seed's
`find_lr`): train from the config's starting weights while the learning rate grows exponentially
from lr_min to lr_max, one step per batch, and record the loss.

The suggestion rule: a tenth of the learning rate at which the smoothed loss was lowest (fastai's
`lr_min`). Past that minimum the steps are too large and the loss climbs; a tenth of it is still
on the falling part of the curve with room to spare. The loss is smoothed with an exponential
moving average (beta 0.9, bias-corrected) so one noisy batch does not decide. The sweep stops
early when the smoothed loss exceeds 4x its lowest value (diverged) or is not finite. The steepest
fall (most negative slope of the smoothed loss against log lr, before the minimum) is reported
beside it for reference.

`maxsight train CONFIG --find-lr` writes RUN/lr_find/lr_find.csv, lr_find.png (loss against lr,
log scale, the suggestion marked) and lr_find.json, and changes no run: the weights it trained
are thrown away.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

RULE = "a tenth of the learning rate at which the smoothed loss was lowest"


@dataclass
class LRSweep:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    lowest_at: float | None          # lr of the lowest smoothed loss
    steepest: float | None           # lr of the steepest fall before it
    stopped: str                     # why the sweep ended
    rule: str = RULE


def lr_at(i: int, steps: int, lr_min: float, lr_max: float) -> float:
    return lr_min * (lr_max / lr_min) ** (i / max(steps - 1, 1))


def sweep(step: Callable[[float], float], lr_min: float = 1e-6, lr_max: float = 1.0, steps: int = 100,
          beta: float = 0.9, diverge: float = 4.0) -> LRSweep:
    """Call step(lr) -> loss at exponentially growing rates; the curve and the suggestion."""
    if not 0 < lr_min < lr_max:
        raise ValueError(f"the learning-rate range must have 0 < lr_min < lr_max, got {lr_min} .. {lr_max}")
    if steps < 5:
        raise ValueError(f"the learning-rate sweep needs at least 5 steps, got {steps}")
    lrs, losses, smoothed = [], [], []
    avg, best = 0.0, math.inf
    stopped = f"reached lr_max {lr_max:g}"
    for i in range(steps):
        lr = lr_at(i, steps, lr_min, lr_max)
        loss = float(step(lr))
        if not math.isfinite(loss):
            stopped = f"the loss became {loss} at lr {lr:.3g}"
            break
        avg = beta * avg + (1 - beta) * loss
        sm = avg / (1 - beta ** (i + 1))
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(sm)
        best = min(best, sm)
        if i >= 3 and sm > diverge * best:
            stopped = f"the smoothed loss passed {diverge:g}x its lowest at lr {lr:.3g}"
            break
    suggestion, lowest, steepest = suggest(lrs, smoothed)
    return LRSweep(lrs, losses, smoothed, suggestion, lowest, steepest, stopped)


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float | None, float | None, float | None]:
    """(suggestion, lr at the lowest smoothed loss, lr of the steepest fall before it)."""
    if len(smoothed) < 3:
        return None, None, None
    sm = np.asarray(smoothed)
    i_min = int(np.argmin(sm))
    lowest = lrs[i_min]
    steepest = None
    if i_min >= 2:
        slope = np.gradient(sm[:i_min + 1], np.log(np.asarray(lrs[:i_min + 1])))
        steepest = lrs[int(np.argmin(slope))]
    return lowest / 10, lowest, steepest


def plot(result: LRSweep, png: Path, title: str = "") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(result.lrs, result.losses, color="0.7", linewidth=0.8, label="loss per step")
    ax.plot(result.lrs, result.smoothed, color="C0", linewidth=2, label="smoothed")
    if result.suggestion:
        ax.axvline(result.suggestion, color="C2", linestyle="--", label=f"suggested {result.suggestion:.2g}")
    if result.lowest_at:
        ax.axvline(result.lowest_at, color="C3", linestyle=":", label=f"lowest loss at {result.lowest_at:.2g}")
    ax.set_xscale("log")
    finite = [v for v in result.smoothed if math.isfinite(v)]
    if finite:
        ax.set_ylim(min(finite) * 0.9, min(max(finite), 4 * min(finite)) * 1.1)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(title or "learning-rate sweep")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
    return Path(png)


def write(result: LRSweep, out_dir: Path, title: str = "") -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "lr_find.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["lr", "loss", "smoothed"])
        w.writerows(zip(result.lrs, result.losses, result.smoothed))
    (out_dir / "lr_find.json").write_text(json.dumps(asdict(result), indent=1))
    return {"csv": out_dir / "lr_find.csv", "json": out_dir / "lr_find.json", "png": plot(result, out_dir / "lr_find.png", title)}


def find_lr(cfg, out_dir: Path | None = None, steps: int = 100, lr_min: float = 1e-6, lr_max: float = 1.0) -> tuple[LRSweep, dict]:
    """The sweep for a training config: its model, starting weights (pretrained, transfer source),
    data and augmentation, optimizer and parameter-group multipliers, loss weights of the first
    phase and freeze schedule of the first epoch. One optimizer step per batch."""
    import torch

    from training.balancing import phase_weights
    from training.data import collate, epoch_batches
    from training.loop import Trainer
    from training.transfer import apply_freeze, frozen_groups
    out_dir = Path(out_dir) if out_dir else cfg.out_dir() / "lr_find"
    tr = Trainer(cfg, progress=False, out_dir=out_dir)
    model, opt, o = tr.model, tr.opt, cfg.optim
    apply_freeze(model, frozen_groups(cfg.transfer.freeze, 0) if cfg.transfer else [])
    mults = [g["base_lr"] / o.lr for g in opt.param_groups]
    weights = phase_weights(cfg.loss.phases, 0)
    model.train()

    def batches():
        epoch = 0
        while True:
            yield from epoch_batches(len(tr.dataset), o.batch, cfg.seed, epoch, iters=o.iters_per_epoch)
            epoch += 1

    it = batches()

    def step(lr: float) -> float:
        for g, m in zip(opt.param_groups, mults):
            g["lr"] = lr * m
        batch = collate([tr.dataset[k] for k in next(it)])
        images = batch["image"].to(tr.device)
        batch = {**batch, "urgency": batch["urgency"].to(tr.device)}
        with torch.autocast(tr.device.type, dtype=tr.amp, enabled=tr.amp is not None):
            out = model(images)
        total = tr.balancer.total(model.loss(out, batch, tr.hard_score), weights)
        opt.zero_grad(set_to_none=True)
        if not torch.isfinite(total):
            return float("nan")
        total.backward()
        if o.clip:
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], o.clip)
        opt.step()
        return float(total.detach())

    result = sweep(step, lr_min, lr_max, steps)
    files = write(result, out_dir, f"{cfg.name}: {cfg.model.preset} {cfg.model.backbone} {cfg.model.input_size}, batch {o.batch}")
    return result, files
