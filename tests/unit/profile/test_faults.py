"""The profile under faults: a process killed in the middle of every write path, a database that is
busy (not damaged), three processes migrating one file at once, hostile import files.

Kills are deterministic: the child process installs SQLite's trace callback and exits hard just
before its N-th statement, for every N the write path has, so each possible point of death is
tried once (a random kill would only sometimes land inside a write)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from maxsight_app.profile.store import SCHEMA_VERSION, ProfileError, ProfileStore

ROOT = Path(__file__).resolve().parents[3]

CHILD = """
import os, sys
sys.path.insert(0, {root!r})
from maxsight_app.profile.store import ProfileStore
store = ProfileStore({db!r})
{setup}
count = [0]
def trace(sql):
    count[0] += 1
    if count[0] == {n}:
        os._exit(9)                       # dies as kill -9 would: no cleanup, no rollback by us
store._db.conn.set_trace_callback(trace)
{op}
print("done", count[0], flush=True)
"""


def _kill_at(db: Path, setup: str, op: str, n: int) -> tuple[int, str]:
    code = CHILD.format(root=str(ROOT), db=str(db), setup=textwrap.dedent(setup), op=textwrap.dedent(op), n=n)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    return r.returncode, r.stdout


def _every_death(tmp_path, name, setup: str, op: str, check, prepare=None):
    """Run `op` dying before statement 1, 2, ... until it completes; check the invariant each time."""
    deaths = 0
    for n in range(1, 200):
        db = tmp_path / f"{name}-{n}.db"
        if prepare:
            prepare(db)
        code, out = _kill_at(db, setup, op, n)
        store = ProfileStore(db)
        try:
            assert store.recovered_to is None and store.integrity() == "ok"
            check(store, completed=code == 0)
        finally:
            store.close()
        if code == 0:
            assert deaths >= 1, "the write path ran no statement that could be interrupted"
            return deaths
        assert code == 9, out
        deaths += 1
    raise AssertionError("the write path never completed")


def test_kill_during_create_never_leaves_a_user_without_preferences(tmp_path):
    def check(store, completed):
        users = store.users()
        assert len(users) == (1 if completed else len(users))
        for u in users:
            assert store.preferences(u["id"])["units"] == "metres"      # the row exists: show/set/run/export work
        store.export_json()
    _every_death(tmp_path, "create", "", "store.create_user('Ada')", check)


def test_kill_during_set_preferences_is_all_or_nothing(tmp_path):
    setup = "uid = store.find_user('Ada') or store.create_user('Ada')"

    def check(store, completed):
        p = store.preferences(store.find_user("Ada"))
        assert (p["units"], p["speech_rate"], p["verbosity"]) in {("metres", 175, "normal"), ("steps", 300, "brief")}
        assert completed <= (p["units"] == "steps")
    _every_death(tmp_path, "set", setup, "store.set_preferences(uid, {'units': 'steps', 'speech_rate': 300, 'verbosity': 'brief'})",
                 check)


def test_kill_during_import_replace_keeps_the_old_profile_or_the_new_one_whole(tmp_path):
    def prepare(db):
        s = ProfileStore(db)
        uid = s.create_user("Ada")
        s.set_preference(uid, "units", "feet")
        for i in range(3):
            s.add_feedback(uid, "useful", "car")
        s.set_class_weight(uid, "dog", 0.3)
        s.close()
    new = {"users": [{"name": "Ada", "preferences": {"units": "steps"}, "class_weights": {"cat": 1.5},
                      "feedback": [{"at": "2026", "kind": "too_much", "label": "x", "detail": ""}]}]}

    def check(store, completed):
        uid = store.find_user("Ada")
        assert uid is not None, "the old profile was wiped and the new one never written"
        state = (store.preferences(uid)["units"], len(store.feedback(uid)), store.class_weights(uid))
        assert state in [("feet", 3, {"dog": 0.3}), ("steps", 1, {"cat": 1.5})], state
        assert completed <= (state[0] == "steps")
    _every_death(tmp_path, "import", "", f"store.import_json({new!r}, replace=True)", check, prepare)


def test_kill_during_feedback_keeps_the_event_and_what_it_changed_together(tmp_path):
    setup = """
        from maxsight_app.profile.feedback import apply_feedback
        uid = store.find_user('Ada') or store.create_user('Ada')
    """

    def check(store, completed):
        uid = store.find_user("Ada")
        events = len(store.feedback(uid))
        changed = (store.class_weights(uid).get("person", 1.0), store.preferences(uid)["cooldown_s"])
        assert (events, changed) in [(0, (1.0, 8.0)), (1, (pytest.approx(0.85), 10.0))], (events, changed)
    _every_death(tmp_path, "feedback", setup, "apply_feedback(store, uid, 'too_much', 'person')", check)


def test_kill_during_a_therapy_trial_keeps_the_session_summary_true(tmp_path):
    setup = """
        from maxsight_app.therapy.session import TherapySession
        uid = store.find_user('Ada') or store.create_user('Ada')
        s = TherapySession(store, uid, plan=("contrast",), clock=lambda: 0.0)
        for i in range(3):
            p = s.next_prompt(); s.respond(p.text)
        p = s.next_prompt()
    """

    def check(store, completed):
        uid = store.find_user("Ada")
        for sess in store.therapy_sessions(uid):
            assert sess["trials"] == len(store.therapy_trials(sess["id"]))
    _every_death(tmp_path, "trial", setup, "s.respond(p.text)", check)


def test_kill_while_teaching_an_object_keeps_profile_and_index_in_step(tmp_path, installed_models):
    setup = """
        import numpy as np
        from engine.models.registry import default_registry, verified_path
        from engine.stage_b.recognition import Embedder
        from maxsight_app.personal_objects import PersonalObjects
        uid = store.find_user('Ada') or store.create_user('Ada')
        po = PersonalObjects(store, uid, Embedder(verified_path(default_registry().get('mobilenet_v2'))))
        shot = (np.random.default_rng(0).random((120, 90, 3)) * 255).astype('uint8')
    """

    def check(store, completed):
        from engine.models.registry import verified_path
        from engine.stage_b.recognition import Embedder
        from maxsight_app.personal_objects import PersonalObjects
        uid = store.find_user("Ada")
        po = PersonalObjects(store, uid, Embedder(verified_path(installed_models.get("mobilenet_v2"))))
        rows = store.personal_items(uid)
        assert len(rows) in (0, 6)                        # 2 shots x 3 views, or nothing
        assert sorted(po.index.ids()) == sorted(rows)     # the index agrees with the profile
        assert completed <= (len(rows) == 6)
    _every_death(tmp_path, "teach", setup, "po.teach('my mug', [shot, shot[:, ::-1].copy()])", check)


HOLD_LOCK = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA locking_mode=EXCLUSIVE")          # WAL readers are blocked too, as during a checkpoint storm
c.execute("BEGIN EXCLUSIVE")
c.execute("UPDATE users SET created = created")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")
"""


