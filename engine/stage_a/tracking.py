"""Multi-object tracking: IoU association with a constant-velocity Kalman filter per track.

Association in the style of ByteTrack: confident detections are matched first, then low-score
detections continue the tracks left over, then a looser pass (centre distance and size ratio
instead of overlap) catches a box that grew or moved too fast for the motion model, as a near
object does when the user walks up to it, so it keeps its id instead of becoming a new one.

Evidence over time: every detection above the keep score that matches no track starts a tentative
track. A track is confirmed when it has been matched `confirm_hits` times and either one of its
detections reached the birth score, or the scores it gathered add up to NEAR_EVIDENCE (a box over
10% of the frame) or EVIDENCE (1-10%): near objects are often scored 0.35-0.53 (MODELS.md), and a
weak box seen on several frames in a row is as real as one strong detection. Far boxes need a
strong score. Tentative tracks missed twice are dropped at once, so isolated weak false detections
never surface.

The class is a score-weighted vote over the track's detections; `class_share` says how much of the
vote its label has (low when the detector keeps changing its mind).
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


EDGE_MARGIN_PX = 3.0       # a box this near an edge of the picture is cut there


def cut_at_side(box, frame_size: tuple[int, int], margin: float = EDGE_MARGIN_PX) -> bool:
    """Cut by the left or right edge of a picture frame_size (width, height) big."""
    return box[0] <= margin or box[2] >= frame_size[0] - margin


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
    widths: deque = field(default_factory=lambda: deque(maxlen=90))   # (t, ln width) while no side is cut
    not_closing: bool = False      # not seen getting nearer (see Tracker._not_closing)
    growth: float = 0.0
    ttc: float | None = None
    evidence: float = 0.0          # sum of matched scores (how sure we are something is there)
    peak: float = 0.0              # the best single score
    confirmed: bool = False
    votes: dict = field(default_factory=dict)       # label -> (class id, summed score)


def _log_size(box: np.ndarray) -> float:
    return 0.5 * math.log(max(box[2] - box[0], 1.0) * max(box[3] - box[1], 1.0))


_MAX_GROWTH = 20.0   # 1/s; caps the rate when the fit says contact is now
# Summed scores that confirm a track no single detection confirmed, by box size (share of the
# frame). Measured on the COCO dev half (photos held 5 frames): weak tracks born this way were right
# 10 times in 14 for near boxes (> 10%), 13 in 32 for medium ones and 14 in 40 for far ones (< 1%),
# so near boxes need little evidence, medium ones more, far ones (never urgent) a strong score.
NEAR_EVIDENCE = 0.9
EVIDENCE = 1.8
NEAR_AREA = 0.10
FAR_AREA = 0.01


def _measurable(points: list[tuple[float, float]]) -> bool:
    """Enough of a history for _approach to judge: 4 sizes over at least 0.25 s."""
    return len(points) >= 4 and points[-1][0] - points[0][0] >= 0.25


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
    def __init__(self, config: TrackerConfig, birth_score, keep_score: float, first_id: int = 1):
        """birth_score: one score, or a function (label, box area / frame area) -> score, for
        thresholds calibrated per class and distance zone. first_id: where track ids start, so two
        trackers (COCO objects, doors and stairs) never hand out the same id."""
        self._first_id = first_id
        self.cfg = config
        self._birth = birth_score if callable(birth_score) else (lambda label, area, s=float(birth_score): s)
        self.birth_score = birth_score if not callable(birth_score) else None
        self.keep_score = keep_score
        self._tracks: list[_TrackState] = []
        self._votes: dict = {}
        self._next_id = self._first_id
        self._last_t: float | None = None
        self._frame_size: tuple[int, int] | None = None

    def reset(self) -> None:
        self._tracks.clear()
        self._next_id = self._first_id
        self._last_t = None

    def _associate(self, tracks: list[_TrackState], dets: list[Detection]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        if not tracks or not dets:
            return [], list(range(len(tracks))), list(range(len(dets)))
        tb = np.array([t.kf.box() for t in tracks], np.float32)
        db = np.array([d.box for d in dets], np.float32)
        iou = iou_matrix(tb, db)
        # The same class (or vehicle group) matches from match_iou; another class only when the boxes
        # clearly coincide (the detector changed its mind about one object), at a small extra cost.
        same = np.array([[_compatible(t.label, d.label) for d in dets] for t in tracks])
        cost = np.where(same & (iou >= self.cfg.match_iou), 1 - iou,
                        np.where(iou >= CROSS_CLASS_IOU, 1.3 - iou, 1e6))
        rows, cols = linear_sum_assignment(cost)
        pairs = [(r, c) for r, c in zip(rows, cols) if cost[r, c] < 1e6]
        mt, md = {r for r, _ in pairs}, {c for _, c in pairs}
        return pairs, [i for i in range(len(tracks)) if i not in mt], [j for j in range(len(dets)) if j not in md]

    def update(self, detections: tuple[Detection, ...], t: float, frame_size: tuple[int, int] | None = None) -> tuple[Track, ...]:
        """frame_size (width, height) lets growth ignore boxes cut by the frame edge (their width
        still tells a standstill while only the top or bottom is cut: Track.not_closing)."""
        self._frame_size = frame_size
        dt = 1 / 30 if self._last_t is None else max(t - self._last_t, 1e-3)
        self._last_t = t
        for tr in self._tracks:
            tr.kf.predict(dt)
            tr.age += 1
        area = float(frame_size[0] * frame_size[1]) if frame_size else None
        detections, votes = _one_box_per_object(detections)
        self._votes = votes
        is_high = [d.score >= self._birth_for(d, area) for d in detections]
        high = [d for d, h in zip(detections, is_high) if h]
        low = [d for d, h in zip(detections, is_high) if not h and d.score >= self.keep_score]
        pairs, un_tracks, un_high = self._associate(self._tracks, high)
        for ti, di in pairs:
            self._match(self._tracks[ti], high[di], t, area)
        # Second pass: weak detections continue the tracks the first pass left unmatched.
        rest = [self._tracks[i] for i in un_tracks]
        pairs2, still_unmatched, un_low = self._associate(rest, low)
        for ri, di in pairs2:
            self._match(rest[ri], low[di], t, area)
        # Third pass: a box that outgrew or outran its prediction (walking up to it).
        left = [rest[i] for i in still_unmatched]
        new = [high[i] for i in un_high] + [low[i] for i in un_low]
        pairs3, lost, un_new = self._associate_loose(left, new)
        for li, di in pairs3:
            self._match(left[li], new[di], t, area)
        for li in lost:
            left[li].misses += 1
        for di in un_new:
            d = new[di]
            st = _TrackState(self._next_id, d.class_id, d.label, _Kalman(np.array(d.box)), d.score, t, t,
                             evidence=d.score, peak=d.score, votes=dict(self._votes.get(id(d), {d.label: (d.class_id, d.score)})))
            st.confirmed = self._confirmable(st, np.array(d.box), area)
            self._remember_size(st, np.array(d.box), t)
            self._tracks.append(st)
            self._next_id += 1
        # Unconfirmed tracks missed twice go at once: isolated weak detections never surface.
        self._tracks = [tr for tr in self._tracks if t - tr.last_t <= self.cfg.max_misses_s
                        and (tr.confirmed or tr.misses < 2)]
        self._merge_duplicates()
        return tuple(self._snapshot(tr) for tr in self._tracks)

    def _merge_duplicates(self) -> None:
        """One object, one track: two confirmed tracks of one class whose boxes overlap at IoU >=
        DUPLICATE_IOU with the smaller mostly inside the larger are one object boxed twice (per-class
        NMS at 0.6 keeps a looser second box at 0.59). The longer-lived track stays. Left alone, the
        next detection went to whichever predicted box fitted better: on an approach clip the
        person moved to the younger track, whose approach history was a second old, so 'approaching'
        dropped out for 0.8 s just as the person came within 3 s of contact."""
        live = [tr for tr in self._tracks if tr.confirmed]
        if len(live) < 2:
            return
        boxes = np.array([tr.kf.box() for tr in live], np.float32)
        iou = iou_matrix(boxes, boxes)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        drop: set[int] = set()
        for i in range(len(live)):
            for j in range(i + 1, len(live)):
                a, b = live[i], live[j]
                if id(a) in drop or id(b) in drop or iou[i, j] < DUPLICATE_IOU or not _compatible(a.label, b.label):
                    continue
                w = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
                h = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
                if w * h < DUPLICATE_INSIDE * min(area[i], area[j]):
                    continue
                drop.add(id(b) if (a.hits, a.score) >= (b.hits, b.score) else id(a))
        if drop:
            self._tracks = [tr for tr in self._tracks if id(tr) not in drop]

    def _birth_for(self, d: Detection, area: float | None) -> float:
        frac = (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) / area if area else 0.0
        return self._birth(d.label, frac)

    def _confirmable(self, tr: _TrackState, box: np.ndarray, area: float | None) -> bool:
        if tr.hits < self.cfg.confirm_hits:
            return False
        frac = (box[2] - box[0]) * (box[3] - box[1]) / area if area else 0.0
        if tr.peak >= self._birth(tr.label, frac):
            return True
        if frac > NEAR_AREA:
            return tr.evidence >= NEAR_EVIDENCE
        return frac > FAR_AREA and tr.evidence >= EVIDENCE

    def _associate_loose(self, tracks: list[_TrackState], dets: list[Detection]):
        """Match what is left by centre distance (under 60% of the track's size) and size ratio
        (0.6-1.8), same class group; Hungarian on the normalised distance."""
        if not tracks or not dets:
            return [], list(range(len(tracks))), list(range(len(dets)))
        cost = np.full((len(tracks), len(dets)), 1e6)
        for i, tr in enumerate(tracks):
            tb = tr.kf.box()
            tw, th = tb[2] - tb[0], tb[3] - tb[1]
            for j, d in enumerate(dets):
                if not _compatible(tr.label, d.label):
                    continue
                dw, dh = d.box[2] - d.box[0], d.box[3] - d.box[1]
                ratio = math.sqrt(max(dw * dh, 1.0) / max(tw * th, 1.0))
                dist = math.hypot((d.box[0] + d.box[2] - tb[0] - tb[2]) / 2, (d.box[1] + d.box[3] - tb[1] - tb[3]) / 2)
                rel = dist / max(tw, th, 1.0)
                if rel < 0.6 and 0.6 <= ratio <= 1.8:
                    cost[i, j] = rel + abs(math.log(ratio))
        rows, cols = linear_sum_assignment(cost)
        pairs = [(r, c) for r, c in zip(rows, cols) if cost[r, c] < 1e6]
        mt, md = {r for r, _ in pairs}, {c for _, c in pairs}
        return pairs, [i for i in range(len(tracks)) if i not in mt], [j for j in range(len(dets)) if j not in md]

    def _match(self, tr: _TrackState, d: Detection, t: float, area: float | None = None) -> None:
        box = np.array(d.box)
        tr.kf.update(box)
        tr.hits += 1
        tr.misses = 0
        tr.last_t = t
        tr.score = 0.7 * tr.score + 0.3 * d.score
        tr.evidence += d.score
        tr.peak = max(tr.peak, d.score)
        for label, (cid, score) in self._votes.get(id(d), {d.label: (d.class_id, d.score)}).items():
            old_cid, w = tr.votes.get(label, (cid, 0.0))
            tr.votes[label] = (old_cid, w + score)
        best = max(tr.votes, key=lambda k: tr.votes[k][1])
        tr.label, tr.class_id = best, tr.votes[best][0]
        if not tr.confirmed:
            tr.confirmed = self._confirmable(tr, box, area)
        self._remember_size(tr, box, t)
        window = [p for p in tr.history if t - p[0] <= self.cfg.growth_window_s]
        tr.growth, tr.ttc = _approach(window, t)
        tr.not_closing = self._not_closing(tr, window, t)

    def _remember_size(self, tr: _TrackState, box: np.ndarray, t: float) -> None:
        # A box cut by the frame edge grows as the object walks into view, not because it is
        # coming closer: such boxes do not feed the size history (nor the time to contact). Its
        # width is kept while neither side is cut, to tell that a near thing is NOT getting nearer:
        # near things run off the top and bottom of the picture first (the lowest row is 2.4 m
        # ahead for a chest camera).
        if not self._cut_by_edge(box):
            tr.history.append((t, _log_size(box)))
        if not self._cut_sides(box):
            tr.widths.append((t, math.log(max(float(box[2] - box[0]), 1.0))))

    def _not_closing(self, tr: _TrackState, window: list, t: float) -> bool:
        """Not seen getting nearer over the growth window: by the whole box, else by the width
        while only the top or bottom is cut, else (a new track, both sides in view) not yet. A box
        cut at a side now can never be measured: False. The width never gives a time to contact
        (a person turning to face the camera widens; that is no "Stop!"), it only tells standstill."""
        if _measurable(window):
            return tr.growth <= self.cfg.approach_growth
        if not tr.widths or tr.widths[-1][0] != t:
            return False                   # a side is cut now
        widths = [p for p in tr.widths if t - p[0] <= self.cfg.growth_window_s]
        if not _measurable(widths):
            return True                    # too new to tell: a caution until it is seen to grow
        growth, _ = _approach(widths, t)
        return growth <= self.cfg.approach_growth

    def _cut_by_edge(self, box: np.ndarray, margin: float = EDGE_MARGIN_PX) -> bool:
        if self._frame_size is None:
            return False
        return self._cut_sides(box, margin) or box[1] <= margin or box[3] >= self._frame_size[1] - margin

    def _cut_sides(self, box: np.ndarray, margin: float = EDGE_MARGIN_PX) -> bool:
        return self._frame_size is not None and cut_at_side(box, self._frame_size, margin)

    def _snapshot(self, tr: _TrackState) -> Track:
        box = tr.kf.box()
        ttc = tr.ttc if tr.growth > self.cfg.approach_growth else None
        total = sum(w for _, w in tr.votes.values())
        share = tr.votes[tr.label][1] / total if total > 0 else 1.0
        others = tuple(k for k, (_, w) in sorted(tr.votes.items(), key=lambda kv: -kv[1][1])
                       if k != tr.label and total > 0 and w / total >= ALTERNATIVE_SHARE)
        return Track(track_id=tr.track_id, class_id=tr.class_id, label=tr.label,
                     box=tuple(float(v) for v in box), score=float(tr.score), age=tr.age, hits=tr.hits,
                     misses=tr.misses, confirmed=tr.confirmed,
                     velocity=(float(tr.kf.x[4]), float(tr.kf.x[5])), growth_rate=float(tr.growth), ttc_s=ttc,
                     class_share=float(share), alternatives=others, not_closing=tr.not_closing)


CROSS_CLASS_IOU = 0.5
DUPLICATE_IOU = 0.5        # two tracks of one class this overlapped ...
DUPLICATE_INSIDE = 0.8     # ... with the smaller box this much inside the other are one object
ALTERNATIVE_SHARE = 0.2
SAME_OBJECT_IOU = 0.7


def _one_box_per_object(detections: tuple[Detection, ...]) -> tuple[list[Detection], dict]:
    """Per-class NMS leaves several classes on one object (person 0.6 and cat 0.3 on the same
    box): keep the best box of each such cluster, and every class's score as a vote for it.
    Returns (detections kept, id(detection) -> {label: (class id, score)})."""
    order = sorted(detections, key=lambda d: -d.score)
    if len(order) < 2:
        return order, {}
    boxes = np.array([d.box for d in order], np.float32)
    iou = iou_matrix(boxes, boxes)
    kept, votes, used = [], {}, np.zeros(len(order), bool)
    for i, d in enumerate(order):
        if used[i]:
            continue
        used[i] = True
        v = {d.label: (d.class_id, d.score)}
        for j in np.nonzero((iou[i] >= SAME_OBJECT_IOU) & ~used)[0]:
            other = order[j]
            if other.label != d.label:
                used[j] = True
                if other.label not in v:
                    v[other.label] = (other.class_id, other.score)
        kept.append(d)
        if len(v) > 1:
            votes[id(d)] = v
    return kept, votes


_VEHICLES = frozenset({"car", "truck", "bus"})


def _compatible(a: str, b: str) -> bool:
    return a == b or (a in _VEHICLES and b in _VEHICLES)
