"""`maxsight eval ocr --icdar DIR`: ICDAR 2015 incidental scene text, legible words only ('###'
skipped), case-insensitive (the usual IC15 word-recognition protocol).

  recognition  each ground-truth quadrilateral warped to a rectangle and read by the recogniser
               alone: the raw model, without our pipeline;
  end to end   our TextReader on the whole image (detection + recognition + reading order); a
               ground-truth word is matched to the reading whose box overlaps it best (IoU >= 0.5),
               unmatched words count as fully wrong.
CER = character edit distance / reference characters; word accuracy = exact matches / words."""
from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from engine.stage_b.captions import edit_distance
from engine.stage_b.ocr import TextReader


def load_gt(path: Path) -> list[tuple[np.ndarray, str]]:
    out = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        parts = line.strip().split(",", 8)
        if len(parts) == 9 and parts[8] != "###":
            out.append((np.array(parts[:8], np.float32).reshape(4, 2), parts[8]))
    return out


def warp(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    w = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    h = int(max(np.linalg.norm(quad[1] - quad[2]), np.linalg.norm(quad[3] - quad[0])))
    w, h = max(w, 4), max(h, 4)
    m = cv2.getPerspectiveTransform(quad, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32))
    return cv2.warpPerspective(image, m, (w, h))


def _poly_iou(a: np.ndarray, b: np.ndarray) -> float:
    from shapely.geometry import Polygon
    pa, pb = Polygon(a).buffer(0), Polygon(b).buffer(0)
    if pa.area == 0 or pb.area == 0:
        return 0.0
    return pa.intersection(pb).area / pa.union(pb).area


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", s.lower())


def evaluate(folder: Path, limit: int | None = None) -> dict:
    reader = TextReader()
    rec = {"words": 0, "exact": 0, "chars": 0, "edits": 0}
    e2e = {"words": 0, "exact": 0, "chars": 0, "edits": 0, "matched": 0}
    images = 0
    for gt_path in sorted((folder / "gt").glob("gt_img_*.txt"), key=lambda p: int(p.stem.split("_")[-1])):
        img_path = folder / "images" / (gt_path.stem[3:] + ".jpg")
        if not img_path.exists():
            continue
        gt = load_gt(gt_path)
        if not gt:
            continue
        image = cv2.imread(str(img_path))
        images += 1
        for quad, ref in gt:
            hyp, _ = reader.recognise(warp(image, quad))
            r, h = _norm(ref), _norm(hyp)
            rec["words"] += 1
            rec["exact"] += r == h
            rec["chars"] += len(r)
            rec["edits"] += min(edit_distance(r, h), len(r))
        reads = reader.read(image)
        for quad, ref in gt:
            best = max(reads, key=lambda t: _poly_iou(quad, np.array(t.box)), default=None)
            hyp = best.text if best is not None and _poly_iou(quad, np.array(best.box)) >= 0.5 else ""
            r, h = _norm(ref), _norm(hyp)
            e2e["words"] += 1
            e2e["matched"] += bool(hyp)
            e2e["exact"] += r == h
            e2e["chars"] += len(r)
            e2e["edits"] += min(edit_distance(r, h), len(r))
        if limit and images >= limit:
            break
    def summary(d):
        return {**d, "cer": 100.0 * d["edits"] / max(d["chars"], 1), "word_accuracy": 100.0 * d["exact"] / max(d["words"], 1)}
    return {"images": images, "recognition": summary(rec), "end_to_end": summary(e2e)}


def table(r: dict) -> str:
    a, b = r["recognition"], r["end_to_end"]
    return "\n".join([
        f"OCR on ICDAR 2015 incidental scene text: {r['images']} images with legible words, {a['words']} words, {a['chars']} characters",
        f"  recognition on ground-truth crops (raw model): CER {a['cer']:.1f}% ({a['edits']}/{a['chars']} chars), "
        f"word accuracy {a['word_accuracy']:.1f}% ({a['exact']}/{a['words']})",
        f"  end to end (our TextReader, IoU >= 0.5):       CER {b['cer']:.1f}% ({b['edits']}/{b['chars']} chars), "
        f"word accuracy {b['word_accuracy']:.1f}% ({b['exact']}/{b['words']}); words found {b['matched']}/{b['words']}"])
