"""Teach, list and forget the user's own sounds ("my doorbell", "my microwave", "my smoke alarm"),
as Apple's Sound Recognition does for custom alarms and appliances.

Teaching runs in the app process: 3-5 examples of the sound (recordings from the microphone's
ring buffer, or sound files) become YAMNet embeddings of their loud patches
(SoundEventDetector.teaching_embeddings), stored in the profile (custom_sounds table). The profile
carries them to the Stage B sounds processor (compose.apply_profile -> StageBScheduler.configure),
which recognises them with the same firing rule as the built-in sounds and says them by name; the
worker never reads the database.

Every example is checked before anything is stored: a silent or too-short recording, a file that
cannot be read as sound, or too few examples is one sentence, and nothing is stored."""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Callable

import numpy as np

from maxsight_app.capture.audio_file import SAMPLE_RATE, load_audio
from maxsight_app.capture.video import SourceError
from maxsight_app.profile.schema import MAX_SOUND_NAME
from maxsight_app.profile.store import ProfileStore

log = logging.getLogger(__name__)

MIN_EXAMPLES, MAX_EXAMPLES = 3, 5
RECORD_S = 4.0


def check_name(label: str) -> str:
    label = re.sub(r"\s+", " ", str(label or "")).strip()
    if not label:
        raise ValueError("say what the sound is, e.g. 'my doorbell'")
    if len(label) > MAX_SOUND_NAME or any(ord(c) < 32 for c in label):
        raise ValueError(f"a sound's name is at most {MAX_SOUND_NAME} printable characters")
    return label


class OwnSounds:
    """The user's own sounds in their profile. `detector` is a SoundEventDetector (for embeddings)."""

    def __init__(self, store: ProfileStore, user_id: int, detector):
        self.store, self.user_id, self.detector = store, user_id, detector

    def names(self) -> dict[str, int]:
        """name -> how many embeddings are stored for it."""
        return {k: len(v) for k, v in self.store.custom_sounds(self.user_id).items()}

    def teach(self, label: str, examples: list[np.ndarray]) -> int:
        """Store a sound taught from 3-5 examples (16 kHz mono float32 each); returns the number of
        embeddings stored. ValueError in one sentence, with nothing stored, when an example is silent
        or too short, or there are too few or too many."""
        label = check_name(label)
        if not MIN_EXAMPLES <= len(examples) <= MAX_EXAMPLES:
            raise ValueError(f"teach a sound from {MIN_EXAMPLES} to {MAX_EXAMPLES} examples, got {len(examples)}: nothing was stored")
        vecs = []
        for i, x in enumerate(examples, 1):
            try:
                vecs.append(self.detector.teaching_embeddings(np.asarray(x, np.float32)))
            except ValueError as exc:
                raise ValueError(f"example {i}: {exc}") from None
        if label in self.store.custom_sounds(self.user_id):
            self.store.forget_custom_sound(self.user_id, label)      # taught again: the new examples replace the old
        return self.store.add_custom_sound(self.user_id, label, np.concatenate(vecs))

    def teach_files(self, label: str, paths: list[Path]) -> int:
        """Teach from sound files (any format ffmpeg reads). A file that cannot be read is one
        sentence naming it; nothing is stored."""
        examples = []
        for p in paths:
            try:
                examples.append(load_audio(Path(p)))
            except SourceError as exc:
                raise ValueError(f"{exc}: nothing was stored") from None
        return self.teach(label, examples)

    def forget(self, label: str) -> int:
        n = self.store.forget_custom_sound(self.user_id, str(label).strip())
        if not n:
            raise ValueError(f"no sound called {label!r} was taught")
        return n


def record_examples(ring, count: int = MIN_EXAMPLES, seconds: float = RECORD_S,
                    prompt: Callable[[int], None] = lambda i: None, sleep: Callable[[float], None] = time.sleep) -> list[np.ndarray]:
    """`count` recordings of `seconds` each from a microphone ring buffer (capture.microphone
    RingBuffer): prompt(i) before each (e.g. "Make the sound now"), then the latest samples."""
    out = []
    for i in range(1, count + 1):
        prompt(i)
        start = ring.written
        sleep(seconds)
        got = min(ring.written - start, int(seconds * SAMPLE_RATE))
        out.append(ring.latest(got) if got > 0 else np.zeros(0, np.float32))
    return out
