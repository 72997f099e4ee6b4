"""`maxsight eval safety`: what MaxSight misses, measured against labelled truth, at the operating
point the running app uses (its tracker, its birth scores, its urgency rules, its cue policy).

Three kinds of input, reported separately with counts beside every figure:

Stills (a COCO or YOLO-layout folder). Each photo is shown as a held camera would show it: five
frames at 10 fps with a pixel or two of jitter, the last one the photo itself; the hazards the
pipeline reports on the last frame are scored. A ground-truth hazard (a hazard-class box) is found
class-correct when a reported hazard of its class overlaps it (IoU >= 0.5), class-agnostic when any
reported hazard does ("something is there"). Near = box over 10% of the photo; zones come from the
app's geometry applied to the true box. Precision: reported hazards that overlap a true hazard.
False urgent alerts: warning or danger on photos with no true hazard within 8 m.

Labelled clips (MOTChallenge folders: img1/ and gt/gt.txt). Person recall per frame at the
operating point, by distance bucket (geometry of the true box), from the second frame (a track is
confirmed on its second sighting) and over all frames; identity switches (a true person matched to
a different track than the last time it was matched).

Synthetic approach clips (maxsight_app/measure/approach.py) through the whole Session into a spy
and a WAV timeline, on media time:
  false reassurance  a true hazard that becomes urgent (near, or time to contact under 3 s) with no
                     cue about it within 1 s either side; a warning or danger cue about it counts
                     only if it was played whole (not dropped as stale, not cut) and understood
                     (below); plus any "all clear";
  alert latency      from that moment to the first cue about it (0 when told just before), p50 / p95;
  nuisance           warning/danger cues per minute on hazard-free clips;
  overload           events per minute, as `eval cues` counts them (more than 4 cues in 10 s).
Understood: each warning/danger phrase, rendered as the user hears it (earcon, then speech), is
transcribed with the captions model; it is understood when its object word, its direction and its
distance come through.
"""
from __future__ import annotations

import configparser
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from engine.config import CameraModel
from engine.models.boxes import iou_matrix
from engine.pipeline import Pipeline
from engine.stage_a import geometry
from engine.stage_a.urgency import HAZARD_CLASSES, STAIRS_DOWN, STAIRS_UP
from engine.types import Frame, Urgency, Zone
from maxsight_app.cues.policy import overload_events
from maxsight_app.cues.types import Cue, CueKind
from maxsight_app.measure import approach

NEAR_AREA = 0.10
# What a still must be found for: the COCO hazards, and stairs (the door and stairs model's; on
# accessibility_objects/stairs in the YOLO layout).
STILL_HAZARDS = HAZARD_CLASSES | {STAIRS_DOWN, STAIRS_UP}
MATCH_IOU = 0.5
TRACK_IOU = 0.3              # a track is "about" the true object when they overlap this much
URGENT_WITHIN_M = 8.0
CUE_WINDOW_S = 1.0
_ALL_CLEAR = re.compile(r"\b(all clear|clear path|path is clear|nothing ahead|it is safe)\b", re.I)


class SafetyDataError(ValueError):
    """Malformed labels: one sentence naming the file (and line)."""


def _pct(n: int, d: int) -> float | None:
    return 100.0 * n / d if d else None


def _cell(n: int, d: int) -> dict:
    return {"pct": _pct(int(n), int(d)), "n": int(n), "of": int(d)}


def _boxes(items) -> np.ndarray:
    return np.array([b for b in items], np.float32).reshape(-1, 4)


# -- stills -----------------------------------------------------------------------------------------

@dataclass
class _Truth:
    label: str
    box: tuple[float, float, float, float]
    near: bool
    zone: Zone
    distance_m: float


