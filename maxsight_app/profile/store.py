"""User profiles in SQLite (sqlite-utils): typed columns, WAL, a schema_version table with one
migration function per bump, an integrity check on open, and JSON export/import.

What the store owns: the database file and every write to it. What it never does: hand its
database handle out, run a model, or know about outputs or the window. Callers use its methods
(users, preferences as a typed Profile, feedback, therapy sessions, personal objects, custom
sounds).

Every write path is one transaction (`transaction()`: BEGIN IMMEDIATE ... COMMIT): a process
killed in the middle leaves either all of a write or none of it. (sqlite-utils 4 commits each
statement on its own unless a transaction is already open, so `with db.conn:` grouped nothing.)
Migrations run inside one too, re-reading the version once they hold the write lock, so three
processes opening a fresh file at once migrate it exactly once.

A database that is busy (another process holds a lock) is not damaged: opening waits, then says
so in one sentence; only a file SQLite itself calls malformed is moved aside.

Schema history:
  v1  users; preferences (verbosity, units, speech_rate, volume)
  v2  the remaining preferences of the time as typed columns; class_interest; feedback
  v3  text_scale, high_contrast, sound_alerts (the desktop app's settings)
  v4  therapy_sessions, therapy_trials (fatigue-aware therapy sessions)
  v5  personal_items (the user's own objects and places; their vectors live in a FAISS file)
  v6  speech_output, name_alert, first_run_done; custom_sounds (the user's own sounds: YAMNet
      embeddings as float32 bytes with their dimension)
  v7  near_miss_log, near_miss_days, near_miss_max; near_misses (the opt-in log of warnings and
      dangers said, and find mode's findings with their findability: typed columns and a small JPEG)
  v8  watch_for (the words the user watches for: "75, Gate C3"), watching_tick (the quiet tick)
  v9  obstacle_warnings (the collision lane: off, fewer false alarms or more obstacles)
Each step names the columns it adds: a step must never pick up columns added by later ones.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import logging
import os
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import sqlite_utils

from maxsight_app.profile.schema import CLASS_WEIGHT_RANGE, MAX_SOUND_NAME, PREFERENCES, Profile, to_stored, validate

log = logging.getLogger(__name__)

SCHEMA_VERSION = 9
BUSY_TIMEOUT_S = 10.0
_V2_COLUMNS = ("voice", "speech", "earcons", "tone_volume", "haptic", "haptic_port", "haptic_strength", "screen_alerts",
               "captions", "cooldown_s", "max_unsolicited", "hedge_below", "vision_condition", "vision_severity", "hearing")
_V3_COLUMNS = ("text_scale", "high_contrast", "sound_alerts")
_V6_COLUMNS = ("speech_output", "name_alert", "first_run_done")
_V7_COLUMNS = ("near_miss_log", "near_miss_days", "near_miss_max")
_V8_COLUMNS = ("watch_for", "watching_tick")
_V9_COLUMNS = ("obstacle_warnings",)
MAX_IMPORT_USERS = 1000
MAX_NAME = 100


def default_path() -> Path:
    """$MAXSIGHT_DATA/profiles.db, else the platform's user data folder."""
    env = os.environ.get("MAXSIGHT_DATA")
    if env:
        return Path(env).expanduser() / "profiles.db"
    import platformdirs
    return Path(platformdirs.user_data_dir("maxsight", appauthor=False)) / "profiles.db"


