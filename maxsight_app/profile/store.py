"""User profiles in SQLite (sqlite-utils): typed columns, WAL, a schema_version table with one
migration function per bump, an integrity check on open, and JSON export/import.

Each migration step is idempotent (create-if-missing, add-column-if-missing), and its version row
is written last, so a migration interrupted by a crash simply completes on the next open.

Schema history:
  v1  users; preferences (verbosity, units, speech_rate, volume)
  v2  the remaining preferences of the time as typed columns; class_interest; feedback
  v3  text_scale, high_contrast, sound_alerts (the desktop app's settings)
  v4  therapy_sessions, therapy_trials (fatigue-aware therapy sessions)
  v5  personal_items (the user's own objects and places; their vectors live in a FAISS file)
Each step names the columns it adds: a step must never pick up columns added by later ones.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from pathlib import Path

import sqlite_utils

from maxsight_app.profile.schema import CLASS_WEIGHT_RANGE, PREFERENCES, validate

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
_V2_COLUMNS = ("voice", "speech", "earcons", "tone_volume", "haptic", "haptic_port", "haptic_strength", "screen_alerts",
               "captions", "cooldown_s", "max_unsolicited", "hedge_below", "vision_condition", "vision_severity", "hearing")
_V3_COLUMNS = ("text_scale", "high_contrast", "sound_alerts")


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
        db.execute(f"UPDATE preferences SET [{name}] = ? WHERE [{name}] IS NULL", [p.default])


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


MIGRATIONS = {1: _to_v1, 2: _to_v2, 3: _to_v3, 4: _to_v4, 5: _to_v5}


class ProfileStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.recovered_to: Path | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        conn = sqlite3.connect(str(self.path), timeout=5, check_same_thread=False)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")   # durable at checkpoints, never corrupt (WAL)
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _healthy(self) -> bool:
        try:
            conn = sqlite3.connect(str(self.path), timeout=5)
            try:
                return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            return False

    def version(self) -> int:
        if "schema_version" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT max(version) FROM schema_version").fetchone()
        return row[0] or 0

    def _migrate(self) -> None:
        current = self.version()
        if current > SCHEMA_VERSION:
            raise ProfileError(f"{self.path} was written by a newer MaxSight (schema {current}); update MaxSight to open it")
        self.db["schema_version"].create({"version": int, "applied": str}, pk="version", if_not_exists=True)
        for v in range(current + 1, SCHEMA_VERSION + 1):
            MIGRATIONS[v](self.db)
            self.db["schema_version"].insert({"version": v, "applied": _now()})
            log.info("profile database migrated to schema %d", v)

    def close(self) -> None:
        self.db.conn.close()

    # -- users and preferences ----------------------------------------------------------------
    def create_user(self, name: str) -> int:
        name = name.strip()
        if not name:
            raise ValueError("name: a profile needs a name")
        if self.find_user(name) is not None:
            raise ValueError(f"name: a profile called {name!r} already exists")
        with self.db.conn:
            uid = self.db["users"].insert({"name": name, "created": _now()}).last_pk
            self.db["preferences"].insert({"user_id": uid, **{k: p.default for k, p in PREFERENCES.items()}})
        return uid

    def find_user(self, name: str) -> int | None:
        rows = list(self.db["users"].rows_where("name = ?", [name]))
        return rows[0]["id"] if rows else None

    def users(self) -> list[dict]:
        return list(self.db["users"].rows_where(order_by="id"))

    def _require(self, user_id: int) -> None:
        if not list(self.db["users"].rows_where("id = ?", [user_id])):
            raise ProfileError(f"there is no profile with id {user_id}")

    def preferences(self, user_id: int) -> dict:
        self._require(user_id)
        row = self.db["preferences"].get(user_id)
        out = {}
        for name, p in PREFERENCES.items():
            v = row.get(name)
            out[name] = p.default if v is None else (bool(v) if p.kind is bool else v)
        return out

    def set_preference(self, user_id: int, name: str, value) -> None:
        value = validate(name, value)
        self._require(user_id)
        with self.db.conn:
            self.db["preferences"].update(user_id, {name: value})

    def set_preferences(self, user_id: int, values: dict) -> None:
        clean = {k: validate(k, v) for k, v in values.items()}   # all or nothing
        self._require(user_id)
        with self.db.conn:
            self.db["preferences"].update(user_id, clean)

    # -- per-class interest and feedback ------------------------------------------------------
    def class_weights(self, user_id: int) -> dict[str, float]:
        return {r["label"]: r["weight"] for r in self.db["class_interest"].rows_where("user_id = ?", [user_id])}

    def set_class_weight(self, user_id: int, label: str, weight: float) -> float:
        lo, hi = CLASS_WEIGHT_RANGE
        weight = float(min(hi, max(lo, weight)))
        self._require(user_id)
        with self.db.conn:
            self.db["class_interest"].upsert({"user_id": user_id, "label": label, "weight": weight}, pk=("user_id", "label"))
        return weight

    def add_feedback(self, user_id: int, kind: str, label: str = "", detail: str = "") -> None:
        with self.db.conn:
            self.db["feedback"].insert({"user_id": user_id, "at": _now(), "kind": kind, "label": label, "detail": detail})

    def feedback(self, user_id: int) -> list[dict]:
        return list(self.db["feedback"].rows_where("user_id = ?", [user_id], order_by="id"))

    # -- export / import ----------------------------------------------------------------------
    def export_json(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "exported": _now(), "users": [
            {"name": u["name"], "created": u["created"], "preferences": self.preferences(u["id"]),
             "class_weights": self.class_weights(u["id"]),
             "feedback": [{k: f[k] for k in ("at", "kind", "label", "detail")} for f in self.feedback(u["id"])]}
            for u in self.users()]}

    def import_json(self, data: dict, replace: bool = False) -> list[str]:
        """Add (or with replace, overwrite) the users in an export. Everything is validated before
        anything is written, so a bad file changes nothing."""
        if not isinstance(data, dict) or not isinstance(data.get("users"), list):
            raise ValueError("the file is not a MaxSight profile export (no 'users' list)")
        for u in data["users"]:
            for k, v in u.get("preferences", {}).items():
                validate(k, v)
            if not replace and self.find_user(u.get("name", "")) is not None:
                raise ValueError(f"name: a profile called {u['name']!r} already exists (import with replace to overwrite)")
        names = []
        with self.db.conn:
            for u in data["users"]:
                existing = self.find_user(u["name"])
                if existing is not None:
                    for t in ("feedback", "class_interest", "preferences"):
                        self.db.execute(f"DELETE FROM {t} WHERE user_id = ?", [existing])
                    self.db.execute("DELETE FROM users WHERE id = ?", [existing])
                uid = self.db["users"].insert({"name": u["name"], "created": u.get("created") or _now()}).last_pk
                prefs = {k: p.default for k, p in PREFERENCES.items()}
                prefs.update({k: validate(k, v) for k, v in u.get("preferences", {}).items()})
                self.db["preferences"].insert({"user_id": uid, **prefs})
                for label, w in u.get("class_weights", {}).items():
                    lo, hi = CLASS_WEIGHT_RANGE
                    self.db["class_interest"].insert({"user_id": uid, "label": label, "weight": min(hi, max(lo, float(w)))})
                for f in u.get("feedback", []):
                    self.db["feedback"].insert({"user_id": uid, **{k: f.get(k, "") for k in ("at", "kind", "label", "detail")}})
                names.append(u["name"])
        return names