def eval_stills(coco, image_ids: list[int], pipeline: Pipeline, camera: CameraModel, frames: int = 5,
                limit: int | None = None, explain=None, prefs=None) -> dict:
    """explain: an explain.Explainer that gets one row and picture per mistake (with prefs, the
    profile the cue policy runs with to say what it would have done)."""
    cats = {c["id"]: c["name"] for c in coco.data["categories"]}
    by_image: dict[int, list[dict]] = defaultdict(list)
    for a in coco.data["annotations"]:
        by_image[a["image_id"]].append(a)
    images = [im for im in coco.data["images"] if im["id"] in set(image_ids)][:limit]
    if not images:
        raise SafetyDataError(f"{coco.root}: no images to evaluate in this split")
    found = defaultdict(lambda: [0, 0, 0])        # bucket -> [class-correct, agnostic, total]
    reported = matched_reports = 0
    by_group = defaultdict(lambda: [0, 0])        # report group -> [right, reported]
    calm_images = urgent_false = 0
    for im in images:
        img = cv2.imread(str(coco.image_path(im)))
        if img is None:
            raise SafetyDataError(f"cannot read the image {coco.image_path(im)}")
        h, w = img.shape[:2]
        truths = []
        for a in by_image[im["id"]]:
            name = cats[a["category_id"]]
            if a.get("iscrowd", 0) or name not in STILL_HAZARDS or a["bbox"][2] < 1 or a["bbox"][3] < 1:
                continue
            x, y, bw, bh = a["bbox"]
            box = (x, y, x + bw, y + bh)
            pos = geometry.locate(name, box, w, h, camera)
            truths.append(_Truth(name, box, bw * bh / (w * h) > NEAR_AREA, pos.zone, pos.distance_m))
        results = _held_camera(pipeline, img, frames, im["id"])
        hazards = results[-1].hazards
        reports = [hz for hz in hazards if hz.label in STILL_HAZARDS or hz.label == "something"]
        iou = iou_matrix(_boxes(t.box for t in truths), _boxes(hz.box for hz in reports)) if truths and reports else None
        for i, t in enumerate(truths):
            agn = iou is not None and bool((iou[i] >= MATCH_IOU).any())
            cor = iou is not None and any(iou[i, j] >= MATCH_IOU and reports[j].label == t.label for j in range(len(reports)))
            for bucket in ("all", f"zone:{t.zone.value}") + (("near",) if t.near else ()):
                found[bucket][0] += cor
                found[bucket][1] += agn
                found[bucket][2] += 1
        reported += len(reports)
        matched_reports += int((iou >= MATCH_IOU).any(axis=0).sum()) if iou is not None else 0
        for j, hz in enumerate(reports):
            g = _report_group(hz.label)
            by_group[g][1] += 1
            # stairs are right on true stairs (either way); the rest on any true hazard, as above
            by_group[g][0] += iou is not None and any(iou[i, j] >= MATCH_IOU and (g != "stairs" or _report_group(t.label) == g)
                                                      for i, t in enumerate(truths))
        calm = not any(t.distance_m <= URGENT_WITHIN_M for t in truths)
        if calm:
            calm_images += 1
            urgent_false += sum(hz.urgency >= Urgency.WARNING for hz in hazards)
        if explain is not None:
            others = [(cats[a["category_id"]], (a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]))
                      for a in by_image[im["id"]] if cats[a["category_id"]] not in STILL_HAZARDS and not a.get("iscrowd", 0)]
            _explain_still(explain, coco.image_path(im).name, img, truths, others, reports, results, calm, prefs)
    return {
        "images": len(images), "hazards": found["all"][2],
        "recall": {b: {"class_correct": _cell(v[0], v[2]), "class_agnostic": _cell(v[1], v[2])} for b, v in sorted(found.items())},
        "precision": _cell(matched_reports, reported),
        "precision_by_group": {g: _cell(*v) for g, v in sorted(by_group.items())},
        "calm_images": calm_images, "false_urgent_alerts": urgent_false,
        "false_urgent_per_image": urgent_false / calm_images if calm_images else None,
        "frames_per_photo": frames,
    }


def _report_group(label: str) -> str:
    from engine.models.calibration import group_of
    return group_of(label) if label != "something" else "something"


