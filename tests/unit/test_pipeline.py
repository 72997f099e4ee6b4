"""Pipeline.step on real frames: a result for every frame, even when the detector fails."""
from __future__ import annotations

import pytest

from engine.config import EngineConfig
from engine.models.detectors import build
from engine.pipeline import Pipeline
from maxsight_app.capture.video import VideoFileSource
from tests.fakes.detectors import FlakyRuntimeDetector


@pytest.mark.slow
def test_stage_a_answers_every_frame_when_the_detector_fails(eval_data, installed_models):
    spec = installed_models.get("nanodet")
    flaky = FlakyRuntimeDetector(build(spec, installed_models, threads=2), fail_every=4)
    pipe = Pipeline(EngineConfig(detector="nanodet"), installed_models, detector=flaky)
    src = VideoFileSource(eval_data / "videos_walking_driving" / "opencv_vtest.avi")
    results = []
    for frame in src:
        results.append(pipe.step(frame))
        if len(results) == 24:
            break
    src.close()
    assert [r.frame_index for r in results] == list(range(24))
    failed = [r for r in results if r.problems]
    assert len(failed) == 6 and all("detector failed" in r.problems[0] for r in failed)
    assert all(r.uncertainty == 1.0 for r in failed)
    # Tracks coast through a failed frame instead of vanishing.
    assert all(r.tracks for r in failed[1:])
    assert all(not r.problems for r in results if r not in failed)


@pytest.mark.slow
def test_fused_members_run_concurrently_with_identical_results(eval_data, installed_models):
    """Side-by-side members must give exactly what one-after-the-other members give."""
    import cv2
    import numpy as np
    image = cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000000139.jpg"))
    spec = installed_models.get("fused")
    together = build(spec, installed_models, threads=2)
    apart = build(spec, installed_models, threads=1)
    assert together._pool is not None and apart._pool is None
    a, b = together.detect_raw(image, 0.2), apart.detect_raw(image, 0.2)
    assert len(a.scores) > 3
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


@pytest.mark.slow
def test_stage_a_never_waits_for_a_hanging_stage_b(eval_data, installed_models):
    """A hanging sound processor: every frame still gets its Stage A result without waiting (a step
    that waited on the hung worker would block for the whole hang), the hang is reported once, the
    worker restarted and the processor switched off. No speed is asserted: machines are noisy."""
    import time

    import numpy as np

    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    from engine.types import AudioChunk
    sched = StageBScheduler({"sounds": ProcessorSpec("tests.fakes.stage_b:hangs")}, timeout_s=1.0, max_failures=1)
    try:
        pipe = Pipeline(EngineConfig(detector="nanodet"), installed_models, stage_b=sched)
        src = VideoFileSource(eval_data / "videos_walking_driving" / "opencv_vtest.avi")
        results, problems, slowest = [], [], 0.0
        deadline = time.monotonic() + 60
        for frame in src:
            t0 = time.monotonic()
            r = pipe.step(frame, audio=AudioChunk(frame.timestamp, np.zeros(1600, np.float32), 16000))
            slowest = max(slowest, time.monotonic() - t0)
            results.append(r)
            problems += list(r.problems)
            if (r.stage_b.disabled and len(results) >= 20) or time.monotonic() > deadline:
                break
        src.close()
        assert [r.frame_index for r in results] == list(range(len(results)))
        assert slowest < 30.0                       # the hang is an hour: nothing waited for it
        assert sum("sounds failed" in p for p in problems) == 1
        assert results[-1].stage_b.disabled == ("sounds",) and sched.status.restarts >= 1
    finally:
        sched.close()


