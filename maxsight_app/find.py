"""Find mode: guide the user's hand and feet to one thing, by sound. Qt-free; the session runs it
after the cue policy on every frame, so hazards are decided (and spoken) first.

What the user asks for: any COCO class ("cup"), "door", "stairs" (going up or down), or one of their
own taught objects by name ("my keys"). `resolve` turns those words into a FindTarget, or one
sentence saying what can be asked for.

Per frame, `FindMode.update` gives Guidance:
  * a tone while the target is in view (outputs/guide.py): panned to its side (snapped to the
    centre within CENTRED_DEG, so "on it" is unmistakable), pitch rising as it gets nearer and
    more centred, throbbing faster as it gets nearer, steady and with a chime once it is centred
    and within reach;
  * "door found, 2 o'clock" the first time it is seen (a confirmed track), and again only after
    "lost it", which is said once the target has been out of view for more than LOST_AFTER_S
    (a shorter dropout, a blurred frame or a hand in front of the lens, says nothing);
  * findability: how hard the target is to see for this user's vision condition, from its size,
    its contrast against what surrounds it and how much of it falls in the field the user has
    lost, all measured on the frame as the condition simulation (engine/conditions.py) shows it.
    "It is there but low in contrast" is said once per search, never repeated.
Find mode never holds back a hazard: the policy's cues go out before find's, and the sinks duck
the tone under speech and pause it under a warning or a danger (outputs/audio.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

import cv2
import numpy as np

from engine.conditions import CONDITIONS, simulate
from engine.types import FrameResult, Hazard, Urgency
from maxsight_app.cues.phrasing import clock_words, sentence
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.guide import Tone

# The door and stairs detector's classes (engine/stage_a/access.py).
ACCESS_LABELS = ("door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up")
# Words a user may type -> the detector labels they mean.
GROUPS = {"door": ("door",), "stairs": ("stair_down", "stair_up"), "handle": ("handle",),
          "cabinet door": ("cabinet door",), "fridge door": ("refrigerator door",),
          "stairs going down": ("stair_down",), "stairs going up": ("stair_up",)}
SYNONYMS = {"doors": "door", "doorway": "door", "stair": "stairs", "staircase": "stairs", "steps": "stairs",
            "stairway": "stairs", "refrigerator door": "fridge door", "door handle": "handle", "handles": "handle",
            "downstairs": "stairs going down", "upstairs": "stairs going up", "phone": "cell phone",
            "mobile phone": "cell phone", "television": "tv", "sofa": "couch", "table": "dining table",
            "fridge": "refrigerator", "plant": "potted plant", "bike": "bicycle", "motorbike": "motorcycle",
            "mug": "cup", "glasses": "wine glass", "people": "person", "someone": "person", "man": "person",
            "woman": "person", "keyboard": "keyboard", "computer": "laptop", "bag": "handbag"}

LOST_AFTER_S = 2.0          # out of view this long before "lost it"
SEEN_GAP_S = 0.35           # a track coasting without a detection this long no longer counts as in view
CENTRED_DEG = 6.0           # within this the tone is centred (and "centred" for the chime)
UNCENTRED_DEG = 9.0         # ... and leaves "centred" only past this (no chime flutter at the edge)
SIDE_FULL_DEG = 40.0        # the tone is hard left or right from here
REACH_M = 1.0               # within reach of an arm (the chime)
UNREACH_M = 1.3
CHIME_REARM_S = 1.5         # out of "centred and within reach" this long before the chime can sound again
FAR_M = 8.0                 # the lowest pitch, slowest throb
PITCH_LOW_HZ, PITCH_OCTAVES = 300.0, 1.6      # 300 Hz far and to the side .. about 900 Hz near and centred
PULSE_SLOW_HZ, PULSE_FAST_HZ = 2.0, 10.0
FINDABILITY_EVERY_S = 0.3
# CIELAB difference (about the L* step) under which the target is "low in contrast", measured as the user
# sees it: on the val door photos, as a typical eye sees them, 30% of doors are under 10 (median 16.5, 90 doors).
LOW_CONTRAST_DE = 10.0
LOW_CONTRAST_READINGS = 2   # in a row, before it is said
SMALL_DEG = 2.0             # a target under this visual angle is "small"
LOST_FIELD = 0.5            # under this share of its light reaching a seeing part of the field: "in the lost part"
ANALYSIS_WIDTH = 320        # findability is measured on a copy this wide
# Typical widths of the things whose height the frame cuts when near (a door is 2 m high: within about
# 2.4 m of a camera at chest height its foot and top leave the picture, and Stage A's distance is then
# only an upper bound); a door leaf is 0.7-0.9 m wide.
TYPICAL_WIDTH_M = {"door": 0.85, "refrigerator door": 0.65, "cabinet door": 0.45}
EDGE_PX = 2.0
# Conditions whose simulation removes part of the field (the rest blur, tint or veil the whole view).
FIELD_LOSS = frozenset({"glaucoma", "retinitis_pigmentosa", "hemianopia_left", "hemianopia_right", "amd",
                        "diabetic_retinopathy"})


@dataclass(frozen=True)
class FindTarget:
    name: str                        # as said: "door", "stairs", "cup", "your keys"
    labels: frozenset[str] = frozenset()   # detector labels that are the target (empty for a personal object)
    personal: str | None = None      # the taught name ("my keys") when it is one of the user's own objects

    @property
    def shown(self) -> str:
        """As the status line shows it: the words the user chose."""
        return self.personal or self.name


def coco_classes() -> list[str]:
    from engine.models.registry import load_labels
    return list(load_labels("coco80")[0])


def choices(personal: Iterable[str] = ()) -> list[str]:
    """What the chooser offers: the user's own objects first, then door and stairs, then COCO classes."""
    own = sorted({p.strip() for p in personal if p.strip()}, key=str.lower)
    return own + ["door", "stairs"] + sorted(coco_classes())


