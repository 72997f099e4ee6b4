"""Live captions on real read speech: WER under a bound, text normalisation, streaming behaviour."""
from __future__ import annotations

import numpy as np
import pytest

from engine.stage_b.captions import normalise, number_words, word_errors


def test_normalisation_matches_spelled_out_references():
    assert normalise('the Gutenberg, or "forty-two line Bible" of about 1455,') == \
        "the gutenberg or forty two line bible of about fourteen fifty five".split()
    assert number_words(1961) == "nineteen sixty one" and number_words(300) == "three hundred"
    assert number_words(2024) == "two thousand twenty four"
    assert word_errors("a b c".split(), "a x c d".split()) == 2


@pytest.fixture(scope="module")
def streamer():
    from engine.stage_b.captions import CaptionStreamer
    return CaptionStreamer(threads=1)


@pytest.mark.slow
def test_jfk_is_captioned_live_with_few_errors(streamer, eval_data):
    from maxsight_app.capture.audio_file import load_audio
    x = load_audio(eval_data / "asr_speech_refs" / "other" / "jfk.flac")
    ref = normalise((eval_data / "asr_speech_refs" / "other" / "jfk.txt").read_text())
    streamer.reset()
    stream = np.concatenate([x, np.zeros(24000, np.float32)])
    caps = [c for i in range(0, len(stream), 1600) for c in streamer.feed(stream[i:i + 1600])]
    assert len(caps) >= 2                                   # it streams: captions during the speech, not only at the end
    assert caps[0].end_s < 5.0
    hyp = normalise(" ".join(c.text for c in caps))
    assert word_errors(ref, hyp) <= 3, hyp                  # measured 0/22
    assert [c.start_s for c in caps] == sorted(c.start_s for c in caps)


@pytest.mark.slow
def test_read_speech_wer_bound(eval_data):
    from maxsight_app.measure.captions import evaluate
    r = evaluate(eval_data / "asr_speech_refs", limit=4)
    assert r["utterances"] == 4 and r["wer_stream"] <= 15.0  # measured 6.5% over all 16


def test_silence_gives_no_captions(streamer):
    streamer.reset()
    assert [c for i in range(30) for c in streamer.feed(np.zeros(1600, np.float32))] == []
