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
    return cfg