class ProfileError(Exception):
    """One sentence a user can act on."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _io_trouble(exc: Exception) -> bool:
    """The disk, not the file: full, over a size limit, read-only, failing. Such a database is not
    damaged and must never be moved aside as if it were."""
    text = str(exc).lower()
    return any(w in text for w in ("disk i/o error", "database or disk is full", "readonly", "read-only",
                                   "attempt to write a readonly"))


def _busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


# -- migrations (each idempotent; its version row is written in the same transaction) --------------

def _to_v1(db: sqlite_utils.Database) -> None:
    db["users"].create({"id": int, "name": str, "created": str}, pk="id", not_null={"name"}, if_not_exists=True)
    db["users"].create_index(["name"], unique=True, if_not_exists=True)
    db["preferences"].create({"user_id": int, "verbosity": str, "units": str, "speech_rate": int, "volume": float},
                             pk="user_id", foreign_keys=[("user_id", "users", "id")], if_not_exists=True)


def _add_pref_columns(db: sqlite_utils.Database, names: tuple[str, ...]) -> None:
    prefs = db["preferences"]
    have = set(prefs.columns_dict)
    for name in names:
        p = PREFERENCES[name]
        if name not in have:
            prefs.add_column(name, p.sql_type)
        db.execute(f"UPDATE preferences SET [{name}] = ? WHERE [{name}] IS NULL", [to_stored(name, p.default)])


def _to_v2(db: sqlite_utils.Database) -> None:
    _add_pref_columns(db, _V2_COLUMNS)
    db["class_interest"].create({"user_id": int, "label": str, "weight": float}, pk=("user_id", "label"),
                                foreign_keys=[("user_id", "users", "id")], if_not_exists=True)
    db["feedback"].create({"id": int, "user_id": int, "at": str, "kind": str, "label": str, "detail": str}, pk="id",
                          foreign_keys=[("user_id", "users", "id")], if_not_exists=True)
    db["feedback"].create_index(["user_id", "at"], if_not_exists=True)


def _to_v3(db: sqlite_utils.Database) -> None:
    _add_pref_columns(db, _V3_COLUMNS)


def _to_v4(db: sqlite_utils.Database) -> None:
    db["therapy_sessions"].create({"id": int, "user_id": int, "started": str, "ended": str, "condition": str,
                                   "severity": float, "trials": int, "correct": int, "mean_rt_s": float,
                                   "fatigue_max": float, "breaks": int, "ended_by": str},
                                  pk="id", foreign_keys=[("user_id", "users", "id")], if_not_exists=True)
    db["therapy_trials"].create({"id": int, "session_id": int, "n": int, "task": str, "prompt": str, "response": str,
                                 "correct": int, "rt_s": float, "level": float, "fatigue": float, "at": str},
                                pk="id", foreign_keys=[("session_id", "therapy_sessions", "id")], if_not_exists=True)
    db["therapy_trials"].create_index(["session_id", "n"], if_not_exists=True)


def _to_v5(db: sqlite_utils.Database) -> None:
    db["personal_items"].create({"id": int, "user_id": int, "label": str, "kind": str, "created": str}, pk="id",
                                foreign_keys=[("user_id", "users", "id")], if_not_exists=True)
    db["personal_items"].create_index(["user_id", "label"], if_not_exists=True)


def _to_v6(db: sqlite_utils.Database) -> None:
    _add_pref_columns(db, _V6_COLUMNS)
    db["custom_sounds"].create({"id": int, "user_id": int, "label": str, "dims": int, "embedding": bytes, "created": str},
                               pk="id", foreign_keys=[("user_id", "users", "id")], if_not_exists=True)
    db["custom_sounds"].create_index(["user_id", "label"], if_not_exists=True)


# One near-miss log entry as the table holds it (and an export carries it, the thumbnail as base64).
NEAR_MISS_TEXT = ("at", "kind", "urgency", "text", "label", "detail")
NEAR_MISS_NUMBERS = ("media_s", "distance_m", "clock", "find_score", "find_size_deg", "find_contrast", "find_field")
MAX_THUMBNAIL = 16 * 1024      # bytes of JPEG per entry (a 160-pixel-wide one is about 3 kB)


def _to_v7(db: sqlite_utils.Database) -> None:
    _add_pref_columns(db, _V7_COLUMNS)
    db["near_misses"].create({"id": int, "user_id": int, "at": str, "media_s": float, "kind": str, "urgency": str,
                              "text": str, "label": str, "distance_m": float, "clock": int, "find_score": float,
                              "find_size_deg": float, "find_contrast": float, "find_field": float, "detail": str,
                              "thumbnail": bytes},
                             pk="id", foreign_keys=[("user_id", "users", "id")], if_not_exists=True)
    db["near_misses"].create_index(["user_id", "at"], if_not_exists=True)


def _to_v8(db: sqlite_utils.Database) -> None:
    _add_pref_columns(db, _V8_COLUMNS)


def _to_v9(db: sqlite_utils.Database) -> None:
    _add_pref_columns(db, _V9_COLUMNS)


MIGRATIONS = {1: _to_v1, 2: _to_v2, 3: _to_v3, 4: _to_v4, 5: _to_v5, 6: _to_v6, 7: _to_v7, 8: _to_v8, 9: _to_v9}


class ProfileStore:
    """Owns the profile database; every write is one transaction. Never lends its handle out."""

    def __init__(self, path: Path, busy_timeout_s: float = BUSY_TIMEOUT_S):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.recovered_to: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProfileError(f"cannot create the profile folder {self.path.parent}: {exc.strerror or exc}") from None
        self._open()

    # -- opening, checking, migrating ---------------------------------------------------------
    def _open(self) -> None:
        if self.path.exists() and not self._healthy():
            # Keep the damaged file for inspection or recovery; start a fresh profile database.
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            self.recovered_to = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
            self.path.rename(self.recovered_to)
            for suffix in ("-wal", "-shm"):
                side = Path(str(self.path) + suffix)
                if side.exists():
                    side.rename(Path(str(self.recovered_to) + suffix))
            log.warning("The profile database %s was damaged; it was moved to %s and a new one started. "
                        "Restore a JSON export with `maxsight profile import FILE`.", self.path, self.recovered_to)
        # SQLite waits busy_timeout_s for a lock, but some conflicts it reports at once (switching an
        # old file to WAL while another process opens it, a read that must become a write after
        # another process wrote): three MaxSights opening one old file on a busy machine failed so.
        # Such an open is tried again from the start until busy_timeout_s has passed.
        deadline, pause = time.monotonic() + self.busy_timeout_s, 0.05
        while True:
            conn = None
            try:
                conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s, check_same_thread=False)
                self._db = sqlite_utils.Database(conn)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")   # durable at checkpoints, never corrupt (WAL)
                self._db.execute("PRAGMA foreign_keys=ON")
                self._migrate()
                self._repair()
                self._age_out()
                return
            except sqlite3.OperationalError as exc:
                if conn is not None:
                    conn.close()
                if _busy(exc) and time.monotonic() < deadline:
                    time.sleep(pause)
                    pause = min(1.0, pause * 2)
                    continue
                if _busy(exc):
                    raise ProfileError(f"the profile database {self.path} is busy (another MaxSight is writing to it); "
                                       "try again in a moment") from None
                raise ProfileError(f"cannot open the profile database {self.path}: {exc}") from None

    def _healthy(self) -> bool:
        """False only when SQLite says the file is malformed; busy is not damaged."""
        try:
            conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout_s)
            try:
                return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                raise ProfileError(f"the profile database {self.path} is busy (another MaxSight is using it); "
                                   "try again in a moment") from None
            if _io_trouble(exc):
                raise ProfileError(f"cannot open the profile database {self.path} ({exc}: is the disk full or "
                                   f"read-only?); it was left as it is") from None
            if "unable to open" in str(exc).lower():
                raise ProfileError(f"cannot open the profile database {self.path}: {exc}") from None
            return False
        except sqlite3.DatabaseError:
            return False

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside are one transaction (nested blocks are savepoints)."""
        conn = self._db.conn
        if conn.in_transaction:
            sp = f"sp_{secrets.token_hex(8)}"
            conn.execute(f"SAVEPOINT {sp}")
            try:
                yield
            except BaseException:
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {sp}")
                    conn.execute(f"RELEASE SAVEPOINT {sp}")
                raise
            conn.execute(f"RELEASE SAVEPOINT {sp}")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def version(self) -> int:
        if "schema_version" not in self._db.table_names():
            return 0
        row = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
        return row[0] or 0

    def _migrate(self) -> None:
        if self.version() == SCHEMA_VERSION:
            return
        with self.transaction():
            current = self.version()          # again, now that we hold the write lock
            if current > SCHEMA_VERSION:
                raise ProfileError(f"{self.path} was written by a newer MaxSight (schema {current}); update MaxSight to open it")
            self._db["schema_version"].create({"version": int, "applied": str}, pk="version", if_not_exists=True)
            for v in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](self._db)
                self._db["schema_version"].insert({"version": v, "applied": _now()})
                log.info("profile database migrated to schema %d", v)
        if self.version() > SCHEMA_VERSION:
            raise ProfileError(f"{self.path} was written by a newer MaxSight (schema {self.version()}); update MaxSight to open it")

    def _repair(self) -> None:
        """Users left without a preferences row (by a MaxSight older than atomic writes) get the defaults."""
        orphans = [r[0] for r in self._db.execute(
            "SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM preferences)").fetchall()]
        if orphans:
            with self.transaction():
                for uid in orphans:
                    self._db["preferences"].insert({"user_id": uid, **Profile().stored()})
            log.warning("gave %d profile(s) without preferences the defaults", len(orphans))

    _AGED = ("FROM near_misses WHERE julianday(at) < julianday('now') - "
             "(SELECT near_miss_days FROM preferences WHERE preferences.user_id = near_misses.user_id)")

    def _age_out(self) -> None:
        """Near-miss log entries older than their profile's limit go when the database opens, even
        with the log turned off and nothing written since (a write prunes its own profile)."""
        if self._db.execute(f"SELECT count(*) {self._AGED}").fetchone()[0]:
            try:
                with self.transaction():
                    n = self._db.execute(f"DELETE {self._AGED}").rowcount
                log.info("deleted %d near-miss log entries past their retention limit", n)
            except sqlite3.OperationalError as exc:     # busy or read-only: the next open or write prunes
                log.warning("could not delete old near-miss log entries now (%s)", exc)

    def integrity(self) -> str:
        """'ok', or what SQLite found wrong (for `maxsight doctor`)."""
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        self._db.conn.close()

    # -- users and preferences ----------------------------------------------------------------
    def create_user(self, name: str) -> int:
        name = _check_name(name)
        with self.transaction():
            if self.find_user(name) is not None:
                raise ValueError(f"name: a profile called {name!r} already exists")
            uid = self._db["users"].insert({"name": name, "created": _now()}).last_pk
            self._db["preferences"].insert({"user_id": uid, **Profile().stored()})
        return uid

    def find_user(self, name: str) -> int | None:
        rows = list(self._db["users"].rows_where("name = ?", [name]))
        return rows[0]["id"] if rows else None

    def user_name(self, user_id: int) -> str:
        self._require(user_id)
        return self._db["users"].get(user_id)["name"]

    def users(self) -> list[dict]:
        return list(self._db["users"].rows_where(order_by="id"))

    def _require(self, user_id: int) -> None:
        if not list(self._db["users"].rows_where("id = ?", [user_id])):
            raise ProfileError(f"there is no profile with id {user_id}")

    def profile(self, user_id: int) -> Profile:
        """The user's preferences and learnt class weights, typed and checked. A stored value that
        no longer passes its declaration (edited by hand, older bounds) falls back to the default."""
        self._require(user_id)
        row = self._db["preferences"].get(user_id)
        values = {}
        for name, p in PREFERENCES.items():
            v = row.get(name)
            if v is None:
                continue
            try:
                values[name] = validate(name, v)
            except ValueError as exc:
                log.warning("profile %s: %s; using the default", user_id, exc)
        return Profile(**values, class_weights=self.class_weights(user_id), custom_sounds=self.custom_sounds(user_id))

    def preferences(self, user_id: int) -> dict:
        """name -> value as the command line shows and sets it (enums as words, lists as CSV)."""
        p = self.profile(user_id)
        return {name: getattr(p, name) if decl.kind in (bool, int, float, str) else to_stored(name, getattr(p, name))
                for name, decl in PREFERENCES.items()}

    def set_preference(self, user_id: int, name: str, value) -> None:
        self.set_preferences(user_id, {name: value})

    def set_preferences(self, user_id: int, values: dict) -> None:
        clean = {k: to_stored(k, validate(k, v)) for k, v in values.items()}   # all or nothing
        with self.transaction():
            self._require(user_id)
            self._db["preferences"].update(user_id, clean)

    # -- per-class interest and feedback ------------------------------------------------------
    def class_weights(self, user_id: int) -> dict[str, float]:
        return {r["label"]: r["weight"] for r in self._db["class_interest"].rows_where("user_id = ?", [user_id])}

    def set_class_weight(self, user_id: int, label: str, weight: float) -> float:
        lo, hi = CLASS_WEIGHT_RANGE
        weight = float(min(hi, max(lo, weight)))
        with self.transaction():
            self._require(user_id)
            self._db["class_interest"].upsert({"user_id": user_id, "label": label, "weight": weight}, pk=("user_id", "label"))
        return weight

    def record_feedback(self, user_id: int, kind: str, label: str, weight: float | None, prefs: dict | None = None) -> None:
        """One feedback event and what it changed, in one transaction."""
        with self.transaction():
            self._require(user_id)
            if weight is not None:
                self.set_class_weight(user_id, label, weight)
            if prefs:
                self.set_preferences(user_id, prefs)
            self._db["feedback"].insert({"user_id": user_id, "at": _now(), "kind": kind, "label": label, "detail": ""})

    def add_feedback(self, user_id: int, kind: str, label: str = "", detail: str = "") -> None:
        with self.transaction():
            self._db["feedback"].insert({"user_id": user_id, "at": _now(), "kind": kind, "label": label, "detail": detail})

    def feedback(self, user_id: int) -> list[dict]:
        return list(self._db["feedback"].rows_where("user_id = ?", [user_id], order_by="id"))

    # -- therapy ------------------------------------------------------------------------------
    def start_therapy_session(self, user_id: int) -> int:
        p = self.profile(user_id)
        with self.transaction():
            return self._db["therapy_sessions"].insert({
                "user_id": user_id, "started": _now(), "ended": None, "condition": p.vision_condition,
                "severity": p.vision_severity, "trials": 0, "correct": 0, "mean_rt_s": None,
                "fatigue_max": 0.0, "breaks": 0, "ended_by": None}).last_pk

    def add_therapy_trial(self, session_id: int, trial: dict, summary: dict) -> None:
        """One answered trial and the session's updated summary, together."""
        with self.transaction():
            self._db["therapy_trials"].insert({"session_id": session_id, "at": _now(), **trial})
            row = self._db.execute("SELECT count(*), sum(correct), avg(rt_s) FROM therapy_trials WHERE session_id = ?",
                                   [session_id]).fetchone()
            self._db["therapy_sessions"].update(session_id, {"trials": row[0], "correct": row[1] or 0, "mean_rt_s": row[2],
                                                             **summary})

    def end_therapy_session(self, session_id: int, ended_by: str, summary: dict) -> None:
        with self.transaction():
            self._db["therapy_sessions"].update(session_id, {**summary, "ended": _now(), "ended_by": ended_by})

    def therapy_session(self, session_id: int) -> dict:
        return self._db["therapy_sessions"].get(session_id)

    def therapy_sessions(self, user_id: int) -> list[dict]:
        return list(self._db["therapy_sessions"].rows_where("user_id = ?", [user_id], order_by="id"))

    def therapy_trials(self, session_id: int) -> list[dict]:
        return list(self._db["therapy_trials"].rows_where("session_id = ?", [session_id], order_by="n"))

    # -- personal objects ---------------------------------------------------------------------
    def add_personal_items(self, user_id: int, label: str, kind: str, n: int) -> list[int]:
        """n rows for one label (one per stored vector); their ids key the FAISS vectors."""
        with self.transaction():
            self._require(user_id)
            now = _now()
            return [self._db["personal_items"].insert({"user_id": user_id, "label": label, "kind": kind, "created": now}).last_pk
                    for _ in range(n)]

    def personal_items(self, user_id: int) -> dict[int, str]:
        return {r["id"]: r["label"] for r in self._db["personal_items"].rows_where("user_id = ?", [user_id])}

    def remove_personal_items(self, user_id: int, label: str) -> list[int]:
        with self.transaction():
            ids = [r["id"] for r in self._db["personal_items"].rows_where("user_id = ? AND label = ?", [user_id, label])]
            self._db.execute("DELETE FROM personal_items WHERE user_id = ? AND label = ?", [user_id, label])
        return ids

    # -- the user's own sounds ----------------------------------------------------------------
    def add_custom_sound(self, user_id: int, label: str, embeddings: np.ndarray) -> int:
        """[N, D] float32 embeddings of one taught sound; returns how many were stored."""
        e = np.ascontiguousarray(embeddings, dtype="<f4")
        assert e.ndim == 2, f"custom sound embeddings must be [N, D], got {e.shape}"
        with self.transaction():
            self._require(user_id)
            now = _now()
            for row in e:
                self._db["custom_sounds"].insert({"user_id": user_id, "label": label, "dims": int(e.shape[1]),
                                                  "embedding": row.tobytes(), "created": now})
        return len(e)

    def custom_sounds(self, user_id: int) -> dict[str, np.ndarray]:
        out: dict[str, list] = {}
        for r in self._db["custom_sounds"].rows_where("user_id = ?", [user_id], order_by="id"):
            out.setdefault(r["label"], []).append(np.frombuffer(r["embedding"], "<f4", count=r["dims"]))
        return {k: np.stack(v) for k, v in out.items()}

    def forget_custom_sound(self, user_id: int, label: str) -> int:
        with self.transaction():
            n = self._db.execute("DELETE FROM custom_sounds WHERE user_id = ? AND label = ?", [user_id, label]).rowcount
        return n

    # -- the near-miss log ---------------------------------------------------------------------
    def add_near_misses(self, user_id: int, entries: list[dict], days: int | None = None,
                        max_count: int | None = None) -> int:
        """Append entries (NEAR_MISS_TEXT and NEAR_MISS_NUMBERS fields, `thumbnail` JPEG bytes or
        None) and prune to the retention limit, in one transaction; how many were pruned. A user
        deleted meanwhile (another window) drops the entries."""
        with self.transaction():
            if not list(self._db["users"].rows_where("id = ?", [user_id])):
                return 0
            for e in entries:
                row = {k: e.get(k) for k in NEAR_MISS_TEXT + NEAR_MISS_NUMBERS}
                thumb = e.get("thumbnail")
                row["thumbnail"] = bytes(thumb) if thumb is not None and len(thumb) <= MAX_THUMBNAIL else None
                row["at"] = row["at"] or _now()
                self._db["near_misses"].insert({"user_id": user_id, **row})
            return self.prune_near_misses(user_id, days, max_count)

    def prune_near_misses(self, user_id: int, days: int | None = None, max_count: int | None = None) -> int:
        """Delete entries older than `days` and all but the newest `max_count` (the profile's own
        limits when not given); how many were deleted."""
        if days is None or max_count is None:
            p = self.profile(user_id)
            days = p.near_miss_days if days is None else days
            max_count = p.near_miss_max if max_count is None else max_count
        cutoff = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat(timespec="milliseconds")
        with self.transaction():
            # As times, not text: an imported entry's stamp may be written with or without fractions.
            n = self._db.execute("DELETE FROM near_misses WHERE user_id = ? AND julianday(at) < julianday(?)",
                                 [user_id, cutoff]).rowcount
            n += self._db.execute("DELETE FROM near_misses WHERE user_id = ? AND id NOT IN (SELECT id FROM near_misses "
                                  "WHERE user_id = ? ORDER BY julianday(at) DESC, id DESC LIMIT ?)",
                                  [user_id, user_id, max_count]).rowcount
        return n

    def near_misses(self, user_id: int) -> list[dict]:
        """The user's log, oldest first: dicts of the table's columns (thumbnail as stored bytes)."""
        return list(self._db["near_misses"].rows_where("user_id = ?", [user_id], order_by="julianday(at), id"))

    def clear_near_misses(self, user_id: int) -> int:
        with self.transaction():
            return self._db.execute("DELETE FROM near_misses WHERE user_id = ?", [user_id]).rowcount

    def delete_user(self, user_id: int) -> None:
        """The profile and everything kept for it (preferences, feedback, therapy, taught sounds,
        personal objects' rows, the near-miss log), in one transaction. The caller removes the
        personal objects' FAISS file."""
        with self.transaction():
            self._require(user_id)
            self._db.execute("DELETE FROM therapy_trials WHERE session_id IN "
                             "(SELECT id FROM therapy_sessions WHERE user_id = ?)", [user_id])
            for t in ("therapy_sessions", "near_misses", "custom_sounds", "personal_items", "feedback",
                      "class_interest", "preferences"):
                self._db.execute(f"DELETE FROM {t} WHERE user_id = ?", [user_id])
            self._db.execute("DELETE FROM users WHERE id = ?", [user_id])

    # -- export / import ----------------------------------------------------------------------
    def export_json(self, vectors: Callable[[int], dict[int, np.ndarray]] | None = None) -> dict:
        """Everything an import with replace overwrites: preferences, class weights, feedback, the
        user's own sounds (their embeddings), personal objects (with their vectors when `vectors`
        gives them: user id -> {row id: vector}, read from the FAISS file by the caller), therapy
        sessions and their trials. Text is clipped to what an import accepts."""
        users, renamed = [], []
        taken = {u["name"] for u in self.users()}
        for u in self.users():
            uid = u["id"]
            name = _exportable_name(u["name"], taken)
            if name != u["name"]:          # stored before such names were refused: an import would refuse it
                renamed.append({"from": u["name"], "to": name})
                taken.add(name)
            vecs = vectors(uid) if vectors is not None else {}
            sounds = {}
            for r in self._db["custom_sounds"].rows_where("user_id = ?", [uid], order_by="id"):
                entry = sounds.setdefault(r["label"], {"label": r["label"], "dims": r["dims"], "created": r["created"], "rows": []})
                if r["dims"] == entry["dims"]:
                    entry["rows"].append(r["embedding"])
            items = []
            for r in self._db["personal_items"].rows_where("user_id = ?", [uid], order_by="id"):
                item = {"label": r["label"][:MAX_NAME], "kind": r["kind"], "created": (r["created"] or "")[:MAX_STAMP]}
                if r["id"] in vecs:
                    item["vector"] = _b64(np.asarray(vecs[r["id"]], "<f4"))
                items.append(item)
            therapy = []
            for sess in self.therapy_sessions(uid):
                trials = [{k: _clip(v) for k, v in t.items() if k not in ("id", "session_id")}
                          for t in self.therapy_trials(sess["id"])]
                therapy.append({"session": {k: _clip(v) for k, v in sess.items() if k not in ("id", "user_id")},
                                "trials": trials})
            users.append({"name": name, "created": (u["created"] or "")[:MAX_STAMP], "preferences": self.preferences(uid),
                          "class_weights": {k[:MAX_NAME]: v for k, v in self.class_weights(uid).items()},
                          "feedback": [{k: (f[k] or "")[:MAX_TEXT] for k in ("at", "kind", "label", "detail")}
                                       for f in self.feedback(uid)],
                          "custom_sounds": [{"label": e["label"], "dims": e["dims"], "created": (e["created"] or "")[:MAX_STAMP],
                                             "embeddings": _b64(np.frombuffer(b"".join(e["rows"]), "<f4"))}
                                            for e in sounds.values()],
                          "personal_items": items, "therapy": therapy,
                          "near_misses": [_near_miss_out(r) for r in self.near_misses(uid)][-MAX_NEAR_MISSES:]})
        return {"schema_version": SCHEMA_VERSION, "exported": _now(), "users": users, "renamed": renamed}

    def import_json(self, data: dict, replace: bool = False) -> list[str]:
        """Add (or with replace, overwrite) the users in an export; their names."""
        return [i.name for i in self.import_export(data, replace)]

    def import_export(self, data: dict, replace: bool = False) -> list["Imported"]:
        """Add (or with replace, overwrite) the users in an export. Everything is checked before
        anything is written, and the writes are one transaction, so a bad file changes nothing.
        A part the file does not hold (taught sounds, personal objects, therapy sessions: an export
        of an older MaxSight) is kept as it is, never deleted, and listed in `kept`. A replaced
        profile keeps its id (its personal objects' FAISS file stays its own)."""
        users = _check_export(data)
        if not replace:
            for u in users:
                if self.find_user(u["name"]) is not None:
                    raise ValueError(f"name: a profile called {u['name']!r} already exists (import with replace to overwrite)")
        done = []
        with self.transaction():
            for u in users:
                uid = self.find_user(u["name"])
                kept = []
                if uid is None:
                    uid = self._db["users"].insert({"name": u["name"], "created": u["created"]}).last_pk
                else:
                    self._db["users"].update(uid, {"created": u["created"]})
                    for t in ("feedback", "class_interest", "preferences"):
                        self._db.execute(f"DELETE FROM {t} WHERE user_id = ?", [uid])
                    for part, words, count in (("custom_sounds", "taught sounds", "SELECT count(*) FROM custom_sounds WHERE user_id = ?"),
                                               ("personal_items", "personal objects", "SELECT count(*) FROM personal_items WHERE user_id = ?"),
                                               ("therapy", "therapy sessions", "SELECT count(*) FROM therapy_sessions WHERE user_id = ?"),
                                               ("near_misses", "near-miss log", "SELECT count(*) FROM near_misses WHERE user_id = ?")):
                        if u[part] is not None:
                            if part == "therapy":
                                self._db.execute("DELETE FROM therapy_trials WHERE session_id IN "
                                                 "(SELECT id FROM therapy_sessions WHERE user_id = ?)", [uid])
                                self._db.execute("DELETE FROM therapy_sessions WHERE user_id = ?", [uid])
                            else:
                                self._db.execute(f"DELETE FROM {part} WHERE user_id = ?", [uid])
                        elif self._db.execute(count, [uid]).fetchone()[0]:
                            kept.append(words)
                self._db["preferences"].insert({"user_id": uid, **u["profile"].stored()})
                for label, w in u["class_weights"].items():
                    self._db["class_interest"].insert({"user_id": uid, "label": label, "weight": w})
                for f in u["feedback"]:
                    self._db["feedback"].insert({"user_id": uid, **f})
                for snd in u["custom_sounds"] or []:
                    for row in snd["embeddings"]:
                        self._db["custom_sounds"].insert({"user_id": uid, "label": snd["label"], "dims": snd["dims"],
                                                          "embedding": row.tobytes(), "created": snd["created"]})
                personal = []
                for item in u["personal_items"] or []:
                    rid = self._db["personal_items"].insert({"user_id": uid, "label": item["label"], "kind": item["kind"],
                                                             "created": item["created"]}).last_pk
                    if item["vector"] is not None:
                        personal.append((rid, item["label"], item["vector"]))
                for t in u["therapy"] or []:
                    sid = self._db["therapy_sessions"].insert({"user_id": uid, **t["session"]}).last_pk
                    for trial in t["trials"]:
                        self._db["therapy_trials"].insert({"session_id": sid, **trial})
                for e in u["near_misses"] or []:
                    self._db["near_misses"].insert({"user_id": uid, **e})
                done.append(Imported(u["name"], uid, kept, None if u["personal_items"] is None else personal))
        return done


