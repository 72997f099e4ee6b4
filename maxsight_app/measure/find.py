"""`maxsight eval find`: find mode on synthetic clips toward doors from the labelled door photos,
through the real session, into a WAV timeline as a user would hear it.

Each clip (a pure function of photo, door and seed) is a search as a user makes it: the camera
points away, with the door out of view to one side (FIND_AWAY_S); the user turns toward it, past it
and back (a damped swing that crosses the middle twice, so the tone must change side), walks up to
it until it is within reach, then turns away (TURN_AWAY_DEG) and stays away for LOST_HOLD_S ("lost it"
is due).
The virtual camera is the app's own pinhole model, as in measure/approach.py, whose photo warping
and camera effects (motion blur, exposure, noise) it reuses.

Measured per clip, then summed:
  * pan: on every frame from the door's first confirmed track to the end while the door's centre
    is in the picture, the side the guidance tone is heard on (level difference between the ears,
    measured on the rendered tone) against the door's true side (centre within CENTRED_DEG);
  * found: time from the first frame with a confirmed door track to the start of "door found" in
    the WAV timeline;
  * lost it: said, and how long after the door left the picture; chime: heard, and how far away
    the door truly was then; findability as measured.
The detector: the registered "access" model when it is installed, else ground-truth boxes of the
photo moved with the clip (a perfect detector in the COCO lane); the result says which.
"""
from __future__ import annotations

import json
import math
import wave
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.config import CameraModel
from engine.models.detectors import Detector, RawDetections
from engine.stage_a import geometry
from engine.types import Frame
from maxsight_app.find import ACCESS_LABELS, CENTRED_DEG
from maxsight_app.measure.approach import H, W, _finish, _ground_bottom, _warp
from maxsight_app.outputs.tones import SAMPLE_RATE

FPS = 10.0
FIND_AWAY_S = 1.0        # the door out of view before the turn starts
SWING_S = 3.0            # the turn toward it, past it and back
WALK_SPEED = 1.0         # m/s toward the door, once facing it
END_M = 0.8
LOST_HOLD_S = 3.0        # turned away this long at the end
TURN_AWAY_DEG = 80.0     # far enough round that even a wide door up close leaves the picture
MAX_ZOOM_OUT = 1.6
FRONTAL = (0.3, 0.7)     # width / height of a door seen from the front (0.85 m by 2.0 m is 0.43)
START_M = 6.0
DOOR_M = geometry.TYPICAL_HEIGHT_M.get("door", 2.0)
SIDE_DB = 1.0            # the tone is heard on one side when the ears differ by more than this
TARGET_PAN = 95.0
TARGET_FOUND_S = 0.5


@dataclass(frozen=True)
class DoorClip:
    image_id: int
    file: str
    box: tuple[float, float, float, float]      # the door in the photo (xyxy)
    seed: int

    @property
    def name(self) -> str:
        return f"find-door-{self.image_id}"


@dataclass(frozen=True)
class ClipFrame:
    t: float
    image: np.ndarray
    box: tuple[float, float, float, float] | None     # the door in the frame (clipped), None when out of it
    bearing_deg: float                                  # where the door's centre truly is
    distance_m: float