def resolve(text: str, personal: Iterable[str] = ()) -> FindTarget:
    """The target a user's words mean. ValueError (one sentence) when there is none."""
    words = " ".join(str(text).lower().split())
    if not words:
        raise ValueError("say what to find: an object such as chair or cup, door, stairs, or one of your own objects")
    own = {p.strip().lower(): p.strip() for p in personal if p.strip()}
    for key in (words, "my " + words, words[3:] if words.startswith("my ") else None):
        if key and key in own:
            name = own[key]
            said = "your " + name[3:] if name.lower().startswith("my ") else name
            return FindTarget(said, frozenset(), name)
    words = SYNONYMS.get(words, words)
    if words in GROUPS:
        return FindTarget(words, frozenset(GROUPS[words]))
    coco = coco_classes()
    if words in coco:
        return FindTarget(words, frozenset({words}))
    if words.endswith("s") and words[:-1] in coco:
        return FindTarget(words[:-1], frozenset({words[:-1]}))
    hint = f"; or one of your own: {', '.join(sorted(own.values())[:5])}" if own else ""
    raise ValueError(f"I can't find {text.strip()!r}: choose an object such as chair, cup or bottle, door, or stairs{hint}")


def seeable_labels(pipeline) -> set[str]:
    """Every label the running detectors can report (the COCO one, and the door and stairs one when it runs)."""
    labels = set(getattr(pipeline.detector, "labels", ()) or ())
    access = getattr(pipeline, "access", None)
    if access is not None:
        labels |= set(getattr(access.detector, "labels", ()) or ())
    return labels


def why_not(target: FindTarget, labels: set[str], recognition: bool) -> str | None:
    """One sentence when this MaxSight cannot see the target at all, else None."""
    if target.personal is not None:
        return None if recognition else (f"finding {target.name} needs your own objects to be recognised, which is "
                                         "not running (it runs at tier T4 with a taught object)")
    if target.labels & labels:
        return None
    if target.labels & set(ACCESS_LABELS):
        return (f"finding {target.name} needs the door and stairs detector, which this MaxSight does not have yet "
                "(maxsight models list shows what is installed)")
    return f"the detector cannot see {target.name}"


