"""Unlabelled images for self-supervised pretraining (pretrain.py): frames of videos and the images
of folders, labels ignored.

A source is
- a video file (.mp4, .avi, .mov, .mkv, .webm): every n-th frame, decoded once and kept in memory
  as JPEG bytes with the shorter side at most `max_side` pixels;
- a YOLO-layout dataset folder (yolo.py): the images of its `train` split only, so a detector
  later measured on that set's `val` split never saw those photos, labelled or not;
- a COCO-format folder (instances.json + images/): the images of its `dev` half only, for the same
  reason (the `test` half is for reporting);
- any other folder: every image and every video under it.
Order is fixed (sorted paths), so item i is the same image on every run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.sample import DataError

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class Item:
    path: Path
    frame: int = -1          # -1: an image file; else the frame index in a video


def _resize_short(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    s = max_side / min(h, w)
    if s >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


class UnlabelledImages:
    """Images from the sources above; load(i) -> BGR uint8 [H, W, 3]."""

    def __init__(self, paths: list[Path], every_n: int = 10, max_side: int = 480, max_images: int | None = None,
                 where: str = "pretrain.sources"):
        if every_n < 1:
            raise DataError(f"pretrain.every_n must be at least 1, got {every_n}")
        self.max_side = max_side
        self.items: list[Item] = []
        self.frames: dict[Item, bytes] = {}
        self.counts: dict[str, int] = {}
        for p in paths:
            p = Path(p)
            before = len(self.items)
            if not p.exists():
                raise DataError(f"{where}: {p} does not exist")
            if p.is_file():
                if p.suffix.lower() in VIDEO_EXTS:
                    self._add_video(p, every_n)
                elif p.suffix.lower() in IMAGE_EXTS:
                    self.items.append(Item(p))
                else:
                    raise DataError(f"{where}: {p} is neither a video ({', '.join(VIDEO_EXTS)}) nor an image file")
            else:
                self._add_folder(p, every_n)
            self.counts[str(p)] = len(self.items) - before
        if max_images is not None and len(self.items) > max_images:
            # An even spread over everything, not the first sources only.
            keep = np.linspace(0, len(self.items) - 1, max_images).round().astype(int)
            self.items = [self.items[i] for i in keep]
        if not self.items:
            raise DataError(f"{where} holds no images or video frames ({', '.join(str(p) for p in paths)})")

    def _add_folder(self, root: Path, every_n: int) -> None:
        from training.yolo import YoloDataset, is_yolo
        if is_yolo(root):
            ds = YoloDataset(root, "train")
            self.items += [Item(it.path) for it in ds.items]
            return
        if (root / "instances.json").is_file() and (root / "images").is_dir():
            from training.data import CocoDataset
            ds = CocoDataset(root, "dev")
            self.items += [Item(ds.images_dir / im["file_name"]) for im in ds.images]
            return
        for f in sorted(root.rglob("*")):
            if f.suffix.lower() in IMAGE_EXTS and f.is_file():
                self.items.append(Item(f))
            elif f.suffix.lower() in VIDEO_EXTS and f.is_file():
                self._add_video(f, every_n)

    def _add_video(self, path: Path, every_n: int) -> None:
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise DataError(f"pretrain.sources: cannot open the video {path}")
        i = 0
        try:
            while True:
                ok = cap.grab()
                if not ok:
                    break
                if i % every_n == 0:
                    ok, frame = cap.retrieve()
                    if ok and frame is not None:
                        ok, buf = cv2.imencode(".jpg", _resize_short(frame, self.max_side), [cv2.IMWRITE_JPEG_QUALITY, 92])
                        item = Item(path, i)
                        self.frames[item] = buf.tobytes()
                        self.items.append(item)
                i += 1
        finally:
            cap.release()

    def __len__(self) -> int:
        return len(self.items)

    def load(self, i: int) -> np.ndarray:
        it = self.items[i]
        if it.frame >= 0:
            image = cv2.imdecode(np.frombuffer(self.frames[it], np.uint8), cv2.IMREAD_COLOR)
        else:
            image = cv2.imread(str(it.path))
            if image is None:
                raise DataError(f"cannot read image {it.path}")
            image = _resize_short(image, self.max_side)
        return image

    def describe(self) -> str:
        return ", ".join(f"{Path(k).name}: {v}" for k, v in self.counts.items())
