"""`maxsight eval safety --explain DIR`: every mistake the safety evaluation counts, one row and one
picture each, so a person can look through fifty of them in a minute and see what to fix.

Rows (DIR/rows.csv and DIR/rows.json), one per:
  false urgent alert   a warning or danger on a photo with no true hazard within 8 m (stills), or
                       on a hazard-free clip (approach: a nuisance cue);
  unmatched report     a reported hazard that overlaps no true hazard (IoU < 0.5);
  missed near hazard   a true hazard over 10% of the photo that no report overlaps;
  missed approach      an approaching hazard not cued (whole and understood) within 1 s of the
                       moment it became urgent.
Each row says the photo or clip, the class and score, the estimated distance against the true
one (the app's geometry on the true box), the track's age, what the cue policy decided and why,
and a cause. Each picture is the frame with the true boxes (green) and the reported ones (colour
by urgency: grey safe, yellow caution, orange warning, red danger), distance and urgency written.
DIR/index.html is the contact sheet; DIR/summary.json (and the command's table) groups the causes.

Causes are assigned by rules a person can check against the picture:
  wrong class              the box lies on a labelled object of another, non-hazard class
  box off the true one     it overlaps a true hazard, but under IoU 0.5 (a part, or two boxes)
  nothing labelled there   no labelled object under it: a poster, a reflection, or a missing label
  stairs, none labelled    stairs reported where the photo has none (patterned floor, railings)
  far object called near   a true far hazard reported nearer than 8 m (wrong distance)
  wrong distance           the estimate is under half or over twice the true distance
  not detected             no report (stills) or no confirmed track (clips) on the true hazard
  track born late          no confirmed track on the approaching object by the time it was urgent
  never urgent             the track was there but never warning or danger within 1 s of the onset
  wrong class (approach)   the track was there, under another class that is not urgent at that range
  urgency dropped          the track was urgent, then lost its approach history (TTC dropout, id switch)
  policy held it back      urgent, but the cue policy did not say it (the reason is in the row)
  cue cut or yielded       said, but cut short, yielded or dropped before it was heard whole
  not understood           said whole, but its words did not survive transcription
"""
from __future__ import annotations

import csv
import html
import json
import re
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from engine.types import Urgency

COLOURS = {Urgency.SAFE: (160, 160, 160), Urgency.CAUTION: (0, 215, 255), Urgency.WARNING: (0, 128, 255),
           Urgency.DANGER: (0, 0, 230)}
TRUE_COLOUR = (60, 200, 60)
FIELDS = ("n", "kind", "cause", "source", "label", "score", "urgency", "est_m", "true_label", "true_m", "iou",
          "track_age", "policy", "detail", "picture")
THUMB_W = 320


class Explainer:
    """Collects the rows and writes each picture as it comes (no frame is held)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        (self.folder / "pictures").mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []

    def add(self, row: dict, picture: np.ndarray | None) -> dict:
        row = {k: row.get(k, "") for k in FIELDS} | {k: v for k, v in row.items() if k not in FIELDS}
        row["n"] = len(self.rows) + 1
        if picture is not None:
            slug = re.sub(r"[^a-z0-9]+", "-", f"{row['kind']} {row['source']}".lower()).strip("-")[:60]
            name = f"pictures/{row['n']:04d}-{slug}.jpg"
            cv2.imwrite(str(self.folder / name), picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
            row["picture"] = name
        self.rows.append(row)
        return row

    def summary(self) -> dict:
        by_kind: dict[str, Counter] = {}
        for r in self.rows:
            by_kind.setdefault(r["kind"], Counter())[r["cause"]] += 1
        return {"rows": len(self.rows),
                "by_kind": {k: {"total": sum(c.values()), "causes": dict(c.most_common())} for k, c in by_kind.items()},
                "causes": dict(Counter(r["cause"] for r in self.rows).most_common())}

    def finish(self, title: str = "MaxSight safety mistakes") -> dict:
        s = self.summary()
        with open(self.folder / "rows.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            w.writeheader()
            for r in self.rows:
                w.writerow({k: _plain(r[k]) for k in FIELDS})
        (self.folder / "rows.json").write_text(json.dumps(self.rows, indent=1, default=_plain) + "\n")
        (self.folder / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
        (self.folder / "index.html").write_text(contact_sheet(self.rows, s, title))
        return s


def _plain(v):
    if isinstance(v, float):
        return round(v, 3)
    if hasattr(v, "item"):
        return v.item()
    return v


def summary_table(s: dict, folder: str | Path) -> str:
    lines = [f"Explained: {s['rows']} mistakes, one row and one picture each, in {folder} (index.html)"]
    for kind, v in s["by_kind"].items():
        lines.append(f"  {kind}: {v['total']} — " + "; ".join(f"{c} {n}" for c, n in v["causes"].items()))
    return "\n".join(lines)


def contact_sheet(rows: list[dict], s: dict, title: str) -> str:
    esc = html.escape
    head = "".join(f"<li><b>{esc(k)}</b>: {v['total']} — " + "; ".join(f"{esc(c)} {n}" for c, n in v["causes"].items())
                   + "</li>" for k, v in s["by_kind"].items())
    cards = []
    for r in rows:
        facts = [f"<b>{esc(str(r['kind']))}</b>: {esc(str(r['cause']))}", esc(str(r["source"]))]
        what = f"{r['label']} {r['score']:.2f}" if isinstance(r["score"], float) else str(r["label"])
        if r["urgency"]:
            what += f", {r['urgency']}"
        facts.append(esc(what))
        dist = []
        if r["est_m"] != "":
            dist.append(f"est {r['est_m']:.1f} m")
        if r["true_m"] != "":
            dist.append(f"true {r['true_m']:.1f} m" + (f" ({r['true_label']})" if r["true_label"] else ""))
        if r["iou"] != "":
            dist.append(f"IoU {r['iou']:.2f}")
        if r["track_age"] != "":
            dist.append(f"track {r['track_age']}")
        if dist:
            facts.append(esc(", ".join(dist)))
        for k in ("policy", "detail"):
            if r[k]:
                facts.append(f"<i>{esc(str(r[k]))}</i>")
        img = f'<a href="{esc(r["picture"])}"><img src="{esc(r["picture"])}" width="{THUMB_W}"></a>' if r["picture"] else ""
        cards.append(f'<div class="c" id="r{r["n"]}">{img}<div>#{r["n"]} ' + "<br>".join(facts) + "</div></div>")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font:14px sans-serif;margin:1em;background:#fff;color:#111}}
.g{{display:flex;flex-wrap:wrap;gap:10px}}.c{{width:{THUMB_W}px;border:1px solid #888;padding:4px}}
.c img{{display:block}}</style></head><body><h1>{esc(title)}</h1>
<p>{s['rows']} rows. Green: the true boxes. Reported boxes by urgency: grey safe, yellow caution, orange warning,
red danger.</p><ul>{head}</ul><div class="g">{''.join(cards)}</div></body></html>
"""