# -- findability -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Findability:
    """How hard the target is to see for this user, measured on one frame."""
    score: float                     # 0 (cannot be seen) .. 1 (easy)
    size_deg: float                  # visual angle of the target's smaller side
    contrast: float | None           # CIELAB difference from its surroundings, as this user sees it (None: no surroundings)
    contrast_typical: float | None   # ... as an unaffected eye sees it
    field: float                     # share of its light that reaches a seeing part of the field (1 = all)
    condition: str = "none"
    severity: float = 0.0

    @property
    def level(self) -> str:
        return "easy" if self.score >= 0.55 else "moderate" if self.score >= 0.3 else "hard" if self.score >= 0.12 \
            else "very hard"

    @property
    def low_contrast(self) -> bool:
        return self.contrast is not None and self.contrast < LOW_CONTRAST_DE

    @property
    def reasons(self) -> tuple[str, ...]:
        out = []
        if self.size_deg < SMALL_DEG:
            out.append("small")
        if self.low_contrast:
            out.append("low in contrast")
        if self.field < LOST_FIELD:
            out.append("in the part of the field that is lost")
        return tuple(out)

    def words(self) -> str:
        """For therapists: 'hard (0.21): small (1.4 degrees), low in contrast (8 as seen, 31 typical)'."""
        parts = [f"{self.size_deg:.1f} degrees"]
        if self.contrast is not None:
            parts.append(f"contrast {self.contrast:.0f} as seen, {self.contrast_typical:.0f} typical")
        if self.condition in FIELD_LOSS:
            parts.append(f"{round(100 * self.field)}% in the seeing field")
        why = ", ".join(self.reasons)
        return f"{self.level} ({self.score:.2f})" + (f": {why}" if why else "") + f" [{'; '.join(parts)}]"

    def to_json(self) -> dict:
        return {"score": round(self.score, 3), "level": self.level, "size_deg": round(self.size_deg, 2),
                "contrast": None if self.contrast is None else round(self.contrast, 1),
                "contrast_typical": None if self.contrast_typical is None else round(self.contrast_typical, 1),
                "field": round(self.field, 3), "reasons": list(self.reasons)}


def _lab(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)       # L 0..100, a and b about -127..127


def _regions(shape, box) -> tuple[np.ndarray, np.ndarray] | None:
    """Masks of the target's middle (its box less a fifth each side) and a ring round the box, or
    None when there is no whole ring to measure: the box runs off the frame (what is beyond the edge
    is unknown, and a partial ring compares the target with one side only) or fills it."""
    h, w = shape[:2]
    x1, y1, x2, y2 = box
    if x1 <= 1 or y1 <= 1 or x2 >= w - 1 or y2 >= h - 1:
        return None
    bw, bh = x2 - x1, y2 - y1
    inner = np.zeros((h, w), bool)
    ix1, iy1 = int(round(x1 + 0.2 * bw)), int(round(y1 + 0.2 * bh))
    ix2, iy2 = max(ix1 + 1, int(round(x2 - 0.2 * bw))), max(iy1 + 1, int(round(y2 - 0.2 * bh)))
    inner[max(0, iy1):min(h, iy2), max(0, ix1):min(w, ix2)] = True
    pad = max(3.0, 0.25 * max(bw, bh))
    ring = np.zeros((h, w), bool)
    ring[max(0, int(y1 - pad)):min(h, int(math.ceil(y2 + pad))), max(0, int(x1 - pad)):min(w, int(math.ceil(x2 + pad)))] = True
    ring[max(0, int(y1)):min(h, int(math.ceil(y2))), max(0, int(x1)):min(w, int(math.ceil(x2)))] = False
    if inner.sum() < 4 or ring.sum() < max(12, 0.05 * bw * bh):
        return None
    return inner, ring


