"""`maxsight run --find WHAT` end to end on a real video: the guidance tone and "found" in the WAV
timeline a user would hear, find's answer in every JSON line, and one sentence for what cannot be found."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import wave

import numpy as np
import pytest


def _maxsight(args, cwd):
    return subprocess.run([sys.executable, "-m", "maxsight_app", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600, env=dict(os.environ))


@pytest.mark.slow
def test_run_find_person_puts_tone_and_speech_on_the_timeline(tmp_path, eval_data, installed_models):
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    out, wav = tmp_path / "results.jsonl", tmp_path / "heard.wav"
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--access", "off", "--max-frames", "40",
                   "--quiet", "--find", "people", "--out", str(out), "--audio-out", str(wav)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "find person: in view on" in r.stdout and "said found 1" in r.stdout, r.stdout
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    finds = [x["find"] for x in lines]
    assert len(finds) == 40 and all(f["target"] == "person" for f in finds)
    seen = [(x, f) for x, f in zip(lines, finds) if f["in_view"]]
    assert len(seen) >= 30
    for x, f in seen:                       # the tone is on the side of the person it follows
        h = next(h for h in x["hazards"] if h["track_id"] == f["track_id"])
        side = 0 if abs(h["bearing_deg"]) <= 6 else np.sign(h["bearing_deg"])
        assert np.sign(f["tone"]["pan"]) == side, (h["bearing_deg"], f["tone"])
    timeline = json.loads(wav.with_suffix(".json").read_text())
    found = [p for p in timeline["played"] if " found, " in p["text"]]
    assert len(found) == 1 and found[0]["text"].startswith("person found, ")
    first = next(x["t"] for x, f in zip(lines, finds) if f["in_view"])
    assert found[0]["start_s"] - first < 0.5
    assert timeline["tone"] and {s["side"] for s in timeline["tone"]} <= {"left", "centre", "right"}
    with wave.open(str(wav), "rb") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2).astype(np.float32) / 32768
    span = timeline["tone"][-1]
    a, b = int(span["start_s"] * 22050), int(min(span["end_s"], len(x) / 22050) * 22050)
    assert b > a and np.sqrt((x[a:b] ** 2).mean()) > 0.01          # the tone is heard in the WAV


def test_find_what_cannot_be_seen_is_one_sentence(tmp_path, eval_data, installed_models):
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    base = ["run", "--source", str(video), "--headless", "--tier", "T0", "--max-frames", "2", "--quiet"]
    r = _maxsight(base + ["--access", "off", "--find", "door"], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("maxsight: --find door: finding door needs the door and stairs detector")
    r = _maxsight(base + ["--find", "unicorn"], tmp_path)          # checked before any model loads
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("maxsight: --find: I can't find 'unicorn'")
