"""`maxsight eval watch-for`: "watch for a word" on clips rendered from ICDAR 2015 photos: a camera
panning toward a sign and walking up to it (zoom), with motion blur that fades as it slows. The
text reader (engine.stage_b.ocr: background preset, several-frame vote) reads a frame every
`every` seconds of clip time, as Stage B would while something is watched for; the matcher is
maxsight_app.cues.watch.

Per photo (dev or test half by the file name's hash, as `eval ocr`): the target is its tallest
legible word (2+ letters or digits). The walk is `duration` s long, then the walker stands still for HOLD_S; the target is legible from the
first read frame where it is wholly in view, at least LEGIBLE_PX tall, and smeared by motion blur over
at most LEGIBLE_BLUR of its height. Found: a
sighting of the target, and the time from its first legible frame to the cue (<= 2 s is the
issue's target). False alerts: the same clip watched for the targets of other photos whose words
do not appear in it, per 10 minutes of watching. Reported by word length and by the target's
height in the photo. Clips are rendered from a seed, never stored."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from maxsight_app.cues.watch import WatchFor, matches
from maxsight_app.measure.ocr import in_split, load_gt

OUT_W, OUT_H = 640, 360
LEGIBLE_PX = 16.0         # legible: the target at least this tall in the frame, wholly in view, and
LEGIBLE_BLUR = 0.25       # ...smeared by motion blur over at most this share of its height (set on the dev half)
FOUND_WITHIN_S = 2.0
FINAL_PX = 40.0           # the walk ends with the target this tall (at most 4x zoom)...
HOLD_S = 2.0              # ...and the walker then stands still this long before the clip ends


def target_of(gt: list[tuple[np.ndarray, str]]) -> tuple[np.ndarray, str] | None:
    best = None
    for quad, text in gt:
        if text == "###" or len("".join(c for c in text if c.isalnum())) < 2:
            continue
        h = float(quad[:, 1].max() - quad[:, 1].min())
        if best is None or h > best[0]:
            best = (h, quad, text)
    return (best[1], best[2]) if best else None


def render(image: np.ndarray, quad: np.ndarray, t: float, duration: float, rng) -> tuple[np.ndarray, float, bool]:
    """One frame at clip time t: (BGR [OUT_H, OUT_W, 3], the target's height in it (px), legible)."""
    H, W = image.shape[:2]
    h_t = float(quad[:, 1].max() - quad[:, 1].min())
    zmax = float(np.clip(FINAL_PX / max(h_t * OUT_W / W, 1e-6), 1.0, 4.0))
    p = min(max(t / duration, 0.0), 1.0)
    ease = 1 - (1 - p) ** 2
    z = 1.0 + (zmax - 1.0) * ease
    cw, ch = W / z, H / z
    tc = quad.mean(axis=0)
    start = np.array([W / 2 + (0.45 * W if tc[0] < W / 2 else -0.45 * W), H / 2])     # panning in from the far side
    c = start + (tc - start) * min(1.0, ease * 1.6) + rng.normal(0, 6, 2) * (1 - p)   # hand shake, less when slow
    c[0] = np.clip(c[0], cw / 2, W - cw / 2)
    c[1] = np.clip(c[1], ch / 2, H - ch / 2)
    x0, y0 = c[0] - cw / 2, c[1] - ch / 2
    s = OUT_W / cw
    M = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
    frame = cv2.warpAffine(image, M, (OUT_W, OUT_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    blur = int(round(14 * (1 - p)))                    # motion blur along the pan, fading as the walk slows
    if blur >= 2:
        k = np.zeros((blur, blur), np.float32)
        k[blur // 2, :] = 1.0 / blur
        frame = cv2.filter2D(frame, -1, k)
    q = (quad - [x0, y0]) * s
    inside = bool(q[:, 0].min() >= 0 and q[:, 1].min() >= 0 and q[:, 0].max() <= OUT_W and q[:, 1].max() <= OUT_H)
    h_px = h_t * s
    return frame, h_px, inside and h_px >= LEGIBLE_PX and blur <= LEGIBLE_BLUR * h_px


def evaluate(data: Path, split: str = "test", limit: int = 24, every: float = 1.0, duration: float = 6.0,
             others: int = 3, seed: int = 0, log=None) -> dict:
    from engine.stage_b.ocr import TextReader, TextVote
    images = sorted((data / "images").glob("img_*.jpg"), key=lambda p: int(p.stem.split("_")[1]))
    photos = []
    for img in images:
        if not in_split(img.name, split):
            continue
        gt = load_gt(data / "gt" / f"gt_{img.stem}.txt")
        tgt = target_of(gt)
        if tgt is not None:
            photos.append((img, gt, tgt))
    photos = photos[:limit]
    if not photos:
        raise ValueError(f"{data} holds no photos with a legible word in the {split} half")
    reader = TextReader()
    rows, false_alerts, watched_s = [], [], 0.0
    for n, (img, gt, (quad, word)) in enumerate(photos):
        rng = np.random.default_rng(seed + n)
        image = cv2.imread(str(img))
        foreign = [w for _, _, (_, w) in (photos[(n + k) % len(photos)] for k in range(1, len(photos)))
                   if not any(matches(w, text) for _, text in gt if text != "###")][:others]
        own, alien, vote = WatchFor([word]), WatchFor(foreign) if foreign else None, TextVote()
        legible_t = found_t = None
        t = 0.0
        while t <= duration + HOLD_S + 1e-9:
            frame, h_px, legible = render(image, quad, t, duration, rng)
            if legible_t is None and legible:
                legible_t = t
            reads = vote.update(reader.read(frame), t)
            if found_t is None and own.update(reads, t):
                found_t = t
            if alien is not None:
                false_alerts += [{"photo": img.name, "word": s.word, "text": s.text, "t": t} for s in alien.update(reads, t)]
            t += every
        watched_s += duration + HOLD_S if foreign else 0.0
        h_photo = float(quad[:, 1].max() - quad[:, 1].min())
        latency = None if found_t is None or legible_t is None else max(0.0, found_t - legible_t)
        rows.append({"photo": img.name, "word": word, "length": len("".join(c for c in word if c.isalnum())),
                     "height_px": round(h_photo, 1), "legible_t": legible_t, "found_t": found_t, "latency_s": latency,
                     "within": latency is not None and latency <= FOUND_WITHIN_S, "watched_for_elsewhere": foreign})
        if log:
            log(f"{n + 1}/{len(photos)} {img.name} {word!r}: legible {legible_t}, found {found_t}")
    return {"data": str(data), "split": split, "every_s": every, "duration_s": duration, "clips": len(rows),
            "rows": rows, "false_alerts": false_alerts, "watched_s": watched_s, "words_watched_per_clip": others}


def _bucket_len(n: int) -> str:
    return "2-3" if n <= 3 else "4-6" if n <= 6 else "7+"


def _bucket_h(h: float) -> str:
    return "<20 px" if h < 20 else "20-40 px" if h < 40 else ">=40 px"


def table(r: dict) -> str:
    rows = r["rows"]
    legible = [x for x in rows if x["legible_t"] is not None]
    lines = [f"Watch for a word, {Path(r['data']).name} ({r['split']}): {r['clips']} clips of {r['duration_s']:.0f} s walking "
             f"+ {HOLD_S:.0f} s standing, "
             f"the reader every {r['every_s']:.1f} s",
             f"{'':<16} {'legible':>7} {'said <= 2 s':>12} {'said later':>10}"]

    def line(name, xs):
        leg = [x for x in xs if x["legible_t"] is not None]
        w = sum(x["within"] for x in leg)
        later = sum(x["latency_s"] is not None and not x["within"] for x in leg)
        pct = f"{100 * w / len(leg):.0f}%" if leg else "n/a"
        lines.append(f"{name:<16} {len(leg):>7} {w:>5}/{len(leg):<3} {pct:>4} {later:>6}")
    line("all", rows)
    for b in ("2-3", "4-6", "7+"):
        line(f"length {b}", [x for x in rows if _bucket_len(x["length"]) == b])
    for b in ("<20 px", "20-40 px", ">=40 px"):
        line(f"height {b}", [x for x in rows if _bucket_h(x["height_px"]) == b])
    lat = sorted(x["latency_s"] for x in legible if x["latency_s"] is not None)
    if lat:
        lines.append(f"  time from first legible frame to the cue: median {lat[len(lat) // 2]:.1f} s over {len(lat)} found")
    fa, mins = len(r["false_alerts"]), r["watched_s"] / 60
    per10 = f"{fa * 10 / mins:.1f}" if mins else "n/a"
    lines.append(f"  false alerts: {fa} in {mins:.1f} min watched ({r['words_watched_per_clip']} other photos' words at once) "
                 f"= {per10} per 10 minutes")
    return "\n".join(lines)
