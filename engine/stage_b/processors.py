"""Factories for the Stage B worker process: each returns a callable(payload) -> result and keeps
its own state (models, stream buffers) inside the worker. Model files are found through the
registry and checked against their recorded hashes there; the worker never reads the profile
database. A processor with `configure(**changes)` takes live changes without being rebuilt."""
from __future__ import annotations

from pathlib import Path


def _model(name: str) -> Path:
    from engine.models.registry import default_registry, verified_path
    return verified_path(default_registry(include_user=False).get(name))


class _Sounds:
    def __init__(self, enabled: tuple[str, ...] | None, threads: int, custom: dict | None):
        from engine.stage_b.sound_events import SoundEventDetector
        path = _model("yamnet")
        self.detector = SoundEventDetector(path, path.parent / "yamnet_class_map.csv", threads=threads, enabled=enabled,
                                           custom=custom)

    def configure(self, **changes) -> None:
        """Live changes: `enabled` (the user's sound-alert choice) and `custom` (the user's own
        sounds: name -> embeddings); only what is given changes."""
        if "enabled" in changes:
            self.detector.set_enabled(changes["enabled"])
        if "custom" in changes:
            self.detector.set_custom(changes["custom"])

    def __call__(self, samples):
        return self.detector.feed(samples)


def sound_events(enabled: tuple[str, ...] | None = None, threads: int = 1, custom: dict | None = None):
    """custom: the user's own sounds, name -> [N, 1024] YAMNet embeddings (taught in the app)."""
    return _Sounds(enabled, threads, custom)


def captions(threads: int = 1):
    from engine.stage_b.captions import CaptionStreamer
    from engine.types import CaptionLine
    streamer = CaptionStreamer(threads=threads)

    def run(samples):
        return [CaptionLine(c.text, c.start_s, c.end_s) for c in streamer.feed(samples)]
    return run


def ocr(hfov_deg: float = 60.0):
    """payload (image, asked[, stream time]) -> (lines read, asked). Asked ("read text now") uses
    the finer detection; every pass votes with the passes of the last few seconds, so a sign read
    on several frames of a moving camera is said as most frames read it. asked == "document": a
    flattened page from document mode, read with the finer detection and not voted."""
    import time

    from engine.stage_b.ocr import DOCUMENT, TextReader, TextVote
    reader = TextReader(hfov_deg)
    vote = TextVote()

    def run(payload):
        image, asked = payload[0], payload[1]
        if asked == "document":              # a flattened page from document mode: print preset, never voted
            return reader.read(image, options=DOCUMENT), asked
        t = float(payload[2]) if len(payload) > 2 else time.monotonic()
        return vote.update(reader.read(image, asked=bool(asked)), t), bool(asked)
    return run


def recognition(index_path: str):
    """Personal objects. The app teaches (writes the FAISS file and its labels sidecar); this
    reloads both whenever either changes."""
    import os

    from engine.stage_b.recognition import Embedder, PersonalIndex, labels_path
    from engine.types import Recognised
    embedder = Embedder(_model("mobilenet_v2"), threads=1)
    state = {"stamp": None, "index": None}

    def stamp():
        return tuple(os.stat(p).st_mtime_ns if os.path.exists(p) else None for p in (index_path, labels_path(Path(index_path))))

    def load():
        now = stamp()
        if now != state["stamp"] or state["index"] is None:
            state.update(stamp=now, index=PersonalIndex(embedder, Path(index_path)))
        return state["index"]

    def run(items):
        index = load()
        out = []
        for track_id, crop in items:
            m = index.search(crop)
            if m is not None:
                out.append(Recognised(track_id, m.label, m.similarity))
        return out
    return run