@dataclass
class Imported:
    """One imported profile: its name and id, the parts of it the file did not hold and that were
    kept as they were, and its personal objects' (row id, label, vector) to index (None when the
    file held no personal objects: the index is left as it is)."""
    name: str
    user_id: int
    kept: list[str]
    personal: list[tuple[int, str, np.ndarray]] | None


MAX_TEXT = 1000                # feedback text, therapy prompts and responses
MAX_STAMP = 40                 # ISO times
MAX_SOUNDS = 200               # taught sounds per profile
MAX_SOUND_ROWS = 1000          # embeddings per taught sound (5 examples give a few dozen)
MAX_PERSONAL = 20000           # personal-object vectors per profile
MAX_DIMS = 4096
MAX_FEEDBACK = 100000
MAX_CLASSES = 1000
MAX_SESSIONS = 10000
MAX_TRIALS = 2000              # per session
MAX_NEAR_MISSES = 10000       # the largest near_miss_max
MAX_IMPORT_BYTES = 64 * 2**20  # an export larger than this is refused by `profile export` too


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode("ascii")


def _clip(v):
    return v[:MAX_TEXT] if isinstance(v, str) else v


def _unb64(where: str, text, dims: int, max_rows: int) -> np.ndarray:
    """[N, dims] finite float32 from base64 text, N <= max_rows; ValueError naming `where`."""
    if not isinstance(text, str) or len(text) > (max_rows * dims * 4 * 4) // 3 + 4:
        raise ValueError(f"{where}: must be base64 text of at most {max_rows} x {dims} numbers")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where}: is not base64 text") from None
    if not raw or len(raw) % (dims * 4):
        raise ValueError(f"{where}: holds {len(raw)} bytes, not rows of {dims} numbers (as many as the others)")
    a = np.frombuffer(raw, "<f4").reshape(-1, dims)
    if len(a) > max_rows or not np.isfinite(a).all():
        raise ValueError(f"{where}: at most {max_rows} rows of finite numbers")
    return a