def _held_camera(pipeline: Pipeline, img: np.ndarray, frames: int, seed: int):
    """The photo as a held camera shows it: `frames` frames at 10 fps, a pixel or two of jitter
    before the last, which is the photo itself; the hazards on that last frame."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    pipeline.reset()
    results = []
    for i in range(frames):
        if i < frames - 1:
            dx, dy = rng.uniform(-2, 2, 2)
            s = 1 + rng.uniform(-0.01, 0.01)
            m = np.float32([[s, 0, dx + (1 - s) * w / 2], [0, s, dy + (1 - s) * h / 2]])
            frame = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        else:
            frame = img
        results.append(pipeline.step(Frame(i, i / 10.0, frame)))
    return results


def _policy_words(results, prefs) -> dict[int, str]:
    """What a fresh cue policy did with each track over the held frames: the cue it said (first
    one), else why it said nothing on the last frame."""
    from maxsight_app.cues.policy import CuePolicy
    from maxsight_app.profile.schema import Profile
    policy, prefs = CuePolicy(), prefs or Profile()
    said: dict[int, str] = {}
    for r in results:
        for c in policy.decide(r, prefs, r.timestamp):
            for tid in (c.track_id, *c.group):
                if tid is not None:
                    said.setdefault(tid, f"said {c.text!r}")
    return {**policy.reasons, **said}


def why_urgent(h) -> str:
    """The facts the urgency rules saw (engine/stage_a/urgency.py)."""
    parts = [f"{h.distance_m:.1f} m", f"{h.bearing_deg:+.0f} deg", "in path" if h.in_path else "off path"]
    if h.approaching:
        parts.append(f"approaching, TTC {h.ttc_s:.1f} s" if h.ttc_s is not None else "approaching")
    if not h.sure:
        parts.append("class unsure")
    return ", ".join(parts)


def _explain_still(explain, source: str, img, truths: list[_Truth], others, reports, results, calm: bool, prefs) -> None:
    from maxsight_app.measure.explain import draw, report_cause
    last = results[-1]
    hazards = last.hazards
    words = _policy_words(results, prefs)
    tracks = {t.track_id: t for t in last.tracks}
    drawn_truths = [(t.label, t.box, t.distance_m) for t in truths]
    t_iou = iou_matrix(_boxes(t.box for t in truths), _boxes(hz.box for hz in hazards)) if truths and hazards else None
    o_iou = iou_matrix(_boxes(b for _, b in others), _boxes(hz.box for hz in hazards)) if others and hazards else None
    matched = set()
    for j, hz in enumerate(hazards):
        it = int(np.argmax(t_iou[:, j])) if t_iou is not None else -1
        iou_t = float(t_iou[it, j]) if it >= 0 else 0.0
        io = int(np.argmax(o_iou[:, j])) if o_iou is not None else -1
        iou_o = float(o_iou[io, j]) if io >= 0 else 0.0
        if iou_t >= MATCH_IOU:
            matched.add(it)
        urgent_false = calm and hz.urgency >= Urgency.WARNING
        unmatched = (hz.label in STILL_HAZARDS or hz.label == "something") and iou_t < MATCH_IOU
        if not (urgent_false or unmatched):
            continue
        tr = tracks.get(hz.track_id)
        on_other = iou_o > iou_t and iou_o >= 0.1           # it lies more on a labelled non-hazard
        true_label = others[io][0] if on_other else (truths[it].label if iou_t >= 0.1 else "")
        true_m = truths[it].distance_m if iou_t >= 0.1 and not on_other else ""
        cause = report_cause(hz.label, iou_t, truths[it].label if it >= 0 else "", iou_o, others[io][0] if io >= 0 else "",
                             hz.distance_m, truths[it].distance_m if it >= 0 else None)
        if cause == "right object":
            cause = "urgent beyond 8 m by its rule"
        row = {"kind": "false urgent alert" if urgent_false else "unmatched report", "cause": cause, "source": source,
               "label": hz.label, "score": float(hz.score), "urgency": hz.urgency.word, "est_m": float(hz.distance_m),
               "true_label": true_label, "true_m": true_m, "iou": max(iou_t, iou_o),
               "track_age": f"{tr.hits} hits in {tr.age} frames" if tr else "",
               "policy": words.get(hz.track_id, "not given to the policy"), "detail": why_urgent(hz)}
        explain.add(row, draw(img, drawn_truths, hazards, f"{row['kind']}: {cause}", focus=hz.box))
    r_iou = iou_matrix(_boxes(t.box for t in truths), _boxes(hz.box for hz in reports)) if truths and reports else None
    for i, t in enumerate(truths):
        if not t.near or (r_iou is not None and (r_iou[i] >= MATCH_IOU).any()):
            continue                         # found, as the recall counts it (a hazard-class report on it)
        best = float(r_iou[i].max()) if r_iou is not None else 0.0
        dets = [d for d in last.detections if d.label in STILL_HAZARDS or d.label == t.label]
        d_iou = iou_matrix(_boxes([t.box]), _boxes(d.box for d in dets))[0] if dets else np.zeros(0)
        if best >= 0.1:
            cause = "box off the true one"
        elif len(d_iou) and d_iou.max() >= MATCH_IOU:
            d = dets[int(np.argmax(d_iou))]
            cause = f"detected ({d.label} {d.score:.2f}), no confirmed track"
        else:
            cause = "not detected"
        explain.add({"kind": "missed near hazard", "cause": cause, "source": source, "label": t.label, "score": "",
                     "true_label": t.label, "true_m": float(t.distance_m), "iou": best, "detail": f"zone {t.zone.value}"},
                    draw(img, drawn_truths, hazards, f"missed near {t.label}: {cause}", focus=None))


# -- labelled clips (MOTChallenge) ------------------------------------------------------------------

@dataclass
class MotClip:
    name: str
    fps: float
    frames: list[Path]
    truth: dict[int, list[tuple[int, tuple[float, float, float, float]]]]   # frame -> [(person id, box)]


def load_mot(folder: Path) -> list[MotClip]:
    """Every MOTChallenge sequence under `folder` (each with img1/ and gt/gt.txt); pedestrians with
    consider = 1 are the truth. Malformed lines are one sentence naming the file and line."""
    folder = Path(folder)
    seqs = sorted(p for p in folder.iterdir() if (p / "gt" / "gt.txt").is_file()) if folder.is_dir() else []
    if (folder / "gt" / "gt.txt").is_file():
        seqs = [folder]
    if not seqs:
        raise SafetyDataError(f"{folder} holds no MOTChallenge sequence (a folder with img1/ and gt/gt.txt)")
    return [_load_sequence(s) for s in seqs]


def _load_sequence(seq: Path) -> MotClip:
    fps = 30.0
    ini = seq / "seqinfo.ini"
    if ini.is_file():
        cp = configparser.ConfigParser()
        try:
            cp.read(ini)
            fps = float(cp.get("Sequence", "frameRate", fallback="30"))
        except (configparser.Error, ValueError) as exc:
            raise SafetyDataError(f"{ini}: frameRate must be a number ({exc})") from None
    frames = sorted((seq / "img1").glob("*.jpg")) + sorted((seq / "img1").glob("*.png"))
    if not frames:
        raise SafetyDataError(f"{seq / 'img1'} holds no frames (.jpg or .png)")
    gt = seq / "gt" / "gt.txt"
    truth: dict[int, list] = defaultdict(list)
    for n, line in enumerate(gt.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 6:
            raise SafetyDataError(f"{gt}, line {n}: expected frame,id,x,y,w,h[,consider,class,visibility], got {len(parts)} field(s)")
        try:
            vals = [float(p) for p in parts[:9]]
        except ValueError:
            raise SafetyDataError(f"{gt}, line {n}: every field must be a number, got {line.strip()!r}") from None
        frame, pid, x, y, w, h = vals[:6]
        if frame < 1 or frame != int(frame):
            raise SafetyDataError(f"{gt}, line {n}: the frame number must be a whole number from 1, got {parts[0]!r}")
        if w <= 0 or h <= 0:
            raise SafetyDataError(f"{gt}, line {n}: the box width and height must be positive, got {w:g} x {h:g}")
        consider = vals[6] if len(vals) > 6 else 1
        cls = vals[7] if len(vals) > 7 else 1
        if consider == 1 and cls == 1:
            truth[int(frame)].append((int(pid), (x, y, x + w, y + h)))
    return MotClip(seq.name, fps, frames, dict(truth))


def eval_clips(clips: list[MotClip], pipeline: Pipeline, camera: CameraModel) -> dict:
    buckets = {"under 3 m": (0, 3.0), "3-8 m": (3.0, 8.0), "over 8 m": (8.0, math.inf)}
    counts = {k: [0, 0] for k in buckets}          # found, total (from the second frame)
    all_frames = [0, 0]
    switches = 0
    per_clip = []
    for clip in clips:
        pipeline.reset()
        last_track: dict[int, int] = {}
        c_found = c_total = 0
        for i, path in enumerate(clip.frames):
            img = cv2.imread(str(path))
            if img is None:
                raise SafetyDataError(f"cannot read the frame {path}")
            h, w = img.shape[:2]
            r = pipeline.step(Frame(i, i / clip.fps, img))
            frame_no = int(path.stem) if path.stem.isdigit() else i + 1
            truths = clip.truth.get(frame_no, [])
            people = [hz for hz in r.hazards if hz.label == "person"]
            iou = iou_matrix(_boxes(b for _, b in truths), _boxes(hz.box for hz in people)) if truths and people else None
            for k, (pid, box) in enumerate(truths):
                j = int(np.argmax(iou[k])) if iou is not None else -1
                hit = iou is not None and iou[k, j] >= MATCH_IOU
                all_frames[0] += hit
                all_frames[1] += 1
                if hit:
                    tid = people[j].track_id
                    if pid in last_track and last_track[pid] != tid:
                        switches += 1
                    last_track[pid] = tid
                if i == 0:
                    continue
                d = geometry.locate("person", box, w, h, camera).distance_m
                name = next(b for b, (lo, hi) in buckets.items() if lo <= d < hi)
                counts[name][0] += hit
                counts[name][1] += 1
                c_found += hit
                c_total += 1
        per_clip.append({"clip": clip.name, "frames": len(clip.frames), "recall": _cell(c_found, c_total)})
    total = [sum(v[0] for v in counts.values()), sum(v[1] for v in counts.values())]
    return {"clips": len(clips), "frames": sum(len(c.frames) for c in clips),
            "person_recall": _cell(*total), "person_recall_all_frames": _cell(*all_frames),
            "by_distance": {k: _cell(*v) for k, v in counts.items()}, "id_switches": switches, "per_clip": per_clip}


# -- synthetic approach clips through the whole session -------------------------------------------

@dataclass
class ClipOutcome:
    name: str
    kind: str
    label: str
    duration_s: float
    onset_s: float | None
    cued: bool | None                     # told within the window (None: no onset)
    latency_s: float | None
    warning_cues: int                     # warning/danger cues said in the clip
    cue_times: list[float] = field(default_factory=list)
    missed_because: str = ""
    all_clear: int = 0
    said: list[str] = field(default_factory=list)
    unheard: dict[str, int] = field(default_factory=dict)   # cues placed but not heard in full, by why


def run_clip(spec: approach.ClipSpec, photo: np.ndarray, make_session: Callable, camera: CameraModel,
             understood: Callable[[Cue], bool] | None = None, explain=None) -> ClipOutcome:
    """Play one synthetic clip through a fresh session (its outputs include a SpyOutput and, when
    the session speaks, a WAV timeline) and judge what the user was told. explain: an
    explain.Explainer that gets a row and a picture for a missed approach and each nuisance cue."""
    from maxsight_app.outputs.base import SpyOutput
    frames = list(approach.render(spec, photo, camera))
    session, sink = make_session()
    spy = next(o for o in session.outputs if isinstance(o, SpyOutput))
    onset = approach.onset(frames) if spec.kind != "hazard_free" else None
    about: set[int] = set()                 # tracks that were the true object at some point
    cue_frames: list[tuple[float, Cue]] = []
    trace: list[dict] = []
    for i, fr in enumerate(frames):
        tick = session.handle(Frame(i, fr.t, fr.image))
        if fr.box is not None:
            tracks = [t for t in tick.result.tracks]
            if tracks:
                iou = iou_matrix(_boxes([fr.box]), _boxes(t.box for t in tracks))[0]
                about |= {tracks[j].track_id for j in np.nonzero(iou >= TRACK_IOU)[0]}
        if explain is not None:
            trace.append(_trace_frame(fr, tick, session.policy))
        cue_frames += [(fr.t, c) for c in tick.cues]
    if sink is not None:
        sink.close()
    out = ClipOutcome(spec.name, spec.kind, spec.label, frames[-1].t, onset, None, None,
                      sum(c.urgency >= Urgency.WARNING for _, c in cue_frames),
                      [t for t, _ in cue_frames], all_clear=sum(bool(_ALL_CLEAR.search(c.text)) for _, c in cue_frames),
                      said=[c.text for _, c in cue_frames], unheard=unheard_counts(sink))
    if onset is None:
        if explain is not None and out.warning_cues:
            _explain_miss(explain, spec, frames, trace, None, out, cue_frames)
        return out

    def about_it(c: Cue) -> bool:
        ids = {c.track_id} | set(getattr(c, "group", ()) or ())
        return c.kind is CueKind.HAZARD and bool(ids & about)
    states = heard_states(sink, cue_frames)
    candidates = [(t, c, state, heard_t) for (t, c), (state, heard_t) in zip(cue_frames, states)
                  if about_it(c) and onset - CUE_WINDOW_S <= t <= onset + CUE_WINDOW_S]
    good, why = judge_heard(candidates, onset, understood)
    out.cued = bool(good) and out.all_clear == 0
    out.latency_s = max(0.0, min(good) - onset) if good else None
    out.missed_because = "" if out.cued else ("an all clear was said" if out.all_clear else why)
    if explain is not None and not out.cued:
        _explain_miss(explain, spec, frames, trace, onset, out, cue_frames)
    return out


def _trace_frame(fr, tick, policy) -> dict:
    """One frame of a clip, for --explain: the truth, the track on the target (best overlap), its
    hazard and what the policy did with it."""
    row = {"t": fr.t, "true_m": fr.distance_m, "true_ttc": fr.ttc_s, "box": fr.box, "track": None, "confirmed": False,
           "label": "", "score": 0.0, "age": "", "urgency": 0, "est_m": None, "hazard": None, "policy": "",
           "hazards": tick.result.hazards, "cues": [c.text for c in tick.cues]}
    tracks = list(tick.result.tracks)
    if fr.box is None or not tracks:
        return row
    iou = iou_matrix(_boxes([fr.box]), _boxes(t.box for t in tracks))[0]
    j = int(np.argmax(iou))
    if iou[j] < TRACK_IOU:
        return row
    tr = tracks[j]
    hz = next((h for h in tick.result.hazards if h.track_id == tr.track_id), None)
    row.update(track=tr.track_id, confirmed=tr.confirmed, label=tr.label, score=float(tr.score),
               age=f"id {tr.track_id}, {tr.hits} hits in {tr.age} frames", hazard=hz)
    if hz is not None:
        row.update(urgency=int(hz.urgency), est_m=float(hz.distance_m), policy=getattr(policy, "reasons", {}).get(tr.track_id, ""))
    return row


def _explain_miss(explain, spec, frames, trace, onset, out: ClipOutcome, cue_frames) -> None:
    from maxsight_app.measure.explain import approach_cause, draw, strip
    if onset is None:                                     # hazard-free: each warning/danger is a nuisance
        for t, c in cue_frames:
            if c.urgency < Urgency.WARNING:
                continue
            i = min(range(len(frames)), key=lambda k: abs(frames[k].t - t))
            tr = trace[i]
            hz = next((h for h in tr["hazards"] if h.track_id == c.track_id), None)
            explain.add({"kind": "false urgent alert", "cause": "no hazard in the clip", "source": f"{spec.name} ({spec.file})",
                         "label": c.label, "score": float(hz.score) if hz else "", "urgency": c.urgency.word,
                         "est_m": float(c.distance_m) if c.distance_m is not None else "",
                         "detail": f"at {t:.1f} s said {c.text!r}" + (f"; {why_urgent(hz)}" if hz else "")},
                        draw(frames[i].image, [], tr["hazards"], f"{t:.1f} s: {c.text}", focus=hz.box if hz else None))
        return
    i0 = min(range(len(frames)), key=lambda k: abs(frames[k].t - onset))
    at = trace[i0]
    window = [f for f in trace if onset - CUE_WINDOW_S <= f["t"] <= onset + CUE_WINDOW_S]
    reasons = []
    for f in window:
        if f["policy"] and f["policy"] not in reasons:
            reasons.append(f["policy"])
    said = [f"{t:.1f} s {c.text!r}" for t, c in cue_frames if abs(t - onset) <= 2 * CUE_WINDOW_S]
    cause = approach_cause(out.missed_because, trace, onset, spec.label, CUE_WINDOW_S)
    level = max((f["urgency"] for f in window if f["confirmed"]), default=0)
    pics = []
    for dt in (-CUE_WINDOW_S, 0.0, CUE_WINDOW_S):
        k = min(range(len(frames)), key=lambda n: abs(frames[n].t - (onset + dt)))
        f = trace[k]
        truth = [(spec.label, frames[k].box, frames[k].distance_m)] if frames[k].box else []
        pics.append(draw(frames[k].image, truth, f["hazards"], f"{frames[k].t:.1f} s (onset {onset:.1f} s)",
                         focus=f["hazard"].box if f["hazard"] is not None else None))
    explain.add({"kind": "missed approach", "cause": cause, "source": f"{spec.name} ({spec.file})", "label": at["label"] or spec.label,
                 "score": at["score"] if at["track"] is not None else "", "urgency": Urgency(level).word,
                 "est_m": at["est_m"] if at["est_m"] is not None else "", "true_label": spec.label,
                 "true_m": float(at["true_m"]) if at["true_m"] is not None else "", "track_age": at["age"],
                 "policy": "; ".join(reasons), "detail": f"onset {onset:.1f} s; {out.missed_because}; said: " + ("; ".join(said) or "nothing")},
                strip(pics))


def heard_states(sink, cue_frames: list[tuple[float, Cue]]) -> list[tuple[str, float]]:
    """For each cue chosen (at t), in order: what became of it on the sink's timeline ("played",
    "dropped as stale", "yielded to a more urgent cue", "cut", or "never played") and when it
    began to be heard. The k-th cue with some words is the sink's k-th call with those words."""
    if sink is None:
        return [("played", t) for t, _ in cue_frames]
    calls: dict[str, list] = defaultdict(list)
    for call in sink.calls:
        calls[call[1]].append(call)
    out = []
    for t, c in cue_frames:
        mine = calls.get(c.text)
        if not mine:
            out.append(("never played", t))
            continue
        _, _, entry = mine.pop(0)
        out.append((_fate(entry), t if entry is None else entry[0]))
    return out


