"""The near-miss log in the profile store: entries round-trip with their typed fields and JPEG
thumbnail, are pruned by the user's retention limits, survive a migration from schema 6, travel
with a profile export, go with a deleted profile; limits out of bounds are refused by the
preference's declaration, and an entry that cannot be read back is skipped with one note."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3

import numpy as np
import pytest
import sqlite_utils

from engine.samples import sample_frames
from maxsight_app.nearmiss import decode_thumbnail, encode_thumbnail, read_log, small_copy
from maxsight_app.profile import store as store_mod
from maxsight_app.profile.store import SCHEMA_VERSION, ProfileStore


def _ago(days: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat(timespec="milliseconds")


def _entry(text: str, at: str, image: np.ndarray | None = None, urgency: str = "warning") -> dict:
    return {"at": at, "media_s": 1.5, "kind": "hazard", "urgency": urgency, "text": text, "label": "person",
            "distance_m": 3.5, "clock": 12, "detail": "",
            "thumbnail": encode_thumbnail(small_copy(image)) if image is not None else None}


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("Ada")
    yield s
    s.close()


@pytest.fixture(scope="module")
def frames():
    return sample_frames(3, every=60)          # real BGR frames from the shipped clip


def test_entries_round_trip_with_their_picture(store, frames):
    store.add_near_misses(1, [_entry("Warning, person, straight ahead, 3.5 metres", _ago(0.01), frames[0]),
                              _entry("Stop! person, straight ahead, 2 metres", _ago(0), frames[1], "danger")])
    rows = store.near_misses(1)
    assert [r["text"] for r in rows] == ["Warning, person, straight ahead, 3.5 metres", "Stop! person, straight ahead, 2 metres"]
    assert [r["urgency"] for r in rows] == ["warning", "danger"] and rows[0]["distance_m"] == 3.5 and rows[0]["clock"] == 12
    cols = store._db["near_misses"].columns_dict                         # typed columns, the picture a JPEG BLOB
    assert cols["distance_m"] is float and cols["clock"] is int and cols["thumbnail"] is bytes
    assert rows[0]["thumbnail"][:2] == b"\xff\xd8" and len(rows[0]["thumbnail"]) < 20_000
    entries, notes = read_log(store, 1)
    assert notes == [] and len(entries) == 2
    pic = entries[0].thumbnail
    assert pic.shape[1] == 160 and pic.shape[2] == 3
    small = small_copy(frames[0]).astype(np.int16)
    assert np.abs(pic.astype(np.int16) - small).mean() < 12                # the frame it was, not any picture
    assert "danger: Stop! person" in entries[1].words() and "(3.5 m)" in entries[0].words()


def test_retention_prunes_by_age_and_by_count(store):
    old = [_entry(f"old {i}", _ago(40 + i)) for i in range(3)]
    new = [_entry(f"new {i}", _ago(5.5 - i)) for i in range(5)]                  # 5.5 .. 1.5 days old
    pruned = store.add_near_misses(1, old + new, days=30, max_count=1000)
    assert pruned == 3 and [r["text"] for r in store.near_misses(1)] == [f"new {i}" for i in range(5)]
    store.set_preferences(1, {"near_miss_max": 10})                       # the profile's own limits
    store.add_near_misses(1, [_entry(f"more {i}", _ago(0)) for i in range(8)])
    texts = [r["text"] for r in store.near_misses(1)]
    assert len(texts) == 10 and texts[:2] == ["new 3", "new 4"] and texts[-1] == "more 7"   # the newest kept
    store.set_preferences(1, {"near_miss_days": 2})
    assert store.prune_near_misses(1) == 1                                  # new 3, 2.5 days old
    assert [r["text"] for r in store.near_misses(1)][:2] == ["new 4", "more 0"]


def test_limits_out_of_bounds_are_refused_by_the_declaration(store):
    with pytest.raises(ValueError, match="^near_miss_days: must be between 1 and 365; got 0$"):
        store.set_preference(1, "near_miss_days", 0)
    with pytest.raises(ValueError, match="^near_miss_max: must be between 10 and 10000; got 100000$"):
        store.set_preference(1, "near_miss_max", 100000)
    p = store.profile(1)
    assert (p.near_miss_log, p.near_miss_days, p.near_miss_max) == (False, 30, 1000)     # opt-in: off by default


def test_migrates_a_v6_file(tmp_path):
    """A database as schema 6 left it (the previous migrations, then a user) opens at 7: the user's
    choices kept, the log's preferences at their defaults, the log's table there and empty."""
    path = tmp_path / "profiles.db"
    db = sqlite_utils.Database(path)
    db["schema_version"].create({"version": int, "applied": str}, pk="version")
    for v in range(1, 7):
        store_mod.MIGRATIONS[v](db)
        db["schema_version"].insert({"version": v, "applied": "2026-11-01T00:00:00+00:00"})
    assert "near_misses" not in db.table_names() and "near_miss_log" not in db["preferences"].columns_dict
    db["users"].insert({"id": 1, "name": "Grace", "created": "2026-11-01T00:00:00+00:00"})
    db["preferences"].insert({"user_id": 1, "verbosity": "brief", "units": "feet", "speech_rate": 220, "volume": 0.5})
    db.conn.close()
    s = ProfileStore(path)
    assert s.version() == SCHEMA_VERSION == 9
    prefs = s.preferences(1)
    assert (prefs["verbosity"], prefs["units"], prefs["near_miss_log"], prefs["near_miss_days"]) == ("brief", "feet", False, 30)
    assert s.near_misses(1) == []
    s.add_near_misses(1, [_entry("Warning, car, 2 o'clock, 5 metres", _ago(0))])
    assert len(s.near_misses(1)) == 1
    s.close()


def test_export_carries_the_log_and_import_replaces_it(tmp_path, store, frames):
    store.add_near_misses(1, [_entry("Warning, person, straight ahead, 3.5 metres", _ago(1), frames[0]),
                              _entry("Stop! bicycle, 1 o'clock, 2 metres", _ago(0), None, "danger")])
    data = json.loads(json.dumps(store.export_json()))
    b = ProfileStore(tmp_path / "b.db")
    uid = b.create_user("Ada")
    b.add_near_misses(uid, [_entry("somebody else's", _ago(0))])
    b.import_json(data, replace=True)
    got = b.near_misses(uid)
    assert [r["text"] for r in got] == [r["text"] for r in store.near_misses(1)]
    assert got[0]["thumbnail"] == store.near_misses(1)[0]["thumbnail"] and got[1]["thumbnail"] is None
    # An older export (no log in it) keeps the log that is here, and says so.
    del data["users"][0]["near_misses"]
    done = b.import_export(data, replace=True)
    assert "near-miss log" in done[0].kept and len(b.near_misses(uid)) == 2
    # A bad entry is one sentence naming it, and nothing is written.
    data["users"][0]["near_misses"] = [{"at": _ago(0), "text": "x", "thumbnail": "not base64!"}]
    with pytest.raises(ValueError, match=r"users\[0\]\.near_misses\[0\]\.thumbnail: is not base64 text"):
        b.import_json(data, replace=True)
    assert len(b.near_misses(uid)) == 2
    b.close()


def test_deleting_a_profile_deletes_its_log(store):
    other = store.create_user("Bo")
    store.add_near_misses(1, [_entry("Ada's", _ago(0))])
    store.add_near_misses(other, [_entry("Bo's", _ago(0))])
    store.delete_user(1)
    assert store.find_user("Ada") is None
    assert store._db.execute("SELECT count(*) FROM near_misses WHERE user_id = 1").fetchone()[0] == 0
    assert [r["text"] for r in store.near_misses(other)] == ["Bo's"]


def test_a_corrupt_entry_is_skipped_with_a_note(store, frames):
    store.add_near_misses(1, [_entry("good one", _ago(0.02), frames[0]), _entry("broken picture", _ago(0.01), frames[1]),
                              _entry("no picture", _ago(0))])
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE near_misses SET thumbnail = ? WHERE text = 'broken picture'", [b"\xff\xd8 not a jpeg at all"])
    conn.commit()
    conn.close()
    entries, notes = read_log(store, 1)
    assert [e.text for e in entries] == ["good one", "no picture"]
    assert len(notes) == 1 and "was skipped: its picture does not decode" in notes[0]
    assert decode_thumbnail(b"garbage") is None and decode_thumbnail(None) is None



def test_reading_the_log_prunes_it_to_limits_lowered_since(store):
    store.add_near_misses(1, [_entry(f"said {i}", _ago(10.5 - i)) for i in range(10)])     # 10.5 .. 1.5 days old
    store.set_preferences(1, {"near_miss_days": 5})                                      # nothing new is written
    entries, _ = read_log(store, 1)
    assert [e.text for e in entries] == [f"said {i}" for i in range(6, 10)]               # 4.5 .. 1.5 days old
    assert len(store.near_misses(1)) == 4
    # Stamps written with and without fractions of a second, or in another zone, compare as times.
    store.clear_near_misses(1)
    t = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=4)
    store.add_near_misses(1, [_entry("whole seconds", (t - dt.timedelta(seconds=1)).isoformat(timespec="seconds")),
                              _entry("in Tokyo", (t + dt.timedelta(hours=1)).astimezone(dt.timezone(dt.timedelta(hours=9))).isoformat()),
                              _entry("fractions", (t - dt.timedelta(seconds=0.5)).isoformat(timespec="milliseconds"))])
    assert [r["text"] for r in store.near_misses(1)] == ["whole seconds", "fractions", "in Tokyo"]
    store.set_preferences(1, {"near_miss_days": 4})
    assert [e.text for e in read_log(store, 1)[0]] == ["in Tokyo"]          # the other two are just over 4 days old


def test_entries_past_the_limit_go_when_the_database_opens_with_the_log_off(tmp_path):
    s = ProfileStore(tmp_path / "p.db")
    ada, bo = s.create_user("Ada"), s.create_user("Bo")
    s.set_preferences(bo, {"near_miss_days": 60})
    for uid in (ada, bo):
        s.add_near_misses(uid, [_entry("45 days ago", _ago(45)), _entry("yesterday", _ago(1))], days=365, max_count=1000)
    assert s.profile(ada).near_miss_log is False and len(s.near_misses(ada)) == 2
    s.close()
    s = ProfileStore(tmp_path / "p.db")                        # Ada keeps 30 days, Bo 60
    assert [r["text"] for r in s.near_misses(ada)] == ["yesterday"]
    assert [r["text"] for r in s.near_misses(bo)] == ["45 days ago", "yesterday"]
    s.close()
