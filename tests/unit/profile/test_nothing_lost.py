"""Nothing the user owns is lost by the profile commands: an export carries everything an import
with replace overwrites (taught sounds, personal objects with their vectors, therapy sessions), an
older export's import keeps what the file does not hold and says so, names cannot point outside a
folder, field sizes are bounded on import and an export stays within what import accepts, and a
report that cannot be written is one sentence with no half-written files."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from maxsight_app.cli import main
from maxsight_app.profile.store import ProfileStore


@pytest.fixture
def data(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("MAXSIGHT_DATA", str(d))
    monkeypatch.chdir(tmp_path)
    return d


def _taught(data) -> tuple[int, np.ndarray, np.ndarray]:
    """Ada with a taught sound, a taught object (vectors in her FAISS file) and a therapy session."""
    from engine.stage_b.recognition import PersonalIndex
    from maxsight_app.personal_objects import index_path
    store = ProfileStore(data / "profiles.db")
    uid = store.create_user("Ada")
    rng = np.random.default_rng(0)
    sound = rng.standard_normal((6, 1024)).astype(np.float32)
    store.add_custom_sound(uid, "my doorbell", sound)
    vecs = rng.standard_normal((3, 1280)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = store.add_personal_items(uid, "my mug", "object", 3)
    PersonalIndex(None, index_path(store, uid)).add(ids, "my mug", vecs)
    sid = store.start_therapy_session(uid)
    for n in range(1, 4):
        store.add_therapy_trial(sid, {"n": n, "task": "contrast", "prompt": "left", "response": "left", "correct": 1,
                                      "rt_s": 0.8, "level": 0.3, "fatigue": 0.1}, {"fatigue_max": 0.1})
    store.end_therapy_session(sid, "user", {"breaks": 0})
    store.close()
    return uid, sound, vecs


def _state(data) -> dict:
    from engine.stage_b.recognition import PersonalIndex
    from maxsight_app.personal_objects import index_path
    store = ProfileStore(data / "profiles.db")
    try:
        uid = store.find_user("Ada")
        index = PersonalIndex(None, index_path(store, uid))
        items = store.personal_items(uid)
        sessions = store.therapy_sessions(uid)
        return {"sounds": store.custom_sounds(uid), "items": items,
                "vectors": {items[i]: index.index.reconstruct(int(i)) for i in index.ids() if i in items},
                "index_labels": {index.labels[i] for i in index.ids()},
                "sessions": len(sessions), "trials": sum(len(store.therapy_trials(s["id"])) for s in sessions)}
    finally:
        store.close()


def test_export_then_import_replace_keeps_taught_sounds_objects_and_therapy(data, tmp_path, capsys):
    _, sound, vecs = _taught(data)
    assert main(["profile", "export", "backup.json"]) == 0
    assert main(["profile", "import", "backup.json", "--replace"]) == 0
    after = _state(data)
    assert np.array_equal(after["sounds"]["my doorbell"], sound)
    assert sorted(after["items"].values()) == ["my mug"] * 3 and after["index_labels"] == {"my mug"}
    assert len(after["vectors"]) == 1 and any(np.allclose(after["vectors"]["my mug"], v) for v in vecs)
    assert (after["sessions"], after["trials"]) == (1, 3)
    # And into a fresh installation: everything arrives.
    fresh = tmp_path / "fresh"
    import os
    os.environ["MAXSIGHT_DATA"] = str(fresh)
    assert main(["profile", "import", "backup.json"]) == 0
    moved = _state(fresh)
    assert np.array_equal(moved["sounds"]["my doorbell"], sound) and len(moved["items"]) == 3 and moved["trials"] == 3


def test_an_older_export_keeps_what_it_does_not_hold_and_says_so(data, capsys):
    _, sound, _ = _taught(data)
    old = {"users": [{"name": "Ada", "preferences": {"units": "steps"}}]}     # as MaxSight wrote exports before
    (data.parent / "old.json").write_text(json.dumps(old))
    assert main(["profile", "import", "old.json", "--replace"]) == 0
    out = capsys.readouterr().out
    assert "taught sounds" in out and "personal objects" in out and "therapy sessions" in out and "kept" in out
    after = _state(data)
    assert np.array_equal(after["sounds"]["my doorbell"], sound) and len(after["vectors"]) == 1 and after["trials"] == 3
    store = ProfileStore(data / "profiles.db")
    assert store.preferences(store.find_user("Ada"))["units"] == "steps"
    store.close()


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "x\\y"])
def test_a_profile_name_that_is_a_path_is_refused(data, capsys, name):
    assert main(["profile", "create", name]) == 2
    assert "may not hold" in capsys.readouterr().err
    (data.parent / "e.json").write_text(json.dumps({"users": [{"name": name}]}))
    assert main(["profile", "import", "e.json"]) == 2


def test_the_report_of_a_legacy_name_stays_inside_its_folder(data, tmp_path, capsys):
    _taught(data)
    conn = sqlite3.connect(data / "profiles.db")          # a name stored before such names were refused
    conn.execute("UPDATE users SET name = '../../outside' WHERE name = 'Ada'")
    conn.commit()
    conn.close()
    reports = tmp_path / "reports"
    assert main(["profile", "report", "../../outside", "--out", str(reports)]) == 0, capsys.readouterr().err
    written = sorted(p.name for p in reports.iterdir())
    assert len(written) == 5 and all(n.startswith("maxsight-report-outside") for n in written), written
    # Nothing escaped upwards: a file starting "outside" one or two folders up (other tests' own
    # folders there may hold the word, e.g. test_small_rounding_outside_th0, so only the start counts).
    assert not [p for d in (tmp_path, tmp_path.parent, tmp_path.parent.parent) for p in d.glob("outside*")]
    # Its export is one an import accepts: the name is made importable, and said.
    capsys.readouterr()
    assert main(["profile", "export", "legacy.json"]) == 0
    assert "is in it as '____outside'" in capsys.readouterr().out
    assert main(["profile", "import", "legacy.json"]) == 0


def test_a_report_that_cannot_be_written_is_one_sentence_and_leaves_no_files(data, tmp_path, capsys, monkeypatch):
    import errno

    import matplotlib.figure
    _taught(data)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    reports = tmp_path / "reports"
    assert main(["profile", "report", "Ada", "--out", str(reports)]) == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(reports.iterdir()) == []
    (tmp_path / "afile").write_text("x")
    assert main(["profile", "report", "Ada", "--out", str(tmp_path / "afile")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("user, message", [
    ({"name": "A", "feedback": [{"at": "x", "kind": "useful", "label": "car", "detail": "d" * 10_000_000}]}, "at most 1000"),
    ({"name": "A", "class_weights": {"c" * 5000: 1.0}}, "at most 100 characters"),
    ({"name": "A", "created": "t" * 100_000}, "created: must be text of at most"),
    ({"name": "A", "custom_sounds": [{"label": "bell", "dims": 4, "embeddings": "AAAA" * 1_000_000}]}, "at most 1000"),
    ({"name": "A", "custom_sounds": [{"label": "bell", "dims": 4, "embeddings": "not base64!"}]}, "base64"),
    ({"name": "A", "personal_items": [{"label": "mug", "vector": "AAAA" * 10_000}]}, "1 to 4096 numbers"),
    ({"name": "A", "therapy": [{"session": {"condition": "x" * 5000}}]}, "at most 1000"),
])
def test_import_bounds_every_field(tmp_path, user, message):
    s = ProfileStore(tmp_path / "p.db")
    with pytest.raises(ValueError, match=message):
        s.import_json({"users": [user]})
    assert s.users() == []
    s.close()


def test_an_export_never_exceeds_what_import_accepts(data, capsys, monkeypatch):
    import maxsight_app.profile.store as store_module
    _taught(data)
    assert main(["profile", "export", "all.json"]) == 0
    size = (data.parent / "all.json").stat().st_size
    monkeypatch.setattr(store_module, "MAX_IMPORT_BYTES", size - 1)
    assert main(["profile", "export", "again.json"]) == 2
    assert "more than" in capsys.readouterr().err and not (data.parent / "again.json").exists()
    assert main(["profile", "import", "all.json", "--replace"]) == 2          # the same limit on the way in