def _fate(entry) -> str:
    """What became of one play call, from its entry on a WavFileSink's timeline (sink.calls)."""
    if entry is None:
        return "dropped as stale"
    if entry[2] is None:
        return "yielded to a more urgent cue"
    return "cut" if entry[2].endswith(" [interrupted]") else "played"


def judge_heard(candidates: list[tuple[float, Cue, str, float]], onset: float,
                understood: Callable[[Cue], bool] | None = None) -> tuple[list[float], str]:
    """The times at which cues about the hazard were heard in time, and why not when none was.
    candidates: (chosen at, cue, what became of it, when it began to be heard), from heard_states.
    Whatever its urgency, a cue counts only if it was heard in full: a caution dropped as stale or
    cut short by the next cue told the user nothing. It counts from when it began to be heard,
    not from when it was chosen (a cue waiting behind another is that late)."""
    good, why = [], "no cue about it within 1 s"
    for _, c, state, t in candidates:
        if state != "played":
            why = f"its {c.urgency.word} cue was {state}"
            continue
        if t > onset + CUE_WINDOW_S:
            why = f"its {c.urgency.word} cue was heard only {t - onset:.1f} s after the onset, behind other cues"
            continue
        if c.urgency >= Urgency.WARNING and understood is not None and not understood(c):
            why = f"its {c.urgency.word} cue was not understood"
            continue
        good.append(t)
    return good, why


