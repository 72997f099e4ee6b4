"""Stage B end to end through the worker process: a video whose sound track is a real speech
recording (the JFK clip) and a real crying baby; captions and a sound event come back in the
frame results while Stage A keeps answering every frame."""
from __future__ import annotations

import time

import numpy as np
import pytest



@pytest.mark.slow
def test_captions_and_sounds_arrive_in_frame_results(tmp_path, eval_data, installed_models):
    from engine.config import EngineConfig
    from engine.pipeline import Pipeline
    from engine.stage_b.captions import normalise, word_errors
    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    from maxsight_app.capture.video import VideoFileSource
    from maxsight_app.capture.feed import Feed
    from maxsight_app.capture.audio_file import load_audio

    speech = load_audio(eval_data / "asr_speech_refs" / "other" / "jfk.flac")
    baby = load_audio(eval_data / "sound_events_small" / "audio" / "esc10_crying_baby_test_1-60997-B.mp3")
    sound = np.concatenate([speech, np.zeros(16000, np.float32), baby, np.zeros(24000, np.float32)])
    video = tmp_path / "talk.mp4"
    _mux_samples(sound, video)
    sched = StageBScheduler({"sounds": ProcessorSpec("engine.stage_b.processors:sound_events"),
                             "captions": ProcessorSpec("engine.stage_b.processors:captions")}, timeout_s=60)
    try:
        pipe = Pipeline(EngineConfig(), installed_models, stage_b=sched)
        results = []
        with Feed(VideoFileSource(video)) as feed:          # the video's own sound track, in step
            for frame, audio in feed:
                results.append(pipe.step(frame, audio))
                time.sleep(0.02)                    # the worker is a process: let it keep up a little
        # Then let Stage B finish, as later frames would, until both events came: on a busy machine
        # the worker can take minutes over this, so the bound is generous and the loop ends on the event.
        end = time.monotonic() + 600

        def arrived() -> bool:
            return (any(r.captions for r in results) and "baby_crying" in {s.label for r in results for s in r.sounds}
                    and not sched.pending)
        while not arrived() and time.monotonic() < end:
            results.append(pipe.step(frame))
            time.sleep(0.1)
        captions = [c for r in results for c in r.captions]
        sounds = [s for r in results for s in r.sounds]
        assert all(r.hazards is not None for r in results)
        text = normalise(" ".join(c.text for c in captions))
        ref = normalise((eval_data / "asr_speech_refs" / "other" / "jfk.txt").read_text())
        assert word_errors(ref, text) <= 4, text
        assert "baby_crying" in {s.label for s in sounds}
        assert results[-1].stage_b.dropped == 0 and results[-1].stage_b.disabled == ()
        assert results[-1].stage_b.audio_dropped_s == 0.0
    finally:
        sched.close()


def _mux_samples(sound: np.ndarray, out, fps=10):
    import av
    rate = 16000
    with av.open(str(out), "w") as c:
        v = c.add_stream("mpeg4", rate=fps)
        v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
        a = c.add_stream("aac", rate=rate)
        a.layout = "mono"
        for i in range(int(len(sound) / rate * fps)):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((120, 160, 3), 128, np.uint8), format="rgb24")):
                c.mux(p)
        for i in range(0, len(sound) - 1024, 1024):
            af = av.AudioFrame.from_ndarray(sound[i:i + 1024].reshape(1, -1).astype(np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = rate, i
            for p in a.encode(af):
                c.mux(p)
        for st in (v, a):
            for p in st.encode(None):
                c.mux(p)