def _contrast(lab: np.ndarray, regions) -> float | None:
    if regions is None:
        return None
    inner, ring = regions
    a = np.median(lab[inner], axis=0)
    b = np.median(lab[ring], axis=0)
    return float(np.linalg.norm(a - b))


def findability(image: np.ndarray, box, condition: str = "none", severity: float = 0.0, hfov_deg: float = 60.0,
                t: float = 0.0) -> Findability:
    """How hard the object in `box` (x1, y1, x2, y2 frame pixels) of `image` ([H, W, 3] uint8 BGR) is
    to see with `condition` at `severity`: its size, its contrast against what surrounds it, and
    how much of it falls where the condition leaves the field, all measured on the frame as the
    condition's simulation shows it."""
    if condition != "none" and condition not in CONDITIONS:
        raise ValueError(f"condition must be one of none, {', '.join(CONDITIONS)}; got {condition!r}")
    h, w = image.shape[:2]
    k = min(1.0, ANALYSIS_WIDTH / w)
    small = cv2.resize(image, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA) if k < 1 else image
    sh, sw = small.shape[:2]
    x1, y1, x2, y2 = (max(0.0, box[0] * k), max(0.0, box[1] * k), min(float(sw), box[2] * k), min(float(sh), box[3] * k))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return Findability(0.0, 0.0, None, None, 0.0, condition, severity)
    seen = simulate(condition, small, severity, t) if condition != "none" and severity > 0 else small
    size_deg = min(x2 - x1, y2 - y1) / sw * hfov_deg
    regions = _regions(small.shape, (x1, y1, x2, y2))
    typical = _contrast(_lab(small), regions)
    contrast = typical if seen is small else _contrast(_lab(seen), regions)
    field_share = 1.0
    if condition in FIELD_LOSS and seen is not small:
        sl = (slice(int(y1), max(int(y1) + 1, int(math.ceil(y2)))), slice(int(x1), max(int(x1) + 1, int(math.ceil(x2)))))
        before = float(small[sl].astype(np.float32).sum()) + 1.0
        field_share = min(1.0, float(seen[sl].astype(np.float32).sum()) / before)
    s_size = min(1.0, max(0.0, math.log(max(size_deg, 1e-3) / 0.5) / math.log(15.0 / 0.5)))
    s_contrast = 0.5 if contrast is None else min(1.0, contrast / 40.0)
    score = field_share * math.sqrt(s_size * s_contrast)
    return Findability(score, size_deg, contrast, typical, field_share, condition, severity)


# -- following the target ----------------------------------------------------------------------
def reach_distance(h: Hazard, image_size: tuple[int, int], hfov_deg: float) -> float:
    """Stage A's distance, or nearer when the frame cuts the target's top or bottom (Stage A then
    only knows an upper bound) and its typical width says more: from the box's width when both
    sides are in the picture, or, when the box runs off both sides, the distance at which that
    width fills the view (it is at least that near)."""
    width_m = TYPICAL_WIDTH_M.get(h.label)
    w, hgt = image_size
    x1, y1, x2, y2 = h.box
    if width_m is None or not (y1 <= EDGE_PX or y2 >= hgt - EDGE_PX):
        return h.distance_m
    # A box cut at a side shows less than the whole width, so this too is an upper bound: never too near.
    visible = max(1.0, min(float(w), x2) - max(0.0, x1))
    return min(h.distance_m, (w / 2) / math.tan(math.radians(hfov_deg) / 2) * width_m / visible)


