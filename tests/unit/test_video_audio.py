"""Replay with sound: a video's audio track reaches the ring buffer in step with video time."""
from __future__ import annotations

import numpy as np
import pytest

from maxsight_app.capture.video_audio import VideoAudioTrack

RATE = 16000


def _decode(path) -> np.ndarray:
    import av
    with av.open(str(path)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        return np.concatenate([o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in res.resample(f)])


def _mux(clip, out, seconds=3.0, fps=10):
    """A short video whose sound is a real recorded clip (frames are plain grey)."""
    import av
    sound = _decode(clip)[: int(seconds * RATE)]
    with av.open(str(out), "w") as c:
        v = c.add_stream("mpeg4", rate=fps)
        v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
        a = c.add_stream("aac", rate=RATE)
        a.layout = "mono"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 128, np.uint8), format="rgb24")
            for p in v.encode(frame):
                c.mux(p)
        step = 1024
        for i in range(0, len(sound) - step, step):
            af = av.AudioFrame.from_ndarray(sound[i:i + step].reshape(1, -1).astype(np.float32), format="fltp", layout="mono")
            af.sample_rate = RATE
            af.pts = i
            for p in a.encode(af):
                c.mux(p)
        for s in (v, a):
            for p in s.encode(None):
                c.mux(p)
    return sound


def test_real_sound_arrives_in_step_with_video_time(eval_data, tmp_path):
    clip = eval_data / "sound_events_small" / "audio" / "esc10_crying_baby_test_1-60997-B.mp3"
    if not clip.exists():
        clip = next((eval_data / "sound_events_small" / "audio").glob("esc10_crying_baby*"))
    sound = _mux(clip, tmp_path / "baby.mp4")
    track = VideoAudioTrack.open(tmp_path / "baby.mp4", sample_rate=RATE)
    assert track is not None
    track.feed_until(1.0)
    assert 1.0 <= track.decoded_s < 1.0 + 0.2          # released up to the video time, not the whole file
    track.feed_until(2.5)
    heard = track.buffer.latest(track.buffer.written)
    track.close()
    # What came out is the recorded crying (AAC is lossy and may shift by a codec delay): find the
    # best alignment and check the correlation.
    ref = sound[: len(heard)]
    best = max(np.corrcoef(heard[d:d + 16000], ref[:16000])[0, 1] for d in range(0, 4096, 32))
    assert heard.std() > 0.01 and best > 0.9


def test_dashcam_track_is_read_as_the_silence_it_is(eval_data):
    track = VideoAudioTrack.open(eval_data / "videos_walking_driving" / "udacity_vehicle-detection_test_video.mp4")
    assert track is not None
    track.feed_until(0.5)
    assert 0.5 <= track.decoded_s < 0.7
    assert np.abs(track.buffer.latest(track.buffer.written)).max() == 0.0    # the clip's track is digital silence
    track.close()


def test_videos_without_sound_replay_silent(eval_data, tmp_path):
    assert VideoAudioTrack.open(eval_data / "videos_walking_driving" / "opencv_vtest.avi") is None
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"x" * 100)
    assert VideoAudioTrack.open(junk) is None
