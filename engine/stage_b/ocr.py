"""Reading text: PP-OCRv4 detection + recognition from the `rapidocr-onnxruntime` wheel (models
inside it; its code runs on ONNX Runtime and opencv-python-headless: the wheel's opencv-python
requirement is skipped at install because that build clashes with PySide6).

Results come in reading order (lines top to bottom, words left to right within a line) with a
clock direction, so "read text now" can say "EXIT, 1 o'clock"."""
from __future__ import annotations

import logging
import math
import numpy as np

from engine.types import TextRead

log = logging.getLogger(__name__)
MIN_SCORE = 0.5


def _engine(threads: int = 1):
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise FileNotFoundError("the text reader is not installed (pip install --no-deps rapidocr-onnxruntime==1.4.4)") from None
    # One thread each: its default takes every core, and Stage A beside it would wait (a 2-thread
    # Stage B beside a 2-thread Stage A made Stage A 5x slower, ENVIRONMENT.md).
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


class TextReader:
    def __init__(self, hfov_deg: float = 60.0):
        self.engine = _engine()
        self.hfov_deg = hfov_deg

    def recognise(self, crop: np.ndarray) -> tuple[str, float]:
        """Recogniser alone, on an already cut-out word or line."""
        res, _ = self.engine(crop, use_det=False, use_cls=False, use_rec=True)
        if not res:
            return "", 0.0
        return str(res[0][0]), float(res[0][1])

    def read(self, image: np.ndarray) -> list[TextRead]:
        """[H, W, 3] BGR -> text found, in reading order."""
        from engine.stage_a.geometry import clock_from_bearing
        res, _ = self.engine(image)
        h, w = image.shape[:2]
        f = (w / 2) / math.tan(math.radians(self.hfov_deg) / 2)
        items = []
        for box, text, score in res or []:
            score = float(score)
            if score < MIN_SCORE or not str(text).strip():
                continue
            pts = tuple((float(x), float(y)) for x, y in box)
            cx = sum(p[0] for p in pts) / 4
            bearing = math.degrees(math.atan((cx - w / 2) / f))
            items.append(TextRead(str(text).strip(), score, pts, clock_from_bearing(bearing), bearing))
        return reading_order(items)


def reading_order(items: list[TextRead]) -> list[TextRead]:
    """Group into lines by vertical overlap, lines top to bottom, words left to right."""
    def span(t):
        ys = [p[1] for p in t.box]
        return min(ys), max(ys)
    lines: list[list[TextRead]] = []
    for t in sorted(items, key=lambda t: span(t)[0]):
        y0, y1 = span(t)
        for line in lines:
            ly0, ly1 = span(line[0])
            if min(y1, ly1) - max(y0, ly0) > 0.5 * min(y1 - y0, ly1 - ly0):
                line.append(t)
                break
        else:
            lines.append([t])
    return [t for line in lines for t in sorted(line, key=lambda t: min(p[0] for p in t.box))]
