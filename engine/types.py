"""The project's vocabulary: frozen dataclasses that flow from capture to cues.

Coordinates are pixels in the original frame, boxes are (x1, y1, x2, y2). Times are seconds.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field

import numpy as np

Box = tuple[float, float, float, float]

# MaxSight's environmental sound classes (engine.stage_b.sound_events maps YAMNet's classes onto
# these); the profile's sound alerts and the cue policy's words are keyed by them.
SOUND_LABELS: tuple[str, ...] = ("doorbell", "knock", "smoke_alarm", "siren", "car_horn", "baby_crying", "dog_bark",
                                 "glass_breaking", "speech")


class Urgency(enum.IntEnum):
    SAFE = 0
    CAUTION = 1
    WARNING = 2
    DANGER = 3

    @property
    def word(self) -> str:
        return self.name.lower()


class Zone(enum.Enum):
    """The seed's distance zones, derived here from metres (see engine.stage_a.geometry)."""
    NEAR = "near"
    MEDIUM = "medium"
    FAR = "far"


@dataclass(frozen=True, eq=False)
class Frame:
    index: int
    timestamp: float          # seconds since the source started (video time for files)
    image: np.ndarray         # [H, W, 3] uint8 BGR, as OpenCV delivers it

    def __post_init__(self) -> None:
        img = self.image
        if not (isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8):
            raise ValueError(f"a Frame needs an [H, W, 3] uint8 BGR image, got {getattr(img, 'shape', type(img))}")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True, eq=False)
class AudioChunk:
    timestamp: float
    samples: np.ndarray       # [N] float32 mono in -1..1
    sample_rate: int


@dataclass(frozen=True)
class Detection:
    box: Box
    class_id: int             # 0..79, contiguous COCO-80 order
    label: str
    score: float
    source: str = ""          # which detector produced it


@dataclass(frozen=True)
class Track:
    track_id: int
    class_id: int
    label: str
    box: Box
    score: float              # smoothed detector confidence
    age: int                  # frames since birth
    hits: int                 # frames with a matched detection
    misses: int               # consecutive frames without one
    confirmed: bool
    velocity: tuple[float, float]   # box centre, pixels per second
    growth_rate: float        # d ln(box size)/dt, 1/s; > 0 means it is getting closer
    ttc_s: float | None       # time to contact from growth, when approaching
    class_share: float = 1.0  # share of the track's class vote its label holds (1 = the detector never wavered)
    alternatives: tuple[str, ...] = ()   # other classes holding at least a fifth of the vote
    # Not seen getting nearer: its size (or its width while the picture cuts its top or bottom)
    # held over the growth window, or too young to tell while both its sides are in view. False
    # when it grows, or when it is cut at a side (it can never be measured). Only a thing within
    # reach that is not closing may be said as a caution rather than a warning.
    not_closing: bool = False

    def __post_init__(self) -> None:
        # The tracker decides `confirmed` from numpy sums: keep it a Python bool, or JSON lines fail.
        object.__setattr__(self, "confirmed", bool(self.confirmed))


@dataclass(frozen=True)
class Hazard:
    track_id: int
    class_id: int
    label: str
    box: Box
    clock: int                # 9..3, 12 = straight ahead
    bearing_deg: float        # negative = left
    distance_m: float
    zone: Zone
    approaching: bool
    ttc_s: float | None
    urgency: Urgency
    priority: float           # higher = more important, for ordering within an urgency level
    score: float
    in_path: bool             # roughly in the user's walking corridor
    sure: bool = True         # is the class sure? If not, the cue says "something", never a guess
    detail: str = ""          # what helps beyond where: "handle on the right" for a door


@dataclass(frozen=True)
class SoundEvent:
    label: str                # MaxSight sound class: doorbell, siren, baby_crying, ...
    score: float
    start_s: float            # stream time the sound began
    direction: str | None     # "left"/"right" when a stereo microphone can tell; else None
    own: bool = False         # one of the user's own taught sounds: label is the name they gave it


