"""Cues end to end on a real video: `run --speak --audio-out`, `eval cues`, the profile CLI, and
on-demand requests through a Session into the spy output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import wave

import numpy as np
import pytest


def _maxsight(args, tmp_path):
    env = dict(os.environ, MAXSIGHT_DATA=str(tmp_path / "data"))
    return subprocess.run([sys.executable, "-m", "maxsight_app", *args], capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)


@pytest.mark.slow
def test_run_speaks_into_a_wav_what_the_user_would_hear(tmp_path, eval_data, installed_models):
    video = eval_data / "videos_walking_driving" / "intel_one-by-one-person-detection.mp4"
    heard = tmp_path / "heard.wav"
    r = _maxsight(["run", "--source", str(video), "--headless", "--speak", "--audio-out", str(heard),
                   "--max-frames", "120", "--out", str(tmp_path / "r.jsonl")], tmp_path)
    assert r.returncode == 0, r.stderr
    timeline = json.loads(heard.with_suffix(".json").read_text())
    played = timeline["played"]
    assert played, "nothing was said over 12 s of a person walking up to the camera"
    lines = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    said = [c["text"] for x in lines for c in x["cues"]]
    # Every cue decided was either played (possibly cut short by a danger barge-in) or dropped
    # as stale, in the order decided.
    played_texts = [p["text"].removesuffix(" [interrupted]") for p in played]
    dropped = [d["text"] for d in timeline["dropped_stale"]]
    assert sorted(played_texts + dropped) == sorted(said)
    it = iter(said)
    assert all(t in it for t in played_texts)
    # Alerts were also printed as large-text lines for people who cannot hear them.
    assert played_texts[0] in r.stdout
    with wave.open(str(heard)) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        assert w.getnchannels() == 2 and x.std() > 200
        assert w.getnframes() / w.getframerate() == pytest.approx(played[-1]["end_s"], abs=0.05)
    # Each cue records how long it took from its frame to being decided; how fast that is, is the
    # benchmarks' business (a timed assertion here failed on a loaded 2-core machine).
    assert all(c["latency_ms"] >= 0 for x in lines for c in x["cues"])


@pytest.mark.slow
def test_eval_cues_reports_every_metric(tmp_path, eval_data, installed_models):
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    js = tmp_path / "cues.json"
    r = _maxsight(["eval", "cues", "--source", str(video), "--max-frames", "300", "--json", str(js)], tmp_path)
    assert r.returncode == 0, r.stderr
    m = json.loads(js.read_text())["opencv_vtest.avi"]
    assert m["frames"] == 300 and m["cues"] > 0 and m["latency_n"] == m["cues"]
    assert m["false_all_clear"] == 0
    assert m["overload_per_min"] <= 2
    assert 0 <= m["silence_correctness"] <= 1 and m["quiet_seconds"] > 0
    assert m["stage_a_in_budget"] <= m["frames"]
    assert "false reassur." in r.stdout


def test_profile_cli_round_trip(tmp_path):
    assert _maxsight(["profile", "create", "Ada"], tmp_path).returncode == 0
    r = _maxsight(["profile", "set", "Ada", "units", "steps"], tmp_path)
    assert r.returncode == 0 and "units = steps" in r.stdout
    r = _maxsight(["profile", "set", "Ada", "speech_rate", "9000"], tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "maxsight: speech_rate: must be between 80 and 450; got 9000"
    r = _maxsight(["profile", "feedback", "Ada", "not_useful", "dog"], tmp_path)
    assert r.returncode == 0 and "dog -> 0.70" in r.stdout
    assert _maxsight(["profile", "export", str(tmp_path / "ada.json")], tmp_path).returncode == 0
    data = json.loads((tmp_path / "ada.json").read_text())
    assert data["users"][0]["preferences"]["units"] == "steps"
    r = _maxsight(["profile", "show", "Nobody"], tmp_path)
    assert r.returncode == 2 and "there is no profile called 'Nobody'" in r.stderr
    r = _maxsight(["run", "--source", "x.mp4", "--headless", "--profile", "Nobody"], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.slow
def test_on_demand_requests_through_a_session(eval_data, installed_models):
    from engine.config import EngineConfig
    from engine.pipeline import Pipeline
    from maxsight_app.capture.video import VideoFileSource
    from maxsight_app.cues.types import CueKind
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.session import Session
    spy = SpyOutput()
    session = Session(Pipeline(EngineConfig(), installed_models), outputs=[spy])
    src = VideoFileSource(eval_data / "videos_walking_driving" / "opencv_vtest.avi")
    for i, frame in enumerate(src):
        session.handle(frame)
        if i == 400 and spy.cues:
            break
    src.close()
    last_policy_cue = spy.cues[-1].text
    summary = session.request("summary")
    assert summary.kind is CueKind.SUMMARY and "person" in summary.text
    assert session.request("repeat").text == last_policy_cue
    assert "Quiet for 5 minutes" in session.request("snooze").text
    session.request("stop")
    assert spy.events[-1] == ("cancel", None)
    with pytest.raises(ValueError, match="request must be one of"):
        session.request("dance")
