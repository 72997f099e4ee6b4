"""The user's own objects and places: ImageNet MobileNetV2 embeddings (1280-d, L2-normalised) in a
FAISS inner-product index. Teach from a few shots ("this is my mug"), recognise ("your mug"),
forget. Advisory only: it names things, it never decides a hazard.

Each shot is stored with light augmentation (a mirror image and a tighter crop), because a few
photos taken once must match the object from another angle later."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.models.mobilenet_v2 import preprocess
from engine.models.onnx_runner import make_session

MATCH = 0.75      # cosine similarity a match needs (see tests: same mug 0.8+, other objects < 0.6)
MARGIN = 0.05     # and this much over the best different label


@dataclass(frozen=True)
class Match:
    label: str
    similarity: float


class Embedder:
    def __init__(self, onnx_path: Path, threads: int = 1):
        self.session = make_session(onnx_path, threads)

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        x = preprocess(bgr)
        assert x.shape == (1, 3, 224, 224), f"MobileNetV2 input must be [1, 3, 224, 224], got {x.shape}"
        e = self.session.run(["embedding"], {"image": x})[0][0]
        return (e / max(np.linalg.norm(e), 1e-9)).astype(np.float32)


def _views(bgr: np.ndarray) -> list[np.ndarray]:
    h, w = bgr.shape[:2]
    tight = bgr[h // 10: h - h // 10, w // 10: w - w // 10]
    return [bgr, bgr[:, ::-1], tight]


def labels_path(index_path: Path) -> Path:
    """The labels sidecar beside a FAISS index: {vector id: label} as JSON."""
    return Path(index_path).with_suffix(".labels.json")


class PersonalIndex:
    """Vectors in `index_path` (FAISS) and their labels in the sidecar beside it, so the Stage B
    worker needs nothing but these two files (never the profile database)."""

    def __init__(self, embedder: Embedder | None, index_path: Path):
        import faiss
        self.faiss = faiss
        self.embedder, self.path = embedder, Path(index_path)
        if self.path.exists():
            self.index = faiss.read_index(str(self.path))
        else:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(1280))
        self.labels: dict[int, str] = {}
        side = labels_path(self.path)
        if side.exists():
            try:
                self.labels = {int(k): str(v) for k, v in json.loads(side.read_text()).items()}
            except (ValueError, AttributeError) as exc:
                raise ValueError(f"{side} is damaged ({exc}); teach your objects again") from None

    def embed(self, shots: list[np.ndarray]) -> np.ndarray:
        """[3 * len(shots), 1280] vectors: each shot, mirrored and tighter."""
        for s in shots:
            if s is None or s.ndim != 3 or min(s.shape[:2]) < 8:
                raise ValueError("shots: each picture must be a colour image at least 8 pixels across")
        return np.stack([self.embedder(v) for s in shots for v in _views(s)])

    def add(self, ids: list[int], label: str, vecs: np.ndarray) -> None:
        """ids: one per vector (from `embed`: 3 per shot)."""
        assert len(ids) == len(vecs), f"need {len(vecs)} ids, got {len(ids)}"
        self.index.add_with_ids(vecs, np.array(ids, np.int64))
        self.labels.update({i: label for i in ids})
        self.save()

    def ids(self) -> list[int]:
        """The ids of the stored vectors."""
        import faiss
        if self.index.ntotal == 0:
            return []
        return faiss.vector_to_array(self.index.id_map).astype(np.int64).tolist()

    def remove(self, ids: list[int]) -> None:
        self.index.remove_ids(np.array(ids, np.int64))
        for i in ids:
            self.labels.pop(i, None)
        self.save()

    def search(self, crop: np.ndarray, k: int = 5) -> Match | None:
        if self.index.ntotal == 0:
            return None
        sims, ids = self.index.search(self.embedder(crop)[None], min(k, self.index.ntotal))
        best: dict[str, float] = {}
        for s, i in zip(sims[0], ids[0]):
            if i >= 0 and i in self.labels:
                best[self.labels[i]] = max(best.get(self.labels[i], -1.0), float(s))
        if not best:
            return None
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        label, sim = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else -1.0
        return Match(label, sim) if sim >= MATCH and sim - runner_up >= MARGIN else None

    def save(self) -> None:
        """Labels first, then the index (atomic renames): a reader that sees the new index always
        finds its labels."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        side = labels_path(self.path)
        tmp_labels = side.with_suffix(".tmp")
        tmp_labels.write_text(json.dumps({str(k): v for k, v in self.labels.items()}))
        tmp_labels.replace(side)
        tmp = self.path.with_suffix(".tmp")
        self.faiss.write_index(self.index, str(tmp))
        tmp.replace(self.path)
