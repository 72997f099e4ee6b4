"""`maxsight eval ocr`: reading text, measured as the ICDAR 2015 protocol does (legible words only,
'###' don't-care regions skipped, case-insensitive), on the sharp ICDAR 2015 test photos and on
the labelled word crops (ICDAR 2015 and IIIT5K), each by dataset and by half.

  end to end   our TextReader on the whole photo, in the background pass (cheap, every few
               seconds) and the asked pass ("read text now"): a legible ground-truth word is
               matched one to one to the read word whose box overlaps it best (IoU >= 0.5);
               recall = words found, word accuracy = words found and read exactly; precision =
               read words that match a legible word, of those not on a don't-care region;
               seconds per photo for each pass;
  recognition  the recogniser alone on ground-truth crops (each quadrilateral of a photo warped
               to a rectangle, and the word-crop set): the raw model, without our pipeline.
CER = character edit distance / reference characters (capped at the reference length per word);
word accuracy = exact matches / words.

Halves: a file belongs to `dev` when the first 8 hex digits of the SHA-256 of its file name
(img_12.jpg, ic15_word_3.png) are below 0x80000000, else to `test`. Settings are chosen on dev;
test is reported as the held-out check."""
from __future__ import annotations

import csv
import hashlib
import re
import time
from pathlib import Path

import cv2
import numpy as np

from engine.stage_b.captions import edit_distance

SPLITS = ("dev", "test", "all")


def half(name: str) -> str:
    """'dev' or 'test': a stable split by the file name's hash."""
    return "dev" if int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) < 0x80000000 else "test"


def in_split(name: str, split: str) -> bool:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split == "all" or half(name) == split


def load_gt(path: Path) -> list[tuple[np.ndarray, str]]:
    """(quad [4, 2], transcription) for every word, '###' included (don't care)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        parts = line.strip().split(",", 8)
        if len(parts) != 9:
            continue
        try:
            quad = np.array(parts[:8], np.float32).reshape(4, 2)
        except ValueError:
            raise ValueError(f"{path.name} line {n}: the first eight fields must be numbers") from None
        out.append((quad, parts[8]))
    return out


def warp(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    w = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3])))
    h = int(max(np.linalg.norm(quad[1] - quad[2]), np.linalg.norm(quad[3] - quad[0])))
    w, h = max(w, 4), max(h, 4)
    m = cv2.getPerspectiveTransform(quad, np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32))
    return cv2.warpPerspective(image, m, (w, h))


def poly_iou(a, b) -> float:
    from shapely.geometry import Polygon
    pa, pb = Polygon(np.asarray(a)).buffer(0), Polygon(np.asarray(b)).buffer(0)
    if pa.area == 0 or pb.area == 0:
        return 0.0
    return pa.intersection(pb).area / pa.union(pb).area


def norm(s: str) -> str:
    return re.sub(r"\s+", "", s.lower())


def _tally() -> dict:
    return {"words": 0, "exact": 0, "chars": 0, "edits": 0}


def _add(t: dict, ref: str, hyp: str) -> None:
    r, h = norm(ref), norm(hyp)
    t["words"] += 1
    t["exact"] += r == h
    t["chars"] += len(r)
    t["edits"] += min(edit_distance(r, h), len(r))


def match_words(gt: list[tuple[np.ndarray, str]], words: list[tuple[np.ndarray, str]], iou: float = 0.5):
    """One-to-one: pairs (gt index, word index) by best IoU first, both >= iou; plus the words that
    lie on a don't-care region (IoU >= iou with a '###' quad), which are neither right nor wrong."""
    pairs = []
    for gi, (q, ref) in enumerate(gt):
        if ref == "###":
            continue
        for wi, (b, _) in enumerate(words):
            v = poly_iou(q, b)
            if v >= iou:
                pairs.append((v, gi, wi))
    used_g, used_w, out = set(), set(), []
    for v, gi, wi in sorted(pairs, reverse=True):
        if gi not in used_g and wi not in used_w:
            used_g.add(gi)
            used_w.add(wi)
            out.append((gi, wi))
    dont_care = {wi for wi, (b, _) in enumerate(words) if wi not in used_w
                 and any(ref == "###" and poly_iou(q, b) >= iou for q, ref in gt)}
    return out, dont_care


def score_photo(gt, reads, tally: dict) -> None:
    """Add one photo's end-to-end result (reads: TextRead lines with words) to `tally`."""
    words = [(np.array(w.box, np.float32), w.text) for line in reads for w in line.words]
    pairs, dont_care = match_words(gt, words)
    by_gt = dict(pairs)
    for gi, (q, ref) in enumerate(gt):
        if ref == "###":
            continue
        hyp = words[by_gt[gi]][1] if gi in by_gt else ""
        _add(tally, ref, hyp)
        tally["found"] += gi in by_gt
    tally["read_words"] += len(words) - len(dont_care)
    tally["read_matched"] += len(pairs)


