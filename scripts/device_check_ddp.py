#!/usr/bin/env python3
"""Multi-GPU check for a machine with NVIDIA GPUs (issue 18): one short, prepared run.

    python scripts/device_check_ddp.py --out "$OUT"            # on the GPU machine
    python scripts/device_check_ddp.py --out /tmp/x --cpu-smoke   # here: the same steps, tiny, on CPU

What it measures, each written to OUT/ddp_check.json as measured (nothing is assumed):
1. the GPUs torch sees, and whether they do bf16;
2. throughput of the t0 MobileNetV2 detector (320 px, batch 16 per GPU, bf16 autocast, 30
   iterations after 5 of warm-up) on one GPU, then with DistributedDataParallel over all of them
   (torchrun, NCCL) when there is more than one: images/s in total and per GPU;
3. exact resume on the GPU(s) with `deterministic: true`: a run killed after a mid-run checkpoint
   and resumed from it against the uninterrupted run, both bf16 and DDP when there are several
   GPUs: the largest weight difference (0 means exact).
Data: the COCO evaluation subset ($MAXSIGHT_EVAL_DATA/coco_val2017_128, 9.4 MB), whose dev half
is the training set. Needs the project's Python with torch (CUDA build) and torchvision; the
MobileNetV2 ImageNet weights are not needed (pretrained: false).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(out: Path, name: str, smoke: bool, **over) -> Path:
    cfg = {
        "name": name, "out": str(out / name), "seed": 0, "log_every": 5, "evaluate": False,
        "device": "cpu" if smoke else "cuda",
        "model": {"preset": "t0", "backbone": "mobilenet_v2", "pretrained": False, "norm": "bn",
                  "input_size": 96 if smoke else 320, "fpn_channels": 32 if smoke else 96, "head_stride": 16 if smoke else 8,
                  "tower_convs": 1 if smoke else 2},
        "data": {"train": "eval:coco_val2017_128", "train_split": "dev", "val": "eval:coco_val2017_128", "val_split": "dev",
                 "augment": {"mosaic": 0.3, "condition": 0.2}},
        "optim": {"lr": 0.002, "epochs": 1, "iters_per_epoch": 6 if smoke else 35, "batch": 2 if smoke else 16,
                  "warmup_iters": 2, "ema": 0.99, "amp": "off" if smoke else "bf16"},
    }
    for k, v in over.items():
        node = cfg
        *path, last = k.split("__")
        for p in path:
            node = node[p]
        node[last] = v
    path = out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def train(cfg: Path, nproc: int, extra: list[str] = (), timeout: int = 400) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--master_port={free_port()}",
               "-m", "maxsight_app", "train", str(cfg), "--quiet", *extra]
    else:
        cmd = [sys.executable, "-m", "maxsight_app", "train", str(cfg), "--quiet", *extra]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    p.wall = time.perf_counter() - t0
    return p


def throughput(run_dir: Path, skip_steps: int) -> float | None:
    """Median images/s (all processes together) of the log rows after the warm-up steps."""
    rows = [r for r in csv.DictReader((run_dir / "metrics.csv").open()) if int(r["step"]) > skip_steps]
    vals = sorted(float(r["images_per_s"]) for r in rows)
    return vals[len(vals) // 2] if vals else None


def max_weight_diff(a: Path, b: Path) -> float:
    import torch
    sa = torch.load(a, map_location="cpu", weights_only=True)["model"]
    sb = torch.load(b, map_location="cpu", weights_only=True)["model"]
    return max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa if sa[k].dtype.is_floating_point)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny CPU run of every step (no GPU needed)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rep: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S")}
    try:
        import torch
    except ImportError:
        rep["error"] = "torch is not installed in this Python"
        (out / "ddp_check.json").write_text(json.dumps(rep, indent=1))
        print(rep["error"])
        return 1
    smoke = args.cpu_smoke
    n = 1 if smoke else torch.cuda.device_count()
    rep["torch"] = torch.__version__
    rep["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    rep["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if not smoke and n == 0:
        rep["error"] = "torch sees no CUDA GPU"
        (out / "ddp_check.json").write_text(json.dumps(rep, indent=1))
        print(rep["error"])
        return 1
    warm = 1 if smoke else 5
    results = {}
    # 1 GPU, then all of them (same batch per GPU)
    for procs in sorted({1, n}):
        cfg = config(out, f"tp{procs}", smoke)
        p = train(cfg, procs)
        ok = p.returncode == 0
        ips = throughput(out / f"tp{procs}", warm) if ok else None
        results[f"{procs}_gpu"] = {"ok": ok, "images_per_s": ips, "per_gpu": ips / procs if ips else None, "wall_s": round(p.wall, 1),
                                   **({} if ok else {"stderr": p.stderr[-1500:]})}
        print(f"{procs} process(es): {'ok' if ok else 'FAILED'} {ips} images/s", flush=True)
    rep["throughput"] = results
    if n > 1 and results["1_gpu"]["images_per_s"] and results[f"{n}_gpu"]["images_per_s"]:
        rep["scaling"] = results[f"{n}_gpu"]["images_per_s"] / results["1_gpu"]["images_per_s"]
    # exact resume, deterministic, bf16 (and DDP when there are several GPUs)
    over = dict(deterministic=True, checkpoint_every=3, optim__epochs=2, optim__iters_per_epoch=4 if smoke else 6)
    full = train(config(out, "resume_full", smoke, **over), n)
    crashed = train(config(out, "resume_cut", smoke, **over), n, ["--crash-at", "5" if smoke else "8"])
    resumed = train(config(out, "resume_cut", smoke, **over), n, ["--resume", str(out / "resume_cut" / "last.pt")])
    res = {"processes": n, "full_ok": full.returncode == 0, "crash_exit": crashed.returncode, "resumed_ok": resumed.returncode == 0}
    if res["full_ok"] and res["resumed_ok"]:
        res["max_weight_diff"] = max_weight_diff(out / "resume_full" / "last.pt", out / "resume_cut" / "last.pt")
        res["exact"] = res["max_weight_diff"] == 0.0
    else:
        res["stderr"] = (full.stderr + resumed.stderr)[-2000:]
    rep["resume"] = res
    print(f"resume: {res}", flush=True)
    rep["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    (out / "ddp_check.json").write_text(json.dumps(rep, indent=1))
    print(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
