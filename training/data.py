"""Training data: COCO-format detection sets (an images folder plus instances JSON), YOLO-layout
sets (yolo.py), video frames labelled by a teacher (see distill.py), deterministic resumable
batching, and collate.

Every sample is made from (seed, epoch, index) alone, so a resumed run draws exactly the batches
and augmentations the uninterrupted run would have drawn, whatever the number of workers.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from engine.models.mobilenet_v2 import imagenet_chw as to_chw   # the exported model's input
from training import labels as L
from training.augment import Augmenter
from training.sample import DataError, Sample   # noqa: F401 - defined apart so yolo.py and augment.py need not import this module

def _fail(file: Path, where: str, what: str) -> None:
    raise DataError(f"{file}: {where} {what}")


def validate_coco(data, file: Path) -> None:
    """Field-level checks of a COCO instances file; the first problem raises DataError."""
    if not isinstance(data, dict):
        _fail(file, "the top level", "must be an object with images, annotations and categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            _fail(file, key, "is missing or is not a list")
    cat_ids = set()
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or isinstance(c.get("id"), bool):
            _fail(file, f"categories[{i}].id", "must be a whole number")
        if not isinstance(c.get("name"), str) or not c["name"]:
            _fail(file, f"categories[{i}].name", "must be non-empty text")
        if c["id"] in cat_ids:
            _fail(file, f"categories[{i}].id", f"repeats id {c['id']}")
        cat_ids.add(c["id"])
    img_ids = set()
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict):
            _fail(file, f"images[{i}]", "must be an object")
        if not isinstance(im.get("id"), int) or isinstance(im.get("id"), bool):
            _fail(file, f"images[{i}].id", f"must be a whole number, got {im.get('id')!r}")
        if im["id"] in img_ids:
            _fail(file, f"images[{i}].id", f"repeats id {im['id']}")
        img_ids.add(im["id"])
        if not isinstance(im.get("file_name"), str) or not im["file_name"]:
            _fail(file, f"images[{i}].file_name", "must be non-empty text")
        for k in ("width", "height"):
            v = im.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                _fail(file, f"images[{i}].{k}", f"must be a positive whole number, got {v!r}")
    for i, a in enumerate(data["annotations"]):
        if not isinstance(a, dict):
            _fail(file, f"annotations[{i}]", "must be an object")
        if a.get("image_id") not in img_ids:
            _fail(file, f"annotations[{i}].image_id", f"refers to image {a.get('image_id')!r}, which is not in images")
        if a.get("category_id") not in cat_ids:
            _fail(file, f"annotations[{i}].category_id", f"refers to category {a.get('category_id')!r}, which is not in categories")
        b = a.get("bbox")
        if not (isinstance(b, list) and len(b) == 4 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in b)):
            _fail(file, f"annotations[{i}].bbox", f"must be [x, y, width, height] (4 numbers), got {b!r}")
        if b[2] < 0 or b[3] < 0:
            _fail(file, f"annotations[{i}].bbox", f"has a negative width or height: {b!r}")
        if a.get("iscrowd", 0) not in (0, 1):
            _fail(file, f"annotations[{i}].iscrowd", f"must be 0 or 1, got {a.get('iscrowd')!r}")


COCO_SPLITS = ("dev", "test", "all")


def split_ids(image_ids: list[int], split: str) -> list[int]:
    """'dev' is the first half of the images by id, 'test' the second half, 'all' both. The dev half
    is for training and tuning; the test half stays unseen until a result is reported."""
    if split not in COCO_SPLITS:
        raise DataError(f"the split {split!r} is not one a COCO set has; choose {', '.join(COCO_SPLITS)} "
                        f"(train and val are the YOLO-layout sets' split by source photo)")
    ids = sorted(image_ids)
    half = (len(ids) + 1) // 2
    return {"dev": ids[:half], "test": ids[half:], "all": ids}[split]


class CocoDataset:
    """Images plus boxes from a COCO-format folder (images/ + instances.json, or a JSON path)."""

    def __init__(self, root: Path, split: str = "all", label_names: list[str] | None = None):
        root = Path(root)
        split_ids([], split)                                  # an unknown split is an error before any reading
        ann = root / "instances.json" if root.is_dir() else root
        images_dir = (root if root.is_dir() else root.parent) / "images"
        if not ann.is_file():
            raise DataError(f"{ann} does not exist; a COCO folder needs instances.json and images/")
        if not images_dir.is_dir():
            raise DataError(f"{images_dir} does not exist; a COCO folder needs instances.json and images/")
        try:
            data = json.loads(ann.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{ann} is not valid JSON: {exc}") from None
        validate_coco(data, ann)
        self.root, self.images_dir, self.data = root, images_dir, data
        cats = sorted(data["categories"], key=lambda c: c["id"])
        if label_names is None:
            from engine.models.registry import load_labels
            names, coco_ids = load_labels("coco80")
            if all(c["id"] in coco_ids for c in cats):
                self.label_names, self.category_ids = names, coco_ids
            else:
                self.label_names, self.category_ids = [c["name"] for c in cats], [c["id"] for c in cats]
        else:
            by_name = {c["name"]: c["id"] for c in cats}
            self.label_names = list(label_names)
            self.category_ids = [by_name.get(n, -1) for n in label_names]
        self.contiguous = {cid: i for i, cid in enumerate(self.category_ids) if cid >= 0}
        by_id = {im["id"]: im for im in data["images"]}
        self.images = [by_id[i] for i in split_ids(list(by_id), split)]
        self.anns: dict[int, list[dict]] = {im["id"]: [] for im in self.images}
        for a in data["annotations"]:
            if a["image_id"] in self.anns and not a.get("iscrowd", 0) and a["category_id"] in self.contiguous:
                self.anns[a["image_id"]].append(a)

    def __len__(self) -> int:
        return len(self.images)

    def load(self, i: int) -> Sample:
        im = self.images[i]
        image = cv2.imread(str(self.images_dir / im["file_name"]))
        if image is None:
            raise DataError(f"cannot read image {self.images_dir / im['file_name']}")
        anns = [a for a in self.anns[im["id"]] if a["bbox"][2] >= 1 and a["bbox"][3] >= 1]
        boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns],
                         np.float32).reshape(-1, 4)
        classes = np.array([self.contiguous[a["category_id"]] for a in anns], np.int64)
        h, w = image.shape[:2]
        zones = L.distance_zones(boxes, w, h)
        urgency = L.object_urgency([self.label_names[c] for c in classes], zones)
        return Sample(image, boxes, classes, zones, urgency)

    def class_counts(self) -> np.ndarray:
        counts = np.zeros(len(self.label_names), np.int64)
        for anns in self.anns.values():
            for a in anns:
                counts[self.contiguous[a["category_id"]]] += 1
        return counts

    def zone_counts(self) -> np.ndarray:
        counts = np.zeros(3, np.int64)
        for im in self.images:
            anns = self.anns[im["id"]]
            boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in anns],
                             np.float32).reshape(-1, 4)
            counts += np.bincount(L.distance_zones(boxes, im["width"], im["height"]), minlength=3)
        return counts


def open_dataset(paths, split: str, label_names: list[str] | None = None):
    """A detection set from one path or several: YOLO-layout folders (merged by class name, see
    yolo.py) or one COCO folder. The layout is detected from what the folders hold."""
    from training.yolo import YoloDataset, is_yolo
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise DataError("no dataset path was given")
    yolo = [is_yolo(p) for p in paths]
    if all(yolo):
        return YoloDataset(paths, split, label_names)
    if len(paths) == 1:
        return CocoDataset(paths[0], split, label_names)
    odd = paths[yolo.index(False)]
    raise DataError(f"{odd} is not a YOLO-layout folder (images/ + labels/, or train/ and valid/ holding them); "
                    f"only YOLO-layout sets can be listed together")


def dataset_layout(path) -> str:
    """'yolo' or 'coco', from what the folder(s) hold."""
    from training.yolo import is_yolo
    paths = [Path(p) for p in ([path] if isinstance(path, (str, Path)) else path)]
    return "yolo" if paths and all(is_yolo(p) for p in paths) else "coco"


class TrainingSet:
    """A source of Samples (COCO or teacher-labelled frames) turned into augmented tensors.
    Items are addressed as (epoch, index) so augmentation is a pure function of them."""

    def __init__(self, source, augmenter: Augmenter, seed: int, clip_frames: int = 0, hard_score: float = 0.999):
        self.source, self.augmenter, self.seed, self.clip_frames = source, augmenter, seed, clip_frames
        self.hard_score = hard_score

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = key
        rng = np.random.default_rng([self.seed, epoch, index])
        sample = self.source.load(index)
        if self.augmenter.cfg.mosaic > 0 and rng.random() < self.augmenter.cfg.mosaic and len(self.source) >= 4:
            others = [self.source.load(int(j)) for j in rng.choice(len(self.source), 3, replace=False)]
            sample = self.augmenter.mosaic([sample] + others, rng)
        if self.clip_frames:
            frames, out, flow = self.augmenter.clip(sample, rng, self.clip_frames)
            return {"image": np.stack([to_chw(f) for f in frames]), **_target(out, self.hard_score), "flow": flow}
        out = self.augmenter(sample, rng)
        return {"image": to_chw(out.image), **_target(out, self.hard_score)}


def _target(s: Sample, hard_score: float) -> dict:
    return {"boxes": s.boxes.astype(np.float32), "classes": s.classes, "zones": s.zones, "scores": s.scores.astype(np.float32),
            "urgency": L.image_urgency(s.urgency[s.scores >= hard_score])}


def collate(items: list[dict]) -> dict:
    import torch
    out = {"image": torch.from_numpy(np.stack([it["image"] for it in items])),
           "urgency": torch.tensor([it["urgency"] for it in items], dtype=torch.long),
           "targets": [{k: torch.from_numpy(np.asarray(it[k])) for k in ("boxes", "classes", "zones", "scores")} for it in items]}
    if "flow" in items[0]:
        out["flow"] = torch.from_numpy(np.stack([it["flow"] for it in items]))
    return out


def epoch_batches(n: int, batch: int, seed: int, epoch: int, rank: int = 0, world: int = 1,
                  iters: int | None = None) -> list[list[tuple[int, int]]]:
    """This process's batches for one epoch: a seeded permutation, cut into global batches of
    batch * world, each split so rank r takes its own slice. Every rank gets the same count."""
    perm = np.random.default_rng([seed, epoch, 7919]).permutation(n)
    glob = batch * world
    if len(perm) < glob:
        perm = np.resize(perm, glob)               # tiny sets: repeat rather than train on nothing
    n_batches = len(perm) // glob
    if iters is not None:
        if iters > n_batches:                      # several passes inside one "epoch"
            reps = -(-iters * glob // len(perm))
            perm = np.concatenate([np.random.default_rng([seed, epoch, 7919, r]).permutation(n) for r in range(reps)])
        n_batches = iters
    out = []
    for b in range(n_batches):
        chunk = perm[b * glob:(b + 1) * glob]
        out.append([(epoch, int(i)) for i in chunk[rank * batch:(rank + 1) * batch]])
    return out
