#!/usr/bin/env python3
"""Issue 18's small-budget comparisons, on one CPU thread, one run at a time (a few minutes each):

pretrain  the door/stairs detector (configs/access_detector.yaml at 160 px) fine-tuned for the same
          budget from ImageNet weights, and from ImageNet weights further pretrained on the
          unlabelled frames with MAE and with SimCLR (configs/pretrain_*.yaml); the ImageNet arm
          again with another seed shows how much a seed alone moves the numbers.
ewc       a door detector (the 4 door classes) gets stairs added (2 classes) by fine-tuning on the
          stairs photos alone, plainly and with EWC at two weights; the old classes' AP50 on the
          doors' val split before and after, the new classes' AP50 on the stairs' val split.

Every AP is the same evaluation as `maxsight eval detect` (val split by source photo, all of it).
Results: runs/issue18/summary.json and summary.md. A run whose results exist is not run again.
This is a small-budget comparison: it says what a few minutes of CPU do, not what a full run does.

    python scripts/issue18_small_budget.py [pretrain] [ewc]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "runs" / "issue18"
PY = sys.executable
LAUNCH = ("import sys, cv2, torch; cv2.setNumThreads(1); torch.set_num_threads(1); "
          "from maxsight_app.cli import main; sys.exit(main(sys.argv[1:]))")

SIZE = 160
FT = {"iters": 200, "batch": 8}                 # fine-tune budget of every detector arm
PRE = {"mae": 100, "simclr": 50}                # pretraining steps of 16 images (SimCLR: 2 views each)
OLD = {"iters": 200, "batch": 8}                # the door detector
NEW = {"iters": 120, "batch": 8}                # adding stairs
EWC_WEIGHTS = (0.0, 1000.0, 10000.0, 1000000.0)
DOOR_CLASSES = ["door", "handle", "cabinet door", "refrigerator door"]


def run(name: str, config: str, sets: list[str], done_file: str) -> dict:
    out = OUT / name
    if (out / done_file).is_file():
        print(f"{name}: done already", flush=True)
        return {"name": name, "skipped": True}
    cmd = [PY, "-c", LAUNCH, "train", str(ROOT / config), "--quiet", "--out", str(out)] + [a for s in sets for a in ("--set", s)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    (OUT / f"{name}.log").write_text(p.stdout + p.stderr)
    if p.returncode != 0:
        raise SystemExit(f"{name} failed ({p.returncode}): {p.stderr[-1500:]}")
    print(f"{name}: {wall:.0f} s\n{p.stdout}", flush=True)
    (out / "wall.json").write_text(json.dumps({"seconds": wall}))
    return {"name": name, "seconds": wall}


def common(iters: int, batch: int, seed: int = 0) -> list[str]:
    return [f"model.input_size={SIZE}", "optim.epochs=1", f"optim.iters_per_epoch={iters}", f"optim.batch={batch}",
            "optim.warmup_iters=20", "eval_every=0", "evaluate=true", "checkpoint_every=0", "log_every=20", f"seed={seed}"]


def per_class(ev: dict) -> dict:
    return {r["class"]: {"AP50": round(r["AP50"], 2), "images": r["images"], "boxes": r["boxes"]} for r in ev["per_class"]}


def pretrain_step() -> dict:
    for task, steps in PRE.items():
        run(f"pre_{task}", f"configs/pretrain_{task}.yaml",
            [f"model.input_size={SIZE}", "optim.epochs=1", f"optim.iters_per_epoch={steps}", "optim.warmup_iters=10",
             "checkpoint_every=0"], "pretrain.json")
    arms = {"imagenet": (None, 0), "imagenet_seed1": (None, 1), "imagenet+mae": ("pre_mae", 0), "imagenet+simclr": ("pre_simclr", 0)}
    res = {}
    for arm, (source, seed) in arms.items():
        name = "ft_" + arm.replace("+", "_")
        sets = common(FT["iters"], FT["batch"], seed)
        if source:
            sets.append(f"transfer.source={OUT / source / 'last.pt'}")
        run(name, "configs/access_detector.yaml", sets, "eval.json")
        ev = json.loads((OUT / name / "eval.json").read_text())
        res[arm] = {"mAP50": round(ev["coco"]["mAP50"], 2), "mAP": round(ev["coco"]["mAP"], 2), "images": ev["images"],
                    "boxes": ev["boxes"], "per_class": per_class(ev),
                    "seconds": json.loads((OUT / name / "wall.json").read_text())["seconds"] if (OUT / name / "wall.json").is_file() else None}
    pre = {t: json.loads((OUT / f"pre_{t}" / "pretrain.json").read_text()) for t in PRE}
    return {"budget": {"size": SIZE, "finetune_iterations": FT["iters"], "batch": FT["batch"], "pretrain_steps": PRE, "pretrain_batch": 16,
                       "threads": 1}, "pretraining": pre, "arms": res}


def ewc_step() -> dict:
    doors = "eval:accessibility_objects/doors"
    stairs = "eval:accessibility_objects/stairs"
    run("old_doors", "configs/access_detector.yaml",
        common(OLD["iters"], OLD["batch"]) + [f"data.train=[{doors}]", f"data.val=[{doors}]", f"data.classes={json.dumps(DOOR_CLASSES)}",
                                              "model.num_classes=4", "name=old_doors"], "eval.json")
    res = {"old": per_class(json.loads((OUT / "old_doors" / "eval.json").read_text()))}
    for w in EWC_WEIGHTS:
        name = f"new_stairs_ewc{int(w)}"
        run(name, "configs/access_detector.yaml",
            common(NEW["iters"], NEW["batch"]) + [f"data.train=[{stairs}]", f"data.val=[{stairs}]", "data.classes=[]", "model.num_classes=6",
                                                  f"continual.source={OUT / 'old_doors' / 'last.pt'}", f"continual.ewc_weight={w}",
                                                  "continual.fisher_batches=30", f"name={name}"], "continual.json")
        c = json.loads((OUT / name / "continual.json").read_text())
        ev = json.loads((OUT / name / "eval.json").read_text())
        res[f"ewc_weight={w:g}"] = {
            "old_classes_before": {k: round(v["AP50"], 2) for k, v in c["before"]["per_class"].items()},
            "old_classes_after": {k: round(v["AP50"], 2) for k, v in c["after"]["per_class"].items()},
            "old_mean_before": round(c["before"]["mean_AP50"], 2), "old_mean_after": round(c["after"]["mean_AP50"], 2),
            "old_val": {"images": c["before"]["images"], "boxes": c["before"]["boxes"]},
            "new_classes": per_class(ev), "new_val": {"images": ev["images"], "boxes": ev["boxes"]},
        }
    return {"budget": {"size": SIZE, "old_iterations": OLD["iters"], "new_iterations": NEW["iters"], "batch": NEW["batch"],
                       "fisher_batches": 30, "threads": 1}, "results": res}


def markdown(summary: dict) -> str:
    lines = ["# Issue 18: small-budget comparisons (one CPU thread, a few minutes per run)", ""]
    if "pretrain" in summary:
        s = summary["pretrain"]
        b = s["budget"]
        lines += [f"## Door/stairs AP50 with and without self-supervised pretraining ({b['size']} px, fine-tune {b['finetune_iterations']} "
                  f"iterations of {b['batch']} for every arm)", ""]
        arms = s["arms"]
        classes = list(next(iter(arms.values()))["per_class"])
        lines.append("| arm | mAP50 | " + " | ".join(classes) + " |")
        lines.append("|---|---|" + "---|" * len(classes))
        for arm, r in arms.items():
            lines.append(f"| {arm} | {r['mAP50']:.2f} | " + " | ".join(f"{r['per_class'][c]['AP50']:.2f}" for c in classes) + " |")
        first = next(iter(arms.values()))
        lines += ["", "val split: " + ", ".join(f"{c} {first['per_class'][c]['boxes']} boxes in {first['per_class'][c]['images']} images"
                                           for c in classes), ""]
    if "ewc" in summary:
        s = summary["ewc"]["results"]
        lines += ["## Adding stairs to a door detector: the door classes' AP50 before and after", ""]
        lines.append("| run | old mean before | old mean after | " + " | ".join(DOOR_CLASSES) + " | stairs (new) |")
        lines.append("|---|---|---|" + "---|" * (len(DOOR_CLASSES) + 1))
        for k, r in s.items():
            if k == "old":
                continue
            st = r["new_classes"].get("stairs (stair_down + stair_up)", {}).get("AP50", float("nan"))
            lines.append(f"| {k} | {r['old_mean_before']:.2f} | {r['old_mean_after']:.2f} | "
                         + " | ".join(f"{r['old_classes_before'].get(c, 0):.2f} -> {r['old_classes_after'].get(c, 0):.2f}" for c in DOOR_CLASSES)
                         + f" | {st:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    steps = sys.argv[1:] or ["pretrain", "ewc"]
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    if "pretrain" in steps:
        summary["pretrain"] = pretrain_step()
        path.write_text(json.dumps(summary, indent=1))
    if "ewc" in steps:
        summary["ewc"] = ewc_step()
        path.write_text(json.dumps(summary, indent=1))
    (OUT / "summary.md").write_text(markdown(summary))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
