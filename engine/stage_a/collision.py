"""Whatever is in the way: a class-agnostic "in your path" lane from image motion.

Every frame, dense optical flow (OpenCV DIS, "fast" preset) at 320 px against the frame baseline_s
ago. Then:
  * the walker's rotation is taken out: a camera turning adds nearly the same motion everywhere, and
    to first order its effect on the local stretch is (2 x u0 + y v0) / f^2 for the rotation's flow
    (u0, v0) at the image centre; u0 is the median horizontal flow, v0 the median vertical flow on
    the horizon row (where walking forward moves nothing up or down);
  * local stretch per window (32 px windows at a 16 px stride): e_x = du/dx and e_y = dv/dy, least
    squares slopes inside the window, so a constant offset (what is left of the rotation, a step's
    sway) does not matter. A surface facing the walker has e_x = e_y = speed / depth: its inverse is
    the time to contact (looming; the divergence e_x + e_y is 2 / TTC);
  * the floor model: the floor at image row y lies at depth h / (y cos(tilt) / f + sin(tilt)), so it
    stretches across at e_floor(y) = k cos(tilt) (y cos(tilt) / f + sin(tilt)), k = speed / camera
    height, and down the picture twice as fast. k is the median over the lower windows that stretch
    like floor (forward speed from the floor), smoothed over time. A step's bob adds the same amount
    to the floor's e_y everywhere (measured on the lower windows and taken out for the floor test);
  * looming per window: above the horizon the larger of e_x and e_y (a pole narrower than a window
    spoils e_x, a board lower than a window e_y); below it e_x only (e_y is the floor's and the bob's);
  * a window is on a collision course when its TTC is under ttc_s; below the horizon it must stretch
    across floor_margin times faster than the floor at its row and down less than floor_ratio times
    across, and stand up from the floor (plane plus parallax: the floor's homography from the old
    frame to this one is fitted, RANSAC, to the flow over the lower picture; what it leaves of a
    window's motion, along the line from the heading point, over the floor's own motion there, is
    about the window's height above the floor over its depth; it must reach min_parallax. Flow
    errors over plain floor stretch like looming, but leave no parallax); it is not a wall
    alongside the walk (e_x = 2 e_y there, and depth from e_y puts it outside the corridor); it
    has texture across (down) for its stretch across (down) to mean something; and its 3D point
    (depth from the looming and the speed) is inside the walking corridor (half-width
    corridor_half_m, from the floor to head_top_m);
  * windows on course for persist_s running (persist_ground_s over the floor, where
    the flow's errors look most like looming), outside the boxes of confirmed tracks (a detected
    object keeps its class name), are grouped into regions of at least min_region_windows. A region
    the lane reported in the last REGION_MEMORY_S is followed and always said. A new one so far to a
    side that a thing in the corridor could be there only within side_near_m is passing by (a wall
    alongside); a new one wholly in the bottom third, under min_new_ttc_s from contact (the floor's
    flow at its largest), is said once it has held for DOUBT_S. Each is a Hazard:
    "obstacle", or "at head height" when all of it is above head_band_m with something farther
    beneath it (the cane does not find it), with its bearing, distance (TTC x speed) and TTC;
  * the floor ending (drop_off): across the corridor, the floor's stretch holds up to a row and
    everything above it (below the horizon) stretches far more slowly than the floor there would (a
    lower floor is farther): "drop-off" at the last row that still moves like floor (the near
    side of the edge). Once it leaves the bottom of the picture the edge is carried on by an
    odometer: the highest speed read while it was in sight, counted only while this frame's own
    floor flow says the walker moves. It is forgotten after drop_carry_s of walking without seeing
    it (or DROP_MEMORY_S in all): a walker who pauses before it still hears it walking on.
    Where the door and stairs detector sees stairs going down ahead at about that distance, the two
    are one edge, said as the stairs (CollisionLane.join_stairs, after both lanes have run).
The lane finds new hazards only while the walker moves (speed over min_speed_mps): it warns of what
the user walks into (an edge already found is kept while the walker stands). Things that move toward a still user are the detectors' and the tracker's business.
A covered, dark or textureless picture gives windows without texture: no flow, no hazard (the
quality notices say "I can't see well"). A glass-like panel is the same: only its edges move.

Urgency (the lane's own rules; the cue policy, dedupe and screen reader then treat these like any
hazard): an obstacle is a warning within 1.5 s or 1.5 m, else a caution; something at head height is
a warning within ttc_s (a cane does not find it); a drop-off is a danger within 1.5 m, else a warning.
The hazards are not "approaching" (the user walks into them; nothing moves): the words are
"Warning, obstacle, straight ahead, 2 metres". Measured: docs/measurements/issue23.md.
"""
from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from dataclasses import dataclass, replace

