from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from engine.types import FrameQuality, FrameResult, Hazard, Urgency, Zone
from maxsight_app.cues.policy import CuePolicy
from maxsight_app.profile.feedback import apply_feedback
from maxsight_app.profile.store import SCHEMA_VERSION, ProfileError, ProfileStore


def v1_file(path):
    """A profile database as schema v1 wrote it: hand-written SQL, not our migration code."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT);
        INSERT INTO schema_version VALUES (1, '2026-01-01T00:00:00+00:00');
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, created TEXT);
        CREATE UNIQUE INDEX idx_users_name ON users (name);
        CREATE TABLE preferences (user_id INTEGER PRIMARY KEY REFERENCES users(id), verbosity TEXT, units TEXT,
                                  speech_rate INTEGER, volume FLOAT);
        INSERT INTO users VALUES (1, 'Grace', '2026-01-01T00:00:00+00:00');
        INSERT INTO preferences VALUES (1, 'brief', 'feet', 220, 0.5);
    """)
    conn.commit()
    conn.close()


def test_migrates_a_v1_file_keeping_the_users_choices(tmp_path):
    path = tmp_path / "profiles.db"
    v1_file(path)
    store = ProfileStore(path)
    assert store.version() == SCHEMA_VERSION == 9
    uid = store.find_user("Grace")
    prefs = store.preferences(uid)
    assert (prefs["verbosity"], prefs["units"], prefs["speech_rate"], prefs["volume"]) == ("brief", "feet", 220, 0.5)
    assert prefs["hearing"] == "typical" and prefs["earcons"] is True          # v2 columns got defaults
    assert prefs["text_scale"] == 1.0 and prefs["high_contrast"] is False      # v3 columns too
    assert prefs["obstacle_warnings"] == "off"                                  # v9: the collision lane stays off
    store.set_class_weight(uid, "dog", 0.5)                                     # new tables exist
    store.close()
    assert ProfileStore(path).version() == SCHEMA_VERSION                       # reopening is a no-op


def test_each_migration_adds_only_its_own_columns(tmp_path):
    """Stop after v2: v3's columns must not exist yet, so v3 really is the step that adds them."""
    import sqlite_utils

    from maxsight_app.profile import store as store_mod
    db = sqlite_utils.Database(tmp_path / "p.db")
    for v in (1, 2):
        store_mod.MIGRATIONS[v](db)
    cols = set(db["preferences"].columns_dict)
    assert "hearing" in cols and not cols & set(store_mod._V3_COLUMNS)


def test_newer_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "p.db"
    ProfileStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (99, 'future')")
    conn.commit()
    conn.close()
    with pytest.raises(ProfileError, match="written by a newer MaxSight"):
        ProfileStore(path)


def test_bad_values_are_rejected_with_the_field_name(tmp_path):
    store = ProfileStore(tmp_path / "p.db")
    uid = store.create_user("Ada")
    with pytest.raises(ValueError, match="^speech_rate: must be between 80 and 450; got 900$"):
        store.set_preference(uid, "speech_rate", 900)
    with pytest.raises(ValueError, match="^units: must be one of metres, feet, steps; got 'yards'$"):
        store.set_preference(uid, "units", "yards")
    with pytest.raises(ValueError, match="^volume: expected float"):
        store.set_preference(uid, "volume", "loud")
    with pytest.raises(ValueError, match="^colour: there is no such preference"):
        store.set_preference(uid, "colour", 1)
    with pytest.raises(ValueError, match="already exists"):
        store.create_user("Ada")
    # A batch with one bad value writes nothing.
    with pytest.raises(ValueError):
        store.set_preferences(uid, {"units": "steps", "volume": 7})
    assert store.preferences(uid)["units"] == "metres"
    assert store.set_class_weight(uid, "car", 9.0) == 2.0                    # weights are clamped to 0..2


def test_uses_wal(tmp_path):
    store = ProfileStore(tmp_path / "p.db")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


