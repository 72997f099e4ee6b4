"""Detector evaluation: COCO mAP (pycocotools), per-class AP, and safety recall on hazard classes.

Used by `maxsight eval detect` and after training. Works on COCO folders and on YOLO-layout sets
(training/yolo.py), which are turned into an in-memory COCO dict; a detector's classes are matched
to the set's categories by name, so a model trained on other classes is measured on those it shares. Safety recall answers the question a user
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
                  "stop sign", "chair", "bench", "stair_down", "stair_up")
# Classes also scored together (a stair is found whichever way it was called).
MERGED_CLASSES = {"stairs": ("stair_down", "stair_up")}
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

    def image_path(self, img: dict) -> Path:
        """An image's file: file_name under images/ (an absolute file_name, as YOLO sets give, is used as is)."""
        return self.root / "images" / img["file_name"]


def run_detector(detector, coco: CocoSet, label_ids: list[int], min_score: float = 0.05, limit: int | None = None,
                 image_ids: list[int] | None = None) -> tuple[list[dict], list[float]]:
    """Detections for every image (or those in image_ids) as COCO result dicts, plus per-image latency (ms)."""
    results, times = [], []
    wanted = set(image_ids) if image_ids is not None else None
    for img in [im for im in coco.data["images"] if wanted is None or im["id"] in wanted][:limit]:
        image = cv2.imread(str(coco.image_path(img)))
        if image is None:
            raise EvalDataError(f"cannot read image {img['file_name']}")
        t0 = time.perf_counter()
        raw = detector.detect_raw(image, min_score=min_score)
        times.append((time.perf_counter() - t0) * 1e3)
        for b, s, c in zip(raw.boxes, raw.scores, raw.classes):
            if label_ids[int(c)] < 0:                 # a class the set does not label
                continue
            results.append({"image_id": img["id"], "category_id": label_ids[int(c)],
                            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])], "score": float(s)})
    return results, times


def _cocoeval(data: dict, results: list[dict], image_ids: list[int], cat_ids: list[int] | None = None):
    """An accumulated and summarised COCOeval, or None when there are no detections."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt = COCO()
    gt.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        if not results:
            return None
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = image_ids
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def coco_map(coco: CocoSet, results: list[dict], image_ids: list[int]) -> dict:
    ev = _cocoeval(coco.data, results, image_ids)
    if ev is None:
        return {"mAP": 0.0, "mAP50": 0.0, "mAP75": 0.0, "AR100": 0.0, "mAP_small": 0.0, "mAP_medium": 0.0, "mAP_large": 0.0}
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


def _ap(precision: np.ndarray) -> float | None:
    """Mean of a [T, R] slice of COCOeval precision (-1 where undefined), in percent."""
    p = precision[precision > -1]
    return float(p.mean()) * 100 if p.size else None


def per_class_ap(coco: CocoSet, results: list[dict], image_ids: list[int], merged: dict | None = None) -> list[dict]:
    """AP50 and AP (0.5:0.95, all areas, 100 detections) for each category with ground truth in
    image_ids, then for each merged group present (e.g. stairs = stair_down + stair_up: categories
    relabelled as one before matching). Rows: class, images, boxes, AP50, AP (None: no boxes)."""
    ids = set(image_ids)
    cats = sorted(coco.data["categories"], key=lambda c: c["id"])
    gts = [a for a in coco.data["annotations"] if a["image_id"] in ids and not a.get("iscrowd", 0)]
    def counts(cat_ids):
        mine = [a for a in gts if a["category_id"] in cat_ids]
        return len({a["image_id"] for a in mine}), len(mine)
    rows = []
    ev = _cocoeval(coco.data, results, image_ids)
    for k, c in enumerate(cats):
        n_img, n_box = counts({c["id"]})
        if not n_box:
            continue
        ap50 = ap = 0.0
        if ev is not None:
            k_ev = ev.params.catIds.index(c["id"])
            prec = ev.eval["precision"][:, :, k_ev, 0, -1]            # [T, R] all areas, maxDets 100
            ap50, ap = _ap(prec[:1]) or 0.0, _ap(prec) or 0.0
        rows.append({"class": c["name"], "images": n_img, "boxes": n_box, "AP50": ap50, "AP": ap})
    by_name = {c["name"]: c["id"] for c in cats}
    for group, members in (MERGED_CLASSES if merged is None else merged).items():
        member_ids = {by_name[m] for m in members if m in by_name}
        if len(member_ids) < 2:
            continue
        n_img, n_box = counts(member_ids)
        if not n_box:
            continue
        new_id = max(by_name.values()) + 1
        relabel = lambda d: {**d, "category_id": new_id} if d["category_id"] in member_ids else d
        data = {**coco.data, "categories": [c for c in cats if c["id"] not in member_ids] + [{"id": new_id, "name": group}],
                "annotations": [relabel(a) for a in coco.data["annotations"]]}
        res = [relabel(r) for r in results]
        ev_m = _cocoeval(data, [r for r in res if r["category_id"] == new_id], image_ids, [new_id])
        ap50 = ap = 0.0
        if ev_m is not None:
            prec = ev_m.eval["precision"][:, :, 0, 0, -1]
            ap50, ap = _ap(prec[:1]) or 0.0, _ap(prec) or 0.0
        rows.append({"class": f"{group} ({' + '.join(members)})", "images": n_img, "boxes": n_box, "AP50": ap50, "AP": ap})
    return rows


def label_ids_by_name(labels: list[str], coco: CocoSet) -> list[int]:
    """Each detector class's category id in the set, -1 for a class the set does not label."""
    by_name = {c["name"]: c["id"] for c in coco.data["categories"]}
    return [by_name.get(n, -1) for n in labels]


