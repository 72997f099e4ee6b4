"""`maxsight prune CKPT --ratio 0.3 [--finetune N]`: prune a checkpoint (training/prune.py does the
surgery), optionally fine-tune N iterations on the checkpoint's own training data, and measure the
change as INT8 is measured: ONNX exports of both, mAP and per-class AP on the same split through the
app's runner, and latency in the same run."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from training.prune import PruneError, apply_structure, macs, prune


def _finetune_trainer_class():
    from training.loop import Trainer
    from training.schedule import EMA
    from training.transfer import param_groups

    class PrunedTrainer(Trainer):
        """The config's Trainer on the pruned model (its shape and weights), recording the pruning."""

        def __init__(self, cfg, record: dict, state: dict, progress: bool = True):
            super().__init__(cfg, progress=progress)
            apply_structure(self.model, record)
            self.model.load_state_dict(state)
            self.model.to(self.device)
            self.record = record
            o = cfg.optim
            groups = param_groups(self.model, o.lr, o.weight_decay, cfg.transfer.lr_groups if cfg.transfer else {})
            self.opt = torch.optim.AdamW(groups, lr=o.lr) if o.optimizer == "adamw" else torch.optim.SGD(groups, lr=o.lr, momentum=0.9)
            self.ema = EMA(self.model, o.ema) if o.ema else None

        def state(self) -> dict:
            return {**super().state(), "pruning": self.record}

    return PrunedTrainer


def run(checkpoint: Path, ratio: float, out_dir: Path, finetune: int = 0, split: str | None = None, limit: int | None = None,
        threads: int = 1, progress: bool = True, lr: float | None = None) -> dict:
    """Prune a checkpoint, fine-tune it (optionally), export both to ONNX and measure the change."""
    from training import checkpoint as ckpt
    from training.export import default_split, export
    from training.model import Predictor
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = ckpt.read(checkpoint)
    if data.get("pruning"):
        raise PruneError(f"{checkpoint} is pruned already ({data['pruning']['ratio']:.0%}); prune the unpruned checkpoint with the ratio you want")
    net, cfg, labels = ckpt.model_from(data)
    size = cfg.model.input_size
    example = torch.zeros(1, 3, size, size) if not net.clip_frames else torch.zeros(1, net.clip_frames, 3, size, size)
    before = {"parameters": sum(p.numel() for p in net.parameters()), "macs": macs(Predictor(net), example)}
    record = prune(net, ratio)
    after = {"parameters": sum(p.numel() for p in net.parameters()), "macs": macs(Predictor(net), example)}
    stem = Path(checkpoint).stem
    pruned_path = out_dir / f"{stem}-pruned.pt"
    state = net.state_dict()
    payload = {k: v for k, v in data.items() if k not in ("optimizer", "scaler", "balancer", "rng", "ema", "model")}
    ckpt.write(pruned_path, {**payload, "model": state, "ema": None, "pruning": record})
    notes = []
    final = pruned_path
    if finetune:
        cfg.out = str(out_dir / "finetune")
        cfg.name = f"{cfg.name}_pruned"
        cfg.evaluate, cfg.eval_every, cfg.checkpoint_every = False, 0, 0
        cfg.optim.epochs, cfg.optim.iters_per_epoch = 1, finetune
        cfg.optim.warmup_iters = min(cfg.optim.warmup_iters, max(finetune // 10, 1))
        if lr:
            cfg.optim.lr, cfg.optim.min_lr = lr, min(cfg.optim.min_lr, lr)
        cfg.transfer = None                                   # the pruned weights are the start; no source, no freezing
        res = _finetune_trainer_class()(cfg, record, state, progress=progress).run()
        final = res.checkpoint
        notes.append(f"fine-tuned {res.iterations} iterations on {cfg.data.train} ({cfg.data.train_split}): loss {res.first_loss:.3f} -> {res.last_loss:.3f}")
    split = split or default_split(cfg)
    rep_a = export(Path(checkpoint), out_dir / "onnx", ("onnx",), name=f"{stem}-full", eval_split=split, eval_limit=limit, threads=threads)
    rep_b = export(Path(final), out_dir / "onnx", ("onnx",), name=f"{stem}-pruned", eval_split=split, eval_limit=limit, threads=threads)
    a, b = rep_a.accuracy["fp32"], rep_b.accuracy["fp32"]
    interleaved = interleaved_latency([rep_a.files["onnx"], rep_b.files["onnx"]], cfg, split, threads)
    report = {
        "checkpoint": str(checkpoint), "pruned": str(final), "ratio": ratio, "finetune_iterations": finetune, "notes": notes,
        "before": before, "after": after, "units": record["units"],
        "accuracy": {"full": a, "pruned": b, "change": {"mAP": b["mAP"] - a["mAP"], "mAP50": b["mAP50"] - a["mAP50"],
                                                        "latency_ratio": b["latency_ms_median"] / max(a["latency_ms_median"], 1e-9)}},
        "threads": threads,
        "latency_interleaved_ms": {"full": interleaved[0], "pruned": interleaved[1], "ratio": interleaved[1] / max(interleaved[0], 1e-9),
                                   "note": "ONNX Runtime, the two models timed in turn on the same 16 images, 3 rounds, median"},
    }
    (out_dir / "prune.json").write_text(json.dumps(report, indent=1))
    return report


def interleaved_latency(paths: list[str], cfg, split: str, threads: int, images: int = 16, rounds: int = 3) -> list[float]:
    """Median ms per image of each ONNX model, timed in turn on the same images (so load from other
    processes falls on both alike)."""
    import time

    import numpy as np
    import onnxruntime as ort

    from training.export import _inputs, calibration_images
    inputs = _inputs(calibration_images(cfg, split, limit=images), cfg.model.input_size, 0)
    sessions = []
    for p in paths:
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions.append(ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]))
    times = [[] for _ in sessions]
    for s in sessions:
        s.run(None, {"image": inputs[0]})
    for _ in range(rounds):
        for x in inputs:
            for i, s in enumerate(sessions):
                t0 = time.perf_counter()
                s.run(None, {"image": x})
                times[i].append((time.perf_counter() - t0) * 1e3)
    return [float(np.median(t)) for t in times]
