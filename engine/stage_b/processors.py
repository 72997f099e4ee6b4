"""Factories for the Stage B worker process: each returns a callable(payload) -> result and keeps
its own state (models, stream buffers) inside the worker. Model files are found through the
registry and checked against their recorded hashes there; the worker never reads the profile
database. A processor with `configure(**changes)` takes live changes without being rebuilt.
Each takes its task's job type and answers with its result type (engine/types.py)."""
from __future__ import annotations

from pathlib import Path


def _model(name: str) -> Path:
    from engine.models.registry import default_registry, verified_path
    return verified_path(default_registry(include_user=False).get(name))


def sound_head():
    """The trained sound head shipped with MaxSight, or None (logged) when it is missing or
    damaged: YAMNet's own classes are the fallback, so sounds never stop for want of it."""
    import logging

    from engine.models.spec import ModelError
    from engine.stage_b.sound_head import SoundHead
    try:
        path = _model("sound_head")
        return SoundHead.load(path, path.with_suffix(".json"))
    except (ModelError, KeyError) as exc:
        logging.getLogger(__name__).warning("sound head not used, YAMNet's own classes instead: %s", exc)
        return None


class _Sounds:
    def __init__(self, enabled: tuple[str, ...] | None, threads: int, custom: dict | None, head: bool = True):
        from engine.stage_b.sound_events import SoundEventDetector
        path = _model("yamnet")
        self.detector = SoundEventDetector(path, path.parent / "yamnet_class_map.csv", threads=threads, enabled=enabled,
                                           custom=custom, head=sound_head() if head else None)

    def configure(self, **changes) -> None:
        """Live changes: `enabled` (the user's sound-alert choice), `custom` (the user's own
        sounds: name -> embeddings) and `head` (use the trained sound head); only what is given changes."""
        if "enabled" in changes:
            self.detector.set_enabled(changes["enabled"])
        if "custom" in changes:
            self.detector.set_custom(changes["custom"])
        if "head" in changes and bool(changes["head"]) != (self.detector.head is not None):
            self.detector.set_head(sound_head() if changes["head"] else None)

    def __call__(self, job):
        from engine.types import SoundResult
        return SoundResult(tuple(self.detector.feed(job.samples)))


def sound_events(enabled: tuple[str, ...] | None = None, threads: int = 1, custom: dict | None = None, head: bool = True):
    """custom: the user's own sounds, name -> [N, 1024] YAMNet embeddings (taught in the app);
    head: score smoke alarms, glass breaking and crying with the trained sound head (YAMNet when off)."""
    return _Sounds(enabled, threads, custom, head)


def captions(threads: int = 1):
    from engine.stage_b.captions import CaptionStreamer
    from engine.types import CaptionLine, CaptionResult
    streamer = CaptionStreamer(threads=threads)

    def run(job):
        return CaptionResult(tuple(CaptionLine(c.text, c.start_s, c.end_s) for c in streamer.feed(job.samples)))
    return run


def ocr(hfov_deg: float = 60.0):
    """TextJob -> TextResult: asked ("read text now") uses the finer detection; every pass votes
    with the passes of the last few seconds, so a sign read on several frames of a moving camera is
    said as most frames read it. DocumentJob -> PageResult: a flattened page from document mode,
    read with the print preset and never voted."""
    from engine.stage_b.ocr import DOCUMENT, TextReader, TextVote
    from engine.types import DocumentJob, PageResult, TextJob, TextResult
    reader = TextReader(hfov_deg)
    vote = TextVote()

    def run(job):
        if isinstance(job, DocumentJob):
            return PageResult(tuple(reader.read(job.page, options=DOCUMENT)))
        if not isinstance(job, TextJob):
            raise TypeError(f"the text reader takes a TextJob or a DocumentJob, got {type(job).__name__}")
        return TextResult(tuple(vote.update(reader.read(job.image, asked=job.asked), job.t)), job.asked)
    return run


def recognition(index_path: str):
    """Personal objects. The app teaches (writes the FAISS file and its labels sidecar); this
    reloads both whenever either changes."""
    import os

    from engine.stage_b.recognition import Embedder, PersonalIndex, labels_path
    from engine.types import Recognised, RecognitionResult
    embedder = Embedder(_model("mobilenet_v2"), threads=1)
    state = {"stamp": None, "index": None}

    def stamp():
        return tuple(os.stat(p).st_mtime_ns if os.path.exists(p) else None for p in (index_path, labels_path(Path(index_path))))

    def load():
        now = stamp()
        if now != state["stamp"] or state["index"] is None:
            state.update(stamp=now, index=PersonalIndex(embedder, Path(index_path)))
        return state["index"]

    def run(job):
        index = load()
        out = []
        for track_id, crop in job.crops:
            m = index.search(crop)
            if m is not None:
                out.append(Recognised(track_id, m.label, m.similarity))
        return RecognitionResult(tuple(out))
    return run
