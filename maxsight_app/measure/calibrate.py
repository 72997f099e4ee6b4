"""`maxsight eval calibrate`: fit the birth score per class group and distance zone on labelled
photos (the COCO dev half by default) so that 90% of the detections at or above it are real, and
write it where the model's registry entry finds it (assets/calibration/NAME.json).

Matching: detections of a hazard group (person, vehicle, animal, obstacle; stairs, door and handle
for the access detector) are matched greedily, best score first, to unmatched true boxes of the
same group with IoU >= 0.5. Zone is the detection's share of the photo (near > 10%, medium 1-10%,
far < 1%). A cell's score is the lowest at which the detections at or above it are still 90% right,
with at least MIN_SUPPORT right ones; a cell that never gets there keeps the model's own birth
score, as does a cell with too few examples.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from engine.models.boxes import iou_matrix
from engine.models.calibration import ZONES, group_of, zone_of

TARGET_PRECISION = 0.90
MIN_SUPPORT = 5
# A group whose detections at their operating point (near and medium boxes, each cell at its birth
# score) are right less often than this on the fitting half raises no warnings: its cues stay
# cautions (engine/stage_a/hazards.py). Judged only on WARN_MIN_DETECTIONS or more detections.
WARN_PRECISION = 0.60
WARN_MIN_DETECTIONS = 10
GROUPS = ("person", "vehicle", "animal", "obstacle", "stairs", "door", "handle")   # the last three: the access detector


def _matched(coco, results: list[dict], image_ids: list[int]):
    """(cells: "group:zone" -> [(score, right)] best score first, true boxes per group)."""
    cats = {c["id"]: c["name"] for c in coco.data["categories"]}
    sizes = {im["id"]: im["width"] * im["height"] for im in coco.data["images"]}
    ids = set(image_ids)
    truth: dict[tuple[int, str], list] = defaultdict(list)
    for a in coco.data["annotations"]:
        g = group_of(cats[a["category_id"]])
        if a["image_id"] in ids and g in GROUPS and not a.get("iscrowd", 0):
            x, y, w, h = a["bbox"]
            truth[(a["image_id"], g)].append([x, y, x + w, y + h])
    used: dict[tuple[int, str], set] = defaultdict(set)
    cells: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for r in sorted((r for r in results if r["image_id"] in ids), key=lambda r: -r["score"]):
        g = group_of(cats[r["category_id"]])
        if g not in GROUPS:
            continue
        x, y, w, h = r["bbox"]
        key = (r["image_id"], g)
        ok = False
        if truth[key]:
            iou = iou_matrix(np.array([[x, y, x + w, y + h]], np.float32), np.array(truth[key], np.float32))[0]
            for j in np.argsort(-iou):
                if iou[j] < 0.5:
                    break
                if j not in used[key]:
                    used[key].add(int(j))
                    ok = True
                    break
        cells[f"{g}:{zone_of(w * h / sizes[r['image_id']])}"].append((r["score"], ok))
    per_group = defaultdict(int)
    for (_, g), boxes in truth.items():
        per_group[g] += len(boxes)
    return cells, dict(per_group)


def fit(coco, results: list[dict], image_ids: list[int], default: float, source: str, targets: dict | None = None) -> dict:
    """Birth scores per cell; `targets` gives a group its own precision target (e.g. stairs 0.5:
    a missed flight of stairs down is a fall, a false one a nuisance), the rest keep 90%."""
    targets = {**{g: TARGET_PRECISION for g in GROUPS}, **(targets or {})}
    cells, _ = _matched(coco, results, image_ids)
    thresholds, precision, support, fallback = {}, {}, {}, []
    for g in GROUPS:
        for z in ZONES:
            key = f"{g}:{z}"
            dets = cells.get(key, [])
            if not dets:
                continue
            scores = np.array([s for s, _ in dets])
            right = np.cumsum([ok for _, ok in dets])
            prec = right / np.arange(1, len(dets) + 1)
            good = np.nonzero((prec >= targets[g]) & (right >= MIN_SUPPORT))[0]
            if len(good) == 0:
                fallback.append(key)
                continue
            cut = int(good[-1])
            thresholds[key] = round(float(scores[cut]), 3)
            precision[key] = round(float(prec[cut]) * 100, 1)
            support[key] = int(right[cut])
    operating = {}
    for g in GROUPS:
        kept = [ok for z in ("near", "medium") for sc, ok in cells.get(f"{g}:{z}", [])
                if sc >= thresholds.get(f"{g}:{z}", default)]
        if kept:
            operating[g] = {"detections": len(kept), "right": int(sum(kept)), "precision": round(100 * sum(kept) / len(kept), 1)}
    no_warnings = sorted(g for g, v in operating.items()
                         if v["detections"] >= WARN_MIN_DETECTIONS and v["precision"] < WARN_PRECISION * 100)
    return {"operating_point": operating, "no_warnings": no_warnings, "warn_precision": WARN_PRECISION * 100,
            "thresholds": thresholds, "precision": precision, "support": support, "default": default,
            "kept_default": fallback, "fitted_on": source, "target_precision": TARGET_PRECISION * 100,
            "group_targets": {g: round(t * 100, 1) for g, t in targets.items() if t != TARGET_PRECISION}}


def check(coco, results: list[dict], image_ids: list[int], fitted: dict, source: str) -> dict:
    """The fitted birth scores on other photos (a half they were not fitted on): per group, the
    detections at or above their cell's score, how many were right, and the share of the true
    boxes they found (IoU >= 0.5, same group)."""
    cells, truths = _matched(coco, results, image_ids)
    out = {}
    for g in GROUPS:
        kept = [ok for z in ZONES for s, ok in cells.get(f"{g}:{z}", [])
                if s >= fitted["thresholds"].get(f"{g}:{z}", fitted["default"])]
        if not kept and not truths.get(g):
            continue
        right = int(sum(kept))
        out[g] = {"detections": len(kept), "right": right, "truths": int(truths.get(g, 0)),
                  "precision": round(100 * right / len(kept), 1) if kept else None,
                  "recall": round(100 * right / truths[g], 1) if truths.get(g) else None}
    return {"checked_on": source, "groups": out}


def check_table(r: dict) -> str:
    lines = [f"  at these scores on {r['checked_on']}:", f"  {'group':<10} {'precision':>16} {'recall':>16}"]
    for g, v in r["groups"].items():
        p = f"{v['precision']:.1f}% ({v['right']}/{v['detections']})" if v["precision"] is not None else "no detections"
        rc = f"{v['recall']:.1f}% ({v['right']}/{v['truths']})" if v["recall"] is not None else "no true boxes"
        lines.append(f"  {g:<10} {p:>16} {rc:>16}")
    return "\n".join(lines)


def table(model: str, r: dict) -> str:
    lines = [f"Birth scores for {model}, fitted on {r['fitted_on']} ({r['target_precision']:.0f}% precision target; "
             f"default {r['default']:.2f})" + "".join(f"; {g} {t:.0f}%" for g, t in r.get("group_targets", {}).items()),
             f"  {'cell':<18} {'score':>6} {'precision':>10} {'right':>6}"]
    for k, v in r["thresholds"].items():
        lines.append(f"  {k:<18} {v:>6.3f} {r['precision'][k]:>9.1f}% {r['support'][k]:>6}")
    if r["kept_default"]:
        lines.append("  kept the default (too few examples or never precise enough): " + ", ".join(r["kept_default"]))
    if r.get("operating_point"):
        lines.append("  near and medium boxes at these scores: " + "; ".join(
            f"{g} {v['precision']:.1f}% ({v['right']}/{v['detections']})" for g, v in r["operating_point"].items()))
        lines.append(f"  no warnings (under {r['warn_precision']:.0f}% on {WARN_MIN_DETECTIONS}+ detections, cautions only): "
                     + (", ".join(r["no_warnings"]) or "none"))
    return "\n".join(lines)
