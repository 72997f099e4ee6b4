"""Teach, recognise and forget the user's own objects and places. Labels live in the profile
(personal_items rows, one per stored vector); vectors in a FAISS file beside the database."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from engine.stage_b.recognition import Embedder, Match, PersonalIndex
from maxsight_app.profile.store import ProfileStore


class PersonalObjects:
    def __init__(self, store: ProfileStore, user_id: int, embedder: Embedder):
        self.store, self.user_id = store, user_id
        self.index = PersonalIndex(embedder, Path(store.path).parent / f"personal-{user_id}.faiss")
        for row in store.db["personal_items"].rows_where("user_id = ?", [user_id]):
            self.index.labels[row["id"]] = row["label"]

    def teach(self, label: str, shots: list[np.ndarray], kind: str = "object") -> int:
        label = label.strip()
        if not label:
            raise ValueError("label: say what it is, e.g. 'my mug'")
        if not shots:
            raise ValueError("shots: at least one picture of it is needed")
        if kind not in ("object", "place"):
            raise ValueError(f"kind: must be object or place, got {kind!r}")
        n = 3 * len(shots)
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self.store.db.conn:
            ids = [self.store.db["personal_items"].insert({"user_id": self.user_id, "label": label, "kind": kind,
                                                            "created": now}).last_pk for _ in range(n)]
        self.index.add(ids, label, shots)
        return len(shots)

    def recognise(self, crop: np.ndarray) -> Match | None:
        return self.index.search(crop)

    def forget(self, label: str) -> int:
        rows = list(self.store.db["personal_items"].rows_where("user_id = ? AND label = ?", [self.user_id, label]))
        if not rows:
            raise ValueError(f"label: nothing called {label!r} was taught")
        ids = [r["id"] for r in rows]
        self.index.remove(ids)
        with self.store.db.conn:
            self.store.db.execute("DELETE FROM personal_items WHERE user_id = ? AND label = ?", [self.user_id, label])
        return len(ids)

    def labels(self) -> list[str]:
        return sorted({r["label"] for r in self.store.db["personal_items"].rows_where("user_id = ?", [self.user_id])})