WRITER = """
import sys
from maxsight_app.profile.store import ProfileStore
s = ProfileStore(sys.argv[1]); uid = s.create_user("Writer")
print("ready", flush=True)
i = 0
while True:
    s.add_feedback(uid, "useful", f"class{i % 7}")
    s.set_preference(uid, "speech_rate", 100 + i % 300)
    i += 1
"""


def test_kill_during_writes_leaves_a_readable_database(tmp_path):
    path = tmp_path / "p.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.8)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ProfileStore(path)
    assert store.recovered_to is None                       # integrity_check passed
    uid = store.find_user("Writer")
    assert len(store.feedback(uid)) > 10
    assert 100 <= store.preferences(uid)["speech_rate"] < 400


def test_damaged_file_is_moved_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / "p.db"
    s = ProfileStore(path)
    s.create_user("Ada")
    s.close()
    data = bytearray(path.read_bytes())
    data[0:16] = b"garbage garbage!"                        # destroy the SQLite header
    path.write_bytes(bytes(data))
    store = ProfileStore(path)
    assert store.recovered_to is not None and store.recovered_to.exists()
    assert store.users() == [] and store.version() == SCHEMA_VERSION


def test_export_import_round_trip(tmp_path):
    a = ProfileStore(tmp_path / "a.db")
    uid = a.create_user("Ada")
    a.set_preferences(uid, {"units": "steps", "hearing": "deaf", "vision_condition": "glaucoma", "vision_severity": 0.6})
    a.set_class_weight(uid, "dog", 0.2)
    apply_feedback(a, uid, "useful", "car")
    exported = json.loads(json.dumps(a.export_json()))
    b = ProfileStore(tmp_path / "b.db")
    assert b.import_json(exported) == ["Ada"]
    uid_b = b.find_user("Ada")
    assert b.preferences(uid_b) == a.preferences(uid)
    assert b.class_weights(uid_b) == a.class_weights(uid)
    assert [f["kind"] for f in b.feedback(uid_b)] == ["useful"]
    with pytest.raises(ValueError, match="already exists"):
        b.import_json(exported)
    exported["users"][0]["preferences"]["units"] = "yards"
    with pytest.raises(ValueError, match="units: must be one of"):
        b.import_json(exported, replace=True)
    assert b.preferences(uid_b)["units"] == "steps"          # nothing written from a bad file


def _dog_frame(t):
    h = Hazard(1, 16, "dog", (0, 0, 10, 10), 12, 0.0, 2.5, Zone.NEAR, False, None, Urgency.CAUTION, 10.0, 0.8, False)
    return FrameResult(int(t), t, (640, 480), (), (), (h,), FrameQuality(120, 800, 50, False, False, False, 1.0), 0.1)


def test_feedback_is_learnt_persisted_and_changes_what_is_said(tmp_path):
    path = tmp_path / "p.db"
    store = ProfileStore(path)
    uid = store.create_user("Ada")
    assert CuePolicy().decide(_dog_frame(0.0), store.profile(uid), 0.0)          # dogs are announced
    for _ in range(3):
        apply_feedback(store, uid, "not_useful", "dog")
    store.close()
    store = ProfileStore(path)                                                             # persisted
    assert store.class_weights(uid)["dog"] == pytest.approx(0.1)
    assert CuePolicy().decide(_dog_frame(0.0), store.profile(uid), 0.0) == []     # a caution dog is now quiet
    changes = apply_feedback(store, uid, "too_much", "person")
    assert changes["cooldown_s"] == pytest.approx(10.0) and changes["person"] == pytest.approx(0.85)
    for _ in range(30):
        apply_feedback(store, uid, "useful", "car")
    assert store.class_weights(uid)["car"] == 2.0                                          # bounded
    with pytest.raises(ValueError, match="feedback: must be one of"):
        apply_feedback(store, uid, "meh")