def test_a_busy_database_is_not_called_damaged(tmp_path):
    db = tmp_path / "p.db"
    s = ProfileStore(db)
    s.create_user("Ada")
    s.close()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        with pytest.raises(ProfileError, match="is busy"):
            ProfileStore(db, busy_timeout_s=0.5)
        assert time.monotonic() - t0 < 3
        assert db.exists() and not list(tmp_path.glob("*.damaged-*"))     # nothing moved aside
    finally:
        holder.wait(timeout=20)
    again = ProfileStore(db)
    assert again.recovered_to is None and again.find_user("Ada") is not None
    again.close()


MIGRATE = """
import sys, time
sys.path.insert(0, sys.argv[2])
from maxsight_app.profile.store import ProfileStore
while time.time() < float(sys.argv[3]):
    time.sleep(0.001)
s = ProfileStore(sys.argv[1])
print(s.version(), s.find_user("Grace"), flush=True)
"""


def test_three_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path):
    from tests.unit.profile.test_store import v1_file
    db = tmp_path / "p.db"
    v1_file(db)
    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATE, str(db), str(ROOT), str(start)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    assert all(o.split() == [str(SCHEMA_VERSION), "1"] for o, _ in outs), outs
    s = ProfileStore(db)
    assert [r[0] for r in s._db.execute("SELECT version FROM schema_version ORDER BY version").fetchall()] == list(range(1, SCHEMA_VERSION + 1))
    s.close()


@pytest.mark.parametrize("data, message", [
    ({"users": [1]}, r"users\[0\]: must be an object with a name"),
    ({"users": [{"preferences": {}}]}, r"users\[0\]\.name: a profile needs a name"),
    ({"users": [{"name": "A", "preferences": [1, 2]}]}, r"users\[0\]\.preferences: must be an object"),
    ({"users": [{"name": "A", "preferences": {"units": "yards"}}]}, r"users\[0\]\.preferences\.units: must be one of"),
    ({"users": [{"name": "A", "class_weights": {"dog": "x"}}]}, r"users\[0\]\.class_weights\.dog: must be a number"),
    ({"users": [{"name": "A", "feedback": [{"kind": 3}]}]}, r"users\[0\]\.feedback\[0\]"),
    ({"users": [{"name": "A"}, {"name": "A"}]}, r"appears twice"),
    ([], "not a MaxSight profile export"),
])
def test_hostile_imports_are_one_sentence_and_change_nothing(tmp_path, data, message):
    s = ProfileStore(tmp_path / "p.db")
    uid = s.create_user("A")
    s.set_preference(uid, "units", "feet")
    with pytest.raises(ValueError, match=message):
        s.import_json(data, replace=True)
    assert s.preferences(s.find_user("A"))["units"] == "feet"
    s.close()


def _cli(args, tmp_path):
    import os
    env = dict(os.environ, MAXSIGHT_DATA=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "maxsight_app", *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)


def test_import_of_a_deeply_nested_or_broken_file_is_one_sentence(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    bad = tmp_path / "bad.json"
    bad.write_text('{"users": [')
    for f, message in ((deep, "nested too deeply"), (bad, "is not valid JSON"), (tmp_path / "none.json", "cannot read")):
        r = _cli(["profile", "import", str(f)], tmp_path)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_export_refuses_to_overwrite_the_database(tmp_path):
    r = _cli(["profile", "create", "Ada"], tmp_path)
    assert r.returncode == 0
    db = tmp_path / "data" / "profiles.db"
    before = db.read_bytes()
    r = _cli(["profile", "export", str(db)], tmp_path)
    assert r.returncode == 2 and "is your profile database" in r.stderr
    assert db.read_bytes()[:16] == before[:16]
    out = tmp_path / "backup.json"
    assert _cli(["profile", "export", str(out)], tmp_path).returncode == 0
    assert json.loads(out.read_text())["users"][0]["name"] == "Ada"
