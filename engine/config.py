"""Engine options: frozen, checked once by `verify`, with a message the user can act on."""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class CameraModel:
    """Pinhole camera as worn or held: horizontal field of view, height above floor, downward tilt.

    Defaults fit a laptop or chest-height webcam: 60 degree HFOV (most webcams are 55-78),
    1.3 m above the floor, tilted 5 degrees down."""
    hfov_deg: float = 60.0
    height_m: float = 1.3
    tilt_deg: float = 5.0

    def focal_px(self, width: int) -> float:
        return (width / 2) / math.tan(math.radians(self.hfov_deg) / 2)


class Tier(enum.Enum):
    """Capability tiers from the seed, resolved once (stage_b_tasks) into which Stage B processors
    run; nothing downstream branches on the tier itself."""
    T0 = "T0"   # Stage A only (hazards, direction, distance, urgency)
    T1 = "T1"   # + environmental sounds (the cheapest context: ~2 ms per 0.48 s)
    T2 = "T2"   # + live captions
    T3 = "T3"   # + reading text (the seed's cross-modal tier: OCR, scene description)
    T4 = "T4"   # + personal objects and places (the seed's retrieval): everything Stage B has
    # No T5: the seed's temporal tier adds nothing at run time (tracking is always temporal); the
    # temporal model is a training recipe (configs/t5.yaml), not a tier of the app.


_TIER_TASKS = {
    Tier.T0: (),
    Tier.T1: ("sounds",),
    Tier.T2: ("sounds", "captions"),
    Tier.T3: ("sounds", "captions", "ocr"),
    Tier.T4: ("sounds", "captions", "ocr", "recognition"),
}


def stage_b_tasks(tier: "Tier") -> tuple[str, ...]:
    return _TIER_TASKS[tier]


@dataclass(frozen=True)
class TrackerConfig:
    match_iou: float = 0.3          # minimum IoU to continue a track
    confirm_hits: int = 2           # matched frames before a track is reported
    max_misses_s: float = 0.7       # keep a lost track alive this long (occlusion, missed frames)
    growth_window_s: float = 1.0    # how much history the approach estimate looks at
    approach_growth: float = 0.08   # d ln(size)/dt above this (1/s) = approaching (TTC < 12.5 s)


@dataclass(frozen=True)
class CollisionConfig:
    """The class-agnostic "in your path" lane (engine/stage_a/collision.py)."""
    enabled: bool = False           # off unless chosen: real walks are unmeasured, steps not found (docs/measurements/issue23.md)
    width: int = 320                # flow is measured at this width (px)
    flow: str = "fast"              # OpenCV DIS preset: ultrafast, fast or medium (medium: 4x the cost, no better here)
    baseline_s: float = 0.1         # flow is measured against the frame this long ago (0.3 was no better)
    window_blocks: int = 2          # expansion is fitted over windows of this many 16 px blocks a side
    ttc_s: float = 3.0              # a region closer than this in time is on a collision course
    persist_s: float = 0.2          # ...for this long running (seconds, not frames: 3 frames at 10 fps)
    persist_ground_s: float = 0.4   # ...or this long below the horizon, over the floor (fitted on dev: 5 frames at 10 fps)
    min_region_windows: int = 3     # a region on course must span at least this many windows (fitted on dev)
    side_near_m: float = 1.1        # a new region so far to a side that it could be in the corridor only this near
                                    # is passing by (0 = not asked)
    min_new_ttc_s: float = 0.5      # a new region wholly in the picture's bottom third, nearer in time than this, is
                                    # doubted for DOUBT_S (0.2 s; the floor's flow is largest there)
    smoothing: float = 0.4          # share of the expansion 0.1 s ago kept in this frame's (0 = none)
    corridor_half_m: float = 0.45   # half the walking corridor's width
    head_top_m: float = 2.1         # the corridor's top; above this nothing is in the way
    head_band_m: float = 1.45       # a region wholly above this is "at head height"
    floor_margin: float = 1.3       # expanding this many times faster than the floor at its row (fitted on dev)...
    floor_ratio: float = 1.5        # ...and stretching down the picture less than this times across (floor: 2)
    min_expansion: float = 0.05     # 1/s on top of the floor's
    min_texture: float = 6.0        # mean gradient across (down) a window its stretch across (down) needs to mean something
    min_parallax: float = 0.03      # below the horizon, a window must stand up from the floor (about its height
                                    # above the floor over its depth, from plane plus parallax; 0 = not asked; fitted on dev)
    min_speed_mps: float = 0.3      # the lane speaks only while the walker moves
    max_speed_mps: float = 2.5
    speed_smoothing_s: float = 0.6
    drop_off: bool = True
    drop_max_m: float = 7.0         # floor rows farther than this are not looked at for an edge
    drop_q: float = 0.75            # beyond an edge the floor expands under this share of the model's
    drop_floor_q: float = 0.85      # ...and before it at least this share
    drop_carry_s: float = 3.0       # an edge out of sight below the picture is kept for this much walking


# The collision lane's two operating points on the dev half of `maxsight eval collide`'s rendered
# walks (docs/measurements/issue23.md): "fewer" (the defaults, what --collision on means) is what the
# fit chose (at 10 fps), the most obstacles warned at <= 1 false onset a minute; "more" is the
# frontier's next point, 90% of dev obstacles warned at 1.1 false onsets a minute (about 2 at 30 fps).
COLLISION_SENSITIVITY = {
    "fewer": {},
    "more": {"min_region_windows": 2},
}


