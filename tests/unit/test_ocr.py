"""Reading text: a real street-sign photo read correctly, reading order, and 'read text now'
answered through the Stage B worker process."""
from __future__ import annotations

import cv2
import pytest

from engine.stage_b.ocr import reading_order
from engine.types import TextRead


def tr(text, x, y, w=40, h=12):
    return TextRead(text, 0.9, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), 12, 0.0)


def test_reading_order_is_lines_top_to_bottom_words_left_to_right():
    items = [tr("World", 200, 101), tr("Hello", 100, 100), tr("Exit", 120, 200), tr("Second", 10, 150)]
    assert [t.text for t in reading_order(items)] == ["Hello", "World", "Second", "Exit"]


@pytest.fixture(scope="module")
def sign(eval_data):
    return cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000001532.jpg"))


@pytest.mark.slow
def test_a_real_street_sign_is_read(sign):
    from engine.stage_b.ocr import TextReader
    words = {t.text.lower() for t in TextReader().read(sign)}
    assert {"hollywood", "sunset", "north"} <= words, words


@pytest.mark.slow
def test_read_text_now_through_the_worker(sign, installed_models):
    import time

    from engine.config import EngineConfig
    from engine.pipeline import Pipeline
    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    from engine.types import Frame
    from maxsight_app.cues.types import CueKind
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.session import Session
    sched = StageBScheduler({"ocr": ProcessorSpec("engine.stage_b.processors:ocr")}, timeout_s=60)
    try:
        spy = SpyOutput()
        session = Session(Pipeline(EngineConfig(), installed_models, stage_b=sched), outputs=[spy])
        session.handle(Frame(0, 0.0, sign))
        assert session.request("read_text").text == "Reading…"
        end, i = time.monotonic() + 60, 1
        while not any(c.kind is CueKind.TEXT for c in spy.cues) and time.monotonic() < end:
            session.handle(Frame(i, i / 10, sign))
            i += 1
            time.sleep(0.05)
        said = [c.text for c in spy.cues if c.kind is CueKind.TEXT]
        assert said and said[0].startswith("Text ") and "Hollywood" in said[0]
    finally:
        sched.close()