def unheard_counts(sink) -> dict[str, int]:
    """How many cues a WAV timeline sink placed that the user did not hear in full: dropped as
    stale (waited too long), yielded (a more urgent cue took their place) or cut short."""
    fates = [_fate(entry) for _, _, entry in sink.calls] if sink is not None else []
    return {"dropped_stale": fates.count("dropped as stale"), "yielded": fates.count("yielded to a more urgent cue"),
            "cut": fates.count("cut")}


def summarise_clips(outcomes: list[ClipOutcome]) -> dict:
    def kind(*ks):
        return [o for o in outcomes if o.kind in ks]
    urgent = [o for o in kind("approach", "dense") if o.onset_s is not None]
    missed = [o for o in urgent if not o.cued]
    lat = [o.latency_s for o in urgent if o.latency_s is not None]
    free = kind("hazard_free")
    free_min = sum(o.duration_s for o in free) / 60
    all_min = sum(o.duration_s for o in outcomes) / 60
    dense = [o for o in kind("dense") if o.onset_s is not None]
    dense_min = sum(o.duration_s for o in kind("dense")) / 60
    return {
        "clips": {k: len(kind(k)) for k in ("approach", "dense", "hazard_free")},
        "minutes": round(all_min, 2),
        "cued_within_1s": _cell(len(urgent) - len(missed), len(urgent)),
        "false_reassurance": {"missed": len(missed), "all_clear": sum(o.all_clear for o in outcomes), "of": len(urgent),
                              "why": sorted({f"{o.name}: {o.missed_because}" for o in missed})},
        "latency_s": {"p50": float(np.percentile(lat, 50)) if lat else None, "p95": float(np.percentile(lat, 95)) if lat else None,
                      "n": len(lat)},
        "nuisance_per_min": {"value": sum(o.warning_cues for o in free) / free_min if free_min else None,
                             "cues": sum(o.warning_cues for o in free), "minutes": round(free_min, 2)},
        "overload_per_min": {"value": sum(overload_events(o.cue_times) for o in outcomes) / all_min if all_min else None,
                             "events": sum(overload_events(o.cue_times) for o in outcomes), "minutes": round(all_min, 2)},
        "unheard": {k: sum(o.unheard.get(k, 0) for o in outcomes) for k in ("dropped_stale", "yielded", "cut")},
        "dense": {"cued_within_1s": _cell(sum(bool(o.cued) for o in dense), len(dense)),
                  "overload_per_min": sum(overload_events(o.cue_times) for o in kind("dense")) / dense_min if dense_min else None},
    }


