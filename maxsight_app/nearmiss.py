"""The near-miss log: each warning and danger said, and each find-mode finding with its
findability, kept in the profile database for an instructor or therapist to replay (opt-in:
the profile's near_miss_log, pruned to near_miss_days and near_miss_max). Qt-free.

What the recorder owns: a bounded queue and one writer thread with its own connection to the
profile database. The session offers it each frame's cues (`offer`, on the frame loop: a filter
and, only when something is kept, a 160-pixel copy of the frame); the writer encodes the JPEG
thumbnails and writes whatever has queued as one transaction, then prunes. A full queue drops the
entry and counts it; the frame loop never waits on the disk. Nothing leaves this machine.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind
from maxsight_app.find import Findability

log = logging.getLogger(__name__)

THUMB_WIDTH = 160
JPEG_QUALITY = 70
QUEUE_MAX = 64          # entries waiting for the writer; more are dropped (and counted)


def small_copy(image: np.ndarray | None) -> np.ndarray | None:
    """[H, W, 3] uint8 BGR -> [h, THUMB_WIDTH, 3], a copy (the frame's buffer may be reused)."""
    if image is None or not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or not image.size:
        return None
    h, w = image.shape[:2]
    if w <= THUMB_WIDTH:
        return image.copy()
    return cv2.resize(image, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)


def encode_thumbnail(small: np.ndarray | None) -> bytes | None:
    if small is None:
        return None
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return buf.tobytes() if ok else None


def decode_thumbnail(data) -> np.ndarray | None:
    """A stored thumbnail as [h, w, 3] BGR; None when there is none or it does not decode."""
    if not data:
        return None
    try:
        img = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR)
    except (cv2.error, TypeError, ValueError):
        return None
    return img if img is not None and img.ndim == 3 and img.size else None


def kept(cue: Cue) -> bool:
    """A cue the log keeps: a hazard said as a warning or a danger."""
    return cue.kind is CueKind.HAZARD and cue.urgency >= Urgency.WARNING and bool(cue.text)


@dataclass(frozen=True)
class Entry:
    """One log entry as read back for the therapist view and the report: checked, typed."""
    id: int
    at: str                        # ISO time, UTC
    media_s: float | None          # the frame's time in its video (or the session's media time for a finding)
    kind: str                      # "hazard" or "find"
    urgency: str                   # "warning", "danger"; "" for a finding
    text: str                      # what was said
    label: str
    distance_m: float | None
    clock: int | None
    detail: str                    # a finding's findability in words
    find_score: float | None
    find_size_deg: float | None
    find_contrast: float | None
    find_field: float | None
    thumbnail: np.ndarray | None   # [h, w, 3] BGR, or None

    @property
    def find_level(self) -> str:
        """find mode's words for the score ('easy' .. 'very hard'); '' for a hazard."""
        if self.find_score is None:
            return ""
        return Findability(self.find_score, 0.0, None, None, 1.0).level

    def when(self) -> str:
        try:
            t = dt.datetime.fromisoformat(self.at).astimezone()
            return t.strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            return self.at

    def words(self) -> str:
        """'2026-12-06 07:01:02, danger: Stop! person, straight ahead, 2 metres (2.0 m)'."""
        what = self.urgency if self.kind == "hazard" else "found"
        dist = f" ({self.distance_m:.1f} m)" if self.distance_m is not None else ""
        extra = f"; findability {self.detail}" if self.detail else ""
        return f"{self.when()}, {what}: {self.text}{dist}{extra}"