import cv2
import numpy as np

from engine.config import CameraModel, CollisionConfig
from engine.models.boxes import box_iou
from engine.stage_a.geometry import clock_from_bearing, zone_for
from engine.stage_a.urgency import STAIRS_AHEAD_DEG, STAIRS_DOWN
from engine.types import Hazard, Track, Urgency

log = logging.getLogger(__name__)

OBSTACLE, HEAD, DROP = "obstacle", "at head height", "drop-off"
LABELS = (OBSTACLE, HEAD, DROP)
# The lane's hazard ids: apart from the COCO tracker's (from 1) and the door and stairs tracker's
# (from access.FIRST_ID, 1,000,000). The cue policy remembers what was said per id, so a shared id
# would let a door's caution or a "Stop!" about stairs silence an obstacle.
# Lanes rebuilt (a new setting) or reset go on counting, so a "Stop!" the policy still remembers
# about an old region never stands for a new one.
ID_BASE = 2_000_000
_IDS = itertools.count(ID_BASE)
CLASS_ID = -1                 # no COCO class
BLOCK = 16                    # block size (px at the working width); a window is n x n blocks
MAX_DT = 0.5                  # frames further apart than this restart the flow
PARALLAX_FIT_PX = 1.0         # the floor homography's RANSAC tolerance (px at the working width)
REGION_MEMORY_S = 1.0         # a reported region is still "followed" this long after it was last seen
# A drop-off and a flight of stairs going down that the detector is sure of (class and score) are
# one edge when their distances agree within this (metres, or this share of the farther one); a
# pair once made holds while either is seen within STAIRS_HOLD_S, and lets go at twice the distance.
STAIRS_JOIN_M, STAIRS_JOIN_SHARE, STAIRS_JOIN_SCORE, STAIRS_HOLD_S = 1.0, 0.4, 0.45, 1.0
DROP_RECEDE_MPS = 1.0         # a drop-off's estimate may move away at most this fast (the flow's noise)
DROP_MEMORY_S = 30.0          # an edge out of sight is kept at most this long, even by a walker standing still
DOUBT_S = 0.2                 # a doubted new region is reported once it has been on course this long
GAP_S = 0.1                   # a run of evidence survives frames missing within this (one sample at 10 fps)
TIME_TOL_S = 1e-3             # clock rounding: 0.7 - 0.3 is 0.39999999999999997
NEVER = math.inf              # "not on course" as a start time (later than any clock)


@dataclass
class Windows:
    """Per-window measurements of the last frame, [rows, cols] each (for the evaluation and tests)."""
    ex: np.ndarray
    ey: np.ndarray
    textured: np.ndarray
    floor: np.ndarray             # the floor model's expansion at each window's row
    candidate: np.ndarray
    persisted: np.ndarray
    k: float                      # speed / camera height (1/s)


