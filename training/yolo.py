"""YOLO-layout detection sets: an `images/` folder beside a `labels/` folder holding one
NAME.txt per images/NAME.jpg, each line `class cx cy w h` (box centre and size as fractions
0..1 of the image), and the class names in `obj.names` (one per line) or `data.yaml`
(`names: [...]` or `names: {0: ..., 1: ...}`). An empty label file means nothing is labelled
there (a valid negative); an image with no label file, or a label file with no image, is an error.

A dataset folder is either such a pair of folders itself, or holds `train/` and `valid/` (or
`val/`) subfolders that are; a names file may sit at the top or in each subfolder (they must
agree). A `test/` subfolder is never read.

Split rule (`train` / `val` / `all`, deterministic, the same on every machine):
- Images are grouped by source photo: the file stem up to `.rf.` (Roboflow names its augmented
  copies NAME_jpg.rf.HASH.jpg), or the whole stem when there is no `.rf.`.
- A group goes to `val` when the first 8 hex digits of the SHA-256 of its name, as a number,
  are below VAL_PERCENT% of 2^32 (about 20%), else to `train`; so copies of one photo never
  straddle the split, and adding or removing other photos moves nothing.
- Everything in a `valid/` or `val/` subfolder is `val`, and so is every group that also appears
  there.
- `val-dev` / `val-test`: the val split's two halves by source photo (a second hash), so a score
  fitted on one half (`maxsight eval calibrate`) is reported on the other.

Several datasets merge into one class list by name: the first dataset's names in order, then
each new name from the next; a name two datasets share is one class.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from training import labels as L
from training.sample import DataError, Sample

VAL_PERCENT = 20
TOLERANCE = 0.01            # coordinates may stray this far outside 0..1 (rounding); they are clipped
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
YOLO_SPLITS = ("train", "val", "all", "val-dev", "val-test")
TRAIN_DIRS = ("train",)
VAL_DIRS = ("valid", "val")


def _error(message: str) -> DataError:
    return DataError(message)


def _is_pair(folder: Path) -> bool:
    return (folder / "images").is_dir() and (folder / "labels").is_dir()


def is_yolo(root: Path) -> bool:
    """A folder with images/ + labels/, or with train/ or valid/ subfolders that have them."""
    root = Path(root)
    return root.is_dir() and (_is_pair(root) or any(_is_pair(root / d) for d in TRAIN_DIRS + VAL_DIRS))


def source_group(file_name: str) -> str:
    """The source photo an image was made from: the stem up to `.rf.` (Roboflow copies), else the stem."""
    stem = Path(file_name).stem
    return stem.split(".rf.")[0] if ".rf." in stem else stem


def val_half(group: str) -> str:
    """Which half of the val split a source photo is in: dev or test (a hash other than in_val's)."""
    return "dev" if int(hashlib.sha256(f"half:{group}".encode("utf-8")).hexdigest()[:8], 16) < (1 << 31) else "test"


def in_val(group: str) -> bool:
    """The split rule: a stable hash of the group name, VAL_PERCENT% of groups in val."""
    h = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16)
    return h < VAL_PERCENT * (1 << 32) // 100


def _names_in(folder: Path) -> tuple[list[str], Path] | None:
    obj = folder / "obj.names"
    if obj.is_file():
        names = [line.strip() for line in obj.read_text().splitlines() if line.strip()]
        if not names:
            raise _error(f"{obj} names no classes; it needs one class name per line")
        return names, obj
    for fn in ("data.yaml", "data.yml"):
        f = folder / fn
        if not f.is_file():
            continue
        try:
            data = yaml.safe_load(f.read_text())
        except yaml.YAMLError as exc:
            raise _error(f"{f} is not valid YAML: {str(exc).splitlines()[0]}") from None
        names = data.get("names") if isinstance(data, dict) else None
        if isinstance(names, dict):
            keys = sorted(names)
            if keys != list(range(len(keys))):
                raise _error(f"{f}: names must be numbered 0..{len(keys) - 1} without gaps, got {keys}")
            names = [names[k] for k in keys]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise _error(f"{f}: names must be a non-empty list of class names, got {names!r}")
        return [n.strip() for n in names], f
    return None