@dataclass(frozen=True)
class Guidance:
    """Find mode's answer for one frame."""
    target: FindTarget
    in_view: bool
    tone: Tone | None = None            # None: silent (not in view)
    cues: tuple[Cue, ...] = ()
    hazard: Hazard | None = None        # the target as Stage A sees it
    centred: bool = False
    in_reach: bool = False
    findability: Findability | None = None
    found_at: float | None = None       # media time of the frame it was (last) found in
    events: tuple[str, ...] = ()        # what happened this frame: found, lost, low_contrast, chime
    distance_m: float | None = None     # how far the target is, as find mode judges it (see reach_distance)
    hfov_deg: float = 60.0              # the camera's field of view (findability's visual angles)

    def words(self) -> str:
        """The status line: 'Finding: door, 2 o'clock, 3 metres' / 'Finding: door (not in view)'."""
        if not self.in_view or self.hazard is None:
            return f"Finding: {self.target.shown} (not in view)"
        h = self.hazard
        where = "centred, within reach" if self.centred and self.in_reach else clock_words(h.clock)
        return f"Finding: {self.target.shown}, {where}, {self.distance_m or h.distance_m:.1f} m"

    def to_json(self) -> dict:
        t = self.tone
        return {"target": self.target.shown, "in_view": self.in_view, "track_id": self.hazard.track_id if self.hazard else None,
                "tone": None if t is None else {"pan": round(t.pan, 3), "pitch_hz": round(t.pitch_hz, 1),
                                                "pulse_hz": round(t.pulse_hz, 2), "chime": t.chime},
                "centred": self.centred, "in_reach": self.in_reach, "said": [c.text for c in self.cues],
                "events": list(self.events),
                "findability": self.findability.to_json() if self.findability else None}


def tone_for(bearing_deg: float, distance_m: float, centred: bool, in_reach: bool, chime: bool = False) -> Tone:
    """The guidance tone for a target at this bearing (negative = left) and distance."""
    off = abs(bearing_deg)
    near = min(1.0, max(0.0, math.log(FAR_M / max(distance_m, 1e-3)) / math.log(FAR_M / REACH_M)))
    centre = 1.0 - min(off, 30.0) / 30.0
    heat = 0.65 * near + 0.35 * centre
    if off <= CENTRED_DEG:
        pan = 0.0
    else:
        pan = math.copysign(min(1.0, 0.3 + 0.7 * (off - CENTRED_DEG) / (SIDE_FULL_DEG - CENTRED_DEG)), bearing_deg)
    pulse = 0.0 if centred and in_reach else PULSE_SLOW_HZ + (PULSE_FAST_HZ - PULSE_SLOW_HZ) * near
    return Tone(pan=pan, pitch_hz=PITCH_LOW_HZ * 2 ** (PITCH_OCTAVES * heat), pulse_hz=pulse, chime=chime)


@dataclass
class _State:
    found: bool = False                 # said "found" and not lost since
    track_id: int | None = None
    last_seen: float = -1e9
    found_at: float | None = None
    centred: bool = False
    in_reach: bool = False
    chimed: bool = False
    out_of_zone_since: float | None = None
    low_said: bool = False
    low_run: int = 0
    checked_at: float = -1e9
    findability: Findability | None = None
    personal_ids: set = field(default_factory=set)


