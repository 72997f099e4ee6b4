"""Distillation data: frames of unlabeled videos (or images in a folder) labelled once by an ONNX
teacher (NanoDet, CenterNet or their fusion, run by the app's own engine code).

Teacher boxes at or above `hard_score` become pseudo-labels for every Tier-1 loss; every box from
`soft_floor` up also shapes a soft objectness target (the teacher's score), learned through the
'distill' loss (quality focal loss in heads.py). Frames and labels are cached in the run folder,
keyed by teacher and sources, so a resumed or repeated run does not label again.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from training import labels as L
from training.data import DataError, Sample

log = logging.getLogger(__name__)
VIDEO_EXT = (".avi", ".mp4", ".mov", ".mkv")
IMAGE_EXT = (".jpg", ".jpeg", ".png")


def _sources(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in VIDEO_EXT + IMAGE_EXT)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"distillation source {p} does not exist")
    if not out:
        raise DataError(f"no videos or images found in {', '.join(map(str, paths))}")
    return out


def _frames(sources: list[Path], every_n: int):
    for src in sources:
        if src.suffix.lower() in IMAGE_EXT:
            img = cv2.imread(str(src))
            if img is None:
                raise DataError(f"cannot read image {src}")
            yield f"{src.name}", img
            continue
        cap = cv2.VideoCapture(str(src))
        if not cap.isOpened():
            raise DataError(f"cannot open video {src}")
        i = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every_n == 0:
                yield f"{src.stem}_{i:06d}", frame
            i += 1
        cap.release()


class TeacherFrames:
    """A Sample source like CocoDataset, over teacher-labelled frames."""

    def __init__(self, paths: list[Path], cache: Path, teacher: str, every_n: int, soft_floor: float, hard_score: float,
                 threads: int = 2, progress: bool = True):
        from engine.models.registry import load_labels
        self.label_names, _ = load_labels("coco80")
        self.hard_score = hard_score
        sources = _sources(paths)
        key = hashlib.sha256(json.dumps([teacher, every_n, soft_floor, [str(s) for s in sources]]).encode()).hexdigest()[:12]
        self.dir = Path(cache) / f"teacher_{teacher}_{key}"
        index = self.dir / "labels.json"
        if not index.is_file():
            self._label(sources, teacher, every_n, soft_floor, threads, progress)
        self.items = json.loads(index.read_text())["frames"]

    def _label(self, sources, teacher, every_n, soft_floor, threads, progress):
        from tqdm import tqdm

        from engine.models.detectors import build
        from engine.models.registry import default_registry
        reg = default_registry()
        det = build(reg.get(teacher), reg, threads=threads)
        self.dir.mkdir(parents=True, exist_ok=True)
        frames = []
        for name, img in tqdm(_frames(sources, every_n), desc=f"labelling frames with {teacher}", disable=not progress, unit="frame"):
            raw = det.detect_raw(img, min_score=soft_floor)
            cv2.imwrite(str(self.dir / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            frames.append({"file": f"{name}.jpg", "width": img.shape[1], "height": img.shape[0], "boxes": raw.boxes.round(2).tolist(), "scores": raw.scores.round(4).tolist(),
                           "classes": raw.classes.tolist()})
        tmp = self.dir / "labels.json.tmp"
        tmp.write_text(json.dumps({"teacher": teacher, "frames": frames}))
        tmp.replace(self.dir / "labels.json")
        log.info("labelled %d frames with %s", len(frames), teacher)

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> Sample:
        it = self.items[i]
        image = cv2.imread(str(self.dir / it["file"]))
        boxes = np.array(it["boxes"], np.float32).reshape(-1, 4)
        classes = np.array(it["classes"], np.int64)
        h, w = image.shape[:2]
        zones = L.distance_zones(boxes, w, h)
        urgency = L.object_urgency([self.label_names[c] for c in classes], zones)
        return Sample(image, boxes, classes, zones, urgency, np.array(it["scores"], np.float32))

    def _hard(self):
        """(classes, boxes, frame) of every pseudo-label (teacher score >= hard_score)."""
        for it in self.items:
            keep = np.array(it["scores"], np.float32) >= self.hard_score
            yield np.array(it["classes"], np.int64)[keep], np.array(it["boxes"], np.float32).reshape(-1, 4)[keep], it

    def class_counts(self) -> np.ndarray:
        counts = np.zeros(len(self.label_names), np.int64)
        for c, _, _ in self._hard():
            counts += np.bincount(c, minlength=len(counts))
        return counts

    def zone_counts(self) -> np.ndarray:
        counts = np.zeros(3, np.int64)
        for _, b, it in self._hard():
            counts += np.bincount(L.distance_zones(b, it["width"], it["height"]), minlength=3)
        return counts



def teacher_agreement(student, teacher_name: str, paths: list[Path], every_n: int = 10, offset: int = 1,
                      hard_score: float = 0.40, threads: int = 2, limit: int | None = None) -> dict:
    """How closely a student reproduces its teacher on frames it did not train on: the teacher's
    boxes at or above hard_score are the reference, and the student's detections are scored against
    them with COCO mAP (pycocotools). `offset` shifts the frame grid off the training frames
    (training takes frames 0, n, 2n, ...; offset 1 with an even n never meets them)."""
    from engine.models.detectors import build
    from engine.models.registry import default_registry, load_labels
    from training.evaluate import CocoSet, coco_map
    names, coco_ids = load_labels("coco80")
    reg = default_registry(include_user=False)
    teacher = build(reg.get(teacher_name), reg, threads=threads)
    images, anns, results = [], [], []
    frames = ((n, f) for n, f in _frames(_sources(paths), 1))
    k = 0
    for i, (name, img) in enumerate(frames):
        if i % every_n != offset % every_n:
            continue
        if limit is not None and k >= limit:
            break
        k += 1
        h, w = img.shape[:2]
        images.append({"id": k, "file_name": name, "width": w, "height": h})
        t = teacher.detect_raw(img, min_score=hard_score)
        for b, c in zip(t.boxes, t.classes):
            anns.append({"id": len(anns) + 1, "image_id": k, "category_id": coco_ids[int(c)], "iscrowd": 0,
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                         "area": float((b[2] - b[0]) * (b[3] - b[1]))})
        s = student.detect_raw(img, min_score=0.05)
        for b, sc, c in zip(s.boxes, s.scores, s.classes):
            results.append({"image_id": k, "category_id": coco_ids[int(c)], "score": float(sc),
                            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    data = {"images": images, "annotations": anns, "categories": [{"id": i, "name": n} for i, n in zip(coco_ids, names)]}
    m = coco_map(CocoSet(Path("."), data), results, [im["id"] for im in images])
    return {"frames": len(images), "teacher_boxes": len(anns), "teacher": teacher_name, "hard_score": hard_score, **m}