# -- pictures -----------------------------------------------------------------------------------------

def _label(img: np.ndarray, text: str, x: float, y: float, colour) -> None:
    x, y = int(max(0, x)), int(max(14, y))
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    cv2.rectangle(img, (x, y - h - 4), (x + w + 4, y + 2), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 2, y - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)


def draw(image: np.ndarray, truths: list[tuple[str, tuple, float]], reports: list, caption: str = "",
         focus: tuple | None = None) -> np.ndarray:
    """The frame with the true boxes (label, box, true distance) and the reported hazards drawn.
    `focus`: the box the row is about, drawn thicker. At most 640 px wide."""
    img = image.copy()
    scale = min(1.0, 640.0 / img.shape[1])
    if scale < 1.0:
        img = cv2.resize(img, (int(img.shape[1] * scale), int(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)

    def pt(b):
        return tuple(int(round(v * scale)) for v in b[:2]), tuple(int(round(v * scale)) for v in b[2:4])
    for label, box, dist in truths:
        a, b = pt(box)
        cv2.rectangle(img, a, b, TRUE_COLOUR, 2)
        _label(img, f"true {label} {dist:.1f} m", a[0], b[1] - 2, TRUE_COLOUR)
    for h in reports:
        a, b = pt(h.box)
        colour = COLOURS[Urgency(int(h.urgency))]
        thick = 3 if focus is not None and tuple(h.box) == tuple(focus) else 1
        cv2.rectangle(img, a, b, colour, thick)
        _label(img, f"{h.label} {h.score:.2f} {h.distance_m:.1f} m {Urgency(int(h.urgency)).word}", a[0], a[1], colour)
    if caption:
        _label(img, caption[:90], 4, img.shape[0] - 4, (255, 255, 255))
    return img


def strip(pictures: list[np.ndarray]) -> np.ndarray:
    """Several frames side by side (a clip's moments), each scaled to 320 px wide."""
    small = [cv2.resize(p, (320, int(p.shape[0] * 320 / p.shape[1])), interpolation=cv2.INTER_AREA) for p in pictures]
    h = max(p.shape[0] for p in small)
    return np.concatenate([np.pad(p, ((0, h - p.shape[0]), (0, 2), (0, 0))) for p in small], 1)


# -- causes -------------------------------------------------------------------------------------------

def report_cause(label: str, iou_true: float, true_label: str, iou_other: float, other_label: str,
                 est_m: float, true_m: float | None, stairs: frozenset = frozenset({"stair_down", "stair_up"})) -> str:
    """Why a reported hazard matched no true one (or, on a calm photo, why it was urgent).
    iou_true: best overlap with a true hazard (true_label, true distance true_m); iou_other: best
    overlap with a labelled object of a non-hazard class (other_label)."""
    if iou_true >= 0.5:
        if true_m is not None and true_m > 8.0 and est_m <= 8.0:
            return "far object called near"
        if true_m is not None and not 0.5 <= est_m / max(true_m, 1e-3) <= 2.0:
            return "wrong distance"
        return "wrong class" if label != true_label else "right object"
    if iou_other >= 0.5:
        return "wrong class"
    if iou_true >= 0.1:
        return "box off the true one"
    if label in stairs:
        return "stairs, none labelled"
    return "nothing labelled there"


def approach_cause(missed_because: str, trace: list[dict], onset: float, target_label: str, window: float = 1.0) -> str:
    """Why an approaching hazard was not cued in time, from the clip's per-frame trace (each frame:
    t, track (id or None), confirmed, label, urgency (int), policy (the policy's reason))."""
    if "cut" in missed_because or "yielded" in missed_because or "stale" in missed_because:
        return "cue cut or yielded"
    if "not understood" in missed_because:
        return "not understood"
    if "all clear" in missed_because:
        return "an all clear was said"
    near = [f for f in trace if onset - window <= f["t"] <= onset + window]
    seen = [f for f in near if f.get("confirmed")]
    if not seen:
        return "track born late" if any(f.get("confirmed") for f in trace) else "not detected"
    if not any(f["urgency"] >= Urgency.WARNING for f in seen):
        if any(f["label"] != target_label for f in seen):
            return "wrong class (approach)"
        if any(f.get("confirmed") and f["urgency"] >= Urgency.WARNING for f in trace if f["t"] < onset - window):
            return "urgency dropped"
        return "never urgent"
    return "policy held it back"