@dataclass(frozen=True)
class FrameQuality:
    brightness: float         # mean grey level 0..255
    sharpness: float          # variance of the Laplacian on a 320 px grey copy
    contrast: float           # grey standard deviation
    dark: bool
    blurred: bool
    covered: bool
    score: float              # 1 = good frame, 0 = useless
    directionality: float = 1.0   # weaker / stronger gradient direction; low = motion blur


@dataclass(frozen=True)
class TextWord:
    text: str
    score: float
    box: tuple[tuple[float, float], ...]   # 4 corners, pixels


@dataclass(frozen=True)
class TextRead:
    """One line of text as read (what is said); its words carry their own boxes."""
    text: str
    score: float
    box: tuple[tuple[float, float], ...]   # 4 corners, pixels
    clock: int
    bearing_deg: float
    words: tuple[TextWord, ...] = ()
    seen: int = 1                          # frames that agreed on this reading (several-frame vote)


@dataclass(frozen=True)
class DocumentView:
    """Document mode, this frame: how to move the camera, where the page is, and the page read."""
    guidance: str                                         # "" when the whole page is in view and steady
    page: tuple[tuple[float, float], ...] | None          # the page's 4 corners in the frame, pixels
    reading: bool = False                                 # the sharpest page has gone to the text reader
    texts: tuple[TextRead, ...] | None = None             # the page read (flattened-page pixels), when it arrives


@dataclass(frozen=True)
class Recognised:
    track_id: int
    label: str                # the user's own name for it: "my mug", "my front door"
    similarity: float


@dataclass(frozen=True)
class CaptionLine:
    text: str
    start_s: float            # stream time the speech began
    end_s: float


# -- Stage B's language: one job and one result per task, sent to and from its worker process ------
# The pipeline submits a job, the task's processor (engine.stage_b.processors) answers with its
# result type, and the pipeline sorts results by type: no positional tuples, no flags that are
# sometimes a bool and sometimes a word.

def _check_samples(samples: np.ndarray, what: str) -> None:
    if not (isinstance(samples, np.ndarray) and samples.ndim == 1 and samples.dtype == np.float32):
        raise ValueError(f"a {what} needs [N] float32 mono samples at 16 kHz, got "
                         f"{getattr(samples, 'dtype', type(samples))} {getattr(samples, 'shape', '')}")


def _check_image(image: np.ndarray, what: str) -> None:
    if not (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8):
        raise ValueError(f"a {what} needs an [H, W, 3] uint8 BGR image, got {getattr(image, 'shape', type(image))}")


@dataclass(frozen=True, eq=False)
class SoundJob:
    """Audio for the sound-alert stream (task "sounds")."""
    samples: np.ndarray       # [N] float32 mono, 16 kHz, in -1..1; continues the previous job's audio

    def __post_init__(self) -> None:
        _check_samples(self.samples, "SoundJob")


@dataclass(frozen=True)
class SoundResult:
    events: tuple[SoundEvent, ...]      # sounds that began in this audio (once per occurrence)


@dataclass(frozen=True, eq=False)
class CaptionJob:
    """Audio for the captions stream (task "captions")."""
    samples: np.ndarray       # [N] float32 mono, 16 kHz, in -1..1; continues the previous job's audio

    def __post_init__(self) -> None:
        _check_samples(self.samples, "CaptionJob")


@dataclass(frozen=True)
class CaptionResult:
    lines: tuple[CaptionLine, ...]      # speech captioned so far (complete segments)


@dataclass(frozen=True, eq=False)
class TextJob:
    """One frame for the text reader (task "ocr"): the background pass, or the user's "read text now"."""
    image: np.ndarray         # [H, W, 3] uint8 BGR frame
    t: float                  # stream time of the frame: the several-frame vote's clock
    asked: bool = False       # the user asked: the finer, slower detection, and the answer is said

    def __post_init__(self) -> None:
        _check_image(self.image, "TextJob")


@dataclass(frozen=True)
class TextResult:
    lines: tuple[TextRead, ...]         # reading order, after the several-frame vote
    asked: bool                         # it answers the user's "read text now"