def plan(images: list[dict], annotations: dict[int, list[dict]], categories: dict[int, str], seed: int = 0,
         limit: int | None = None) -> list[DoorClip]:
    """One clip per photo with a door that is whole (not cut by the photo's edge), seen from the
    front (FRONTAL) and big enough to zoom: the largest such door."""
    out = []
    for im in images:
        doors = []
        for a in annotations.get(im["id"], []):
            if categories[a["category_id"]] != "door":
                continue
            x, y, w, h = a["bbox"]
            whole = x > 2 and y > 2 and x + w < im["width"] - 2 and y + h < im["height"] - 2
            frontal = FRONTAL[0] <= w / h <= FRONTAL[1]         # seen from the front, as the clip walks up to it
            if whole and frontal and h >= 0.25 * im["height"] and h >= 48:
                doors.append((x, y, x + w, y + h))
        if doors:
            box = max(doors, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
            out.append(DoorClip(im["id"], im["file_name"], box, zlib.crc32(f"find:{seed}:{im['id']}".encode())))
        if limit is not None and len(out) >= limit:
            break
    return out


def start_distance(clip: DoorClip, photo_w: int, camera: CameraModel) -> float:
    f = camera.focal_px(W)
    hb = clip.box[3] - clip.box[1]
    return float(min(START_M, f * DOOR_M * MAX_ZOOM_OUT * photo_w / (W * hb)))


def bearing_at(t: float, b0: float, sway: float, d0: float) -> float:
    """Away, then a damped swing through the middle and back, then away again at the end."""
    walk_end = FIND_AWAY_S + SWING_S + (d0 - END_M) / WALK_SPEED + 0.5
    steps = 1.5 * math.sin(2 * math.pi * 0.9 * t + sway)              # each step sways the camera
    if t < FIND_AWAY_S:
        return b0
    if t < walk_end:
        u = t - FIND_AWAY_S
        return b0 * math.exp(-u / 1.2) * math.cos(2 * math.pi * u / 3.0) + steps * min(1.0, u / SWING_S)
    u = min(1.0, (t - walk_end) / 0.5)
    return math.copysign(TURN_AWAY_DEG, b0) * u + (1 - u) * steps


def render(clip: DoorClip, photo: np.ndarray, camera: CameraModel = CameraModel()):
    """The clip's frames, each with the door's true box, side and distance."""
    rng = np.random.default_rng(clip.seed)
    f = camera.focal_px(W)
    ph, pw = photo.shape[:2]
    x1, y1, x2, y2 = clip.box
    hb, bcx = y2 - y1, (x1 + x2) / 2
    d0 = start_distance(clip, pw, camera)
    b0 = float(rng.choice([-1.0, 1.0]) * rng.uniform(42, 50))
    sway, gain_phase = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    walk_start = FIND_AWAY_S + SWING_S * 0.5
    total = FIND_AWAY_S + SWING_S + (d0 - END_M) / WALK_SPEED + 0.5 + 0.5 + LOST_HOLD_S
    for i in range(int(total * FPS) + 1):
        t = i / FPS
        d = d0 if t < walk_start else max(END_M, d0 - WALK_SPEED * (t - walk_start))
        bearing = bearing_at(t, b0, sway, d0)
        k = f * DOOR_M / (d * hb)
        cx = W / 2 + f * math.tan(math.radians(bearing))
        bottom = _ground_bottom(d, camera, f)
        img = _warp(photo, k, bcx, y2, cx, bottom)
        bw, bh = (x2 - x1) * k, hb * k
        box = (cx - bw / 2, bottom - bh, cx + bw / 2, bottom)
        clipped = (max(0.0, box[0]), max(0.0, box[1]), min(float(W), box[2]), min(float(H), box[3]))
        visible = clipped[2] - clipped[0] > 4 and clipped[3] - clipped[1] > 4
        yield ClipFrame(t, _finish(img, rng, t, 0.25, gain_phase), clipped if visible else None, bearing, d)


class TruthDetector(Detector):
    """A perfect door detector: each call reports the door's true box in that frame (score 0.9)."""

    def __init__(self, boxes: list, labels=ACCESS_LABELS, name: str = "ground truth (scripted)"):
        self.boxes, self.labels, self.name, self.spec = boxes, list(labels), name, None
        self.calls = 0

    def detect_raw(self, image, min_score=0.05, timings=None) -> RawDetections:
        box = self.boxes[self.calls] if self.calls < len(self.boxes) else None
        self.calls += 1
        if box is None:
            return RawDetections.empty()
        return RawDetections(np.array([box], np.float32), np.array([0.9], np.float32),
                             np.array([self.labels.index("door")], np.int64))


@dataclass
class ClipOutcome:
    clip: str
    detector: str
    frames: int
    first_confirmed_s: float | None
    found_said_s: float | None
    found_latency_s: float | None
    found_text: str | None
    pan_frames: int = 0
    pan_match: int = 0
    pan_silent: int = 0                    # frames the door was in view but no tone was heard
    pan_mismatches: list = field(default_factory=list)      # (t, true side, heard side, true bearing)
    left_view_s: float | None = None
    lost_said_s: float | None = None
    chimes: list = field(default_factory=list)              # (t, true distance, true bearing)
    findability: list = field(default_factory=list)         # scores while in view
    low_contrast_said: bool = False


def true_side(bearing: float) -> str:
    return "centre" if abs(bearing) <= CENTRED_DEG else "left" if bearing < 0 else "right"


def heard_side(stereo: np.ndarray) -> str | None:
    """The side a stretch of tone is heard on, from the level difference between the ears; None: silence."""
    rms = np.sqrt((stereo.astype(np.float64) ** 2).mean(axis=0)) if len(stereo) else np.zeros(2)
    if rms.max() < 1e-3:
        return None
    ild = 20 * math.log10((rms[1] + 1e-9) / (rms[0] + 1e-9))
    return "centre" if abs(ild) < SIDE_DB else "left" if ild < 0 else "right"


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels()).astype(np.float32) / 32768


