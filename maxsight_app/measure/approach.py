"""Synthetic approach clips from labelled photos: a virtual camera walks toward a ground-truth object,
so every frame has an exact box, an exact distance and an exact time to contact.

The virtual camera is the app's own pinhole model (640 x 480, the profile's field of view, 1.3 m
high, tilted 5 degrees down). At distance d the object (typical height H for its class, as the
geometry module assumes) is f*H/d pixels tall and its bottom edge meets the floor where the ground
plane puts it, so the app's size and ground estimates both read d back. The photo is cropped and
scaled so its labelled box lands there; the bearing drifts a little and sways with each step.
What a walker's camera really does is added on top, seeded per clip: motion blur on about a
quarter of the frames, exposure breathing, sensor noise.

Kinds of clip:
  approach      toward one hazard-class object, from 5-10 m to under 1 m, at a closing speed
                for its class (a walker toward a still obstacle 1.2 m/s, a person 2 m/s, a car 6 m/s);
  dense         the same, toward the nearest of four or more hazards in the photo;
  hazard_free   a slow zoom and pan over a photo with no hazard-class object: every warning or
                danger said on it is a nuisance.
Clips are a pure function of (photo, object, seed): the same photos always give the same clips.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from engine.config import CameraModel
from engine.stage_a.geometry import NEAR_M, STANDS_ON_GROUND, TYPICAL_HEIGHT_M
from engine.stage_a.urgency import HAZARD_CLASSES

W, H = 640, 480
FPS = 10.0
LEAD_IN_S = 1.0             # still at the start distance: time for a track to be confirmed
MAX_ZOOM_OUT = 1.25         # the crop may reach 25% past the photo (edges replicated, never mirrored:
                            # a mirror would copy the object and make a second one)
TTC_ONSET_S = 3.0
CLOSING_SPEED = {"person": 2.0, "dog": 2.5, "bicycle": 4.0, "motorcycle": 6.0, "car": 6.0, "bus": 6.0, "truck": 6.0,
                 "train": 6.0, "horse": 2.5, "cow": 1.6, "sheep": 1.6}
WALKING = 1.2               # toward anything that does not move


@dataclass(frozen=True)
class ClipSpec:
    kind: str                   # approach | dense | hazard_free
    image_id: int
    file: str
    label: str                  # the target's class ("" for hazard_free)
    box: tuple[float, float, float, float]   # the target's box in the photo (xyxy)
    others: int                 # hazard-class objects in the photo besides the target
    seed: int

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.image_id}-{self.label.replace(' ', '_') or 'scene'}"


@dataclass(frozen=True)
class ClipFrame:
    t: float
    image: np.ndarray           # [480, 640, 3] uint8 BGR
    box: tuple[float, float, float, float] | None    # the target in this frame (clipped to it), None off-frame
    distance_m: float | None
    ttc_s: float | None


def plan(images: list[dict], annotations: dict[int, list[dict]], categories: dict[int, str], seed: int = 0,
         per_kind: int | None = None) -> list[ClipSpec]:
    """Clips for the photos given (image dicts with id, file_name, width, height; annotations per
    image id, COCO style). One approach clip per photo with a usable hazard (the largest one that
    is not cut by the photo's edge and stands out enough to be zoomed), a dense clip for photos
    with 4+ hazards, a hazard-free clip for photos with none."""
    out: list[ClipSpec] = []
    for im in images:
        anns = [a for a in annotations.get(im["id"], []) if not a.get("iscrowd", 0) and a["bbox"][2] >= 2 and a["bbox"][3] >= 2]
        hazards = [a for a in anns if categories[a["category_id"]] in HAZARD_CLASSES]
        clip_seed = zlib.crc32(f"{seed}:{im['id']}".encode())
        if not hazards:
            if not anns or all(categories[a["category_id"]] not in HAZARD_CLASSES for a in anns):
                out.append(ClipSpec("hazard_free", im["id"], im["file_name"], "", (0.0, 0.0, 0.0, 0.0), 0, clip_seed))
            continue
        usable = [a for a in hazards if _usable(a, im) and _room_to_walk(a, im, categories)]
        if not usable:
            continue
        target = max(usable, key=lambda a: a["bbox"][2] * a["bbox"][3])
        x, y, w, h = target["bbox"]
        kind = "dense" if len(hazards) >= 4 else "approach"
        out.append(ClipSpec(kind, im["id"], im["file_name"], categories[target["category_id"]], (x, y, x + w, y + h),
                            len(hazards) - 1, clip_seed))
    if per_kind is not None:
        counts: dict[str, int] = {}
        limited = []
        for c in out:
            counts[c.kind] = counts.get(c.kind, 0) + 1
            if counts[c.kind] <= per_kind:
                limited.append(c)
        out = limited
    return out


def _room_to_walk(a: dict, im: dict, categories: dict[int, str], camera: CameraModel = CameraModel()) -> bool:
    """The photo lets the virtual camera start at 4 m or further (so the approach crosses the near
    zone after a real lead-in)."""
    label = categories[a["category_id"]]
    x, y, w, h = a["bbox"]
    spec = ClipSpec("approach", im["id"], im["file_name"], label, (x, y, x + w, y + h), 0, 0)
    return start_distance(spec, im["width"], camera) >= 4.0


def _usable(a: dict, im: dict) -> bool:
    x, y, w, h = a["bbox"]
    margin = 2.0
    if x <= margin or y <= margin or x + w >= im["width"] - margin or y + h >= im["height"] - margin:
        return False                                      # cut by the photo: its true size is unknown
    return h >= 0.08 * im["height"] and h >= 24           # big enough to survive the zoom


def closing_speed(label: str) -> float:
    return CLOSING_SPEED.get(label, WALKING)


def start_distance(spec: ClipSpec, photo_w: int, camera: CameraModel) -> float:
    """As far as the photo allows (the crop may be at most MAX_ZOOM_OUT times the photo), up to 10 m."""
    f = camera.focal_px(W)
    real = TYPICAL_HEIGHT_M.get(spec.label, 0.5)
    hb = spec.box[3] - spec.box[1]
    # crop width = W / k with k = f * real / (d * hb) must stay under MAX_ZOOM_OUT * photo_w
    d_max = f * real * MAX_ZOOM_OUT * photo_w / (W * hb)
    return float(min(10.0, d_max))


def _ground_bottom(d: float, camera: CameraModel, f: float) -> float:
    """Where, in the frame, the floor d metres ahead is."""
    angle = math.atan(camera.height_m / max(d, 0.05)) - math.radians(camera.tilt_deg)
    return H / 2 + f * math.tan(angle)


def render(spec: ClipSpec, photo: np.ndarray, camera: CameraModel = CameraModel()) -> Iterator[ClipFrame]:
    """The clip's frames, each with its ground truth."""
    rng = np.random.default_rng(spec.seed)
    f = camera.focal_px(W)
    ph, pw = photo.shape[:2]
    blur_p, gain_phase, sway_phase = 0.25, rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    if spec.kind == "hazard_free":
        duration = 8.0
        zoom0, zoom1 = 1.0, 1.3
        pan = rng.uniform(-0.08, 0.08)
        for i in range(int(duration * FPS)):
            t = i / FPS
            z = zoom0 + (zoom1 - zoom0) * t / duration
            cx, cy = pw / 2 + pan * pw * t / duration, ph / 2
            k = z * max(W / pw, H / ph)                      # photo px -> frame px
            yield ClipFrame(t, _finish(_warp(photo, k, cx, cy, W / 2, H / 2), rng, t, blur_p, gain_phase), None, None, None)
        return
    real = TYPICAL_HEIGHT_M.get(spec.label, 0.5)
    x1, y1, x2, y2 = spec.box
    hb, bcx = y2 - y1, (x1 + x2) / 2
    v = closing_speed(spec.label)
    d0 = start_distance(spec, pw, camera)
    d_end = 0.8
    b0 = rng.uniform(-12, 12)                                 # where it starts, degrees
    drift = rng.uniform(-4, 4)                                # and how that changes over the clip
    total = LEAD_IN_S + (d0 - d_end) / v
    for i in range(int(total * FPS) + 1):
        t = i / FPS
        d = d0 if t < LEAD_IN_S else max(d_end, d0 - v * (t - LEAD_IN_S))
        frac = max(0.0, t - LEAD_IN_S) / max(total - LEAD_IN_S, 1e-6)
        bearing = b0 + drift * frac + 1.5 * math.sin(2 * math.pi * 0.9 * t + sway_phase)   # steps sway the camera
        k = f * real / (d * hb)                               # photo px -> frame px
        cx_out = W / 2 + f * math.tan(math.radians(bearing))
        if spec.label in STANDS_ON_GROUND:
            bottom = _ground_bottom(d, camera, f)
        else:
            bottom = H / 2 + 0.5 * f * real / d               # centred on the horizon
        img = _warp(photo, k, bcx, y2, cx_out, bottom)
        bw, bh = (x2 - x1) * k, hb * k
        box = (cx_out - bw / 2, bottom - bh, cx_out + bw / 2, bottom)
        clipped = (max(0.0, box[0]), max(0.0, box[1]), min(float(W), box[2]), min(float(H), box[3]))
        visible = clipped[2] - clipped[0] > 2 and clipped[3] - clipped[1] > 2
        ttc = d / v if t >= LEAD_IN_S and d > d_end else (None if t < LEAD_IN_S else 0.0)
        yield ClipFrame(t, _finish(img, rng, t, blur_p, gain_phase), clipped if visible else None, d, ttc)


def onset(frames: list[ClipFrame]) -> float | None:
    """When the hazard becomes urgent: it enters the near zone, or its time to contact drops under 3 s."""
    for fr in frames:
        if fr.distance_m is not None and (fr.distance_m <= NEAR_M or (fr.ttc_s is not None and fr.ttc_s < TTC_ONSET_S)):
            return fr.t
    return None


def _warp(photo: np.ndarray, k: float, sx: float, sy: float, dx: float, dy: float) -> np.ndarray:
    """Scale the photo by k about its point (sx, sy) and put that point at (dx, dy) of the frame."""
    m = np.float32([[k, 0, dx - k * sx], [0, k, dy - k * sy]])
    interp = cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(photo, m, (W, H), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def _finish(img: np.ndarray, rng: np.random.Generator, t: float, blur_p: float, gain_phase: float) -> np.ndarray:
    """What a walker's camera adds: motion blur on some frames, breathing exposure, noise."""
    out = img.astype(np.float32)
    if rng.random() < blur_p:
        n = int(rng.integers(5, 16))
        kernel = np.zeros((n, n), np.float32)
        kernel[n // 2, :] = 1.0 / n
        rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (n, n))
        kernel /= max(kernel.sum(), 1e-6)
        out = cv2.filter2D(out, -1, kernel)
    gain = 1.0 + 0.25 * math.sin(2 * math.pi * t / 3.0 + gain_phase)
    out = out * gain + rng.normal(0, 3.0, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)
