#!/usr/bin/env python3
"""Issue 24: train the joint detector (NanoDet-g + door/stairs classes, training/joint.py) in one
prepared run, and write everything into one folder: weights (last.pt, joint.onnx + sidecar), the
training curve (curve.csv, curve.png), the evaluation (AP50 per class on val-dev and val-test of
accessibility_objects, COCO mAP on the COCO test half, the shipped access detector and the original
NanoDet measured beside it in the same run) and summary.json.

    # here, once: what the GPU machine cannot fetch, shrunk to fit the 64 MiB it may carry
    .venv/bin/python scripts/gpu_train_joint.py --pack .pack
    # on one H100 (device.run, carry [".pack"]; at most 8 minutes of training and evaluation):
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .pack/wheels/*.whl && export PYTHONPATH=/tmp/site;
    MAXSIGHT_EVAL_DATA=$PWD/.pack/data python3 scripts/gpu_train_joint.py --nanodet .pack/tfjs/nanodet.json --out "$OUT"
    # CPU smoke (same steps, tiny):
    .venv/bin/python scripts/gpu_train_joint.py --out /tmp/joint_smoke --device cpu --batch 2 --iters 3 --eval-limit 8

It resumes from --resume, else OUT/last.pt, else runs/joint_nanodet/last.pt when present, else
starts from NanoDet. Training stops at --iters more steps or --max-minutes (checked after each step),
whichever comes first; the checkpoint is always written. Nothing is assumed: every number in
summary.json is measured in this run.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pack(dest: Path, quality: int = 60, side: int = 416) -> None:
    """Copy accessibility_objects, coco_val2017_128 and NanoDet's TF.js files into dest, for
    carrying to a machine that has neither, within the 64 MiB a device call may carry (with the
    repository): images shrunk to `side` px on the long side and re-encoded at JPEG `quality`
    when that makes them smaller (the network sees 416 px letterboxes; labels are normalised, so
    unchanged); of the training photos' Roboflow copies (crop, noise) one per source photo is kept
    (the trainer augments itself); every val image is kept, so val-dev and val-test are whole."""
    import cv2
    from engine.eval_data import require
    from training.nanodet_torch import tfjs_files
    from training.yolo import in_val, source_group
    dest = Path(dest)
    src = require("accessibility_objects")
    n = dropped = 0
    images = [f for f in sorted(src.rglob("*")) if f.suffix.lower() in (".jpg", ".jpeg", ".png")]
    keep: dict[tuple[Path, str], Path] = {}            # training photo -> its smallest copy (least noise)
    for f in images:
        group = source_group(f.name)
        if "train" in f.relative_to(src).parts and not in_val(group):
            k = (f.parent, group)
            if k not in keep or f.stat().st_size < keep[k].stat().st_size:
                keep[k] = f
    kept = set(keep.values())
    for f in sorted(src.rglob("*")):
        if f.is_dir() or f.suffix.lower() == ".txt" and f.parent.name == "labels":
            continue
        if f.suffix.lower() in (".jpg", ".jpeg", ".png"):
            group = source_group(f.name)
            if "train" in f.relative_to(src).parts and not in_val(group) and f not in kept:
                dropped += 1
                continue
            out = dest / "data" / "accessibility_objects" / f.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            im = cv2.imread(str(f))
            h, w = im.shape[:2]
            s = min(1.0, side / max(h, w))
            if s < 1.0:
                im = cv2.resize(im, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            ok, buf = cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if s == 1.0 and f.suffix.lower() in (".jpg", ".jpeg") and f.stat().st_size <= len(buf):
                shutil.copy2(f, out)
            else:
                out.with_suffix(".jpg").write_bytes(buf.tobytes())
            label = f.parent.parent / "labels" / (f.stem + ".txt")
            if label.is_file():
                (out.parent.parent / "labels").mkdir(parents=True, exist_ok=True)
                shutil.copy2(label, out.parent.parent / "labels" / label.name)
            n += 1
        else:
            out = dest / "data" / "accessibility_objects" / f.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out)
    # COCO: the annotations and the test half's images (the half the run measures)
    import json as _json
    from training.data import split_ids
    coco_src, coco_dst = require("coco_val2017_128"), dest / "data" / "coco_val2017_128"
    (coco_dst / "images").mkdir(parents=True, exist_ok=True)
    shutil.copy2(coco_src / "instances.json", coco_dst / "instances.json")
    data = _json.loads((coco_src / "instances.json").read_text())
    test = set(split_ids([im["id"] for im in data["images"]], "test"))
    for im in data["images"]:
        if im["id"] in test:
            shutil.copy2(coco_src / "images" / im["file_name"], coco_dst / "images" / im["file_name"])
    (dest / "tfjs").mkdir(parents=True, exist_ok=True)
    for f in tfjs_files():
        shutil.copy2(f, dest / "tfjs" / f.name)
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    print(f"packed {n} images ({dropped} extra Roboflow copies of training photos left out) into {dest}: "
          f"{size / 2**20:.1f} MiB in all")


def per_class(res: dict) -> dict:
    return {r["class"]: {"AP50": round(r["AP50"], 2), "AP": round(r["AP"], 2), "boxes": r["boxes"], "images": r["images"]}
            for r in res["per_class"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT"), help="output folder ($OUT when set)")
    ap.add_argument("--config", default=str(ROOT / "configs" / "joint_nanodet.yaml"))
    ap.add_argument("--resume", default=None, help="checkpoint to continue from (default: WORK/last.pt, OUT/last.pt, "
                    "runs/joint_nanodet/last.pt, runs/joint_nanodet/joint_weights.pt, the first that exists)")
    ap.add_argument("--work", default=None, help="where last.pt (weights + optimizer, ~45 MB) is kept (default: OUT); OUT "
                    "always gets joint_weights.pt (weights only, 15 MB, resumable with a fresh optimizer)")
    ap.add_argument("--nanodet", default=None, help="nanodet.json (TF.js graph; default: the user cache)")
    ap.add_argument("--device", default=None, choices=("auto", "cpu", "cuda"))
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--iters", type=int, default=None, help="at most this many steps in this call")
    ap.add_argument("--max-minutes", type=float, default=6.0, help="training time budget of this call")
    ap.add_argument("--eval-limit", type=int, default=None, help="first N images of each evaluation split (smoke runs)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--pack", default=None, help="only pack data and NanoDet for carrying into this folder, then stop")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.pack:
        pack(Path(args.pack))
        return 0
    if not args.out:
        ap.error("--out is needed (or $OUT)")
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from training import joint as J
    from training import nanodet_torch as N
    if args.nanodet:
        N.tfjs_files = lambda p=Path(args.nanodet): (p, p.with_suffix(".bin"))   # this run's graph
    over = {k: v for k, v in {"device": args.device, "batch": args.batch, "workers": args.workers}.items() if v is not None}
    cfg = J.load_config(args.config, over)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else out
    work.mkdir(parents=True, exist_ok=True)
    resume = args.resume
    if resume is None:
        for cand in (work / "last.pt", out / "last.pt", ROOT / "runs" / "joint_nanodet" / "last.pt",
                     ROOT / "runs" / "joint_nanodet" / "joint_weights.pt"):
            if cand.is_file():
                resume = str(cand)
                break
    t0 = time.perf_counter()
    summary: dict = {"config": args.config, "overrides": over, "resumed_from": resume, "torch": torch.__version__,
                     "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() and cfg.device != "cpu" else "cpu",
                     "threads": torch.get_num_threads()}
    trainer = J.JointTrainer(cfg, out_dir=work, resume=resume)
    step0 = trainer.step
    r = trainer.run(max_iters=args.iters, max_seconds=args.max_minutes * 60)
    summary["train"] = {"from_step": step0, "to_step": r.step, "iterations": r.iterations, "batch": cfg.batch,
                        "seconds": round(r.seconds, 1), "seconds_per_iter": round(r.seconds_per_iter, 3),
                        "images_per_s": round(cfg.batch / max(r.seconds_per_iter, 1e-9), 2),
                        "first_loss": r.first_loss, "last_loss": r.last_loss, "stopped_by": r.stopped_by,
                        "schedule_iters": cfg.iters}
    trainer.save_weights(out / "joint_weights.pt")
    if work.resolve() != out.resolve():
        for name in ("config.json", "curve.csv", "curve.png"):
            if (work / name).is_file():
                shutil.copy2(work / name, out / name)
    summary["notes"] = trainer.notes
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    dev = trainer.device
    student, teacher = trainer.model.eval(), trainer.teacher.eval()
    te = time.perf_counter()
    ev = J.evaluate(student, trainer.labels, cfg, limit=args.eval_limit, device=dev)
    summary["eval"] = {k: {"images": v["images"], "boxes": v["boxes"], "mAP50": round(v["coco"]["mAP50"], 2),
                           "mAP": round(v["coco"]["mAP"], 2), **({"per_class": per_class(v)} if "per_class" in v else {}),
                           **({"safety": v["safety"]} if "safety" in v else {})} for k, v in ev.items()}
    # baselines, same images, same run: the original NanoDet on the COCO half, the shipped access detector
    from engine.models.spec import load_labels
    from training.evaluate import evaluate_dataset
    base = J.evaluate(teacher, load_labels("coco80")[0], cfg, splits=(), limit=args.eval_limit, device=dev)["coco-test"]
    summary["baseline_nanodet_coco_test"] = {"images": base["images"], "mAP": round(base["coco"]["mAP"], 2),
                                             "mAP50": round(base["coco"]["mAP50"], 2), "safety": base["safety"]}
    try:
        from engine.models.detectors import build
        from engine.models.registry import default_registry
        reg = default_registry(include_user=False)
        acc = build(reg.get("access"), reg, threads=2)
        summary["baseline_access"] = {s: per_class(evaluate_dataset(J.cfg_paths(cfg), s, acc, limit=args.eval_limit))
                                      for s in ("val-dev", "val-test")}
        mine, theirs = summary["eval"]["val-test"]["per_class"], summary["baseline_access"]["val-test"]
        # every new class must be measured on both sides (a smoke run's few images may lack some)
        summary["beats_access_on_every_class_val_test"] = all(c in mine and c in theirs and mine[c]["AP50"] > theirs[c]["AP50"]
                                                              for c in cfg.classes)
        summary["val_test_ap50_vs_access"] = {c: [mine[c]["AP50"], theirs[c]["AP50"]] for c in theirs if c in mine}
    except Exception as exc:   # noqa: BLE001 - the baseline is a comparison, not the result; say why it is missing
        summary["baseline_access"] = f"not measured: {exc}"
    summary["eval_seconds"] = round(time.perf_counter() - te, 1)
    from training.evaluate import CocoSet
    coco = CocoSet.load(cfg.resolve(cfg.coco))
    import cv2
    from training.data import split_ids
    ids = split_ids([im["id"] for im in coco.data["images"]], "test")[: args.eval_limit or 16]
    images = [cv2.imread(str(coco.image_path(im))) for im in coco.data["images"] if im["id"] in set(ids)]
    summary["old_class_drift_coco_test"] = J.old_class_drift(student, teacher, images, device=dev)
    summary["export"] = {"parity": J.export_onnx(student.cpu(), trainer.labels, out / "joint.onnx", images[:8],
                                                 extra={"checkpoint": str(r.checkpoint), "step": r.step})}
    summary["total_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("train", "beats_access_on_every_class_val_test", "val_test_ap50_vs_access",
                                              "baseline_nanodet_coco_test", "old_class_drift_coco_test", "total_seconds") if k in summary},
                     indent=1))
    print("COCO test (joint):", summary["eval"]["coco-test"]["mAP"], "mAP,", summary["eval"]["coco-test"]["mAP50"], "mAP50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
