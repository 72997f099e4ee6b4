"""A folder of numbered pictures plays as a video (capture/video.py): a MOTChallenge sequence
(its img1/, or the sequence folder holding img1/ and seqinfo.ini) could not be opened ("... is not
a file")."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from maxsight_app.capture.video import SourceError, VideoFileSource


@pytest.fixture
def sequence(tmp_path):
    seq = tmp_path / "MOT17-02"
    (seq / "img1").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=MOT17-02\nimDir=img1\nframeRate=25\nseqLength=5\n")
    for i in range(5):
        img = np.full((48, 64, 3), 40 * i, np.uint8)
        assert cv2.imwrite(str(seq / "img1" / f"{i + 1:06d}.jpg"), img)
    (seq / "img1" / "notes.txt").write_text("not a picture")
    return seq


@pytest.mark.parametrize("which", ["img1", "sequence"])
def test_an_image_sequence_folder_plays_in_order_at_its_frame_rate(sequence, which):
    src = VideoFileSource(sequence / "img1" if which == "img1" else sequence)
    try:
        frames = list(src)
    finally:
        src.close()
    assert src.fps == 25.0 and src.frame_count == 5 and "5 pictures" in src.description
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [round(f.timestamp, 3) for f in frames] == [0.0, 0.04, 0.08, 0.12, 0.16]
    assert [int(f.image.mean() // 40) for f in frames] == [0, 1, 2, 3, 4] and frames[0].image.shape == (48, 64, 3)
    assert src.ended_early is None


def test_a_folder_without_pictures_is_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no pictures"):
        VideoFileSource(tmp_path / "empty")


def test_a_pause_holds_the_position_of_a_file_played_in_real_time(sequence):
    """P did not hold the video's position: the frames due while paused were dropped as late."""
    from maxsight_app.capture.feed import Feed
    clock = [100.0]

    def sleep(s):
        clock[0] += s
    src = VideoFileSource(sequence)
    feed = Feed(src, realtime=True, audio=False, clock=lambda: clock[0], sleep=sleep)
    it = iter(feed)
    got = [next(it)[0].index, next(it)[0].index]
    feed.pause(True)
    clock[0] += 30.0                          # half a minute paused
    feed.pause(False)
    got += [f.index for f, _ in it]
    feed.close()
    assert got == [0, 1, 2, 3, 4] and feed.stats.dropped == 0
    # Without the pause the same half minute is late: those frames are dropped, as a live camera's would be.
    clock[0] = 100.0
    feed = Feed(VideoFileSource(sequence), realtime=True, audio=False, clock=lambda: clock[0], sleep=sleep)
    it = iter(feed)
    next(it)
    clock[0] += 30.0
    assert [f.index for f, _ in it] == [] and feed.stats.dropped == 4
    feed.close()