def collision_config(mode: str) -> CollisionConfig:
    """The lane for "off", "fewer" (false alarms; "on" is the same) or "more" (obstacles warned)."""
    mode = "fewer" if mode == "on" else mode
    if mode == "off":
        return CollisionConfig(enabled=False)
    if mode not in COLLISION_SENSITIVITY:
        raise ValueError(f"the collision lane is off, on, fewer or more, got {mode!r}")
    return replace(CollisionConfig(enabled=True), **COLLISION_SENSITIVITY[mode])


@dataclass(frozen=True)
class EngineConfig:
    detector: str = "nanodet"
    threads: int = 2
    device: str = "auto"
    camera: CameraModel = field(default_factory=CameraModel)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    tier: Tier = Tier.T4
    min_score: float = 0.05         # floor for raw detections (keep_score/birth_score gate tracks)
    stage_b_memory_mb: float = 1500.0   # the Stage B worker is restarted above this resident memory
    # Smoke alarms, glass breaking and crying scored by MaxSight's trained sound head (assets/models/
    # sound_head); False, or a head that is missing or damaged: YAMNet's own output for every class.
    sound_head: bool = True
    # Doors, handles and stairs: a second detector beside the COCO one ("" = off), run at most every
    # access_every_s (0.2 s = 5 times a second, what stairs need at walking pace).
    access: str = ""
    access_every_s: float = 0.2
    collision: CollisionConfig = field(default_factory=CollisionConfig)
    collision_from_profile: bool = False    # the app's session sets the lane from the user's setting

    def with_(self, **changes) -> "EngineConfig":
        return verify(replace(self, **changes))


def verify(cfg: EngineConfig) -> EngineConfig:
    """Check every option; raise ValueError naming the field and the allowed range."""
    if not 1 <= cfg.threads <= 64:
        raise ValueError(f"threads must be between 1 and 64, got {cfg.threads}")
    if cfg.device not in ("auto", "cuda", "mps", "cpu"):
        raise ValueError(f"device must be auto, cuda, mps or cpu, got {cfg.device!r}")
    c = cfg.camera
    if not 20 <= c.hfov_deg <= 170:
        raise ValueError(f"camera.hfov_deg must be between 20 and 170 degrees, got {c.hfov_deg}")
    if not 0.1 <= c.height_m <= 3.0:
        raise ValueError(f"camera.height_m must be between 0.1 and 3.0 metres, got {c.height_m}")
    if not -30 <= c.tilt_deg <= 60:
        raise ValueError(f"camera.tilt_deg must be between -30 and 60 degrees, got {c.tilt_deg}")
    t = cfg.tracker
    if not 0.05 <= t.match_iou <= 0.95:
        raise ValueError(f"tracker.match_iou must be between 0.05 and 0.95, got {t.match_iou}")
    if t.confirm_hits < 1:
        raise ValueError(f"tracker.confirm_hits must be at least 1, got {t.confirm_hits}")
    if not 100 <= cfg.stage_b_memory_mb <= 64000:
        raise ValueError(f"stage_b_memory_mb must be between 100 and 64000, got {cfg.stage_b_memory_mb}")
    if not 0.02 <= cfg.access_every_s <= 5.0:
        raise ValueError(f"access_every_s must be between 0.02 and 5 seconds, got {cfg.access_every_s}")
    if not 0 < cfg.min_score < 1:
        raise ValueError(f"min_score must be between 0 and 1, got {cfg.min_score}")
    k = cfg.collision
    if not 64 <= k.width <= 1280 or k.width % 16:
        raise ValueError(f"collision.width must be a multiple of 16 between 64 and 1280 pixels, got {k.width}")
    if k.flow not in ("ultrafast", "fast", "medium"):
        raise ValueError(f"collision.flow must be ultrafast, fast or medium, got {k.flow!r}")
    if not 0.5 <= k.ttc_s <= 10:
        raise ValueError(f"collision.ttc_s must be between 0.5 and 10 seconds, got {k.ttc_s}")
    for name in ("persist_s", "persist_ground_s"):
        if not 0.0 <= getattr(k, name) <= 3.0:
            raise ValueError(f"collision.{name} must be between 0 and 3 seconds, got {getattr(k, name)}")
    if not 0.1 <= k.corridor_half_m <= 2.0:
        raise ValueError(f"collision.corridor_half_m must be between 0.1 and 2 metres, got {k.corridor_half_m}")
    if not 0.0 <= k.min_parallax <= 1.0:
        raise ValueError(f"collision.min_parallax must be between 0 (not asked) and 1, got {k.min_parallax}")
    if not 0.0 <= k.side_near_m <= 5.0:
        raise ValueError(f"collision.side_near_m must be between 0 (not asked) and 5 metres, got {k.side_near_m}")
    if not 0.0 <= k.min_new_ttc_s <= k.ttc_s:
        raise ValueError(f"collision.min_new_ttc_s must be between 0 and collision.ttc_s ({k.ttc_s} s), got {k.min_new_ttc_s}")
    return cfg