def photos(folder: Path, split: str = "all", limit: int | None = None) -> list[tuple[Path, list]]:
    """(image path, ground truth) of the photos of a split that have at least one legible word."""
    if not (folder / "gt").is_dir() or not (folder / "images").is_dir():
        raise ValueError(f"{folder} is not an ICDAR 2015 folder (it needs gt/ and images/)")
    out = []
    for gt_path in sorted((folder / "gt").glob("gt_img_*.txt"), key=lambda p: int(p.stem.split("_")[-1])):
        img_path = folder / "images" / (gt_path.stem[3:] + ".jpg")
        if not img_path.exists() or not in_split(img_path.name, split):
            continue
        gt = load_gt(gt_path)
        if any(ref != "###" for _, ref in gt):
            out.append((img_path, gt))
        if limit and len(out) >= limit:
            break
    return out


def evaluate_photos(reader, folder: Path, split: str = "all", passes=("background", "asked"), limit: int | None = None,
                    recognition: bool = True) -> dict:
    """End to end per pass (with seconds per photo) and, optionally, recognition on the photos'
    ground-truth crops."""
    items = photos(folder, split, limit)
    e2e = {p: {**_tally(), "found": 0, "read_words": 0, "read_matched": 0, "seconds": []} for p in passes}
    rec = _tally()
    for img_path, gt in items:
        image = cv2.imread(str(img_path))
        if image is None:
            raise ValueError(f"{img_path.name} cannot be read as a picture")
        if recognition:
            for quad, ref in gt:
                if ref != "###":
                    _add(rec, ref, reader.recognise(warp(image, quad))[0])
        for p in passes:
            t0 = time.perf_counter()
            reads = _wheel_lines(reader, image) if p == "wheel" else reader.read(image, asked=p == "asked")
            e2e[p]["seconds"].append(time.perf_counter() - t0)
            score_photo(gt, reads, e2e[p])
    out = {"split": split, "photos": len(items), "end_to_end": {}}
    for p, t in e2e.items():
        secs = t.pop("seconds")
        out["end_to_end"][p] = {**_summary(t), "recall": _pct(t["found"], t["words"]),
                                "precision": _pct(t["read_matched"], t["read_words"]),
                                "seconds_median": float(np.median(secs)) if secs else None,
                                "seconds_mean": float(np.mean(secs)) if secs else None}
    if recognition:
        out["recognition"] = _summary(rec)
    return out


def _wheel(reader, image):
    """The wheel's own pipeline with its own settings (our passes change the detector's)."""
    det = reader.engine.text_det
    det.limit_side_len, det.limit_type, det.postprocess_op.box_thresh = 736, "min", 0.5
    return reader.engine(image)


def _wheel_lines(reader, image) -> list:
    """The reader before issue 16: the wheel's own pipeline, whole lines as its only 'words'."""
    from engine.types import TextRead, TextWord
    res, _ = _wheel(reader, image)
    out = []
    for box, text, score in res or []:
        if float(score) >= 0.5 and str(text).strip():
            b = tuple((float(x), float(y)) for x, y in box)
            out.append(TextRead(str(text).strip(), float(score), b, 12, 0.0, words=(TextWord(str(text).strip(), float(score), b),)))
    return out


def evaluate_crops(reader, folder: Path, split: str = "all", limit: int | None = None) -> dict:
    """Recognition on the labelled word crops (labels.csv: file,text,dataset), per dataset."""
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise ValueError(f"{folder} holds no labels.csv (file,text,dataset)")
    per: dict[str, dict] = {}
    rows = [r for r in csv.DictReader(open(labels, encoding="utf-8")) if in_split(r["file"], split)]
    for r in rows[:limit]:
        image = cv2.imread(str(folder / "images" / r["file"]))
        if image is None:
            raise ValueError(f"{r['file']} cannot be read as a picture")
        _add(per.setdefault(r["dataset"], _tally()), r["text"], reader.recognise(image)[0])
    return {"split": split, "per_dataset": {k: _summary(v) for k, v in sorted(per.items())}}


def _pct(n: int, d: int) -> float | None:
    return 100.0 * n / d if d else None


def _summary(d: dict) -> dict:
    return {**d, "cer": _pct(d["edits"], d["chars"]), "word_accuracy": _pct(d["exact"], d["words"])}


def _f(v: float | None) -> str:
    return "  n/a" if v is None else f"{v:5.1f}"