class CollisionLane:
    def __init__(self, camera: CameraModel, config: CollisionConfig | None = None) -> None:
        self.camera = camera
        self.config = config or CollisionConfig()
        preset = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                  "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[self.config.flow]
        self._dis = cv2.DISOpticalFlow_create(preset)
        self.reset()

    def reset(self) -> None:
        self._history: deque = deque()                 # (t, grey) of the frames within baseline_s
        self._k: float | None = None
        self._since: np.ndarray | None = None              # per window: when its run on course began (NEVER: none)
        self._last_on: np.ndarray | None = None            # per window: when it was last on course
        self._ex: np.ndarray | None = None
        self._ey: np.ndarray | None = None
        self._grid: np.ndarray | None = None               # [2, rows, cols] pixel coordinates
        self._regions: list[tuple[int, tuple[float, float, float, float], float]] = []   # (id, box, last seen) reported
        self._doubted: list[tuple[tuple[float, float, float, float], float, float]] = []  # (box, first, last seen) new, held back
        self._drop: tuple | None = None                    # (distance m, at odometer m, id, last seen (s), walked then (s))
        self._drop_since: float | None = None          # when the floor's edge was first seen, this run
        self._drop_last = -NEVER                           # ...and last seen
        self._drop_v = 0.0                                 # the highest speed read while the edge was in sight
        self._raw_speed = 0.0                              # this frame's floor speed, unsmoothed
        self._odo, self._walk_s, self._odo_t = 0.0, 0.0, None   # metres and seconds walked (for carried edges)
        # The joined edge: (stairs id, last time, distance, urgency, odometer then, the edge's box, clock, bearing)
        self._stairs_pair: tuple | None = None
        self._prev_t: float | None = None                  # the last frame's time (whatever came of it)
        self._t_before: float | None = None                # ...and, while a frame is handled, the one before it
        self.last: Windows | None = None

    @property
    def speed_mps(self) -> float:
        return 0.0 if self._k is None else self._k * self.camera.height_m

    def update(self, image: np.ndarray, t: float, tracks: tuple[Track, ...] = ()) -> tuple[Hazard, ...]:
        """Hazards for this frame ([H, W, 3] uint8 BGR), most urgent first."""
        cfg = self.config
        h0, w0 = image.shape[:2]
        width = cfg.width
        height = max(2 * BLOCK, int(round(h0 * width / w0 / BLOCK)) * BLOCK)
        grey = cv2.cvtColor(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        hist = self._history
        if hist and (hist[0][1].shape != grey.shape or not 0 < t - hist[-1][0] <= MAX_DT):
            hist_t, hist_shape = hist[-1][0], hist[0][1].shape
            hist.clear()
            self._since = self._last_on = self._ex = self._ey = None
            # Runs of evidence end here too (a clock gone back must not inherit the old clock's).
            self._doubted, self._drop_since, self._drop_last = [], None, -NEVER
            if t < hist_t or hist_shape != grey.shape:     # another video, or the same one again
                self._drop, self._drop_v, self._stairs_pair, self._odo_t = None, 0.0, None, None
        self._t_before, self._prev_t = self._prev_t, t
        dt = t - hist[-1][0] if hist else 0.0
        # Flow against the oldest frame within baseline_s: a longer baseline makes the looming larger
        # against the flow's own errors (measured: see docs/measurements/issue23.md).
        old = next(((to, g) for to, g in hist if t - to <= cfg.baseline_s + 1e-6), hist[-1] if hist else None)
        hist.append((t, grey))
        while len(hist) > 1 and t - hist[0][0] > cfg.baseline_s + 1e-6:
            hist.popleft()
        if old is None:
            return ()
        span = t - old[0]
        flow = self._dis.calc(old[1], grey, None)                   # [height, width, 2] px over the span
        assert flow.shape == (height, width, 2), f"flow {flow.shape} for a {width}x{height} picture"
        return self._from_flow(flow / span, grey, t, dt, span, (w0, h0), tracks)

    # -- the measurement ---------------------------------------------------------------------------
    def _from_flow(self, rate, grey, t, dt, span, size, tracks) -> tuple[Hazard, ...]:
        cfg, cam = self.config, self.camera
        height, width = grey.shape
        f = cam.focal_px(width)
        tilt = math.radians(cam.tilt_deg)
        ct, st = math.cos(tilt), math.sin(tilt)
        u, v = rate[..., 0], rate[..., 1]
        xs = np.arange(width, dtype=np.float32) - width / 2 + 0.5
        ys = np.arange(height, dtype=np.float32) - height / 2 + 0.5
        horizon = -f * math.tan(tilt)                                 # image row (from centre) of the horizon
        band = np.abs(ys - horizon) <= BLOCK
        u0 = float(np.median(u))
        v0 = float(np.median(v[band])) if band.any() else float(np.median(v))
        # Block means [rows, cols] of what the window slopes need.
        bx = xs[None, :]
        by = ys[:, None]
        gx = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3))
        gy = np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))
        stack = np.stack([u, u * bx, v, v * by, gx, gy], axis=-1).astype(np.float32)
        blocks = cv2.resize(stack, (width // BLOCK, height // BLOCK), interpolation=cv2.INTER_AREA)
        nb = cfg.window_blocks
        rows, cols = blocks.shape[0] - nb + 1, blocks.shape[1] - nb + 1
        win = sum(blocks[i:i + rows, j:j + cols] for i in range(nb) for j in range(nb)) / (nb * nb)   # n x n-block windows
        cx = (np.arange(cols, dtype=np.float32) + nb / 2) * BLOCK - width / 2      # window centres
        cy = (np.arange(rows, dtype=np.float32) + nb / 2) * BLOCK - height / 2
        var = ((nb * BLOCK) ** 2 - 1) / 12.0
        half = nb * BLOCK / 2
        ex = (win[..., 1] - cx[None, :] * win[..., 0]) / var
        ey = (win[..., 3] - cy[:, None] * win[..., 2]) / var
        # Rotation's share of the expansion (first order), taken out.
        ex = ex - (2 * cx[None, :] * u0 + cy[:, None] * v0) / (f * f)
        ey = ey - (2 * cy[:, None] * v0 + cx[None, :] * u0) / (f * f)
        # Flow across a window means something only where the picture changes across it (and down
        # it): stripes along the walk give no stretch across them (the aperture problem).
        tex_x, tex_y = win[..., 4] >= cfg.min_texture, win[..., 5] >= cfg.min_texture
        textured = tex_x | tex_y
        if self._ex is not None and self._ex.shape == ex.shape and cfg.smoothing > 0:
            # The share kept is per 0.1 s, not per frame: the same memory at 10 or 30 frames a second.
            keep = cfg.smoothing ** (dt / 0.1)
            ex = keep * self._ex + (1 - keep) * ex
            ey = keep * self._ey + (1 - keep) * ey
        self._ex, self._ey = ex, ey
        g = ct * (cy[:, None] * ct / f + st) * np.ones_like(ex)      # floor expansion per unit k
        # Forward speed from the floor: the lower windows that look like floor.
        lower = (g > 0.05) & tex_x & tex_y & (cy[:, None] > horizon + 2 * BLOCK)
        # A step's bob moves the camera up and down: on the floor (whose depth changes down the
        # picture) that adds the same amount to the stretch down (e_y) everywhere, bob = e_y - 2 e_x;
        # on a surface facing the walker it adds nothing. Measured on the lower windows, it is taken
        # out of e_y for the floor test only.
        bob = float(np.median(ey[lower] - 2 * ex[lower])) if lower.sum() >= 4 else 0.0
        ey_floor = ey - bob
        floorish = lower & (ey_floor > 1.4 * ex) & (ey_floor < 2.8 * ex)
        if floorish.sum() >= 4:
            k_now = float(np.median(ex[floorish] / g[floorish]))
        elif lower.sum() >= 4:
            k_now = float(np.median(np.clip(ex[lower] / g[lower], 0, None))) * 0.5
        else:
            k_now = 0.0
        k_now = min(max(k_now, 0.0), cfg.max_speed_mps / cam.height_m)
        self._raw_speed = k_now * cam.height_m
        a = 1.0 - math.exp(-dt / cfg.speed_smoothing_s)
        self._k = k_now if self._k is None else self._k + a * (k_now - self._k)
        k = self._k
        speed = k * cam.height_m
        floor = k * np.clip(g, 0, None)
        # Looming from the stretch that is intact: a pole narrower than a window spoils the stretch
        # across it (its edges mix in the background), a board lower than a window the stretch down
        # it; a surface facing the walker stretches the same both ways, so the larger is (speed / depth).
        # Below the horizon the stretch down is the floor's business (and a step's bob spoils it):
        # there only the stretch across counts, and it must beat the floor's at that row.
        below = g > 0.02
        ex_ok, ey_ok = np.where(tex_x, ex, 0.0), np.where(tex_y, ey, 0.0)
        e = np.where(below, ex_ok, np.maximum(ex_ok, ey_ok))
        # The floor stretches twice as much down the picture as across it, at the rate the floor
        # model gives for its row; a wall alongside the walk twice as much across as down, and the
        # smaller stretch (down) gives its depth, which puts it outside the corridor.
        floorlike = below & ((tex_y & (ey_floor > cfg.floor_ratio * ex)) | (ex < cfg.floor_margin * floor + cfg.min_expansion))
        side_depth = speed * ct / np.maximum(ey, 1e-3)
        sidelike = tex_x & tex_y & (ex > cfg.floor_ratio * ey) & (side_depth * np.maximum(np.abs(cx)[None, :] - half, 0) / f > cfg.corridor_half_m)
        # The stretch measured over the span belongs to its middle: half the span has gone since.
        ttc = np.where(e > 1e-3, (ct * ct) / np.maximum(e, 1e-3) - span / 2, np.inf)
        depth = np.maximum(speed * ct / np.maximum(e, 1e-3) - speed * span / 2, 0.05)   # along the optical axis
        lateral = depth * np.maximum(np.abs(cx)[None, :] - half, 0) / f          # the window's nearest edge
        above_floor = cam.height_m - depth * (cy[:, None] * ct / f + st)
        if cfg.min_parallax > 0:
            q = self._parallax(rate * span, k * span, horizon, nb)
            if q is not None:
                floorlike |= below & (q < cfg.min_parallax)
        candidate = (textured & (ttc < cfg.ttc_s) & ~floorlike & ~sidelike
                     & (e > cfg.floor_margin * floor + cfg.min_expansion)
                     & (lateral <= cfg.corridor_half_m) & (above_floor >= -0.2) & (above_floor <= cfg.head_top_m))
        moving = speed >= cfg.min_speed_mps
        if not moving:
            candidate[:] = False
        # Skip what confirmed tracks already name.
        sx, sy = width / size[0], height / size[1]
        for tr in tracks:
            if not tr.confirmed:
                continue
            x1, y1, x2, y2 = tr.box[0] * sx, tr.box[1] * sy, tr.box[2] * sx, tr.box[3] * sy
            wx = cx + width / 2
            wy = cy + height / 2
            inside = ((wy[:, None] >= y1) & (wy[:, None] <= y2)) & ((wx[None, :] >= x1) & (wx[None, :] <= x2))
            candidate &= ~inside
        persisted = self._persist(candidate, below, t)
        self.last = Windows(ex, ey, textured, floor, candidate, persisted, k)
        hazards = self._regions_to_hazards(persisted, ttc, e, above_floor, cx, cy, half, width, height, size, speed, t)
        if cfg.drop_off:
            drop = self._drop_off(ex, g, textured, cx, cy, horizon, f, ct, st, speed, k, t, moving)
            if drop is not None:
                hazards.append(self._drop_hazard(drop, size, t))
        hazards.sort(key=lambda h: (-int(h.urgency), -h.priority))
        return tuple(hazards)

    def _parallax(self, move, step, horizon, nb):
        """Per window, how far it stands up from the floor (plane plus parallax): the floor's
        homography from the old frame to this one is fitted to the flow over the lower picture; what
        is left of a window's motion, along the line from the heading point, over what the floor
        itself moves there times `step` (walking step / camera height), is about its height above
        the floor over its depth (0 on the floor, more the nearer and taller). None without a fit."""
        height, width = move.shape[:2]
        if self._grid is None or self._grid.shape[1:] != (height, width):
            self._grid = np.mgrid[0:height, 0:width].astype(np.float32)    # pixel coordinates, made once
        ys, xs = self._grid
        e = (width / 2.0, height / 2.0 + horizon)                    # the heading point (image coords)
        rows = ys[:, 0] > e[1] + 2 * BLOCK
        if step <= 1e-4 or rows.sum() < 2 * BLOCK:
            return None
        sel = (slice(None, None, 8), slice(None, None, 8))
        low = np.zeros_like(ys, bool)
        low[rows] = True
        pick = low[sel].ravel()
        src = np.stack([xs[sel].ravel(), ys[sel].ravel()], 1)[pick]
        dst = src + move[sel].reshape(-1, 2)[pick]
        if len(src) < 20:
            return None
        hom, inl = cv2.findHomography(src, dst, cv2.RANSAC, PARALLAX_FIT_PX)
        if hom is None or inl.sum() < 0.3 * len(src):
            return None
        pts = np.stack([xs, ys], -1).reshape(-1, 1, 2)
        floor_to = cv2.perspectiveTransform(pts, hom).reshape(height, width, 2)
        rest = np.stack([xs, ys], -1) + move - floor_to                 # parallax (px)
        rx, ry = xs - e[0], ys - e[1]
        dist = np.maximum(np.hypot(rx, ry), 1.0)
        radial = (rest[..., 0] * rx + rest[..., 1] * ry) / dist
        stack = np.stack([radial, dist], -1).astype(np.float32)
        blocks = cv2.resize(stack, (width // BLOCK, height // BLOCK), interpolation=cv2.INTER_AREA)
        r, c = blocks.shape[0] - nb + 1, blocks.shape[1] - nb + 1
        win = sum(blocks[i:i + r, j:j + c] for i in range(nb) for j in range(nb)) / (nb * nb)
        return win[..., 0] / np.maximum(win[..., 1] * step, 1e-3)

    def _persist(self, candidate: np.ndarray, below: np.ndarray, t: float) -> np.ndarray:
        """The windows on course this frame whose run on course (theirs or a neighbour's: the picture
        drifts a little with each step) has lasted persist_s, or persist_ground_s over the floor
        (below), where its texture's flow errors look like looming. In seconds, not frames: a webcam
        gives the app 15-30 frames a second, the rendered walks 10, and the same evidence must mean
        the same at each (5 frames are 0.5 s at 10 fps, 0.17 s at 30). For the same reason a run
        survives frames off course within GAP_S: at 10 fps none, at 30 two (13 frames running at
        30 fps would be a harder test than 5 at 10)."""
        cfg = self.config
        if self._since is None or self._since.shape != candidate.shape:
            self._since = np.full(candidate.shape, NEVER, np.float64)
            self._last_on = np.full(candidate.shape, -NEVER, np.float64)
        alive = self._alive(self._last_on, t)
        runs = np.where(alive, self._since, NEVER)
        before = cv2.erode(runs, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=NEVER)
        self._since = np.where(candidate, np.minimum(before, t), runs)
        self._last_on = np.where(candidate, t, self._last_on)
        need = np.where(below, cfg.persist_ground_s, cfg.persist_s)
        return candidate & (t - self._since >= need - TIME_TOL_S)

    def _alive(self, last, t: float):
        """Is a run last seen at `last` (a time, or an array of them) still going at t? When it was
        seen on the frame before this one, however long ago that was (a slow or late frame breaks
        no run: the frame counts did not either), or within GAP_S (frames missing in between)."""
        gap = t - last
        return ((gap > 0) & (gap <= GAP_S + TIME_TOL_S)) | (last == self._t_before)

    def _regions_to_hazards(self, persisted, ttc, e, above_floor, cx, cy, half, width, height, size, speed, t) -> list[Hazard]:
        cfg, cam = self.config, self.camera
        n, labels = cv2.connectedComponents(persisted.astype(np.uint8), connectivity=8)
        regions = []
        sx, sy = size[0] / width, size[1] / height
        for i in range(1, n):
            rr, cc = np.nonzero(labels == i)
            if len(rr) < cfg.min_region_windows:
                continue                        # a window or two: the flow's own errors look like this
            x1 = (cx[cc].min() + width / 2 - half) * sx
            x2 = (cx[cc].max() + width / 2 + half) * sx
            y1 = (cy[rr].min() + height / 2 - half) * sy
            y2 = (cy[rr].max() + height / 2 + half) * sy
            tt = ttc[rr, cc]
            ttc_r = float(np.percentile(tt, 30))                      # the nearer part of the region counts
            heights = above_floor[rr, cc]
            # At head height only with room beneath: what shows just below it is farther away (a wall's
            # top is first on course, but the wall below it is as near).
            label = OBSTACLE
            if float(np.min(heights)) >= cfg.head_band_m:
                below_rows = slice(rr.max() + 1, rr.max() + 3)
                beneath = e[below_rows, cc.min():cc.max() + 1]
                if beneath.size == 0 or float(np.median(beneath)) < 0.6 * float(np.median(e[rr, cc])):
                    label = HEAD
            regions.append(((x1, y1, x2, y2), ttc_r, label))
        out, taken, doubted = [], set(), []
        remembered = [r for r in self._regions if t - r[2] <= REGION_MEMORY_S]
        for box, ttc_r, label in regions:
            tid = _best_match(box, [(i, b) for i, b, _ in remembered if i not in taken])
            if tid is None and self._passing_by(box, size):
                continue             # in the corridor only within about a metre: a wall alongside
            if tid is None and ttc_r < cfg.min_new_ttc_s and box[1] >= size[1] * 2 / 3:
                # New, over the floor at the bottom of the picture and about to be hit: most often the
                # floor's flow at its largest. Said once it has held for DOUBT_S.
                first = min((t0 for b, t0, last in self._doubted
                             if box_iou(box, b) > 0.1 and self._alive(last, t)), default=t)
                if t - first < DOUBT_S - TIME_TOL_S:
                    doubted.append((box, first, t))
                    continue
            tid = tid if tid is not None else self._new_id()
            taken.add(tid)
            remembered = [r for r in remembered if r[0] != tid] + [(tid, box, t)]
            dist = max(0.3, ttc_r * max(speed, cfg.min_speed_mps))
            out.append(self._hazard(tid, label, box, size, dist, ttc_r, 1.0))
        # Doubted regions not seen this frame are kept within GAP_S (a frame or two missing at 30 fps).
        self._regions = remembered
        self._doubted = doubted + [d for d in self._doubted if d[2] < t and self._alive(d[2], t)]
        return out

    def _passing_by(self, box, size) -> bool:
        """Is a region so far to a side that it could be in the walking corridor only within
        side_near_m (a wall alongside, or too late to help)? From its inner edge's angle, so it
        holds for any field of view."""
        cfg = self.config
        if cfg.side_near_m <= 0:
            return False
        mid = size[0] / 2
        inner = box[2] if box[2] <= mid else box[0] if box[0] >= mid else None
        if inner is None:
            return False                          # it reaches the middle of the picture
        tan = abs(inner - mid) / self.camera.focal_px(size[0])
        return cfg.corridor_half_m < cfg.side_near_m * tan

    def _hazard(self, tid, label, box, size, dist, ttc, score) -> Hazard:
        cam = self.camera
        cxp = (box[0] + box[2]) / 2
        bearing = math.degrees(math.atan((cxp - size[0] / 2) / cam.focal_px(size[0])))
        level = self._urgency(label, dist, ttc)
        ttc_term = 1.0 / max(ttc, 0.2)
        priority = float(level) * 10 + 5.0 / max(dist, 0.3) + 2.0 * ttc_term + 1.0
        return Hazard(track_id=tid, class_id=CLASS_ID, label=label, box=tuple(float(b) for b in box),
                      clock=clock_from_bearing(bearing), bearing_deg=bearing, distance_m=float(dist),
                      zone=zone_for(dist), approaching=False, ttc_s=float(ttc), urgency=level, priority=priority,
                      score=score, in_path=True, sure=True)

    def _urgency(self, label: str, dist: float, ttc: float) -> Urgency:
        if label == DROP:
            return Urgency.DANGER if dist <= 1.5 else Urgency.WARNING
        if label == HEAD:
            return Urgency.WARNING
        return Urgency.WARNING if ttc <= 1.5 or dist <= 1.5 else Urgency.CAUTION

    # -- the floor ending and the stairs detector --------------------------------------------------
    def join_stairs(self, hazards: tuple[Hazard, ...], t: float) -> tuple[Hazard, ...]:
        """The lane's drop-off and the detector's stairs going down, where both see the same edge in
        the path, are one hazard said as what it is ("Stop! stairs going down, straight ahead, 1
        metre"), not two cues about one thing. Two independent kinds of evidence (the floor's motion
        breaking off; the look of a flight) agree, so the joined hazard is sure of its class; it takes
        the more urgent level, the nearer distance, the lane's time to contact and bearing (the edge
        runs across the path) and the stairs track's id, so the cue policy goes on from what it said
        about the stairs. Only a flight the detector is sure of is joined: an unsure guess stays
        "something" beside the "drop-off". Once joined, the pair holds while either goes on being
        seen within STAIRS_HOLD_S (the flight leaves the bottom of the picture while the lane carries
        the edge; a distance that jitters), so one edge never flips between two names."""
        drop = next((h for h in hazards if h.label == DROP and h.track_id >= ID_BASE), None)
        pair = self._stairs_pair if self._stairs_pair is not None and 0 <= t - self._stairs_pair[1] <= STAIRS_HOLD_S else None
        # The edge to compare a flight with: the lane's this frame, else the joined one carried on.
        if drop is not None:
            edge_m, edge_box = drop.distance_m, drop.box
        elif pair is not None:
            edge_m, edge_box = max(0.2, pair[2] - (self._odo - pair[4])), pair[5]
        else:
            return hazards

        def agrees(h: Hazard, slack: float) -> bool:
            far = max(h.distance_m, edge_m)
            return (h.label == STAIRS_DOWN and h.sure and h.score >= STAIRS_JOIN_SCORE
                    and h.box[0] < edge_box[2] and h.box[2] > edge_box[0]       # across the path, as the edge is
                    and abs(h.distance_m - edge_m) <= slack * max(STAIRS_JOIN_M, STAIRS_JOIN_SHARE * far))
        held = [h for h in hazards if pair is not None and h.track_id == pair[0]]
        stairs = None
        if held and agrees(held[0], 2.0):
            stairs = held[0]
        elif held:
            pair = self._stairs_pair = None      # the flight is in sight elsewhere: it was not this edge
        if drop is None:
            if stairs is None:                   # only a flight the edge was not joined with: as it is
                return hazards
            # The lane missed the edge this frame: the flight is still the edge it was joined with.
            dist = min(stairs.distance_m, edge_m)
            one = replace(stairs, clock=pair[6], bearing_deg=pair[7], distance_m=dist, zone=zone_for(dist),
                          urgency=max(stairs.urgency, pair[3]), in_path=True, sure=True)
        else:
            if stairs is None:
                near = [h for h in hazards if agrees(h, 1.0)]
                stairs = min(near, key=lambda h: abs(h.distance_m - drop.distance_m)) if near else None
            if stairs is not None:
                dist = min(stairs.distance_m, drop.distance_m)
                one = replace(stairs, clock=drop.clock, bearing_deg=drop.bearing_deg, distance_m=dist,
                              zone=zone_for(dist), ttc_s=drop.ttc_s * dist / max(drop.distance_m, 0.2),
                              urgency=max(stairs.urgency, drop.urgency), priority=max(stairs.priority, drop.priority),
                              score=max(stairs.score, drop.score), in_path=True, sure=True)
            elif pair is not None:
                # The flight is out of sight (it left the bottom of the picture first): still the
                # stairs, no farther than the pair was, walked on since, and no less urgent.
                dist = min(drop.distance_m, edge_m)
                one = replace(drop, track_id=pair[0], label=STAIRS_DOWN, distance_m=dist, zone=zone_for(dist),
                              ttc_s=drop.ttc_s * dist / max(drop.distance_m, 0.2), urgency=max(drop.urgency, pair[3]))
            else:
                return hazards
        box = drop.box if drop is not None else edge_box
        self._stairs_pair = (one.track_id, t, one.distance_m, one.urgency, self._odo, box, one.clock, one.bearing_deg)
        out = [h for h in hazards if h is not drop and h.track_id != one.track_id] + [one]
        out.sort(key=lambda h: (-int(h.urgency), -h.priority))
        return tuple(out)

    # -- the floor ending ----------------------------------------------------------------------------
    def _drop_off(self, ex, g, textured, cx, cy, horizon, f, ct, st, speed, k, t, moving):
        """(distance to the edge in m, id) once the floor has broken off across the corridor for
        persist_s, or None; out of sight, the edge is carried on by the odometer (below)."""
        cfg, cam = self.config, self.camera
        seen = None
        if moving and k > 0:
            rows = []
            for r in range(ex.shape[0] - 1, -1, -1):                  # bottom (near) to top
                y = cy[r]
                if g[r, 0] <= 0.05 or y <= horizon + BLOCK:
                    break
                d_floor = cam.height_m / (y * ct / f + st)
                if d_floor > cfg.drop_max_m:
                    break
                half = cfg.corridor_half_m * (y * ct / f + st) * f / cam.height_m   # corridor half-width in px at this row
                cols = np.abs(cx) <= max(half, BLOCK)
                ok = cols & textured[r]
                if ok.sum() < 2:
                    rows.append((d_floor, None))
                    continue
                q = float(np.median(ex[r, ok])) / (k * g[r, 0])
                rows.append((d_floor, q))
            qs = [q for _, q in rows if q is not None]
            if len(qs) >= 4:
                for i in range(1, len(rows) - 1):
                    below = [q for _, q in rows[:i] if q is not None]
                    above = [q for _, q in rows[i:] if q is not None]
                    if len(below) >= 1 and len(above) >= 2 and np.median(below) >= cfg.drop_floor_q \
                            and max(above) <= cfg.drop_q:
                        # The edge lies beyond the last row that still moves like floor: said at
                        # that row, the near side (rows[i] is where everything beyond has slowed;
                        # windows straddling the edge lie between, so rows[i] put the edge
                        # 0.3-1.2 m too far on the dev walks).
                        j = max((n for n in range(i) if rows[n][1] is not None and rows[n][1] >= cfg.drop_floor_q),
                                default=i - 1)
                        seen = rows[j][0]
                        break
        if seen is not None:
            if self._drop_since is None or not self._alive(self._drop_last, t):
                self._drop_since = t
            self._drop_last = t
        # The odometer: metres walked, at the speed read while the edge was in sight (once the floor
        # beyond fills the bottom of the picture, the floor model's own speed reads low: 1.3 m/s
        # walked, 0.8 read), and only while this frame's own floor flow says the walker moves (the
        # smoothed speed lags a stop by about a second: a pause before the edge was carried onto it).
        walking = self._raw_speed >= cfg.min_speed_mps
        dt = 0.0 if self._odo_t is None else min(max(0.0, t - self._odo_t), MAX_DT)
        self._odo_t = t
        if walking:
            self._odo += self._drop_v * dt
            self._walk_s += dt
        if self._drop is not None:
            d0, odo0, tid, t_seen, walk0 = self._drop
            d = d0 - (self._odo - odo0)
        if seen is not None and t - self._drop_since >= cfg.persist_s - TIME_TOL_S:
            if self._drop is not None:
                # Nearer than the carried edge is news; farther is mostly the flow's noise at the
                # rows beyond: the estimate may recede only slowly (an edge does not recede from a walker).
                d, self._drop_v = min(seen, d + DROP_RECEDE_MPS * dt), max(self._drop_v, speed)
            else:
                d, tid, self._drop_v = seen, self._new_id(), speed
            t_seen, walk0 = t, self._walk_s
        elif self._drop is None:
            return None
        # Forgotten after drop_carry_s of walking unseen (a standing walker keeps it, up to
        # DROP_MEMORY_S: walking on after a pause, the edge is still there). Not when the carried
        # distance runs out: the walker may be slower than the speed carried, so it stays at 0.2 m.
        if self._walk_s - walk0 > cfg.drop_carry_s or t - t_seen > DROP_MEMORY_S:
            self._drop = None
            return None
        d = max(d, 0.2)
        self._drop = (d, self._odo, tid, t_seen, walk0)
        return d, tid

    def _new_id(self) -> int:
        return next(_IDS)

    def _drop_hazard(self, drop, size, t) -> Hazard:
        dist, tid = drop
        w, h = size
        box = (w * 0.3, h * 0.7, w * 0.7, float(h))
        walking = self._raw_speed >= self.config.min_speed_mps
        ttc = dist / max(self._drop_v if walking else 0.0, self.config.min_speed_mps)
        return self._hazard(tid, DROP, box, size, dist, ttc, 1.0)


def _best_match(box, regions) -> int | None:
    """The id of the region (id, box) overlapping this box most (IoU over 0.1), or None."""
    best, best_iou = None, 0.1
    for tid, b in regions:
        iou = box_iou(box, b)
        if iou > best_iou:
            best, best_iou = tid, iou
    return best
