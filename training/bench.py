"""`maxsight bench train`: training throughput (images/s) per preset and backbone on real COCO
images with the real augmentations, one optimizer step per batch; data loading timed apart.
Medians over the timed steps after warm-up, and each row as a ratio to the first row (the
reference) measured in the same run."""
from __future__ import annotations

import time

import numpy as np
import torch

ROWS = (("t0", "mobilenet_v2"), ("t0", "resnet50"), ("t2", "mobilenet_v2"), ("t5", "mobilenet_v2"))


def bench_train(rows=ROWS, size: int = 256, batch: int = 4, steps: int = 6, warmup: int = 2, device: str = "auto") -> dict:
    from training.augment import Augmenter
    from training.config import from_dict
    from training.data import CocoDataset, TrainingSet, collate
    from training.loop import pick_device
    from training.model import build_model
    dev = pick_device(device)
    out = {"device": str(dev), "threads": torch.get_num_threads(), "input_size": size, "batch": batch, "steps": steps, "rows": []}
    for preset, backbone in rows:
        vit = {"dim": 384, "depth": 6, "heads": 6} if preset != "t0" else {}
        cfg = from_dict({"model": {"preset": preset, "backbone": backbone, "input_size": size, "fpn_channels": 128, "norm": "frozen_bn",
                                   "vit": vit, "temporal": {"frames": 4, "hidden": 64}}})
        torch.manual_seed(0)
        net = build_model(cfg).to(dev).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        src = CocoDataset(cfg.resolve(cfg.data.train), "dev")
        ds = TrainingSet(src, Augmenter(cfg.data.augment, size, cfg.model.head_stride), 0, net.clip_frames)
        data_t, step_t = [], []
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            b = collate([ds[(0, (i * batch + j) % len(ds))] for j in range(batch)])
            t1 = time.perf_counter()
            if "flow" in b:
                b["flow"] = b["flow"].to(dev)
            b["urgency"] = b["urgency"].to(dev)
            loss = sum(net.loss(net(b["image"].to(dev)), b).values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            if i >= warmup:
                data_t.append(t1 - t0)
                step_t.append(t2 - t1)
        frames = max(net.clip_frames, 1)
        row = {"preset": preset, "backbone": backbone, "params_m": round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
               "clip_frames": frames, "step_ms_median": 1e3 * float(np.median(step_t)), "data_ms_median": 1e3 * float(np.median(data_t)),
               "images_per_s": batch / float(np.median(step_t)), "images_per_s_with_data": batch / float(np.median(np.add(step_t, data_t)))}
        out["rows"].append(row)
    ref = out["rows"][0]["images_per_s"]
    for r in out["rows"]:
        r["ratio_to_first"] = r["images_per_s"] / ref
    return out


def table(result: dict) -> str:
    lines = [f"Training throughput on {result['device']} ({result['threads']} threads), {result['input_size']} px, batch {result['batch']}, "
             f"median of {result['steps']} steps (t5: each sample is a clip; images/s counts clips)",
             f"{'preset':<7}{'backbone':<14}{'params M':>9}{'step ms':>9}{'data ms':>9}{'img/s':>8}{'img/s+data':>11}{'vs first':>9}"]
    for r in result["rows"]:
        lines.append(f"{r['preset']:<7}{r['backbone']:<14}{r['params_m']:>9.1f}{r['step_ms_median']:>9.0f}{r['data_ms_median']:>9.0f}"
                     f"{r['images_per_s']:>8.2f}{r['images_per_s_with_data']:>11.2f}{r['ratio_to_first']:>9.2f}")
    return "\n".join(lines)
