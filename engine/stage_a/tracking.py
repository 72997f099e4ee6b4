"""Multi-object tracking: IoU association with a constant-velocity Kalman filter per track.

Two-stage association in the style of ByteTrack: confident detections are matched first and may
start tracks; low-score detections may only continue tracks that already exist. That is where
recall on near objects comes from (MODELS.md: near objects often score 0.35-0.53).
Approach is measured from box growth: for an object moving towards the camera at speed v from
distance Z, size s ~ 1/Z, so 1/s falls linearly in time and reaches zero at contact. A straight
line fitted to 1/s over the last second gives time to contact now (no lag, unlike a slope of
ln s, which reports the TTC of the window's middle), and growth rate = -slope / (1/s now).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.config import TrackerConfig
from engine.models.boxes import iou_matrix
from engine.types import Detection, Track


class _Kalman:
    """State [cx, cy, w, h, vcx, vcy, vw, vh]; measurements [cx, cy, w, h]. Noise scales with size."""

    def __init__(self, box: np.ndarray):
        cx, cy, w, h = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]
        self.x = np.array([cx, cy, w, h, 0, 0, 0, 0], np.float64)
        s = max(w, h)
        self.P = np.diag([0.1 * s, 0.1 * s, 0.1 * s, 0.1 * s, s, s, s, s]) ** 2

    def predict(self, dt: float) -> None:
        F = np.eye(8)
        F[:4, 4:] = np.eye(4) * dt
        s = max(self.x[2], self.x[3], 1.0)
        q_pos, q_vel = (0.05 * s) ** 2 * max(dt, 1e-3) * 30, (0.2 * s) ** 2 * max(dt, 1e-3) * 30
        self.x = F @ self.x
        self.P = F @ self.P @ F.T + np.diag([q_pos] * 4 + [q_vel] * 4)

    def update(self, box: np.ndarray) -> None:
        z = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]])
        H = np.zeros((4, 8))
        H[:, :4] = np.eye(4)
        s = max(z[2], z[3], 1.0)
        R = np.eye(4) * (0.05 * s) ** 2
        y = z - H @ self.x
        S = H @ self.P @ H.T + R
        K = self.P @ H.T @ np.linalg.inv(S)
        self.x = self.x + K @ y
        self.P = (np.eye(8) - K @ H) @ self.P

    def box(self) -> np.ndarray:
        cx, cy, w, h = self.x[:4]
        w, h = max(w, 1.0), max(h, 1.0)
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


@dataclass
class _TrackState:
    track_id: int
    class_id: int
    label: str
    kf: _Kalman
    score: float
    born_t: float
    last_t: float
    age: int = 1
    hits: int = 1
    misses: int = 0
    history: deque = field(default_factory=lambda: deque(maxlen=90))  # (t, ln size) of matched boxes
    growth: float = 0.0
    ttc: float | None = None


def _log_size(box: np.ndarray) -> float:
    return 0.5 * math.log(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0))


_MAX_GROWTH = 20.0   # 1/s; caps the rate when the fit says contact is now


def _approach(points: list[tuple[float, float]], now: float) -> tuple[float, float | None]:
    """(growth rate 1/s, time to contact s or None) from (t, ln size) points.

    Fits y = 1/s (normalised) = a + b t. Approaching means b < 0 clearly beyond its standard
    error: box jitter makes far objects look like they breathe."""
    if len(points) < 4:
        return 0.0, None
    t = np.array([p[0] for p in points])
    ls = np.array([p[1] for p in points])
    if t.max() - t.min() < 0.25:
        return 0.0, None
    y = np.exp(-(ls - ls.mean()))
    tc = t - t.mean()
    sxx = float((tc * tc).sum())
    b = float((tc * (y - y.mean())).sum() / sxx)
    a = float(y.mean())
    resid = y - a - b * tc
    se = math.sqrt(float((resid * resid).sum()) / (len(t) - 2) / sxx)
    y_now = a + b * (now - t.mean())
    if b >= -2 * se:
        return 0.0, None
    if y_now <= 0:          # the fitted line says contact is already here
        return _MAX_GROWTH, 0.0
    growth = min(-b / y_now, _MAX_GROWTH)
    return float(growth), float(y_now / -b)


class Tracker:
    def __init__(self, config: TrackerConfig, birth_score: float, keep_score: float):
        self.cfg = config
        self.birth_score = birth_score
        self.keep_score = keep_score
        self._tracks: list[_TrackState] = []
        self._next_id = 1
        self._last_t: float | None = None
        self._frame_size: tuple[int, int] | None = None

    def reset(self) -> None:
        self._tracks.clear()
        self._next_id = 1
        self._last_t = None

    def _associate(self, tracks: list[_TrackState], dets: list[Detection]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        if not tracks or not dets:
            return [], list(range(len(tracks))), list(range(len(dets)))
        tb = np.array([t.kf.box() for t in tracks], np.float32)
        db = np.array([d.box for d in dets], np.float32)
        iou = iou_matrix(tb, db)
        # Different classes never match, except the vehicle group, which detectors confuse.
        same = np.array([[_compatible(t.label, d.label) for d in dets] for t in tracks])
        cost = np.where(same & (iou >= self.cfg.match_iou), 1 - iou, 1e6)
        rows, cols = linear_sum_assignment(cost)
        pairs = [(r, c) for r, c in zip(rows, cols) if cost[r, c] < 1e6]
        mt, md = {r for r, _ in pairs}, {c for _, c in pairs}
        return pairs, [i for i in range(len(tracks)) if i not in mt], [j for j in range(len(dets)) if j not in md]

    def update(self, detections: tuple[Detection, ...], t: float, frame_size: tuple[int, int] | None = None) -> tuple[Track, ...]:
        """frame_size (width, height) lets growth ignore boxes cut by the frame edge."""
        self._frame_size = frame_size
        dt = 1 / 30 if self._last_t is None else max(t - self._last_t, 1e-3)
        self._last_t = t
        for tr in self._tracks:
            tr.kf.predict(dt)
            tr.age += 1
        high = [d for d in detections if d.score >= self.birth_score]
        low = [d for d in detections if self.keep_score <= d.score < self.birth_score]
        pairs, un_tracks, un_high = self._associate(self._tracks, high)
        for ti, di in pairs:
            self._match(self._tracks[ti], high[di], t)
        # Second pass: weak detections may only continue tracks the first pass left unmatched.
        rest = [self._tracks[i] for i in un_tracks]
        pairs2, still_unmatched, _ = self._associate(rest, low)
        for ri, di in pairs2:
            self._match(rest[ri], low[di], t)
        for ri in still_unmatched:
            rest[ri].misses += 1
        for di in un_high:
            d = high[di]
            st = _TrackState(self._next_id, d.class_id, d.label, _Kalman(np.array(d.box)), d.score, t, t)
            if not self._cut_by_edge(np.array(d.box)):
                st.history.append((t, _log_size(np.array(d.box))))
            self._tracks.append(st)
            self._next_id += 1
        self._tracks = [tr for tr in self._tracks if t - tr.last_t <= self.cfg.max_misses_s]
        return tuple(self._snapshot(tr) for tr in self._tracks)

    def _match(self, tr: _TrackState, d: Detection, t: float) -> None:
        box = np.array(d.box)
        tr.kf.update(box)
        tr.hits += 1
        tr.misses = 0
        tr.last_t = t
        tr.score = 0.7 * tr.score + 0.3 * d.score
        if d.score >= self.birth_score or tr.label == d.label:
            tr.label, tr.class_id = d.label, d.class_id
        # A box cut by the frame edge grows as the object walks into view, not because it is
        # coming closer: such boxes do not feed the approach estimate.
        if not self._cut_by_edge(box):
            tr.history.append((t, _log_size(box)))
        window = [p for p in tr.history if t - p[0] <= self.cfg.growth_window_s]
        tr.growth, tr.ttc = _approach(window, t)

    def _cut_by_edge(self, box: np.ndarray, margin: float = 3.0) -> bool:
        if self._frame_size is None:
            return False
        w, h = self._frame_size
        return box[0] <= margin or box[1] <= margin or box[2] >= w - margin or box[3] >= h - margin

    def _snapshot(self, tr: _TrackState) -> Track:
        box = tr.kf.box()
        ttc = tr.ttc if tr.growth > self.cfg.approach_growth else None
        return Track(track_id=tr.track_id, class_id=tr.class_id, label=tr.label,
                     box=tuple(float(v) for v in box), score=float(tr.score), age=tr.age, hits=tr.hits,
                     misses=tr.misses, confirmed=tr.hits >= self.cfg.confirm_hits,
                     velocity=(float(tr.kf.x[4]), float(tr.kf.x[5])), growth_rate=float(tr.growth), ttc_s=ttc)


_VEHICLES = frozenset({"car", "truck", "bus"})


def _compatible(a: str, b: str) -> bool:
    return a == b or (a in _VEHICLES and b in _VEHICLES)