# -- understood: what the user hears, transcribed -------------------------------------------------

class Transcriber:
    """Renders a cue as the user hears it (earcon then speech, the profile's voice) and transcribes
    it with the captions model; a cue is understood when its object word, its direction and its
    distance survive. Results are cached per phrase."""

    def __init__(self, sound_output):
        from engine.stage_b.captions import CaptionStreamer
        self.sound = sound_output
        self.streamer = CaptionStreamer(threads=2)
        self.cache: dict[tuple[str, int], tuple[bool, str]] = {}

    def __call__(self, cue: Cue) -> bool:
        return self.check(cue)[0]

    def check(self, cue: Cue) -> tuple[bool, str]:
        key = (cue.text, int(cue.urgency))
        if key not in self.cache:
            from engine.stage_b.captions import normalise
            clip = self.sound.render(cue)                         # [N, 2] at the sink's rate
            mono = clip.mean(1) if clip.ndim == 2 else clip
            audio = _resample(mono, self.sound_rate(), 16000)
            heard = self.streamer.transcribe(audio)
            self.cache[key] = (understood(cue.text, heard, normalise), heard)
        return self.cache[key]

    def sound_rate(self) -> int:
        from maxsight_app.outputs.tones import SAMPLE_RATE
        return SAMPLE_RATE


