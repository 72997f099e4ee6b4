"""Walks rendered from simple 3D geometry, with truth, for the class-agnostic collision lane
(engine/stage_a/collision.py), and the real null walks it must stay quiet on.

Box-zoom clips made from photos have no parallax, so they cannot test looming against a floor.
These clips are ray-cast per pixel: a floor plane (that may end at a step down or a drop-off),
walls, poles, boxes, a board at head height and a glass-like low-texture panel, each a textured
rectangle (or a box of rectangles) carrying a real photograph (../shared/data when present, else
frames of the shipped sample clip). The camera is the app's pinhole model (60 degree field of view,
1.3 m high, tilted 5 degrees down), walking 1.0-1.4 m/s with a step's bob and sway, slow yaw and
pitch sway, motion blur on about a quarter of the frames, exposure breathing and sensor noise.
Textures are sampled from a mip pyramid chosen by each pixel's footprint, so the far floor does not
shimmer (which real cameras do not do either).

Every frame knows, for each obstacle: its true distance along the walk, lateral offset, height band
(ground / body / head), time to contact (distance / walking speed: reaching the surface), and its
box in the image. A scene is a pure function of (kind, seed): nothing is stored; dev = even seeds,
test = odd seeds.

Kinds: in the path (the obstacle's centre within 0.25 m of the walking line):
  wall, pole, box (ground), board (head height), panel (low texture, glass-like);
  step (the floor drops 0.12-0.2 m), dropoff (0.8-1.5 m);
  beside_wall, beside_pole (walking past a long wall or a pole 0.9-1.6 m to one side: nothing
  should be said).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from engine.config import CameraModel

FPS = 10.0
W, H = 320, 240
CAMERA_H = 1.3
END_DISTANCE_M = 0.5          # the clip stops when the camera is this far from the obstacle's face
PATH_KINDS = ("wall", "pole", "box", "board", "panel")
DROP_KINDS = ("step", "dropoff")
PASS_KINDS = ("beside_wall", "beside_pole")
KINDS = PATH_KINDS + DROP_KINDS + PASS_KINDS
SIZE = {"wall": "large", "panel": "large", "pole": "thin", "box": "small", "board": "small"}
BAND = {"wall": "body", "panel": "body", "pole": "body", "box": "ground", "board": "head"}
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class Quad:
    """A textured rectangle: corner p0, unit edge directions u, v with lengths lu, lv (metres).
    Texture `tex` covers `tex_m` metres per repeat along u (and the same scale along v)."""
    p0: tuple[float, float, float]
    u: tuple[float, float, float]
    v: tuple[float, float, float]
    lu: float
    lv: float
    tex: int
    tex_m: float
    obstacle: int = -1            # index into Scene.obstacles, or -1 (floor, scenery)


@dataclass(frozen=True)
class Obstacle:
    name: str                     # wall | pole | box | board | panel | step | dropoff | beside
    band: str                     # ground | body | head | floor
    size: str                     # thin | small | large | edge
    texture: str                  # textured | low
    z_front: float                # world z of the face the walker meets (m)
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    in_path: bool


@dataclass
class Scene:
    kind: str
    seed: int
    speed: float
    quads: list[Quad]
    obstacles: list[Obstacle]
    textures: list[list[np.ndarray]]     # per texture: grey mip pyramid (float32)
    duration_s: float
    sway: dict = field(default_factory=dict)
    camera: CameraModel = field(default_factory=CameraModel)

    @property
    def split(self) -> str:
        return "dev" if self.seed % 2 == 0 else "test"

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.seed}"


@dataclass(frozen=True)
class Truth:
    """One obstacle in one frame."""
    obstacle: int
    distance_m: float             # from the camera to the obstacle's face, along the walk
    lateral_m: float              # the obstacle's nearest point's offset from the walking line (0 = crosses it)
    ttc_s: float                  # distance / walking speed
    box: tuple[float, float, float, float] | None   # where it shows in the frame (pixels), None if out of view
    visible_px: int


# -- textures -----------------------------------------------------------------------------------

def photo_paths() -> list[Path]:
    for sub in ("coco_val2017_128/images", "accessibility_objects", "icdar2015_test_scene_text"):
        d = DATA / sub
        if d.is_dir():
            files = sorted(p for p in d.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            if len(files) >= 8:
                return files
    return []


_PHOTOS: list[np.ndarray] | None = None


def photos() -> list[np.ndarray]:
    """Grey photographs (512 px square crops) to texture the scenes with."""
    global _PHOTOS
    if _PHOTOS is None:
        paths = photo_paths()[:48]
        imgs = [cv2.imread(str(p)) for p in paths]
        imgs = [i for i in imgs if i is not None]
        if len(imgs) < 8:
            from engine.samples import sample_frames
            imgs = sample_frames(24, every=30)
        out = []
        for img in imgs:
            g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            s = min(g.shape[:2])
            g = g[:s, :s]
            out.append(cv2.resize(g, (512, 512), interpolation=cv2.INTER_AREA))
        _PHOTOS = out
    return _PHOTOS


def _pyramid(img: np.ndarray, levels: int = 7) -> list[np.ndarray]:
    pyr = [img.astype(np.float32)]
    for _ in range(levels - 1):
        pyr.append(cv2.pyrDown(pyr[-1]))
    return pyr


def _low_texture(img: np.ndarray) -> np.ndarray:
    """Glass-like: the photo blurred hard, its contrast cut to about 4%, over a bright grey."""
    b = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 20)
    return np.clip(185 + 0.04 * (b - b.mean()), 0, 255).astype(np.uint8)


# -- scenes -------------------------------------------------------------------------------------

def _box(quads: list[Quad], x0, x1, y0, y1, z0, z1, tex, tex_m, ob) -> None:
    """The four sides and the top of an axis-aligned box (the bottom is never seen)."""
    quads += [Quad((x0, y0, z0), (1, 0, 0), (0, 1, 0), x1 - x0, y1 - y0, tex, tex_m, ob),     # front
              Quad((x0, y0, z0), (0, 0, 1), (0, 1, 0), z1 - z0, y1 - y0, tex, tex_m, ob),     # left side
              Quad((x1, y0, z0), (0, 0, 1), (0, 1, 0), z1 - z0, y1 - y0, tex, tex_m, ob),     # right side
              Quad((x0, y0, z1), (1, 0, 0), (0, 1, 0), x1 - x0, y1 - y0, tex, tex_m, ob),     # back
              Quad((x0, y1, z0), (1, 0, 0), (0, 0, 1), x1 - x0, z1 - z0, tex, tex_m, ob)]     # top


def make_scene(kind: str, seed: int, static: bool = False) -> Scene:
    """A scene of `kind`, a pure function of (kind, seed). static=True: the camera stands still
    (sway and all), for the "nothing moves, nothing is said" check."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    rng = np.random.default_rng(zlib.crc32(f"{kind}:{seed}".encode()))
    pics = photos()
    order = rng.permutation(len(pics))
    tex_imgs = [pics[i] for i in order[:6]]
    tex_imgs.append(_low_texture(tex_imgs[5]))
    textures = [_pyramid(t) for t in tex_imgs]
    FLOOR, WALLS, OBJ, BACK, OTHER, LOW = 0, 1, 2, 3, 4, 6
    speed = 0.0 if static else float(rng.uniform(1.0, 1.4))
    quads: list[Quad] = []
    obstacles: list[Obstacle] = []
    start = float(rng.uniform(6.0, 8.0))           # distance to the obstacle's face at t = 0
    floor_end = 80.0
    lateral = float(rng.uniform(-0.25, 0.25))
    if kind == "wall":
        obstacles.append(Obstacle("wall", "body", "large", "textured", start, -2.5, 2.5, 0.0, 2.6, True))
        quads.append(Quad((-2.5, 0.0, start), (1, 0, 0), (0, 1, 0), 5.0, 2.6, OBJ, 2.5, 0))
        floor_end = start + 0.01
    elif kind == "pole":
        wdt = float(rng.uniform(0.08, 0.16))
        x0 = lateral - wdt / 2
        obstacles.append(Obstacle("pole", "body", "thin", "textured", start, x0, x0 + wdt, 0.0, 2.3, True))
        _box(quads, x0, x0 + wdt, 0.0, 2.3, start, start + wdt, OBJ, 1.0, 0)
    elif kind == "box":
        wdt, hgt = float(rng.uniform(0.4, 0.7)), float(rng.uniform(0.4, 0.9))
        x0 = lateral - wdt / 2
        obstacles.append(Obstacle("box", "ground", "small", "textured", start, x0, x0 + wdt, 0.0, hgt, True))
        _box(quads, x0, x0 + wdt, 0.0, hgt, start, start + wdt, OBJ, 0.8, 0)
    elif kind == "board":
        wdt, y0 = float(rng.uniform(0.6, 1.0)), float(rng.uniform(1.5, 1.7))
        x0 = lateral - wdt / 2
        obstacles.append(Obstacle("board", "head", "small", "textured", start, x0, x0 + wdt, y0, y0 + 0.35, True))
        _box(quads, x0, x0 + wdt, y0, y0 + 0.35, start, start + 0.03, OBJ, 1.0, 0)
    elif kind == "panel":
        wdt = float(rng.uniform(1.0, 1.4))
        x0 = lateral - wdt / 2
        obstacles.append(Obstacle("panel", "body", "large", "low", start, x0, x0 + wdt, 0.05, 2.1, True))
        quads.append(Quad((x0, 0.05, start), (1, 0, 0), (0, 1, 0), wdt, 2.05, LOW, 2.0, 0))
    elif kind in DROP_KINDS:
        drop = float(rng.uniform(0.12, 0.2) if kind == "step" else rng.uniform(0.8, 1.5))
        obstacles.append(Obstacle(kind, "floor", "edge", "textured", start, -20.0, 20.0, -drop, 0.0, True))
        floor_end = start
        quads.append(Quad((-20.0, -drop, start), (1, 0, 0), (0, 0, 1), 40.0, 80.0, OTHER, 2.0, -1))    # the lower floor
        quads.append(Quad((-20.0, -drop, start), (1, 0, 0), (0, 1, 0), 40.0, drop, OTHER, 2.0, -1))   # the riser (hidden)
    elif kind in PASS_KINDS:
        side = 1.0 if rng.random() < 0.5 else -1.0
        off = float(rng.uniform(0.9, 1.6))
        if kind == "beside_wall":      # a long wall alongside the walk
            x = side * off
            obstacles.append(Obstacle(kind, "body", "large", "textured", 1.0, x, x, 0.0, 2.4, False))
            quads.append(Quad((x, 0.0, 1.0), (0, 0, 1), (0, 1, 0), 14.0, 2.4, OBJ, 2.5, 0))
        else:                          # a pole to one side
            x0 = side * off - 0.06
            obstacles.append(Obstacle(kind, "body", "thin", "textured", start, x0, x0 + 0.12, 0.0, 2.3, False))
            _box(quads, x0, x0 + 0.12, 0.0, 2.3, start, start + 0.12, OBJ, 1.0, 0)
    # The floor up to its end, scenery to either side (outside the corridor), a far backdrop.
    quads.append(Quad((-20.0, 0.0, -2.0), (1, 0, 0), (0, 0, 1), 40.0, floor_end + 2.0, FLOOR, 2.0, -1))
    for side in (-1.0, 1.0):
        x = side * float(rng.uniform(2.5, 4.0))
        quads.append(Quad((x, 0.0, -2.0), (0, 0, 1), (0, 1, 0), 40.0, 3.0, WALLS, 3.0, -1))
        for _ in range(2):             # things along the side: boxes at least 1.8 m off the walking line
            bx = side * float(rng.uniform(1.8, 2.3))
            bz = float(rng.uniform(1.0, 14.0))
            bw, bh = float(rng.uniform(0.3, 0.6)), float(rng.uniform(0.4, 1.6))
            _box(quads, bx - bw / 2, bx + bw / 2, 0.0, bh, bz, bz + bw, OTHER, 1.0, -1)
    quads.append(Quad((-40.0, -2.0, 40.0), (1, 0, 0), (0, 1, 0), 80.0, 20.0, BACK, 8.0, -1))
    travel = max(0.0, start - END_DISTANCE_M)
    if static:
        duration = 6.0
    elif kind in PASS_KINDS:
        duration = 8.0                 # well past it
    elif kind in DROP_KINDS:
        duration = (start - 0.3) / speed
    else:
        duration = travel / speed
    sway = {"bob": float(rng.uniform(0.015, 0.03)), "lat": float(rng.uniform(0.02, 0.05)),
            "step_hz": float(rng.uniform(1.7, 2.0)), "yaw": float(rng.uniform(0.8, 2.5)),
            "yaw_hz": float(rng.uniform(0.25, 0.5)), "pitch": float(rng.uniform(0.5, 1.5)),
            "roll": float(rng.uniform(0.5, 1.5)), "phase": float(rng.uniform(0, 2 * math.pi)),
            "blur_p": 0.25, "gain": float(rng.uniform(0.08, 0.2)), "noise": float(rng.uniform(1.0, 3.0))}
    return Scene(kind, seed, speed, quads, obstacles, textures, duration, sway)


