"""Nothing the user owns is lost through an output path: `maxsight run --out` (and --audio-out)
onto MaxSight's own files is refused, a pipe as --out is refused instead of hanging, and a write
that fails (a full disk, here a small file-size limit: the same EFBIG/ENOSPC at write time) is one
sentence, a non-zero exit, no claim of success and no truncated file left behind.

Runs need no downloaded model and no evaluation data: the door and stairs detector ships with the
repository, and the video is made here (noise, in which it finds "stairs", so cues are spoken)."""
from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DETECTOR = ROOT / "assets" / "models" / "access_detector" / "model.onnx"


def _maxsight(args, cwd, data, file_limit: int | None = None, timeout=300, **kw):
    env = {**os.environ, "MAXSIGHT_DATA": str(data), "MAXSIGHT_CACHE": str(data.parent / "cache")}

    def limit():                       # a file-size limit: writes past it fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, resource.RLIM_INFINITY))
    return subprocess.run([sys.executable, "-m", "maxsight_app", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout, preexec_fn=limit if file_limit else None, **kw)


def _one_sentence(r, code=2) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("maxsight: ")]
    assert lines, r.stderr
    return lines[-1]


@pytest.fixture
def video(tmp_path) -> Path:
    import cv2
    path = tmp_path / "noise.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(40):
        w.write(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    w.release()
    return path


@pytest.fixture
def data(tmp_path) -> Path:
    d = tmp_path / "data"
    r = _maxsight(["profile", "create", "Ada"], tmp_path, d)
    assert r.returncode == 0, r.stderr
    return d


def _run(video, *extra):
    return ["run", "--source", str(video), "--headless", "--tier", "T0", "--access", "off", "--detector", str(DETECTOR),
            "--quiet", *extra]


def _profiles(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM users ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.parametrize("target", ["profiles.db", "profiles.db-wal", "profiles.db-shm"])
@pytest.mark.parametrize("option", ["--out", "--audio-out"])
def test_an_output_onto_the_profile_database_is_refused_and_every_profile_kept(tmp_path, video, data, target, option):
    db = data / "profiles.db"
    before = db.read_bytes()
    r = _maxsight(_run(video, option, str(data / target)), tmp_path, data)
    assert "is your profile database" in _one_sentence(r)
    assert db.read_bytes() == before and _profiles(db) == ["Ada"]
    assert not list(data.glob("*.damaged-*"))


def test_an_output_onto_a_model_in_the_cache_or_the_shipped_assets_is_refused(tmp_path, video, data):
    model = tmp_path / "cache" / "models" / "nanodet.onnx"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"weights")
    r = _maxsight(_run(video, "--out", str(model)), tmp_path, data)
    assert "is MaxSight's model cache" in _one_sentence(r)
    assert model.read_bytes() == b"weights"
    shipped = DETECTOR.with_name("model.json")
    before = shipped.read_bytes()
    r = _maxsight(_run(video, "--out", str(shipped)), tmp_path, data)
    assert "is MaxSight's own assets" in _one_sentence(r)
    assert shipped.read_bytes() == before


def test_a_pipe_as_out_is_refused_instead_of_hanging(tmp_path, video, data):
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    r = _maxsight(_run(video, "--out", str(fifo)), tmp_path, data, timeout=120)
    assert "is not a regular file" in _one_sentence(r)


def test_a_full_disk_under_out_is_one_sentence_and_leaves_no_truncated_file(tmp_path, video, data):
    out = tmp_path / "results.jsonl"
    r = _maxsight(_run(video, "--out", str(out)), tmp_path, data, file_limit=40_000)
    line = _one_sentence(r)
    assert f"cannot write --out {out}" in line and "larger than this system allows" in line
    assert "results:" not in r.stdout
    assert not out.exists() and not list(tmp_path.glob(".results*"))
    assert "Ada" in _profiles(data / "profiles.db") and not list(data.glob("*.damaged-*"))
    # Without the limit the same run writes every line.
    r = _maxsight(_run(video, "--out", str(out)), tmp_path, data)
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) in (40, 41) and not list(tmp_path.glob(".results*"))


def test_a_failed_audio_out_is_not_claimed_as_written(tmp_path, video, data):
    heard = tmp_path / "heard.wav"
    r = _maxsight(_run(video, "--audio-out", str(heard)), tmp_path, data, file_limit=200_000)
    line = _one_sentence(r)
    assert f"cannot write {heard}" in line and "was removed" in line
    assert "what a user would have heard" not in r.stdout
    assert not heard.exists() and not heard.with_suffix(".json").exists()


def test_a_disk_that_cannot_be_written_never_moves_the_profiles_aside(tmp_path, data):
    r = _maxsight(["profile", "list"], tmp_path, data, file_limit=10_000)     # the -shm file cannot grow to 32 KB
    assert "is the disk full or read-only" in _one_sentence(r)
    assert not list(data.glob("*.damaged-*"))
    r = _maxsight(["profile", "list"], tmp_path, data)
    assert r.returncode == 0 and "Ada" in r.stdout