def read_log(store, user_id: int) -> tuple[list[Entry], list[str]]:
    """(entries, notes): the user's log, oldest first, pruned first to the profile's retention
    limits (days pass, or the limits were lowered, while nothing new is written). An entry that
    cannot be read back (a thumbnail that does not decode, a field of the wrong type) is skipped
    with one note."""
    store.prune_near_misses(user_id)
    entries, notes = [], []
    for r in store.near_misses(user_id):
        try:
            thumb = None
            if r.get("thumbnail") is not None:
                thumb = decode_thumbnail(r["thumbnail"])
                if thumb is None:
                    raise ValueError("its picture does not decode")
            if not isinstance(r.get("text"), str) or not isinstance(r.get("at"), str):
                raise ValueError("it has no words or time")
            num = {k: (None if r.get(k) is None else float(r[k]))
                   for k in ("media_s", "distance_m", "find_score", "find_size_deg", "find_contrast", "find_field")}
            entries.append(Entry(r["id"], r["at"], num["media_s"], r.get("kind") or "hazard", r.get("urgency") or "", r["text"],
                                 r.get("label") or "", num["distance_m"],
                                 None if r.get("clock") is None else int(r["clock"]), r.get("detail") or "",
                                 num["find_score"], num["find_size_deg"], num["find_contrast"], num["find_field"], thumb))
        except (TypeError, ValueError) as exc:
            notes.append(f"Near-miss log entry {r.get('id')} ({r.get('at')}) was skipped: {exc}.")
    return entries, notes


class NearMissRecorder:
    """Writes the log off the frame loop. `user_id` may change (another profile chosen); each
    entry carries the user and the limits of the moment it was offered."""

    def __init__(self, db_path: Path, user_id: int):
        self.db_path = Path(db_path)
        self.user_id = user_id
        self.dropped = 0
        self.written = 0
        self.failed = 0
        self._queue: deque = deque()
        self._cv = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._found_at: float | None = None   # the finding already logged (find mode's found_at)

    # -- the frame loop's side: cheap ---------------------------------------------------------
    def offer(self, cues, guidance, image: np.ndarray | None, profile) -> int:
        """Queue this frame's warnings and dangers (and a new finding with its findability); how
        many were queued."""
        rows = [self._hazard_row(c) for c in cues if kept(c)]
        g = guidance
        if g is not None and g.in_view and g.findability is not None and g.found_at is not None \
                and g.found_at != self._found_at:
            self._found_at = g.found_at
            f = g.findability
            rows.append({"kind": "find", "urgency": "", "text": f"{g.target.shown} found", "label": g.target.shown,
                         "distance_m": g.distance_m, "clock": g.hazard.clock if g.hazard is not None else None,
                         "detail": f.words(), "find_score": f.score, "find_size_deg": f.size_deg,
                         "find_contrast": f.contrast, "find_field": f.field, "media_s": g.found_at})
        if not rows:
            return 0
        small = small_copy(image)
        at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        with self._cv:
            if self._closed:
                return 0
            room = QUEUE_MAX - len(self._queue)
            self.dropped += max(0, len(rows) - room)
            for row in rows[:max(0, room)]:
                self._queue.append((self.user_id, profile.near_miss_days, profile.near_miss_max,
                                    {**row, "at": at}, small))
            self._cv.notify_all()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="near-miss-log", daemon=True)
            self._thread.start()
        return min(len(rows), max(0, room))

    @staticmethod
    def _hazard_row(c: Cue) -> dict:
        return {"kind": "hazard", "urgency": c.urgency.name.lower(), "text": c.text, "label": c.label,
                "distance_m": c.distance_m, "clock": c.clock, "detail": "", "media_s": c.frame_time}

    # -- the writer ---------------------------------------------------------------------------
    def _run(self) -> None:
        from maxsight_app.profile.store import ProfileStore
        store = None
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if not self._queue and self._closed:
                    break
                batch = list(self._queue)
                self._queue.clear()
                self._busy = True
            try:
                if store is None:
                    store = ProfileStore(self.db_path)
                by_user: dict = {}
                for uid, days, most, row, small in batch:
                    by_user.setdefault((uid, days, most), []).append({**row, "thumbnail": encode_thumbnail(small)})
                for (uid, days, most), rows in by_user.items():
                    store.add_near_misses(uid, rows, days, most)
                self.written += len(batch)
            except Exception:  # noqa: BLE001 - a full disk or a damaged file must not stop the frame loop
                self.failed += len(batch)
                log.exception("the near-miss log could not be written to %s", self.db_path)
            with self._cv:
                self._busy = False
                self._cv.notify_all()
        if store is not None:
            store.close()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until everything offered so far is written (or failed); False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._queue and not self._busy, timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)