def _resample(x: np.ndarray, sr: int, to: int) -> np.ndarray:
    if sr == to or not len(x):
        return x.astype(np.float32)
    n = int(len(x) * to / sr)
    return np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)


_DIRECTION = re.compile(r"\b(ahead|(?:1[0-2]|[1-9]) o'clock)\b")
_DISTANCE = re.compile(r"\b(\d+(?:\.\d)?) (metres?|meters?|steps?|feet|foot)\b")


def key_parts(text: str) -> dict[str, str]:
    """The object word, direction and distance a cue's words carry (those that it has)."""
    parts = {}
    low = text.lower()
    m = _DIRECTION.search(low)
    if m:
        parts["direction"] = m.group(1)
        before = low[: m.start()]
        words = re.findall(r"[a-z]+", before.replace("danger", " ").replace("warning", " ").replace("maybe a", " "))
        if words:
            parts["object"] = words[-1]
    m = _DISTANCE.search(low)
    if m:
        parts["distance"] = m.group(1)
    return parts


def understood(said: str, heard: str, normalise) -> bool:
    """Do the object word, direction and distance of `said` come through in `heard`?"""
    want = key_parts(said)
    got = " " + " ".join(normalise(heard.replace("meters", "metres"))) + " "
    joined = got.replace(" ", "")                 # "motor cycle" is the motorcycle said
    for kind, value in want.items():
        if kind == "object":
            stem = value[:-1] if value.endswith("s") and len(value) > 3 else value
            if f" {stem}" not in got and stem not in joined:
                return False
        elif kind == "direction":
            words = " ".join(normalise(value))
            if f" {words} " not in got and not (value == "ahead" and " a head " in got):
                return False
        elif kind == "distance":
            whole, _, half = value.partition(".")
            options = {" ".join(normalise(value))}                 # "1.5" heard as digits normalises alike
            if half == "5":
                options |= {" ".join(normalise(whole)) + " point five", " ".join(normalise(whole)) + " and a half"}
            if not any(f" {o} " in got for o in options):
                return False
    return True