class FindMode:
    """Follows one target through the frames; `update` once per frame, after the cue policy."""

    def __init__(self, target: FindTarget, hfov_deg: float = 60.0):
        self.target = target
        self.hfov_deg = hfov_deg
        self.s = _State()
        self._seen_at: dict[int, float] = {}    # track id -> last time a detection (not coasting) matched it
        _lab(np.zeros((1, 1, 3), np.uint8))     # OpenCV builds its Lab tables on first use (about 0.3 s): now, not when found

    def _candidates(self, result: FrameResult) -> list[Hazard]:
        if self.target.personal is not None:
            name = self.target.personal.lower()
            self.s.personal_ids |= {r.track_id for r in result.recognised if r.label.lower() == name}
            return [h for h in result.hazards if h.track_id in self.s.personal_ids]
        return [h for h in result.hazards if h.label in self.target.labels]

    def _pick(self, result: FrameResult, now: float) -> Hazard | None:
        """The target in view: of the tracks detected in this frame (else those coasting a moment
        without a detection), the one followed so far, else the nearest to the middle of the view."""
        tracks = {t.track_id: t for t in result.tracks}
        candidates = self._candidates(result)
        for h in candidates:
            tr = tracks.get(h.track_id)
            if tr is None or tr.misses == 0:
                self._seen_at[h.track_id] = now                 # detected in this frame, not coasting
        self._seen_at = {k: v for k, v in self._seen_at.items() if k in tracks or k == self.s.track_id}
        seen = [h for h in candidates if now - self._seen_at.get(h.track_id, -1e9) <= SEEN_GAP_S]
        fresh = [h for h in seen if self._seen_at[h.track_id] == now] or seen    # detected now beats coasting
        for h in fresh:
            if h.track_id == self.s.track_id:
                return h
        return min(fresh, key=lambda h: (abs(h.bearing_deg), h.distance_m), default=None)

    def update(self, result: FrameResult, image: np.ndarray | None, now: float, condition: str = "none",
               severity: float = 0.0) -> Guidance:
        s = self.s
        h = self._pick(result, now)
        cues: list[Cue] = []
        events: list[str] = []
        if h is None:
            s.centred = s.in_reach = False
            if s.out_of_zone_since is None:
                s.out_of_zone_since = now
            if now - s.out_of_zone_since >= CHIME_REARM_S:
                s.chimed = False
            if s.found and now - s.last_seen > LOST_AFTER_S:
                s.found, s.track_id = False, None
                cues.append(Cue("Lost it", CueKind.FIND, Priority.NEXT, Urgency.SAFE, result.timestamp, label=self.target.shown))
            return Guidance(self.target, False, None, tuple(cues), None, findability=s.findability, found_at=s.found_at,
                            events=("lost",) if cues else (), hfov_deg=self.hfov_deg)
        s.last_seen, s.track_id = self._seen_at[h.track_id], h.track_id
        if not s.found:
            s.found, s.found_at = True, now
            events.append("found")
            # Priority.NOW: the answer the user waits for cuts cautions in the sound sinks (never warnings).
            cues.append(Cue(f"{self.target.name} found, {clock_words(h.clock)}", CueKind.FIND, Priority.NOW, Urgency.SAFE,
                            result.timestamp, track_id=h.track_id, label=self.target.shown, bearing_deg=h.bearing_deg,
                            distance_m=h.distance_m, clock=h.clock))
        off = abs(h.bearing_deg)
        distance = reach_distance(h, result.image_size, self.hfov_deg)
        s.centred = off <= CENTRED_DEG or (s.centred and off <= UNCENTRED_DEG)
        s.in_reach = distance <= REACH_M or (s.in_reach and distance <= UNREACH_M)
        chime = s.centred and s.in_reach and not s.chimed
        if s.centred and s.in_reach:
            s.out_of_zone_since = None
            if chime:
                s.chimed = True
                events.append("chime")
        else:
            if s.out_of_zone_since is None:
                s.out_of_zone_since = now
            if now - s.out_of_zone_since >= CHIME_REARM_S:
                s.chimed = False                 # away long enough: the next arrival chimes again
        if image is not None and now - s.checked_at >= FINDABILITY_EVERY_S:
            s.checked_at = now
            s.findability = findability(image, h.box, condition, severity, self.hfov_deg, result.timestamp)
            s.low_run = s.low_run + 1 if s.findability.low_contrast else 0
            if s.low_run >= LOW_CONTRAST_READINGS and not s.low_said:
                s.low_said = True
                events.append("low_contrast")
                cues.append(Cue(sentence("it is there but low in contrast"), CueKind.FIND, Priority.NORMAL, Urgency.SAFE,
                                result.timestamp, track_id=h.track_id, label=self.target.shown))
        tone = tone_for(h.bearing_deg, distance, s.centred, s.in_reach, chime)
        return Guidance(self.target, True, tone, tuple(cues), h, s.centred, s.in_reach, s.findability, s.found_at,
                        tuple(events), distance, self.hfov_deg)