@dataclass(frozen=True, eq=False)
class DocumentJob:
    """A flattened page from document mode for the text reader (task "ocr"): print preset, no vote."""
    page: np.ndarray          # [H, W, 3] uint8 BGR, the page seen square-on

    def __post_init__(self) -> None:
        _check_image(self.page, "DocumentJob")


@dataclass(frozen=True)
class PageResult:
    lines: tuple[TextRead, ...]         # the page read, in flattened-page pixels


@dataclass(frozen=True, eq=False)
class RecognitionJob:
    """Crops of tracked objects for the user's own objects (task "recognition")."""
    crops: tuple[tuple[int, np.ndarray], ...]     # (track id, [h, w, 3] uint8 BGR crop)

    def __post_init__(self) -> None:
        for item in self.crops:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise ValueError(f"a RecognitionJob holds (track id, crop) pairs, got {type(item).__name__}")
            _check_image(item[1], "RecognitionJob crop")


@dataclass(frozen=True)
class RecognitionResult:
    matches: tuple[Recognised, ...]     # the crops that are one of the user's own objects


StageBJob = SoundJob | CaptionJob | TextJob | DocumentJob | RecognitionJob
StageBValue = SoundResult | CaptionResult | TextResult | PageResult | RecognitionResult


@dataclass(frozen=True)
class StageBReport:
    skipped: str | None        # why frame tasks were skipped for this frame (None = they ran or were queued)
    dropped: int               # jobs dropped so far because the queue was full
    pending: int
    disabled: tuple[str, ...]
    max_age_s: float           # oldest result merged into this frame (input time to now)
    audio_dropped_s: float = 0.0   # audio a busy stream task could not take in time (oldest first)
    tasks: tuple[str, ...] = ()    # the processors Stage B runs (those in `disabled` included)


@dataclass(frozen=True)
class FrameResult:
    frame_index: int
    timestamp: float
    image_size: tuple[int, int]                 # (width, height)
    detections: tuple[Detection, ...]
    tracks: tuple[Track, ...]
    hazards: tuple[Hazard, ...]                 # most urgent first
    quality: FrameQuality
    uncertainty: float                          # 0..1: detector ambiguity plus frame quality
    timings_ms: dict[str, float] = field(default_factory=dict)
    model: str = ""
    problems: tuple[str, ...] = ()              # what went wrong in this frame, for the user and logs
    sounds: tuple[SoundEvent, ...] = ()         # Stage B: environmental sounds that began since the last frame
    stage_b: StageBReport | None = None         # Stage B: skipped or not, and what it dropped
    captions: tuple[CaptionLine, ...] = ()      # Stage B: speech captioned since the last frame
    texts: tuple[TextRead, ...] = ()            # Stage B: text read from a recent frame, reading order
    texts_asked: bool = False                   # those texts answer the user's "read text now"
    recognised: tuple[Recognised, ...] = ()     # Stage B: tracked objects that are the user's own
    document: DocumentView | None = None        # document mode (None when it is off)

    def to_json(self) -> dict:
        """A JSON-ready dict (enums as words, floats rounded) for `maxsight run --out`."""
        def clean(v):
            if isinstance(v, enum.Enum):
                return v.name.lower() if isinstance(v, Urgency) else v.value
            if isinstance(v, float):
                return round(v, 4)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v
        d = {
            "frame": self.frame_index,
            "t": self.timestamp,
            "size": list(self.image_size),
            "model": self.model,
            "detections": [asdict(x) for x in self.detections],
            "tracks": [asdict(x) for x in self.tracks],
            "hazards": [asdict(x) for x in self.hazards],
            "quality": asdict(self.quality),
            "uncertainty": self.uncertainty,
            "timings_ms": self.timings_ms,
            "problems": list(self.problems),
            "sounds": [asdict(x) for x in self.sounds],
            "captions": [asdict(x) for x in self.captions],
            "texts": [asdict(x) for x in self.texts],
            "recognised": [asdict(x) for x in self.recognised],
            "stage_b": asdict(self.stage_b) if self.stage_b else None,
        }
        return clean(d)