def read_names(root: Path) -> tuple[list[str], Path]:
    """The class names of a dataset folder and the file they came from."""
    found = [r for r in (_names_in(root), *(_names_in(root / d) for d in TRAIN_DIRS + VAL_DIRS)) if r is not None]
    if not found:
        raise _error(f"{root} has no obj.names or data.yaml naming the classes")
    names, file = found[0]
    for other, f in found[1:]:
        if other != names:
            raise _error(f"{f} names the classes {other}, but {file} names them {names}; they must agree")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise _error(f"{file} names the class {dup!r} twice")
    return names, file


def parse_label_file(path: Path, num_classes: int, names_file: Path) -> np.ndarray:
    """[N, 5] float64 rows (class, cx, cy, w, h), coordinates clipped to 0..1; the first problem
    raises DataError naming the file and line."""
    rows = []
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise _error(f"{path} is not a text file") from None
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path}: line {n}"
        if len(parts) != 5:
            raise _error(f"{where} has {len(parts)} numbers; a label line is 'class cx cy w h' (5 numbers)")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            bad = next(p for p in parts if not _is_number(p))
            raise _error(f"{where}: {bad!r} is not a number") from None
        if not all(math.isfinite(v) for v in values):
            raise _error(f"{where} holds a value that is not finite: {line.strip()!r}")
        c = values[0]
        if c != int(c):
            raise _error(f"{where}: the class id must be a whole number, got {parts[0]!r}")
        if not 0 <= c < num_classes:
            raise _error(f"{where}: class {int(c)} is out of range; {names_file} names {num_classes} classes (0..{num_classes - 1})")
        cx, cy, w, h = values[1:]
        for label, v in (("cx", cx), ("cy", cy), ("w", w), ("h", h)):
            if not -TOLERANCE <= v <= 1 + TOLERANCE:
                raise _error(f"{where}: {label} {v:g} is outside 0..1; coordinates are fractions of the image size")
        if w <= 0 or h <= 0:
            raise _error(f"{where}: the box has no area (w {w:g}, h {h:g})")
        x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
        if min(x1, y1) < -TOLERANCE or max(x2, y2) > 1 + TOLERANCE:
            raise _error(f"{where}: the box reaches outside the image ({x1:.3f}, {y1:.3f}) - ({x2:.3f}, {y2:.3f})")
        x1, y1, x2, y2 = (min(max(v, 0.0), 1.0) for v in (x1, y1, x2, y2))
        rows.append((c, (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1))
    return np.array(rows, np.float64).reshape(-1, 5)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


@dataclass(frozen=True)
class YoloImage:
    path: Path               # the image file
    group: str               # source photo (see source_group)
    split: str               # train or val
    classes: np.ndarray      # [N] int64, in the merged class list
    boxes: np.ndarray        # [N, 4] float64 xyxy as fractions 0..1 of the image


def _pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(image, label file) for every image in folder/images; a label file without an image or an
    image without a label file is an error."""
    images_dir, labels_dir = folder / "images", folder / "labels"
    images = {}
    for p in sorted(images_dir.iterdir()):
        if p.suffix.lower() in IMAGE_EXTS:
            if p.stem in images:
                raise _error(f"{images_dir} holds two images named {p.stem} ({images[p.stem].name} and {p.name})")
            images[p.stem] = p
    labels = {p.stem: p for p in sorted(labels_dir.glob("*.txt"))}
    for stem, lab in labels.items():
        if stem not in images:
            raise _error(f"{lab} has no image beside it: {images_dir} holds no {stem} with one of {', '.join(IMAGE_EXTS)}")
    for stem, img in images.items():
        if stem not in labels:
            raise _error(f"{img} has no label file {labels_dir / (stem + '.txt')}; an image with nothing labelled needs an empty one")
    return [(images[s], labels[s]) for s in sorted(images)]


def _parts(root: Path) -> list[tuple[Path, bool]]:
    """(folder holding images/ + labels/, whether it is a fixed validation folder)."""
    if _is_pair(root):
        return [(root, False)]
    parts = [(root / d, False) for d in TRAIN_DIRS if _is_pair(root / d)]
    parts += [(root / d, True) for d in VAL_DIRS if _is_pair(root / d)]
    if not parts:
        raise _error(f"{root} is not a YOLO dataset: it needs images/ and labels/, or train/ and valid/ folders that hold them")
    return parts


class YoloDataset:
    """Images plus boxes from one or more YOLO-layout folders, merged by class name, with the
    split above. Offers what CocoDataset offers: load(i) -> Sample, class_counts, zone_counts,
    label_names, and to_coco() for the COCO evaluation."""

    def __init__(self, roots, split: str = "all", label_names: list[str] | None = None):
        roots = [Path(r) for r in ([roots] if isinstance(roots, (str, Path)) else roots)]
        if split not in YOLO_SPLITS:
            raise _error(f"the split {split!r} is not one a YOLO-layout set has; choose {', '.join(YOLO_SPLITS)} "
                         f"(dev and test are the COCO sets' halves)")
        if not roots:
            raise _error("no YOLO dataset folders were given")
        per_root = []
        merged: list[str] = []
        for root in roots:
            if not root.is_dir():
                raise _error(f"the dataset folder {root} does not exist")
            names, names_file = read_names(root)
            per_root.append((root, names, names_file))
            merged += [n for n in names if n not in merged]
        if label_names is not None:
            missing = [n for n in label_names if n not in merged]
            if missing:
                raise _error(f"the class {missing[0]!r} is in none of the datasets {', '.join(str(r) for r in roots)}; "
                             f"they name {', '.join(merged)}")
            self.label_names = list(label_names)
        else:
            self.label_names = merged
        index = {n: i for i, n in enumerate(self.label_names)}
        self.roots, self.split = roots, split
        self.items: list[YoloImage] = []
        for root, names, names_file in per_root:
            to_merged = np.array([index.get(n, -1) for n in names], np.int64)    # -1: a class left out by label_names
            found = []
            for folder, fixed_val in _parts(root):
                for img, lab in _pairs(folder):
                    rows = parse_label_file(lab, len(names), names_file)
                    cls = to_merged[rows[:, 0].astype(np.int64)]
                    c = rows[:, 1:]
                    boxes = np.stack([c[:, 0] - c[:, 2] / 2, c[:, 1] - c[:, 3] / 2, c[:, 0] + c[:, 2] / 2, c[:, 1] + c[:, 3] / 2], 1)
                    keep = cls >= 0
                    found.append((img, source_group(img.name), fixed_val, cls[keep], boxes[keep].reshape(-1, 4)))
            val_groups = {g for _, g, fixed, _, _ in found if fixed}
            for img, group, fixed, cls, boxes in found:
                s = "val" if fixed or group in val_groups or in_val(group) else "train"
                if split in ("all", s) or (s == "val" and split == f"val-{val_half(group)}"):
                    self.items.append(YoloImage(img, group, s, cls, boxes))
        self._sizes: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> Sample:
        it = self.items[i]
        image = cv2.imread(str(it.path))
        if image is None:
            raise _error(f"cannot read image {it.path}")
        h, w = image.shape[:2]
        boxes = (it.boxes * np.array([w, h, w, h])).astype(np.float32).reshape(-1, 4)
        zones = L.distance_zones(boxes, w, h)
        urgency = L.object_urgency([self.label_names[c] for c in it.classes], zones)
        return Sample(image, boxes, it.classes.astype(np.int64), zones, urgency)

    def class_counts(self) -> np.ndarray:
        counts = np.zeros(len(self.label_names), np.int64)
        for it in self.items:
            counts += np.bincount(it.classes, minlength=len(self.label_names))
        return counts

    def zone_counts(self) -> np.ndarray:
        counts = np.zeros(3, np.int64)
        for it in self.items:
            counts += np.bincount(L.distance_zones(it.boxes.astype(np.float32), 1, 1), minlength=3)   # fractions: area share
        return counts

    def groups(self) -> set[str]:
        return {it.group for it in self.items}

    def image_size(self, i: int) -> tuple[int, int]:
        """(width, height) from the file header."""
        if i not in self._sizes:
            from PIL import Image
            with Image.open(self.items[i].path) as im:
                self._sizes[i] = im.size
        return self._sizes[i]

    def to_coco(self) -> dict:
        """The set as a COCO instances dict (image ids 1..N in order, category ids 1..K, absolute
        file names), so pycocotools computes its mAP."""
        images, anns = [], []
        for i, it in enumerate(self.items):
            w, h = self.image_size(i)
            images.append({"id": i + 1, "file_name": str(it.path.resolve()), "width": w, "height": h})
            for c, b in zip(it.classes, it.boxes):
                x1, y1, bw, bh = b[0] * w, b[1] * h, (b[2] - b[0]) * w, (b[3] - b[1]) * h
                anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(c) + 1, "bbox": [x1, y1, bw, bh],
                             "area": bw * bh, "iscrowd": 0})
        cats = [{"id": k + 1, "name": n} for k, n in enumerate(self.label_names)]
        return {"images": images, "annotations": anns, "categories": cats}
