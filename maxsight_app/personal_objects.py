"""Teach, recognise and forget the user's own objects and places ("this is my mug").

The profile keeps one personal_items row per stored vector (so exports and the therapist can list
what was taught); the vectors and their labels live beside the profile in a FAISS file and its
labels sidecar, which is all the Stage B worker reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.stage_b.recognition import Embedder, Match, PersonalIndex
from maxsight_app.profile.store import ProfileStore


def index_path(store: ProfileStore, user_id: int) -> Path:
    return Path(store.path).parent / f"personal-{user_id}.faiss"


class PersonalObjects:
    def __init__(self, store: ProfileStore, user_id: int, embedder: Embedder):
        self.store, self.user_id = store, user_id
        self.index = PersonalIndex(embedder, index_path(store, user_id))
        self._heal()

    def _heal(self) -> None:
        """After a crash between writing the index and committing the profile rows, the index may
        hold vectors the profile never recorded: drop them, so both agree again."""
        known = self.store.personal_items(self.user_id)
        stray = [i for i in self.index.ids() if i not in known]
        if stray or any(self.index.labels.get(i) != label for i, label in known.items() if i in self.index.labels):
            if stray:
                self.index.remove(stray)
            self.index.labels = {i: label for i, label in known.items() if i in set(self.index.ids())}
            self.index.save()

    def teach(self, label: str, shots: list[np.ndarray], kind: str = "object") -> int:
        label = label.strip()
        if not label:
            raise ValueError("label: say what it is, e.g. 'my mug'")
        if not shots:
            raise ValueError("shots: at least one picture of it is needed")
        if kind not in ("object", "place"):
            raise ValueError(f"kind: must be object or place, got {kind!r}")
        vecs = self.index.embed(shots)                  # may fail: nothing is stored then
        # One transaction around both: the rows commit only after the index is written, so a
        # crash leaves either both or, at worst, index vectors that _heal() drops on next open.
        with self.store.transaction():
            ids = self.store.add_personal_items(self.user_id, label, kind, len(vecs))
            self.index.add(ids, label, vecs)
        return len(shots)

    def recognise(self, crop: np.ndarray) -> Match | None:
        return self.index.search(crop)

    def forget(self, label: str) -> int:
        ids = self.store.remove_personal_items(self.user_id, label)
        if not ids:
            raise ValueError(f"label: nothing called {label!r} was taught")
        self.index.remove(ids)
        return len(ids)

    def labels(self) -> list[str]:
        return sorted(set(self.store.personal_items(self.user_id).values()))