def run_clip(clip: DoorClip, photo: np.ndarray, make_session, camera: CameraModel, wav_dir: Path) -> ClipOutcome:
    """make_session(boxes, wav, tone_wav) -> (session, detector name): a fresh session whose
    outputs write the timeline to `wav` and the tone alone to `tone_wav`, with find mode on."""
    frames = list(render(clip, photo, camera))
    wav, tone_wav = wav_dir / f"{clip.name}.wav", wav_dir / f"{clip.name}-tone.wav"
    session, det_name = make_session([fr.box for fr in frames], wav, tone_wav)
    first_conf, guidance = None, []
    try:
        for i, fr in enumerate(frames):
            tick = session.handle(Frame(i, fr.t, fr.image))
            g = tick.guidance
            guidance.append(g)
            if first_conf is None and any(tr.confirmed and tr.label == "door" for tr in tick.result.tracks):
                first_conf = fr.t
    finally:
        session.close()
    timeline = json.loads(wav.with_suffix(".json").read_text()) if wav.exists() else {"played": []}
    found = next((p for p in timeline["played"] if " found, " in p["text"]), None)
    lost = next((p for p in timeline["played"] if p["text"].startswith("Lost it")), None)
    out = ClipOutcome(clip.name, det_name, len(frames), first_conf, found["start_s"] if found else None,
                      (found["start_s"] - first_conf) if found and first_conf is not None else None,
                      found["text"] if found else None)
    tone = read_wav(tone_wav) if tone_wav.exists() else np.zeros((0, 2), np.float32)
    for i, (fr, g) in enumerate(zip(frames, guidance)):
        if g is not None and "chime" in g.events:
            out.chimes.append((fr.t, round(fr.distance_m, 2), round(fr.bearing_deg, 1)))
        if g is not None and "low_contrast" in g.events:
            out.low_contrast_said = True
        if g is not None and g.in_view and g.findability is not None:
            out.findability.append(g.findability.score)
        if first_conf is None or fr.t < first_conf:
            continue
        if fr.box is None:
            if out.left_view_s is None and i > 0 and frames[i - 1].box is not None and fr.t > first_conf + 1:
                out.left_view_s = fr.t                   # the last of the door has left the picture
            continue
        centre_x = W / 2 + camera.focal_px(W) * math.tan(math.radians(fr.bearing_deg))
        if not 0 <= centre_x < W:
            continue                                     # its side is judged while its middle is in the picture
        a = int((fr.t + 0.02) * SAMPLE_RATE)
        b = int((fr.t + 1 / FPS) * SAMPLE_RATE)
        heard = heard_side(tone[a:b])
        want = true_side(fr.bearing_deg)
        out.pan_frames += 1
        if heard is None:
            out.pan_silent += 1
        if heard == want:
            out.pan_match += 1
        else:
            out.pan_mismatches.append((fr.t, want, heard, round(fr.bearing_deg, 1)))
    if lost is not None:
        out.lost_said_s = lost["start_s"]
    return out


def summarise(outcomes: list[ClipOutcome]) -> dict:
    n = sum(o.pan_frames for o in outcomes)
    ok = sum(o.pan_match for o in outcomes)
    lat = [o.found_latency_s for o in outcomes if o.found_latency_s is not None]
    confirmed = [o for o in outcomes if o.first_confirmed_s is not None]
    within = sum(1 for x in lat if x <= TARGET_FOUND_S)
    lost_delay = [o.lost_said_s - o.left_view_s for o in outcomes if o.lost_said_s is not None and o.left_view_s is not None]
    fa = sorted(x for o in outcomes for x in o.findability)
    return {
        "detector": sorted({o.detector for o in outcomes}),
        "clips": len(outcomes),
        "pan": {"pct": 100.0 * ok / n if n else None, "n": ok, "of": n, "silent": sum(o.pan_silent for o in outcomes),
                "target_pct": TARGET_PAN},
        "found": {"said": len(lat), "of_confirmed": len(confirmed), "within_0_5_s": within,
                  "median_s": float(np.median(lat)) if lat else None, "max_s": max(lat) if lat else None,
                  "target_s": TARGET_FOUND_S},
        "lost": {"said": sum(o.lost_said_s is not None for o in outcomes), "of": len(outcomes),
                 "after_leaving_s_median": float(np.median(lost_delay)) if lost_delay else None},
        "chime": {"clips": sum(bool(o.chimes) for o in outcomes), "of": len(outcomes),
                  "true_distance_m": [c[1] for o in outcomes for c in o.chimes[:1]]},
        "findability_median": fa[len(fa) // 2] if fa else None,
        "low_contrast_said": sum(o.low_contrast_said for o in outcomes),
        "outcomes": [asdict(o) for o in outcomes],
    }


def table(s: dict) -> str:
    p, f, lo, ch = s["pan"], s["found"], s["lost"], s["chime"]
    pan = f"{p['pct']:.1f}% ({p['n']} of {p['of']} frames; {p['silent']} without tone)" if p["of"] else "no frames"
    med = f"median {f['median_s']:.2f} s, max {f['max_s']:.2f} s" if f["median_s"] is not None else "never said"
    lines = [f"Find mode on {s['clips']} synthetic approach clip(s) toward doors; detector: {', '.join(s['detector'])}",
             f"  tone on the door's side       {pan}   target >= {p['target_pct']:.0f}%",
             f"  'door found' after confirmed  {med}; {f['within_0_5_s']} of {f['said']} within {f['target_s']} s "
             f"({f['said']} said of {f['of_confirmed']} confirmed)",
             f"  'lost it' after turning away  said on {lo['said']} of {lo['of']} clips" +
             (f", median {lo['after_leaving_s_median']:.1f} s after the door left the picture"
              if lo["after_leaving_s_median"] is not None else ""),
             f"  chime within reach            {ch['clips']} of {ch['of']} clips; true distance then "
             f"{', '.join(f'{d:.1f} m' for d in ch['true_distance_m']) or '-'}",
             f"  findability (median)          {s['findability_median']:.2f}" if s["findability_median"] is not None
             else "  findability                   not measured",
             f"  'low in contrast' said        on {s['low_contrast_said']} clip(s)"]
    return "\n".join(lines)