def test_crops_are_clamped_to_the_frame_and_empty_ones_skipped():
    """A tracked box that starts left of (or runs past) the frame: the crop is the part inside it,
    never a wrapped-round or empty slice (which made Stage B recognition divide by zero)."""
    import numpy as np

    from engine.pipeline import MIN_CROP_PX, crop_box
    image = np.arange(240 * 320 * 3, dtype=np.uint32).reshape(240, 320, 3).astype(np.uint8)
    left = crop_box(image, (-30.4, 10.0, 80.0, 200.0))
    assert left is not None and left.shape == (190, 80, 3)
    assert np.array_equal(left, image[10:200, 0:80])
    right = crop_box(image, (250.0, -5.0, 400.0, 300.0))
    assert right is not None and right.shape == (240, 70, 3)
    assert crop_box(image, (-200.0, 10.0, -100.0, 200.0)) is None          # wholly outside: nothing to crop
    assert crop_box(image, (300.0, 10.0, 330.0, 200.0)) is None            # 20 px left inside: too small
    assert crop_box(image, (10.0, 10.0, 10.0 + MIN_CROP_PX, 10.0 + MIN_CROP_PX)).shape == (MIN_CROP_PX, MIN_CROP_PX, 3)


def test_a_file_that_ends_before_stage_b_answers_still_gets_the_answer(installed_models):
    """The worker answers 1.5 s after each piece of audio and the 'file' is 3 frames long: the frame
    loop ends with the answer still owed. finish() sends what audio waits, waits for the worker and
    returns its answer on the last frame, with no picture findings; a second finish owes nothing."""
    import numpy as np

    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    from engine.types import AudioChunk, Frame
    sched = StageBScheduler({"sounds": ProcessorSpec("tests.fakes.stage_b:slow_sounds", kwargs={"delay_s": 1.5})},
                            timeout_s=30.0)
    try:
        pipe = Pipeline(EngineConfig(detector="nanodet"), installed_models, stage_b=sched)
        image = np.full((240, 320, 3), 90, np.uint8)
        heard, last = [], None
        for i in range(3):
            last = pipe.step(Frame(i, i / 10, image), audio=AudioChunk(i / 10, np.zeros(1600, np.float32), 16000))
            heard += [s.label for s in last.sounds]
        assert heard == []                              # nothing came back while the frames ran
        end = pipe.finish(last, timeout_s=120)
        assert end is not None and [s.label for s in end.sounds][:1] == ["doorbell"]
        assert end.frame_index == last.frame_index and end.hazards == () and end.tracks == ()
        assert sched.pending == 0 and pipe.finish(end, timeout_s=5) is None
    finally:
        sched.close()


def test_reading_text_follows_the_video_clock_through_a_replay(installed_models, monkeypatch):
    """Opportunistic reading every OCR_EVERY_S (every WATCH_OCR_EVERY_S while a word is watched for)
    on the source's own clock; reset() (a replay, a new source) starts it again at once. Before,
    a replayed 90 s file got no reading for 90 s. Jobs are taken, not run: what is measured is
    when the pipeline asks."""
    import os

    from engine.pipeline import WATCH_OCR_EVERY_S
    from engine.samples import sample_frames
    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    from engine.types import Frame
    from tests.fakes.detectors import ScriptedDetector
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))    # a quiet machine: the decision point allows reading
    sched = StageBScheduler({"ocr": ProcessorSpec("tests.fakes.stage_b:echo")})
    asked: list[float] = []
    sched.submit = lambda task, job, t=0.0: task == "ocr" and not asked.append(t)
    try:
        pipe = Pipeline(EngineConfig(detector="nanodet"), installed_models, stage_b=sched,
                        detector=ScriptedDetector(None, lambda i: [], labels=["person"]))
        pipe.watch_text(True)
        image = sample_frames(1)[0]

        def play(seconds):
            for i in range(int(seconds * 10)):
                pipe.step(Frame(i, i / 10, image))
        play(3.5)
        first = list(asked)
        pipe.reset()
        play(0.5)
    finally:
        sched.close()
    # (a frame Stage A took too long for may skip a reading: judged by what was asked, not by when exactly)
    assert first and first[0] <= 0.5 and all(b - a >= WATCH_OCR_EVERY_S - 1e-9 for a, b in zip(first, first[1:]))
    assert len(first) >= 2
    again = asked[len(first):]
    assert again and again[0] <= 0.4                           # read again on the new clock, not 3.5 s later
