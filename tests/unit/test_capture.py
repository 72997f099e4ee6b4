from __future__ import annotations

import numpy as np
import pytest

from maxsight_app.capture.microphone import MicrophoneSource, RingBuffer
from maxsight_app.capture.video import SourceError, VideoFileSource, list_cameras, open_source


def test_ring_buffer_keeps_the_latest_samples_in_order():
    rb = RingBuffer(seconds=1.0, sample_rate=10)       # 10 samples
    rb.write(np.arange(4))
    assert list(rb.latest(10)) == [0, 1, 2, 3]
    rb.write(np.arange(4, 13))                           # wraps
    assert list(rb.latest(5)) == [8, 9, 10, 11, 12]
    assert list(rb.latest(100)) == list(range(3, 13))
    rb.write(np.arange(100, 130))                        # longer than the buffer
    assert list(rb.latest(3)) == [127, 128, 129] and rb.written == 43


def test_no_microphone_is_one_sentence():
    reason = MicrophoneSource().check()
    assert reason is None or reason in ("no microphone was found",
                                        "the PortAudio library is missing (Debian: apt-get install libportaudio2)")


def test_missing_camera_and_bad_files(tmp_path):
    assert 7 not in list_cameras(max_index=1)
    with pytest.raises(SourceError, match="no camera found at index 7"):
        open_source("7")
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "x.mp4")


def test_video_file_gives_video_time(eval_data):
    src = VideoFileSource(eval_data / "videos_walking_driving" / "opencv_vtest.avi")
    frames = [f for _, f in zip(range(3), src)]
    src.close()
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[2].timestamp == pytest.approx(2 / src.fps)