def _text(where: str, v, limit: int = MAX_TEXT, default: str = "") -> str:
    if v is None:
        return default
    if not isinstance(v, str) or len(v) > limit:
        raise ValueError(f"{where}: must be text of at most {limit} characters")
    return v


def _number(where: str, v, optional: bool = True):
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"{where}: must be a number, got {str(v)[:40]!r}")
    return v


def _list(where: str, v, limit: int) -> list:
    if not isinstance(v, list):
        raise ValueError(f"{where}: must be a list, got {type(v).__name__}")
    if len(v) > limit:
        raise ValueError(f"{where}: at most {limit} entries")
    return v


_SESSION_TEXT = ("started", "ended", "condition", "ended_by")
_SESSION_NUMBERS = ("severity", "trials", "correct", "mean_rt_s", "fatigue_max", "breaks")
_TRIAL_TEXT = ("task", "prompt", "response", "at")
_TRIAL_NUMBERS = ("n", "correct", "rt_s", "level", "fatigue")


def _near_miss_out(r: dict) -> dict:
    """One log entry as an export carries it: its fields, the thumbnail as base64 (or None)."""
    e = {k: _clip(r[k]) for k in NEAR_MISS_TEXT + NEAR_MISS_NUMBERS}
    e["at"] = (e["at"] or "")[:MAX_STAMP]
    thumb = r["thumbnail"]
    e["thumbnail"] = base64.b64encode(thumb).decode("ascii") if thumb and len(thumb) <= MAX_THUMBNAIL else None
    return e