# -- rendering ----------------------------------------------------------------------------------------

def _fmt(c: dict) -> str:
    return "n/a (0/0)" if c["pct"] is None else f"{c['pct']:.1f}% ({c['n']}/{c['of']})"


def table(result: dict) -> str:
    lines = []
    s = result.get("stills")
    if s:
        lines += [f"Stills: {result['stills_source']} ({s['images']} photos, {s['hazards']} true hazards; each shown "
                  f"{s['frames_per_photo']} frames, scored on the last)",
                  f"  {'hazards':<14} {'class-agnostic':>22} {'class-correct':>22}"]
        for b in ("near", "all", "zone:near", "zone:medium", "zone:far"):
            if b in s["recall"]:
                r = s["recall"][b]
                lines.append(f"  {b:<14} {_fmt(r['class_agnostic']):>22} {_fmt(r['class_correct']):>22}")
        lines.append(f"  precision of reported hazards {_fmt(s['precision'])}; false urgent alerts "
                     f"{s['false_urgent_alerts']} on {s['calm_images']} photos with no hazard within 8 m")
        if s.get("precision_by_group"):
            lines.append("  precision by group: " + "; ".join(f"{g} {_fmt(c)}" for g, c in s["precision_by_group"].items()))
    m = result.get("clips")
    if m:
        lines += [f"Labelled clips: {m['clips']} MOT17 clips, {m['frames']} frames",
                  f"  person recall from the 2nd frame {_fmt(m['person_recall'])}; all frames {_fmt(m['person_recall_all_frames'])}; "
                  f"id switches {m['id_switches']}",
                  "  by distance: " + "; ".join(f"{k} {_fmt(v)}" for k, v in m["by_distance"].items())]
    a = result.get("approach")
    if a:
        fr = a["false_reassurance"]
        frame_ms = a.get("frame_time_ms", "wall")
        handled = "wall-clock time" if frame_ms == "wall" else f"{frame_ms} ms"
        lines += [f"Synthetic approach clips: {a['clips']['approach']} approach, {a['clips']['dense']} dense, "
                  f"{a['clips']['hazard_free']} hazard-free ({a['minutes']:.1f} min; each frame handled in {handled})",
                  f"  near hazards cued within 1 s {_fmt(a['cued_within_1s'])}; false reassurance {fr['missed']} missed + "
                  f"{fr['all_clear']} 'all clear' of {fr['of']}",
                  f"  alert latency p50 {a['latency_s']['p50'] if a['latency_s']['p50'] is not None else float('nan'):.2f} s, "
                  f"p95 {a['latency_s']['p95'] if a['latency_s']['p95'] is not None else float('nan'):.2f} s (n={a['latency_s']['n']})",
                  f"  nuisance {a['nuisance_per_min']['value'] or 0:.2f}/min ({a['nuisance_per_min']['cues']} warning/danger cues in "
                  f"{a['nuisance_per_min']['minutes']} min hazard-free); overload {a['overload_per_min']['value'] or 0:.2f}/min "
                  f"({a['overload_per_min']['events']} in {a['overload_per_min']['minutes']} min)",
                  f"  dense: nearest cued within 1 s {_fmt(a['dense']['cued_within_1s'])}, overload "
                  f"{a['dense']['overload_per_min'] or 0:.2f}/min"]
        u = result.get("understood")
        if u:
            lines.append(f"  warning/danger cues understood by transcription {_fmt(u['understood'])}")
        n = a.get("unheard")
        if n:
            lines.append(f"  cues not heard in full: dropped as stale {n['dropped_stale']}, yielded to a more urgent cue "
                         f"{n['yielded']}, cut short {n['cut']}")
        for why in fr["why"][:8]:
            lines.append(f"    missed: {why}")
    return "\n".join(lines)
