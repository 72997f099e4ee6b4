"""A small head trained by MaxSight on YAMNet's 1024-d embeddings (`training/sound_head.py`) for the
sound classes YAMNet alone does not separate well (smoke/fire alarm beeps, glass breaking, a baby's
cry). Pure numpy, so the app runs it without torch: one hidden ReLU layer (or none), then a sigmoid
per class.

Files (assets/models/sound_head/, sha256 pinned in engine/models/registry.py):
  head.npz   float32 arrays w0 [1024, H], b0 [H], w1 [H, C], b1 [C] (a linear head: w0 [1024, C], b0 [C])
  head.json  {"format": "maxsight-sound-head-1", "classes": [...], "thresholds": {cls: [on, off, strong]},
              "embedding_dims": 1024, ...}: the thresholds were fitted on the dev half, out of fold.
A file that cannot be read, or whose arrays do not fit its sidecar, is refused with one sentence
(ModelError)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.models.spec import ModelError

FORMAT = "maxsight-sound-head-1"
EMBEDDING_DIMS = 1024


@dataclass(frozen=True)
class SoundHead:
    classes: tuple[str, ...]
    thresholds: dict                  # class -> (on, off, strong), for engine.stage_b.sound_events.fire
    layers: tuple                     # ((W [in, out], b [out]), ...); ReLU between layers

    def __post_init__(self) -> None:
        d = EMBEDDING_DIMS
        for i, (w, b) in enumerate(self.layers):
            if w.ndim != 2 or w.shape[0] != d or b.shape != (w.shape[1],):
                raise ValueError(f"sound head layer {i}: weights {w.shape} and bias {b.shape} do not chain from {d} inputs")
            d = w.shape[1]
        if d != len(self.classes):
            raise ValueError(f"sound head: {d} outputs for {len(self.classes)} classes")
        for cls in self.classes:
            on, off, strong = self.thresholds[cls]
            if not 0.0 <= off <= on <= strong <= 1.0:
                raise ValueError(f"sound head thresholds for {cls} must satisfy 0 <= off <= on <= strong <= 1")

    def __call__(self, embedding: np.ndarray) -> np.ndarray:
        """[N, 1024] (or [1024]) L2-normalised YAMNet embeddings -> [N, C] (or [C]) probabilities."""
        x = np.asarray(embedding, np.float32)
        single = x.ndim == 1
        x = x[None] if single else x
        assert x.ndim == 2 and x.shape[1] == EMBEDDING_DIMS, f"sound head input must be [N, {EMBEDDING_DIMS}], got {x.shape}"
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        p = 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))
        return p[0] if single else p

    def scores(self, embedding: np.ndarray) -> dict[str, float]:
        return dict(zip(self.classes, map(float, self(embedding))))

    @classmethod
    def load(cls, npz_path: Path, json_path: Path | None = None) -> "SoundHead":
        """head.npz and its head.json sidecar -> SoundHead; ModelError in one sentence when either
        is damaged, foreign or inconsistent."""
        npz_path = Path(npz_path)
        json_path = Path(json_path) if json_path else npz_path.with_suffix(".json")
        try:
            meta = json.loads(json_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} sidecar")
            classes = tuple(str(c) for c in meta["classes"])
            thresholds = {c: tuple(float(v) for v in meta["thresholds"][c]) for c in classes}
            with np.load(npz_path, allow_pickle=False) as z:
                n = len([k for k in z.files if k.startswith("w")])
                layers = tuple((np.asarray(z[f"w{i}"], np.float32), np.asarray(z[f"b{i}"], np.float32)) for i in range(n))
            if not layers or not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in layers):
                raise ValueError("no layers, or weights that are not finite")
            return cls(classes, thresholds, layers)
        except Exception as exc:  # noqa: BLE001 - zip, JSON, key and shape errors all mean the same thing here
            raise ModelError(f"the sound head {npz_path.name} cannot be used ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:120] if str(exc) else 'damaged'}); YAMNet's own classes are used "
                             "instead; reinstall MaxSight to repair it") from None
