"""Document mode end to end through the real pipeline and Stage B worker: a hand-made page held
with its top cut off is told to tilt up; held whole and still, its sharpest frame is read by the
worker's text reader and comes back in the frame results, laid out heading first."""
from __future__ import annotations

import time

import pytest

from tests.unit.test_document import HEADING, page_image, scene, squashed


@pytest.mark.slow
def test_document_mode_through_the_worker(installed_models):
    from engine.config import EngineConfig
    from engine.pipeline import Pipeline
    from maxsight_app.document import layout
    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    from engine.types import Frame
    sched = StageBScheduler({"ocr": ProcessorSpec("engine.stage_b.processors:ocr")}, timeout_s=90)
    try:
        pipe = Pipeline(EngineConfig(), installed_models, stage_b=sched)
        assert pipe.document_mode(True)
        page = page_image()
        cut, whole = scene(page, 400, -120, scale=0.6), scene(page, 400, 40, scale=0.6)
        r = pipe.step(Frame(0, 0.0, cut))
        assert r.document.guidance == "top edge not visible: tilt up" and r.texts == ()
        texts, i, end = None, 1, time.monotonic() + 120
        while texts is None and time.monotonic() < end:
            r = pipe.step(Frame(i, i / 10, whole))
            if r.document.reading:
                sched.wait_idle(60, "ocr")
            texts = r.document.texts
            i += 1
        assert texts, "the page never came back from the reader"
        doc = layout(list(texts))
        assert doc.paragraphs[0].heading and squashed(doc.paragraphs[0].lines[0]) == squashed(HEADING)
        assert [squashed(p.lines[0]) for p in doc.paragraphs[1:3]] == ["mondaytofriday", "saturdaymornings"]
        assert pipe.document_mode(False) and pipe.step(Frame(i, i / 10, whole)).document is None
    finally:
        sched.close()
