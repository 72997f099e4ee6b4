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