def table(result: dict) -> str:
    lines = []
    for r in result.get("photos", []):
        lines.append(f"ICDAR 2015 sharp photos, {r['split']} half: {r['photos']} photos with legible words")
        for p, e in r["end_to_end"].items():
            lines.append(f"  end to end, {p:<10} word accuracy {_f(e['word_accuracy'])}% ({e['exact']}/{e['words']}), "
                         f"recall {_f(e['recall'])}% ({e['found']}/{e['words']}), precision {_f(e['precision'])}% "
                         f"({e['read_matched']}/{e['read_words']}), CER {_f(e['cer'])}% ({e['edits']}/{e['chars']}); "
                         f"{e['seconds_median']:.2f} s per photo (median, mean {e['seconds_mean']:.2f})")
        if "recognition" in r:
            a = r["recognition"]
            lines.append(f"  recognition on ground-truth crops (raw model): word accuracy {_f(a['word_accuracy'])}% "
                         f"({a['exact']}/{a['words']}), CER {_f(a['cer'])}% ({a['edits']}/{a['chars']})")
    for r in result.get("timing", []):
        lines.append(timing_table(r))
    for r in result.get("moving", []):
        lines.append(moving_table(r))
    for r in result.get("crops", []):
        lines.append(f"Word crops, {r['split']} half (recogniser alone, case-insensitive):")
        for ds, a in r["per_dataset"].items():
            lines.append(f"  {ds:<10} word accuracy {_f(a['word_accuracy'])}% ({a['exact']}/{a['words']}), "
                         f"CER {_f(a['cer'])}% ({a['edits']}/{a['chars']})")
    return "\n".join(lines)


def moving_frames(image: np.ndarray, gt, frames: int, rng: np.random.Generator):
    """A walking user's view of one photo: each frame shifted by up to 3% and smeared by motion blur
    (0-13 px along a random direction); yields (frame, ground truth moved with it)."""
    h, w = image.shape[:2]
    for _ in range(frames):
        dx, dy = rng.uniform(-0.03, 0.03) * w, rng.uniform(-0.03, 0.03) * h
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        img = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        length = int(rng.choice([0, 5, 9, 13]))
        if length:
            k = np.zeros((length, length), np.float32)
            angle = rng.uniform(0, np.pi)
            c = (length - 1) / 2
            for t in np.linspace(-c, c, 4 * length):
                k[int(round(c + t * np.sin(angle))), int(round(c + t * np.cos(angle)))] = 1
            img = cv2.filter2D(img, -1, k / k.sum())
        yield img, [(q + np.float32([dx, dy]), ref) for q, ref in gt]


def evaluate_moving(reader, folder: Path, split: str = "dev", limit: int | None = None, frames: int = 3, seed: int = 0) -> dict:
    """The several-frame vote on a moving camera: every photo seen as `frames` shifted, motion-
    blurred frames half a second apart through the background pass; the last frame scored alone
    and as the vote says it."""
    from engine.stage_b.ocr import TextVote
    rng = np.random.default_rng(seed)
    single = {**_tally(), "found": 0, "read_words": 0, "read_matched": 0}
    voted = {**_tally(), "found": 0, "read_words": 0, "read_matched": 0}
    items = photos(folder, split, limit)
    for img_path, gt in items:
        vote = TextVote()
        image = cv2.imread(str(img_path))
        for k, (frame, moved) in enumerate(moving_frames(image, gt, frames, rng)):
            reads = reader.read(frame)
            merged = vote.update(reads, 0.5 * k)
        score_photo(moved, reads, single)
        score_photo(moved, merged, voted)
    return {"split": split, "photos": len(items), "frames": frames,
            "single": {**_summary(single), "recall": _pct(single["found"], single["words"])},
            "voted": {**_summary(voted), "recall": _pct(voted["found"], voted["words"])}}


def moving_table(r: dict) -> str:
    s, v = r["single"], r["voted"]
    return (f"Moving camera ({r['split']} half, {r['photos']} photos, {r['frames']} shifted and motion-blurred frames each, background pass):\n"
            f"  last frame alone:  word accuracy {_f(s['word_accuracy'])}% ({s['exact']}/{s['words']}), recall {_f(s['recall'])}%\n"
            f"  with the vote:     word accuracy {_f(v['word_accuracy'])}% ({v['exact']}/{v['words']}), recall {_f(v['recall'])}%")


def evaluate_timing(reader, folder: Path, split: str = "dev", limit: int | None = 20, repeat: int = 2) -> dict:
    """Seconds per photo, one thread, interleaved photo by photo so a busy machine slows all alike:
    the wheel's own pipeline (what the background pass cost before), our background pass and the
    asked pass. Each photo is read `repeat` times; the fastest counts (the least disturbed)."""
    items = photos(folder, split, limit)
    runs = {"wheel": [], "background": [], "asked": []}
    for img_path, _ in items:
        image = cv2.imread(str(img_path))
        for name, fn in (("wheel", lambda: _wheel(reader, image)), ("background", lambda: reader.read(image)),
                         ("asked", lambda: reader.read(image, asked=True))):
            best = 1e9
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t0)
            runs[name].append(best)
    return {"split": split, "photos": len(items), **{k: {"median": float(np.median(v)), "mean": float(np.mean(v)),
                                                         "p90": float(np.percentile(v, 90))} for k, v in runs.items() if v}}


def timing_table(r: dict) -> str:
    return (f"Seconds per photo ({r['split']} half, {r['photos']} photos, 1 thread, fastest of repeats): " +
            "; ".join(f"{k} median {r[k]['median']:.2f} (mean {r[k]['mean']:.2f}, p90 {r[k]['p90']:.2f})"
                      for k in ("wheel", "background", "asked") if k in r))
