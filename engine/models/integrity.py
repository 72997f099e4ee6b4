"""Are the installed model files the ones that were installed? sha256, checked at load.

`maxsight models fetch` records each installed file's sha256 in the cache's manifest.json. Before a
model is loaded its files are hashed again and compared, so a bit-flipped or truncated file is
one sentence ("... is damaged; run `maxsight models fetch` to repair it"), never silent wrong
detections. Hashing 50 MB on every start would cost ~100 ms, so a file that was verified is
remembered with its size and modification time (verified.json beside the manifest) and only
hashed again when either changes.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VERIFIED = "verified.json"
_lock = threading.Lock()


class IntegrityError(Exception):
    """A model file is missing, damaged or unrecorded; the message is one sentence."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_json_atomic(path: Path, data: dict) -> None:
    """Write next to the target and rename over it: a kill never leaves half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def recorded_hashes(models_dir: Path) -> dict[str, str]:
    """relative path -> sha256 for every file the manifest records."""
    out: dict[str, str] = {}
    for entry in _read_json(models_dir / MANIFEST).values():
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("file"), str) and isinstance(entry.get("sha256"), str):
            out[entry["file"]] = entry["sha256"]
        for rel, sha in (entry.get("files") or {}).items():
            if isinstance(rel, str) and isinstance(sha, str):
                out[rel] = sha
    return out


def record(models_dir: Path, name: str, files: dict[str, str], **extra) -> None:
    """Record (or replace) a model's entry: relative path -> sha256, plus anything in `extra`."""
    with _lock:
        manifest = _read_json(models_dir / MANIFEST)
        entry = dict(manifest.get(name) or {})
        entry.update(extra)
        entry["files"] = dict(files)
        manifest[name] = entry
        write_json_atomic(models_dir / MANIFEST, manifest)


def verify_files(root: Path, files: dict[str, str], what: str, repair: str) -> None:
    """Check each file (relative to root) against its sha256; IntegrityError names the first bad
    one and what to do. Files verified before and unchanged since are not hashed again."""
    cache_path = root / VERIFIED
    cache = _read_json(cache_path)
    changed = False
    for rel, expected in files.items():
        path = root / rel
        if not path.is_file():
            raise IntegrityError(f"{what} is incomplete: {path} is missing; {repair}")
        stamp = _stamp(path)
        seen = cache.get(rel)
        if isinstance(seen, dict) and seen.get("stamp") == stamp and seen.get("sha256") == expected:
            continue
        got = sha256_file(path)
        if got != expected:
            raise IntegrityError(f"{what} is damaged: {path} does not match the checksum recorded when it was installed; {repair}")
        cache[rel] = {"stamp": stamp, "sha256": expected}
        changed = True
    if changed:
        with _lock:
            try:
                merged = {**_read_json(cache_path), **{k: v for k, v in cache.items() if k in files}}
                write_json_atomic(cache_path, merged)
            except OSError as exc:          # a read-only cache still loads; it just hashes each time
                log.info("cannot remember verified model files in %s: %s", cache_path, exc)


def damaged(root: Path, files: dict[str, str]) -> list[str]:
    """The files among `files` that are missing or do not match (full hash, no cache)."""
    bad = []
    for rel, expected in files.items():
        p = root / rel
        if not p.is_file() or sha256_file(p) != expected:
            bad.append(rel)
    return bad