def _check_near_misses(where: str, entries) -> list[dict]:
    out = []
    for i, e in enumerate(_list(where, entries, MAX_NEAR_MISSES)):
        w = f"{where}[{i}]"
        if not isinstance(e, dict):
            raise ValueError(f"{w}: must be an object")
        row = {k: _text(f"{w}.{k}", e.get(k), MAX_STAMP if k == "at" else MAX_TEXT, None) for k in NEAR_MISS_TEXT}
        if not row["at"]:
            raise ValueError(f"{w}.at: must be the time it was said")
        row.update({k: _number(f"{w}.{k}", e.get(k)) for k in NEAR_MISS_NUMBERS})
        thumb = e.get("thumbnail")
        if thumb is not None:
            if not isinstance(thumb, str) or len(thumb) > MAX_THUMBNAIL * 4 // 3 + 4:
                raise ValueError(f"{w}.thumbnail: must be base64 text of at most {MAX_THUMBNAIL // 1024} kB")
            try:
                thumb = base64.b64decode(thumb, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError(f"{w}.thumbnail: is not base64 text") from None
        row["thumbnail"] = thumb     # a picture that does not decode is kept and skipped where it is shown
        out.append(row)
    return out


def _check_extras(where: str, u: dict) -> dict:
    """The parts of a user beyond preferences: taught sounds, personal objects, therapy, the
    near-miss log. A part the file does not hold is None (kept as it is by the import)."""
    out = {"custom_sounds": None, "personal_items": None, "therapy": None, "near_misses": None}
    if "near_misses" in u:
        out["near_misses"] = _check_near_misses(f"{where}.near_misses", u["near_misses"])
    if "custom_sounds" in u:
        sounds, labels = [], set()
        for i, snd in enumerate(_list(f"{where}.custom_sounds", u["custom_sounds"], MAX_SOUNDS)):
            w = f"{where}.custom_sounds[{i}]"
            if not isinstance(snd, dict):
                raise ValueError(f"{w}: must be an object")
            label = _text(f"{w}.label", snd.get("label"), MAX_SOUND_NAME).strip()
            if not label or label in labels:
                raise ValueError(f"{w}.label: must be a name, once")
            labels.add(label)
            dims = snd.get("dims")
            if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= MAX_DIMS:
                raise ValueError(f"{w}.dims: must be a whole number from 1 to {MAX_DIMS}")
            sounds.append({"label": label, "dims": dims, "created": _text(f"{w}.created", snd.get("created"), MAX_STAMP, _now()),
                           "embeddings": _unb64(f"{w}.embeddings", snd.get("embeddings"), dims, MAX_SOUND_ROWS)})
        out["custom_sounds"] = sounds
    if "personal_items" in u:
        items, dims = [], None
        for i, item in enumerate(_list(f"{where}.personal_items", u["personal_items"], MAX_PERSONAL)):
            w = f"{where}.personal_items[{i}]"
            if not isinstance(item, dict):
                raise ValueError(f"{w}: must be an object")
            label = _text(f"{w}.label", item.get("label"), MAX_NAME).strip()
            if not label:
                raise ValueError(f"{w}.label: must be a name")
            kind = item.get("kind", "object")
            if kind not in ("object", "place"):
                raise ValueError(f"{w}.kind: must be object or place")
            vector = None
            if item.get("vector") is not None:
                vector = _unb64(f"{w}.vector", item["vector"], dims or _numbers_in(f"{w}.vector", item["vector"]), 1)[0]
                dims = len(vector)
            items.append({"label": label, "kind": kind, "created": _text(f"{w}.created", item.get("created"), MAX_STAMP, _now()),
                          "vector": vector})
        out["personal_items"] = items
    if "therapy" in u:
        sessions = []
        for i, t in enumerate(_list(f"{where}.therapy", u["therapy"], MAX_SESSIONS)):
            w = f"{where}.therapy[{i}]"
            if not isinstance(t, dict) or not isinstance(t.get("session"), dict):
                raise ValueError(f"{w}: must be an object with a session")
            sess = t["session"]
            clean = {k: _text(f"{w}.session.{k}", sess.get(k), MAX_TEXT if k == "condition" else MAX_STAMP, None) or None
                     for k in _SESSION_TEXT}
            clean.update({k: _number(f"{w}.session.{k}", sess.get(k)) for k in _SESSION_NUMBERS})
            trials = []
            for j, trial in enumerate(_list(f"{w}.trials", t.get("trials", []), MAX_TRIALS)):
                wt = f"{w}.trials[{j}]"
                if not isinstance(trial, dict):
                    raise ValueError(f"{wt}: must be an object")
                row = {k: _text(f"{wt}.{k}", trial.get(k), MAX_TEXT, None) for k in _TRIAL_TEXT}
                row.update({k: _number(f"{wt}.{k}", trial.get(k)) for k in _TRIAL_NUMBERS})
                trials.append(row)
            sessions.append({"session": clean, "trials": trials})
        out["therapy"] = sessions
    return out


def _numbers_in(where: str, text) -> int:
    """How many float32 numbers base64 `text` holds: 1 to MAX_DIMS, else ValueError."""
    if isinstance(text, str) and len(text) % 4 == 0 and 0 < len(text) <= (MAX_DIMS * 4 * 4) // 3 + 4:
        raw = len(text) // 4 * 3 - (len(text) - len(text.rstrip("=")))
        if raw % 4 == 0:
            return raw // 4
    raise ValueError(f"{where}: must be base64 text of 1 to {MAX_DIMS} numbers, as many as the other objects'")


def _exportable_name(name: str, taken: set[str]) -> str:
    """`name`, or for one an import would refuse (a / or .. stored by an older MaxSight) the
    nearest name it accepts that no other profile has."""
    try:
        return _check_name(name)
    except ValueError:
        base = (name.replace("..", "_").replace("/", "_").replace("\\", "_").strip() or "profile")[:MAX_NAME - 4]
        base = "".join(c for c in base if ord(c) >= 32) or "profile"
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base} {n}", n + 1
        return candidate