def pose(scene: Scene, t: float) -> tuple[np.ndarray, np.ndarray]:
    """(camera centre [3], rotation camera->world [3, 3]) at time t."""
    s = scene.sway
    ph, step = s["phase"], 2 * math.pi * s["step_hz"] * t
    c = np.array([s["lat"] * math.sin(step / 2 + ph), CAMERA_H + s["bob"] * math.sin(step + ph), scene.speed * t])
    yaw = math.radians(s["yaw"]) * math.sin(2 * math.pi * s["yaw_hz"] * t + ph)
    pitch = math.radians(scene.camera.tilt_deg + s["pitch"] * math.sin(step + 0.7 + ph))
    roll = math.radians(s["roll"]) * math.sin(step / 2 + 1.3 + ph)
    cy, sy, cp, sp, cr, sr = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])     # pitch > 0 turns the view down
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return c, ry @ rx @ rz


def _rays(width: int, height: int, camera: CameraModel) -> np.ndarray:
    f = camera.focal_px(width)
    xs = (np.arange(width) + 0.5 - width / 2) / f
    ys = -(np.arange(height) + 0.5 - height / 2) / f
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx, gy, np.ones_like(gx)], axis=-1).reshape(-1, 3)    # [H*W, 3], camera frame, y up


def render(scene: Scene, t: float, width: int = W, height: int = H) -> tuple[np.ndarray, list[Truth]]:
    """The frame at time t ([height, width, 3] uint8 BGR) and the truth for each obstacle."""
    c, rot = pose(scene, t)
    rays_c = _rays(width, height, scene.camera)
    d = rays_c @ rot.T                                               # [N, 3] world directions
    n = d.shape[0]
    f = scene.camera.focal_px(width)
    best = np.full(n, np.inf)
    which = np.full(n, -1, dtype=np.int32)
    ua = np.zeros(n)
    va = np.zeros(n)
    grid = np.arange(n).reshape(height, width)
    for qi, q in enumerate(scene.quads):
        p0, u, v = np.asarray(q.p0, float), np.asarray(q.u, float), np.asarray(q.v, float)
        idx = _footprint(grid, p0, u * q.lu, v * q.lv, c, rot, f, width, height)
        if idx is None:
            continue
        nrm = np.cross(u, v)
        den = d[idx] @ nrm
        with np.errstate(divide="ignore", invalid="ignore"):
            tt = ((p0 - c) @ nrm) / den
        ok = np.isfinite(tt) & (tt > 0.05) & (tt < best[idx])
        idx, tt = idx[ok], tt[ok]
        if not len(idx):
            continue
        p = c + tt[:, None] * d[idx] - p0
        a, b = p @ u, p @ v
        inside = (a >= 0) & (a <= q.lu) & (b >= 0) & (b <= q.lv)
        idx = idx[inside]
        best[idx] = tt[inside]
        which[idx] = qi
        ua[idx], va[idx] = a[inside], b[inside]
    grey = np.full(n, 128.0, dtype=np.float32)
    for qi, q in enumerate(scene.quads):
        idx = np.nonzero(which == qi)[0]
        if not len(idx):
            continue
        pyr = scene.textures[q.tex]
        texels_per_m = pyr[0].shape[1] / q.tex_m
        nrm = np.cross(q.u, q.v)
        cos_inc = np.abs(d[idx] @ nrm) / np.linalg.norm(d[idx], axis=1)
        foot = best[idx] * np.linalg.norm(d[idx], axis=1) / f / np.sqrt(np.maximum(cos_inc, 0.05)) * texels_per_m
        # Trilinear: blend the two nearest pyramid levels, so a texel never switches level abruptly
        # as the camera nears (that would break the brightness constancy optical flow relies on).
        level = np.clip(np.log2(np.maximum(foot, 1.0)), 0, len(pyr) - 1.001)
        lo = np.floor(level).astype(int)
        frac = (level - lo).astype(np.float32)
        val = np.zeros(len(idx), np.float32)
        for lv in np.unique(lo):
            m = lo == lv
            sel = idx[m]
            for j, wgt in ((lv, 1.0 - frac[m]), (lv + 1, frac[m])):
                img = pyr[j]
                scale = img.shape[1] / q.tex_m
                val[m] += wgt * _sample(img, ua[sel] * scale, (q.lv - va[sel]) * scale)
        grey[idx] = val
    img = grey.reshape(height, width)
    rng = np.random.default_rng(zlib.crc32(f"{scene.name}:{round(t * 1000)}".encode()))
    s = scene.sway
    if rng.random() < s["blur_p"]:                                   # motion blur along a random direction
        length = int(rng.integers(3, 8))
        k = np.zeros((length, length), np.float32)
        ang = rng.uniform(0, math.pi)
        for i in range(length):
            o = i - (length - 1) / 2
            k[int(round((length - 1) / 2 + o * math.sin(ang))), int(round((length - 1) / 2 + o * math.cos(ang)))] = 1
        img = cv2.filter2D(img, -1, k / k.sum())
    gain = 1.0 + s["gain"] * math.sin(2 * math.pi * t / 3.1 + s["phase"])
    img = img * gain + rng.normal(0, s["noise"], img.shape)
    bgr = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return bgr, _truth(scene, c, which.reshape(height, width))


