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
    def __init__(self, enabled: tuple[str, ...] | None, threads: int):
        from engine.stage_b.sound_events import SoundEventDetector
        path = _model("yamnet")
        self.detector = SoundEventDetector(path, path.parent / "yamnet_class_map.csv", threads=threads, enabled=enabled)

    def configure(self, enabled: tuple[str, ...] | None = None, **_) -> None:
        """Which sound classes to report: the user's sound-alert choice, changed live."""
        self.detector.set_enabled(enabled)

    def __call__(self, samples):
        return self.detector.feed(samples)


def sound_events(enabled: tuple[str, ...] | None = None, threads: int = 1):
    return _Sounds(enabled, threads)


def captions(threads: int = 1):
    from engine.stage_b.captions import CaptionStreamer
    from engine.types import CaptionLine
    streamer = CaptionStreamer(threads=threads)

    def run(samples):
        return [CaptionLine(c.text, c.start_s, c.end_s) for c in streamer.feed(samples)]
    return run


def ocr(hfov_deg: float = 60.0):
    from engine.stage_b.ocr import TextReader
    reader = TextReader(hfov_deg)

    def run(payload):
        image, asked = payload
        return reader.read(image), asked
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