def _check_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name: a profile needs a name")
    name = name.strip()
    if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise ValueError(f"name: at most {MAX_NAME} printable characters")
    if "/" in name or "\\" in name or ".." in name:
        raise ValueError(f"name: {name!r} may not hold /, \\ or .. (a profile's name is part of its report's file names)")
    return name


def _check_export(data) -> list[dict]:
    """Validate a whole export; ValueError names the first problem (users[2].preferences.units: ...)."""
    if not isinstance(data, dict) or not isinstance(data.get("users"), list):
        raise ValueError("the file is not a MaxSight profile export (no 'users' list)")
    if len(data["users"]) > MAX_IMPORT_USERS:
        raise ValueError(f"users: at most {MAX_IMPORT_USERS} profiles in one file")
    out, seen = [], set()
    for i, u in enumerate(data["users"]):
        where = f"users[{i}]"
        if not isinstance(u, dict):
            raise ValueError(f"{where}: must be an object with a name, got {type(u).__name__}")
        try:
            name = _check_name(u.get("name"))
        except ValueError as exc:
            raise ValueError(f"{where}.{exc}") from None
        if name in seen:
            raise ValueError(f"{where}.name: {name!r} appears twice in the file")
        seen.add(name)
        prefs = u.get("preferences", {})
        if not isinstance(prefs, dict):
            raise ValueError(f"{where}.preferences: must be an object, got {type(prefs).__name__}")
        try:
            profile = Profile.from_values(prefs)
        except ValueError as exc:
            raise ValueError(f"{where}.preferences.{exc}") from None
        weights = u.get("class_weights", {})
        if not isinstance(weights, dict):
            raise ValueError(f"{where}.class_weights: must be an object, got {type(weights).__name__}")
        if len(weights) > MAX_CLASSES:
            raise ValueError(f"{where}.class_weights: at most {MAX_CLASSES} classes")
        clean_w = {}
        for label, w in weights.items():
            if len(label) > MAX_NAME:
                raise ValueError(f"{where}.class_weights: a class name is at most {MAX_NAME} characters")
            if not isinstance(w, (int, float)) or isinstance(w, bool) or w != w:
                raise ValueError(f"{where}.class_weights.{label}: must be a number, got {str(w)[:40]!r}")
            clean_w[label] = float(min(CLASS_WEIGHT_RANGE[1], max(CLASS_WEIGHT_RANGE[0], w)))
        feedback = u.get("feedback", [])
        if not isinstance(feedback, list):
            raise ValueError(f"{where}.feedback: must be a list, got {type(feedback).__name__}")
        if len(feedback) > MAX_FEEDBACK:
            raise ValueError(f"{where}.feedback: at most {MAX_FEEDBACK} entries")
        clean_f = []
        for j, f in enumerate(feedback):
            if not isinstance(f, dict) or not all(isinstance(f.get(k, ""), str) for k in ("at", "kind", "label", "detail")):
                raise ValueError(f"{where}.feedback[{j}]: must be an object of text fields at, kind, label, detail")
            if any(len(f.get(k, "")) > MAX_TEXT for k in ("at", "kind", "label", "detail")):
                raise ValueError(f"{where}.feedback[{j}]: each text field is at most {MAX_TEXT} characters")
            clean_f.append({k: f.get(k, "") for k in ("at", "kind", "label", "detail")})
        created = _text(f"{where}.created", u.get("created"), MAX_STAMP, _now()) if isinstance(u.get("created"), str) else _now()
        out.append({"name": name, "created": created, "profile": profile, "class_weights": clean_w, "feedback": clean_f,
                    **_check_extras(where, u)})
    return out