def _footprint(grid, p0, eu, ev, c, rot, f, width, height):
    """The pixels (flat indices) a quad can cover: the bounding rectangle of its projected corners
    when all of them are in front of the camera, else every pixel; None when it cannot show."""
    corners = np.array([p0, p0 + eu, p0 + ev, p0 + eu + ev]) - c
    cam = corners @ rot                                              # world -> camera (y up, z forward)
    if (cam[:, 2] <= 0.05).all():
        return None
    if (cam[:, 2] <= 0.05).any():
        return grid.reshape(-1)
    px = cam[:, 0] / cam[:, 2] * f + width / 2
    py = -cam[:, 1] / cam[:, 2] * f + height / 2
    x0, x1 = max(0, int(np.floor(px.min())) - 1), min(width, int(np.ceil(px.max())) + 1)
    y0, y1 = max(0, int(np.floor(py.min())) - 1), min(height, int(np.ceil(py.max())) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    return grid[y0:y1, x0:x1].reshape(-1)


def _sample(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear samples of a repeating texture at (x, y) texels."""
    n, cols = len(x), 1024
    rows = -(-n // cols)
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n] = np.mod(x, img.shape[1])
    my[:n] = np.mod(y, img.shape[0])
    out = cv2.remap(img, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return out.reshape(-1)[:n]


def _truth(scene: Scene, c: np.ndarray, which: np.ndarray) -> list[Truth]:
    out = []
    speed = max(scene.speed, 1e-6)
    ob_of_quad = np.array([q.obstacle for q in scene.quads] + [-1])
    ob_map = ob_of_quad[which]                                       # which = -1 picks the trailing -1
    for i, ob in enumerate(scene.obstacles):
        dist = ob.z_front - c[2]
        lat = 0.0 if ob.x_min <= c[0] <= ob.x_max else min(abs(ob.x_min - c[0]), abs(ob.x_max - c[0]))
        ys, xs = np.nonzero(ob_map == i)
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)) if len(xs) else None
        ttc = dist / speed if scene.speed > 0 else math.inf
        out.append(Truth(i, float(dist), float(lat), float(ttc), box, int(len(xs))))
    return out


def frames(scene: Scene, width: int = W, height: int = H, fps: float = FPS):
    """(timestamp, image, truths) for every frame of the walk, `fps` frames a second."""
    for k in range(int(scene.duration_s * fps) + 1):
        t = k / fps
        img, truth = render(scene, t, width, height)
        yield t, img, truth


def scenes(split: str, per_kind: int) -> list[Scene]:
    """per_kind scenes of every kind for a split (dev: even seeds, test: odd)."""
    first = 0 if split == "dev" else 1
    return [make_scene(k, first + 2 * i) for k in KINDS for i in range(per_kind)]


# -- null walks: real video where nothing is on a collision course -----------------------------

def null_walks() -> list[tuple[str, Path | list[Path], float]]:
    """(name, video file or list of frame files, fps) for the real clips in ../shared/data; the shipped
    sample clip when there is no data folder."""
    out: list[tuple[str, Path | list[Path], float]] = []
    v = DATA / "videos_walking_driving"
    for name in ("opencv_vtest.avi", "intel_one-by-one-person-detection.mp4", "udacity_lanelines_solidWhiteRight.mp4",
                 "udacity_vehicle-detection_test_video.mp4"):
        if (v / name).is_file():
            out.append((name, v / name, 0.0))
    m = DATA / "mot17_clips"
    if m.is_dir():
        for seq in sorted(m.iterdir()):
            imgs = sorted((seq / "img1").glob("*.jpg"))
            if imgs:
                rate = 30.0
                ini = seq / "seqinfo.ini"
                if ini.is_file():
                    for line in ini.read_text().splitlines():
                        if line.startswith("frameRate="):
                            rate = float(line.split("=")[1])
                out.append((seq.name, imgs, rate))
    if not out:
        from engine.samples import sample_video
        out.append(("sample", sample_video(), 0.0))
    return out


def read_walk(source, fps: float, limit_s: float | None = None):
    """(timestamp, BGR image) from a video file or a list of frame files."""
    if isinstance(source, list):
        for i, p in enumerate(source):
            img = cv2.imread(str(p))
            if img is not None:
                yield i / fps, img
        return
    cap = cv2.VideoCapture(str(source))
    rate = cap.get(cv2.CAP_PROP_FPS) or 10.0
    i = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            t = i / rate
            if limit_s is not None and t > limit_s:
                break
            yield t, img
            i += 1
    finally:
        cap.release()


# -- the evaluation -----------------------------------------------------------------------------

WARN_BEFORE_S = 1.5           # a warning counts if it came at least this long before contact
STOP_BEFORE_M = 1.0           # "Stop!" about an edge counts if it came at least this far from it (under 1 s walking)
TTC_TRUTH_MAX_S = 3.0         # TTC error is measured where the true TTC is under this


@dataclass
class SceneResult:
    name: str
    kind: str
    split: str
    band: str
    size: str
    texture: str
    frames: int
    duration_s: float
    warned: bool | None           # None for scenes with nothing in the path (beside)
    first_warning_ttc_s: float | None   # the true TTC when the first matching warning came
    false_onsets: int             # lane hazards (new ids) matching nothing in the path
    ttc_errors: list[float]       # |estimated - true| where the true TTC < TTC_TRUTH_MAX_S
    lane_ms: list[float]
    false_cues: int = 0           # cues the default profile's cue policy said about those false hazards
    dist_errors: list[float] = field(default_factory=list)   # drop-offs: |said - true| distance to the edge (m)
    stop_at_m: float | None = None     # drop-offs: the true distance to the edge when it was first a danger ("Stop!")


def _overlaps(a, b) -> bool:
    return b is not None and min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


class _Listener:
    """The default profile's cue policy over the lane's hazards: what a user would hear (dedupe,
    cooldown and budget included). Only hazard cues are kept: (track id, words)."""

    def __init__(self) -> None:
        from maxsight_app.cues.policy import CuePolicy
        from maxsight_app.profile.schema import Profile
        self.policy, self.prefs, self.said = CuePolicy(), Profile(), []

    def hear(self, t: float, img: np.ndarray, hazards) -> None:
        from engine.stage_a import quality
        from engine.types import FrameResult
        from maxsight_app.cues.types import CueKind
        r = FrameResult(frame_index=int(round(t * 100)), timestamp=t, image_size=(img.shape[1], img.shape[0]), detections=(),
                        tracks=(), hazards=tuple(hazards), quality=quality.measure(img), uncertainty=0.0)
        self.said += [(c.track_id, c.text) for c in self.policy.decide(r, self.prefs, t) if c.kind is CueKind.HAZARD]


def run_scene(scene: Scene, make_lane, cached: list | None = None, fps: float = FPS) -> SceneResult:
    """Run a fresh lane (make_lane()) over a scene's frames (or `cached` (t, image, truths) ones)."""
    import time
    from engine.stage_a.collision import DROP
    from engine.types import Urgency
    lane = make_lane()
    listener = _Listener()
    ob = scene.obstacles[0]
    path_kind = scene.kind in PATH_KINDS
    drop_kind = scene.kind in DROP_KINDS
    warned_ttc = None
    matched_ids: set[int] = set()
    seen_ids: set[int] = set()
    false_ids: set[int] = set()
    errs: list[float] = []
    dist_errs: list[float] = []
    stop_at = None
    ms: list[float] = []
    n = 0
    for t, img, truth in (cached if cached is not None else frames(scene, fps=fps)):
        n += 1
        t0 = time.perf_counter()
        hazards = lane.update(img, t)
        ms.append((time.perf_counter() - t0) * 1e3)
        listener.hear(t, img, hazards)
        tr = truth[0]
        for h in hazards:
            if drop_kind:
                hit = h.label == DROP
            else:
                hit = path_kind and h.label != DROP and _overlaps(h.box, tr.box)
            if hit:
                matched_ids.add(h.track_id)
                if drop_kind:
                    dist_errs.append(abs(h.distance_m - tr.distance_m))
                    if h.urgency == Urgency.DANGER and stop_at is None:
                        stop_at = tr.distance_m
                if tr.ttc_s >= WARN_BEFORE_S and (warned_ttc is None or tr.ttc_s > warned_ttc):
                    warned_ttc = tr.ttc_s
                if tr.ttc_s < TTC_TRUTH_MAX_S and h.ttc_s is not None:
                    errs.append(abs(h.ttc_s - tr.ttc_s))
            elif h.track_id not in matched_ids and h.track_id not in seen_ids:
                false_ids.add(h.track_id)
            seen_ids.add(h.track_id)
    false_ids -= matched_ids
    warned = None if scene.kind in PASS_KINDS else warned_ttc is not None
    false_cues = sum(tid in false_ids for tid, _ in listener.said)
    return SceneResult(scene.name, scene.kind, scene.split, ob.band, ob.size, ob.texture, n, n / fps, warned,
                       warned_ttc, len(false_ids), errs, ms, false_cues, dist_errs, stop_at)


def run_null(name: str, source, fps: float, make_lane, limit_s: float | None = None) -> dict:
    """A real clip where nothing is on a collision course: every lane hazard (new id) is a nuisance."""
    import time
    lane = make_lane()
    listener = _Listener()
    ids: set[int] = set()
    n, last_t, ms = 0, 0.0, []
    for t, img in read_walk(source, fps or 10.0, limit_s):
        t0 = time.perf_counter()
        hazards = lane.update(img, t)
        ms.append((time.perf_counter() - t0) * 1e3)
        ids |= {h.track_id for h in hazards}
        listener.hear(t, img, hazards)
        n, last_t = n + 1, t
    dur = last_t + (1.0 / fps if fps else 0.1)
    return {"name": name, "frames": n, "duration_s": round(dur, 2), "false_onsets": len(ids),
            "per_minute": round(len(ids) / dur * 60, 2) if dur > 0 else 0.0, "false_cues": len(listener.said),
            "said": [w for _, w in listener.said][:20]}


def summarise(results: list[SceneResult], nulls: list[dict]) -> dict:
    """Counts and rates by split, kind, band, size and texture."""
    def rate(rs):
        rs = [r for r in rs if r.warned is not None]
        k = sum(r.warned for r in rs)
        return {"warned": k, "of": len(rs), "rate": round(k / len(rs), 3) if rs else None}
    out: dict = {}
    for split in ("dev", "test"):
        rs = [r for r in results if r.split == split]
        if not rs:
            continue
        path = [r for r in rs if r.kind in PATH_KINDS]
        drops = [r for r in rs if r.kind in DROP_KINDS]
        errs = [e for r in path for e in r.ttc_errors]
        derrs = [e for r in drops for e in r.ttc_errors]
        dd = [e for r in drops for e in r.dist_errors]
        minutes = sum(r.duration_s for r in rs) / 60
        fa = sum(r.false_onsets for r in rs)
        out[split] = {
            "obstacles": rate(path),
            "by_kind": {k: rate([r for r in rs if r.kind == k]) for k in PATH_KINDS + DROP_KINDS},
            "by_band": {b: rate([r for r in path if r.band == b]) for b in ("ground", "body", "head")},
            "by_size": {s: rate([r for r in path if r.size == s]) for s in ("thin", "small", "large")},
            "by_texture": {x: rate([r for r in path if r.texture == x]) for x in ("textured", "low")},
            "drop_offs": rate(drops),
            "ttc_error_s": {"n": len(errs), "median": round(float(np.median(errs)), 2) if errs else None,
                            "p90": round(float(np.percentile(errs, 90)), 2) if errs else None},
            "drop_ttc_error_s": {"n": len(derrs), "median": round(float(np.median(derrs)), 2) if derrs else None},
            "drop_distance_error_m": {"n": len(dd), "median": round(float(np.median(dd)), 2) if dd else None,
                                      "p90": round(float(np.percentile(dd, 90)), 2) if dd else None},
            # "Stop!" (a danger) while the edge was still STOP_BEFORE_M or more away: time to stop.
            "drop_stop_in_time": {"stopped": sum(r.stop_at_m is not None and r.stop_at_m >= STOP_BEFORE_M for r in drops),
                                  "said": sum(r.warned is True for r in drops), "of": len(drops)},
            "synthetic_false_onsets": fa, "synthetic_minutes": round(minutes, 2),
            "synthetic_false_cues": sum(r.false_cues for r in rs),
            "synthetic_false_cues_per_minute": round(sum(r.false_cues for r in rs) / minutes, 2) if minutes else None,
            "synthetic_false_per_minute": round(fa / minutes, 2) if minutes else None,
            "beside_false_onsets": sum(r.false_onsets for r in rs if r.kind in PASS_KINDS),
            "beside_scenes": sum(r.kind in PASS_KINDS for r in rs),
        }
    if nulls:
        mins = sum(n["duration_s"] for n in nulls) / 60
        k = sum(n["false_onsets"] for n in nulls)
        cues = sum(n.get("false_cues", 0) for n in nulls)
        out["null_walks"] = {"clips": nulls, "false_onsets": k, "minutes": round(mins, 2),
                             "per_minute": round(k / mins, 2) if mins else None, "false_cues": cues,
                             "false_cues_per_minute": round(cues / mins, 2) if mins else None}
    ms = [m for r in results for m in r.lane_ms[1:]]
    if ms:
        out["lane_ms"] = {"median": round(float(np.median(ms)), 2), "p95": round(float(np.percentile(ms, 95)), 2),
                          "frames": len(ms)}
    return out


# -- fitting on dev, reporting dev and test -------------------------------------------------------

# What is fitted on the dev half (every combination is tried; the rest of CollisionConfig stays).
GRID = {"min_parallax": (0.0, 0.03), "floor_margin": (1.3, 1.5, 1.8), "persist_ground_s": (0.3, 0.4, 0.6),
        "min_region_windows": (2, 3)}
FALSE_PER_MIN_TARGET = 1.0
WARNED_TARGET = 0.9


def _lane_factory(camera: CameraModel, config):
    from engine.stage_a.collision import CollisionLane
    return lambda: CollisionLane(camera, config)


def fit(dev: list[tuple[Scene, list]], base, camera: CameraModel, fps: float = FPS) -> tuple[object, list[dict]]:
    """The CollisionConfig (base with GRID's fields changed) that warns of the most dev obstacles at
    the fewest false onsets per synthetic minute: among those at or under FALSE_PER_MIN_TARGET the
    most warned; if none is, the fewest false onsets among those warning of WARNED_TARGET; else the
    fewest false onsets. Returns it and every combination's dev numbers."""
    import itertools
    from dataclasses import replace
    keys = list(GRID)
    rows = []
    for values in itertools.product(*(GRID[k] for k in keys)):
        cfg = replace(base, **dict(zip(keys, values)))
        rs = [run_scene(s, _lane_factory(camera, cfg), cached=fr, fps=fps) for s, fr in dev]
        d = summarise(rs, [])["dev"]
        rows.append({"config": dict(zip(keys, values)), "warned": d["obstacles"]["rate"], "drops": d["drop_offs"]["rate"],
                     "false_per_min": d["synthetic_false_per_minute"], "_cfg": cfg})
    ok = [r for r in rows if r["false_per_min"] <= FALSE_PER_MIN_TARGET]
    if ok:
        best = max(ok, key=lambda r: (r["warned"], r["drops"], -r["false_per_min"]))
    else:
        good = [r for r in rows if r["warned"] >= WARNED_TARGET]
        best = min(good or rows, key=lambda r: (r["false_per_min"], -r["warned"]))
    cfg = best["_cfg"]
    return cfg, [{k: v for k, v in r.items() if k != "_cfg"} for r in rows]


def evaluate(per_kind: int, config, camera: CameraModel | None = None, do_fit: bool = False,
             null_limit_s: float | None = 90.0, nulls: bool = True, log=None, fps: float = FPS) -> dict:
    """Dev and test scenes (per_kind of each kind) rendered at `fps`, thresholds fitted on dev when
    do_fit, and the null walks (at their own frame rates); one dict with counts. A webcam gives the
    app 15-30 frames a second: the lane must mean the same at any of them."""
    from dataclasses import asdict
    camera = camera or CameraModel()
    say = log or (lambda m: None)
    out: dict = {"per_kind": per_kind, "fps": fps, "size": [W, H]}
    dev = []
    for s in scenes("dev", per_kind):
        dev.append((s, list(frames(s, fps=fps))))
        say(f"rendered {s.name}")
    if do_fit:
        config, grid = fit(dev, config, camera, fps)
        out["fit"] = grid
    out["config"] = asdict(config)
    results = [run_scene(s, _lane_factory(camera, config), cached=fr, fps=fps) for s, fr in dev]
    del dev
    for s in scenes("test", per_kind):
        results.append(run_scene(s, _lane_factory(camera, config), fps=fps))
        say(f"ran {s.name}")
    null_res = []
    if nulls:
        for name, src, fps in null_walks():
            null_res.append(run_null(name, src, fps, _lane_factory(camera, config), null_limit_s))
            say(f"ran null walk {name}")
    out.update(summarise(results, null_res))
    out["scenes"] = [{"name": r.name, "split": r.split, "warned": r.warned, "first_warning_ttc_s": r.first_warning_ttc_s,
                      "false_onsets": r.false_onsets} for r in results]
    return out


def table(result: dict) -> str:
    def c(d):
        return f"{d['warned']}/{d['of']}" if d and d.get("of") else "-"
    lines = [f"Collision lane on rendered walks ({result['per_kind']} scenes per kind per split, {result['fps']:g} fps, "
             f"{result['size'][0]}x{result['size'][1]}); warned = at least {WARN_BEFORE_S:g} s before contact"]
    for split in ("dev", "test"):
        d = result.get(split)
        if not d:
            continue
        kinds = ", ".join(f"{k} {c(v)}" for k, v in d["by_kind"].items())
        lines += [f"{split}: obstacles warned {c(d['obstacles'])}  ({kinds})",
                  f"  by band: " + ", ".join(f"{k} {c(v)}" for k, v in d["by_band"].items())
                  + "; by size: " + ", ".join(f"{k} {c(v)}" for k, v in d["by_size"].items())
                  + "; by texture: " + ", ".join(f"{k} {c(v)}" for k, v in d["by_texture"].items()),
                  f"  drop-offs warned {c(d['drop_offs'])}; TTC error where truth < {TTC_TRUTH_MAX_S:g} s: median "
                  f"{d['ttc_error_s']['median']} s, p90 {d['ttc_error_s']['p90']} s (n={d['ttc_error_s']['n']})",
                  f"  drop-offs: distance error median {d['drop_distance_error_m']['median']} m, p90 "
                  f"{d['drop_distance_error_m']['p90']} m (n={d['drop_distance_error_m']['n']} frames); \"Stop!\" while "
                  f"the edge was {STOP_BEFORE_M:g} m or more away: {d['drop_stop_in_time']['stopped']}/{d['drop_stop_in_time']['of']}",
                  f"  false onsets on rendered walks: {d['synthetic_false_onsets']} in {d['synthetic_minutes']} min "
                  f"({d['synthetic_false_per_minute']}/min; walking past a wall or pole: {d['beside_false_onsets']} in "
                  f"{d['beside_scenes']} scenes); said by the cue policy (default profile): "
                  f"{d['synthetic_false_cues']} ({d['synthetic_false_cues_per_minute']}/min)"]
    n = result.get("null_walks")
    if n:
        lines.append(f"null walks (real video, nothing on a collision course): {n['false_onsets']} false onsets in "
                     f"{n['minutes']} min = {n['per_minute']}/min; said: {n['false_cues']} = {n['false_cues_per_minute']}/min")
        lines += [f"  {x['name']}: {x['false_onsets']} in {x['duration_s']} s, said {x['false_cues']}" for x in n["clips"]]
    if "lane_ms" in result:
        m = result["lane_ms"]
        lines.append(f"lane cost: median {m['median']} ms, p95 {m['p95']} ms per frame ({m['frames']} frames, this machine, "
                     f"while rendering)")
    return "\n".join(lines)