def model_label_ids(labels_setting: str, coco: CocoSet) -> list[int]:
    """A model's classes as category ids of this set. A label map (e.g. "coco80") carries COCO's own
    ids; a model with its own list of names (a trained model's sidecar JSON: ids 1..K in its order)
    is matched by name, since its 1..K mean nothing in a COCO file (the joint NanoDet scored 5.1 mAP
    against its 31.1 when its ids were taken as COCO's)."""
    from engine.models.registry import load_labels
    labels, ids = load_labels(labels_setting)
    own_list = labels_setting.endswith(".json") and ids == list(range(1, len(labels) + 1))
    return label_ids_by_name(labels, coco) if own_list else ids


def open_eval_set(paths, split: str) -> tuple[CocoSet, list[int]]:
    """(set, image ids of the split) from a COCO folder or YOLO-layout folder(s), layout detected."""
    from training.data import DataError, dataset_layout, split_ids
    from training.yolo import YoloDataset
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    try:
        if dataset_layout(paths) == "yolo":
            ds = YoloDataset(paths, split)
            coco = CocoSet(paths[0], ds.to_coco())
            return coco, [im["id"] for im in coco.data["images"]]
        if len(paths) != 1:
            raise DataError(f"only YOLO-layout folders can be evaluated together; {', '.join(map(str, paths))} are not all YOLO sets")
        split_ids([], split)
        coco = CocoSet.load(paths[0])
    except DataError as exc:
        raise EvalDataError(str(exc)) from None
    return coco, split_ids([im["id"] for im in coco.data["images"]], split)


def evaluate_dataset(paths, split: str, detector, limit: int | None = None, coco_set: tuple[CocoSet, list[int]] | None = None) -> dict:
    """Everything `maxsight eval detect` reports for one detector on a dataset (COCO or YOLO
    layout; several YOLO folders merge by class name): mAP, per-class AP50/AP (with merged groups),
    safety recall and latency, on the split's images (the first `limit` of them)."""
    coco, ids = coco_set or open_eval_set(paths, split)
    ids = ids[:limit] if limit else ids
    label_ids = label_ids_by_name(list(detector.labels), coco)
    results, times = run_detector(detector, coco, label_ids, image_ids=ids)
    wanted = set(ids)
    return {
        "model": detector.name,
        "data": ", ".join(str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)),
        "split": split,
        "images": len(ids),
        "boxes": sum(1 for a in coco.data["annotations"] if a["image_id"] in wanted),
        "shared_classes": sum(1 for i in label_ids if i >= 0),
        "coco": coco_map(coco, results, ids),
        "per_class": per_class_ap(coco, results, ids),
        "safety": safety_recall(coco, results, ids),
        "latency_ms_median": float(np.median(times)) if times else None,
    }


def per_class_table(row: dict) -> str:
    """The per-class rows of evaluate_dataset as text."""
    lines = [f"  {'class':<34} {'images':>6} {'boxes':>6} {'AP50':>6} {'AP':>6}"]
    for r in row["per_class"]:
        lines.append(f"  {r['class'][:34]:<34} {r['images']:>6} {r['boxes']:>6} {r['AP50']:6.1f} {r['AP']:6.1f}")
    return "\n".join(lines)
