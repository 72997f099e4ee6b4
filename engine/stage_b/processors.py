"""Factories for the Stage B worker process: each returns a callable(payload) -> result and keeps
its own state (models, stream buffers) inside the worker."""
from __future__ import annotations

from pathlib import Path


def sound_events(model_dir: str, enabled: tuple[str, ...] | None = None, threads: int = 1):
    from engine.stage_b.sound_events import SoundEventDetector
    d = SoundEventDetector(Path(model_dir) / "yamnet" / "model.onnx", Path(model_dir) / "yamnet" / "yamnet_class_map.csv",
                           threads=threads, enabled=enabled)

    def run(samples):
        return d.feed(samples)
    return run


def captions(threads: int = 1):
    from engine.stage_b.captions import CaptionStreamer
    streamer = CaptionStreamer(threads=threads)

    def run(samples):
        from engine.types import CaptionLine
        return [CaptionLine(c.text, c.start_s, c.end_s) for c in streamer.feed(samples)]
    return run


def ocr(hfov_deg: float = 60.0):
    from engine.stage_b.ocr import TextReader
    reader = TextReader(hfov_deg)

    def run(payload):
        image, asked = payload
        return reader.read(image), asked
    return run


def recognition(model_dir: str, index_path: str, db_path: str, user_id: int):
    """Personal objects. The GUI process teaches (writes the FAISS file and the profile rows); this
    reloads both whenever the file changes, reading the profile through SQLite's WAL (no locking)."""
    import os
    import sqlite3

    from engine.stage_b.recognition import Embedder, PersonalIndex
    from engine.types import Recognised
    embedder = Embedder(Path(model_dir) / "mobilenet_v2" / "model.onnx", threads=1)
    state = {"mtime": None, "index": None}

    def load():
        mtime = os.path.getmtime(index_path) if os.path.exists(index_path) else None
        if mtime == state["mtime"] and state["index"] is not None:
            return state["index"]
        index = PersonalIndex(embedder, Path(index_path))
        with sqlite3.connect(db_path, timeout=5) as conn:
            index.labels = dict(conn.execute("SELECT id, label FROM personal_items WHERE user_id = ?", (user_id,)).fetchall())
        state.update(mtime=mtime, index=index)
        return index

    def run(items):
        index = load()
        out = []
        for track_id, crop in items:
            m = index.search(crop)
            if m is not None:
                out.append(Recognised(track_id, m.label, m.similarity))
        return out
    return run
