"""Teach, recognise and forget the user's own objects and places ("this is my mug").

The profile keeps one personal_items row per stored vector (so exports and the therapist can list
what was taught); the vectors and their labels live beside the profile in a FAISS file and its
labels sidecar, which is all the Stage B worker reads."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.stage_b.recognition import Embedder, Match, PersonalIndex
from maxsight_app.profile.store import ProfileStore


DIMS = 1280          # the embedder's vectors (MobileNetV2's pooled features), as PersonalIndex stores them


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


def stored_vectors(store: ProfileStore, user_id: int) -> dict[int, np.ndarray]:
    """{personal_items row id: vector} from the user's FAISS file (for `profile export`); {} when
    nothing was taught."""
    path = index_path(store, user_id)
    if not path.exists():
        return {}
    index = PersonalIndex(None, path)
    out = {}
    for i in index.ids():
        try:
            out[i] = index.index.reconstruct(int(i))
        except RuntimeError:          # not reconstructable: exported without its vector
            continue
    return out


def index_imported(store: ProfileStore, user_id: int, rows: list[tuple[int, str, np.ndarray]]) -> None:
    """Make the user's FAISS file hold exactly `rows` ((row id, label, vector), from an import),
    replacing what it held. Call inside the import's transaction: if writing fails, nothing of the
    import is committed."""
    import faiss
    path = index_path(store, user_id)
    if rows and len(rows[0][2]) != DIMS:
        raise ValueError(f"the personal objects' vectors hold {len(rows[0][2])} numbers; this MaxSight's hold {DIMS}")
    index = PersonalIndex(None, path)
    index.index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMS))
    index.labels = {}
    if rows:
        index.index.add_with_ids(np.stack([np.asarray(v, np.float32) for _, _, v in rows]),
                                 np.array([i for i, _, _ in rows], np.int64))
        index.labels = {i: label for i, label, _ in rows}
    index.save()


def import_profiles(store: ProfileStore, data: dict, replace: bool = False):
    """`profile import`: the profiles in an export, with their personal objects' vectors written to
    each profile's FAISS file, all or nothing: if any part fails, the database is rolled back and
    the FAISS files are put back as they were. Returns the store's Imported list."""
    from engine.stage_b.recognition import labels_path
    backups: dict[Path, bytes | None] = {}
    try:
        with store.transaction():
            done = store.import_export(data, replace=replace)
            for d in done:
                path = index_path(store, d.user_id)
                for f in (path, labels_path(path)):
                    backups[f] = f.read_bytes() if f.exists() else None
                if d.personal is not None:
                    index_imported(store, d.user_id, d.personal)
                elif not d.kept and path.exists() and not store.personal_items(d.user_id):
                    path.unlink()             # a new profile: a stale file of an earlier one with this id
        return done
    except BaseException:
        for f, content in backups.items():
            try:
                if content is None:
                    f.unlink(missing_ok=True)
                else:
                    f.write_bytes(content)
            except OSError:
                pass
        raise
