"""`maxsight run` against hostile paths and damaged input: one sentence, a non-zero exit where the
command failed, nothing overwritten, nothing half-written."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave

import pytest

VIDEO = "videos_walking_driving/opencv_vtest.avi"


def _maxsight(args, cwd, **kw):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "maxsight_app", *args], capture_output=True, text=True, cwd=cwd, timeout=600,
                          env=env, **kw)


def _one_sentence(r, code=2):
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("maxsight: ")]
    assert len(lines) >= 1
    return lines[-1]


@pytest.fixture
def video(tmp_path, eval_data):
    v = tmp_path / "walk.avi"
    shutil.copyfile(eval_data / VIDEO, v)
    return v


def test_out_over_the_source_is_refused_and_the_video_kept(tmp_path, video):
    size = video.stat().st_size
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--out", str(video)], tmp_path)
    assert "is the same file as --source" in _one_sentence(r)
    assert video.stat().st_size == size


def test_audio_out_timings_over_out_are_refused(tmp_path, video):
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--audio-out", str(tmp_path / "heard.wav"),
                   "--out", str(tmp_path / "heard.json")], tmp_path)
    assert "are the same file" in _one_sentence(r)
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--audio-out", str(video)], tmp_path)
    assert "same file as --source" in _one_sentence(r)


def test_out_a_folder_or_unwritable_is_one_sentence(tmp_path, video):
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--out", str(tmp_path)], tmp_path)
    assert "is a folder" in _one_sentence(r)
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--out", str(tmp_path / "no" / "r.jsonl")], tmp_path)
    assert "does not exist" in _one_sentence(r)
    if os.geteuid() != 0:                 # root can write anywhere; the folder check above still holds
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--audio-out", str(ro / "h.wav")], tmp_path)
        assert "cannot be written" in _one_sentence(r)


def test_max_frames_must_be_positive(tmp_path, video):
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--max-frames", "-1"], tmp_path)
    assert "--max-frames must be at least 1" in _one_sentence(r)


@pytest.mark.slow
def test_a_truncated_video_says_it_ended_early(tmp_path, video, installed_models):
    cut = tmp_path / "cut.avi"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) // 3])          # the header still declares every frame
    r = _maxsight(["run", "--source", str(cut), "--headless", "--tier", "T0", "--quiet"], tmp_path)
    assert r.returncode == 1, r.stderr
    assert "ended early, at frame" in r.stderr and "damaged or truncated" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_a_killed_run_keeps_the_audio_heard_so_far(tmp_path, eval_data, installed_models):
    video = eval_data / "videos_walking_driving" / "intel_one-by-one-person-detection.mp4"
    heard = tmp_path / "heard.wav"
    p = subprocess.Popen([sys.executable, "-m", "maxsight_app", "run", "--source", str(video), "--headless", "--tier", "T0",
                          "--speak", "--audio-out", str(heard), "--quiet"], cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 300           # wait for the first cues to be written, then kill
        while time.monotonic() < end:
            if heard.with_suffix(".json").exists() and json.loads(heard.with_suffix(".json").read_text())["played"] \
                    and heard.stat().st_size > 100_000:
                break
            time.sleep(0.2)
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(timeout=60)
    played = json.loads(heard.with_suffix(".json").read_text())["played"]
    with wave.open(str(heard), "rb") as w:                 # a valid WAV, header and all
        seconds = w.getnframes() / w.getframerate()
    # start_s is rounded to the millisecond in the timeline
    assert played and seconds >= played[0]["start_s"] - 0.001
