"""Detector evaluation: COCO mAP (pycocotools) and safety recall on hazard classes.

Used by `maxsight eval detect` and after training. Safety recall answers the question a user
cares about: at a score threshold where 90% of hazard-class alerts are real, what share of the
hazards present do we find, by object size and for near objects (box > 10% of the image)?
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.models.boxes import iou_matrix

log = logging.getLogger(__name__)

HAZARD_CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck", "dog", "traffic light",
                  "stop sign", "chair", "bench")
TARGET_PRECISION = 0.90
NEAR_AREA_FRACTION = 0.10


class EvalDataError(ValueError):
    pass


@dataclass(frozen=True)
class CocoSet:
    root: Path
    data: dict

    @staticmethod
    def load(root: Path) -> "CocoSet":
        root = Path(root)
        ann = root / "instances.json"
        if not ann.is_file() or not (root / "images").is_dir():
            raise EvalDataError(f"{root} must hold instances.json and an images/ folder")
        try:
            data = json.loads(ann.read_text())
        except json.JSONDecodeError as exc:
            raise EvalDataError(f"{ann} is not valid JSON: {exc}") from None
        from training.data import DataError, validate_coco
        try:
            validate_coco(data, ann)                      # the training loader's field-level checks
        except DataError as exc:
            raise EvalDataError(str(exc)) from None
        return CocoSet(root, data)


def run_detector(detector, coco: CocoSet, label_ids: list[int], min_score: float = 0.05, limit: int | None = None,
                 image_ids: list[int] | None = None) -> tuple[list[dict], list[float]]:
    """Detections for every image (or those in image_ids) as COCO result dicts, plus per-image latency (ms)."""
    results, times = [], []
    wanted = set(image_ids) if image_ids is not None else None
    for img in [im for im in coco.data["images"] if wanted is None or im["id"] in wanted][:limit]:
        image = cv2.imread(str(coco.root / "images" / img["file_name"]))
        if image is None:
            raise EvalDataError(f"cannot read image {img['file_name']}")
        t0 = time.perf_counter()
        raw = detector.detect_raw(image, min_score=min_score)
        times.append((time.perf_counter() - t0) * 1e3)
        for b, s, c in zip(raw.boxes, raw.scores, raw.classes):
            results.append({"image_id": img["id"], "category_id": label_ids[int(c)],
                            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])], "score": float(s)})
    return results, times


def coco_map(coco: CocoSet, results: list[dict], image_ids: list[int]) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt = COCO()
    gt.dataset = coco.data
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not results:
            return {"mAP": 0.0, "mAP50": 0.0, "mAP75": 0.0, "AR100": 0.0, "mAP_small": 0.0, "mAP_medium": 0.0, "mAP_large": 0.0}
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = image_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    s = ev.stats
    return {"mAP": s[0] * 100, "mAP50": s[1] * 100, "mAP75": s[2] * 100, "mAP_small": s[3] * 100,
            "mAP_medium": s[4] * 100, "mAP_large": s[5] * 100, "AR100": s[8] * 100}


def safety_recall(coco: CocoSet, results: list[dict], image_ids: list[int], iou_thr: float = 0.5) -> dict:
    """Pool detections of hazard classes, match greedily (best score first, IoU >= 0.5, same class),
    find the lowest threshold where precision >= 90%, and report recall at it with counts."""
    cats = {c["id"]: c["name"] for c in coco.data["categories"]}
    hazard_ids = {cid for cid, n in cats.items() if n in HAZARD_CLASSES}
    sizes = {img["id"]: (img["width"], img["height"]) for img in coco.data["images"]}
    ids = set(image_ids)
    gts = [a for a in coco.data["annotations"] if a["image_id"] in ids and a["category_id"] in hazard_ids and not a.get("iscrowd", 0)]
    dets = sorted((r for r in results if r["image_id"] in ids and r["category_id"] in hazard_ids), key=lambda r: -r["score"])
    by_key: dict[tuple[int, int], list[int]] = {}
    for i, a in enumerate(gts):
        by_key.setdefault((a["image_id"], a["category_id"]), []).append(i)
    gt_boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in gts], np.float32).reshape(-1, 4)
    matched_by = np.full(len(gts), -1)
    tp = np.zeros(len(dets), bool)
    for di, d in enumerate(dets):
        cand = by_key.get((d["image_id"], d["category_id"]), [])
        cand = [g for g in cand if matched_by[g] < 0]
        if not cand:
            continue
        b = d["bbox"]
        ious = iou_matrix(np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]]], np.float32), gt_boxes[cand])[0]
        j = int(np.argmax(ious))
        if ious[j] >= iou_thr:
            matched_by[cand[j]] = di
            tp[di] = True
    n_gt = len(gts)
    scores = np.array([d["score"] for d in dets])
    ctp = np.cumsum(tp)
    precision = ctp / np.arange(1, len(dets) + 1) if len(dets) else np.zeros(0)
    ok = np.nonzero(precision >= TARGET_PRECISION)[0]
    if len(ok) == 0:
        cut, threshold = -1, None
    else:
        cut = int(ok[-1])                        # deepest point in the ranking that still has 90% precision
        threshold = float(scores[cut])
    def bucket(pred) -> dict:
        members = [i for i, a in enumerate(gts) if pred(a)]
        found = sum(1 for i in members if 0 <= matched_by[i] <= cut)
        return {"recall": (100.0 * found / len(members)) if members else None, "found": found, "total": len(members)}
    def area_frac(a):
        w, h = sizes[a["image_id"]]
        return a["bbox"][2] * a["bbox"][3] / (w * h)
    return {
        "threshold": threshold,
        "precision": float(precision[cut]) * 100 if cut >= 0 else None,
        "alerts": cut + 1,
        "all": bucket(lambda a: True),
        "small": bucket(lambda a: a["area"] < 32 ** 2),
        "medium": bucket(lambda a: 32 ** 2 <= a["area"] < 96 ** 2),
        "large": bucket(lambda a: a["area"] >= 96 ** 2),
        "near": bucket(lambda a: area_frac(a) > NEAR_AREA_FRACTION),
        "n_gt": n_gt,
    }


def evaluate_detector(detector, coco: CocoSet, label_ids: list[int], limit: int | None = None,
                      image_ids: list[int] | None = None) -> dict:
    """mAP and safety recall over the images in image_ids (default: all), at most `limit` of them."""
    pool = [img["id"] for img in coco.data["images"] if image_ids is None or img["id"] in set(image_ids)]
    image_ids = pool[:limit]
    results, times = run_detector(detector, coco, label_ids, image_ids=image_ids)
    return {
        "model": detector.name,
        "images": len(image_ids),
        "boxes": sum(1 for a in coco.data["annotations"] if a["image_id"] in set(image_ids)),
        "coco": coco_map(coco, results, image_ids),
        "safety": safety_recall(coco, results, image_ids),
        "latency_ms_median": float(np.median(times)) if times else None,
    }
