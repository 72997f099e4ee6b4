"""`maxsight run` end to end on a real pedestrian video: people are found and keep their ids."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest


def _maxsight(args, cwd, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "maxsight_app", *args], capture_output=True, text=True, cwd=cwd, timeout=600, env=env)


@pytest.mark.slow
def test_run_finds_and_tracks_people(tmp_path, eval_data, installed_models):
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    out = tmp_path / "results.jsonl"
    r = _maxsight(["run", "--source", str(video), "--headless", "--tier", "T0", "--out", str(out), "--max-frames", "150", "--quiet"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "frames processed 150" in r.stdout and "person" in r.stdout
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 150
    assert [x["frame"] for x in lines] == list(range(150))
    first = lines[0]
    assert set(first) >= {"detections", "tracks", "hazards", "timings_ms", "quality", "uncertainty"}
    assert {"inference", "tracking", "geometry", "stage_a", "decode"} <= set(first["timings_ms"])
    # People are found in nearly every frame of this campus-path video.
    frames_with_people = sum(any(h["label"] == "person" for h in x["hazards"]) for x in lines)
    assert frames_with_people >= 140
    # Stable ids: the longest-lived person tracks persist across most of the clip under one id.
    life = Counter(h["track_id"] for x in lines for h in x["hazards"] if h["label"] == "person")
    longest = life.most_common(3)
    assert longest[0][1] >= 120 and longest[2][1] >= 75, longest
    # And ids are not churned out: far fewer person tracks than person sightings.
    sightings = sum(life.values())
    assert len(life) <= sightings / 15
    h = next(h for x in lines for h in x["hazards"])
    assert 9 <= h["clock"] <= 12 or 1 <= h["clock"] <= 3
    assert h["urgency"] in ("safe", "caution", "warning", "danger") and h["distance_m"] > 0


def test_bad_path_is_one_sentence(tmp_path):
    r = _maxsight(["run", "--source", str(tmp_path / "nope.mp4"), "--headless"], tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip() == f"maxsight: the video file {tmp_path / 'nope.mp4'} does not exist"


def test_unreadable_video_is_one_sentence(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    r = _maxsight(["run", "--source", str(bad), "--headless"], tmp_path)
    assert r.returncode == 2
    assert "broken.mp4 cannot be read as a video" in r.stderr and "Traceback" not in r.stderr


def test_missing_camera_is_one_sentence(tmp_path):
    r = _maxsight(["run", "--source", "7", "--headless"], tmp_path)
    assert r.returncode == 2
    assert "no camera found at index 7" in r.stderr and "Traceback" not in r.stderr


def test_bad_option_is_one_sentence(tmp_path, eval_data):
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    r = _maxsight(["run", "--source", str(video), "--headless", "--hfov", "300"], tmp_path)
    assert r.returncode == 2
    assert "camera.hfov_deg must be between 20 and 170" in r.stderr


@pytest.mark.slow
def test_eval_detect_reports_map_and_safety_recall(tmp_path, eval_data, installed_models):
    js = tmp_path / "eval.json"
    r = _maxsight(["eval", "detect", "--coco", str(eval_data / "coco_val2017_128"), "--detector", "nanodet", "--json", str(js)], tmp_path)
    assert r.returncode == 0, r.stderr
    row = json.loads(js.read_text())[0]
    assert row["images"] == 64 and row["boxes"] == 461
    # Measured 32.2 mAP on these 64 images; a broken pre/post-processing step loses 9+ points.
    assert row["coco"]["mAP"] > 28
    s = row["safety"]
    assert s["precision"] >= 90 and 0 < s["threshold"] < 1
    assert s["all"]["total"] == s["small"]["total"] + s["medium"]["total"] + s["large"]["total"]
    assert s["near"]["found"] <= s["near"]["total"]
    assert "near >10%" in r.stdout


def test_eval_detect_on_a_folder_without_annotations(tmp_path):
    r = _maxsight(["eval", "detect", "--coco", str(tmp_path)], tmp_path)
    assert r.returncode == 2 and "must hold instances.json and an images/ folder" in r.stderr


@pytest.mark.slow
def test_bench_stage_a_writes_json(tmp_path, eval_data, installed_models):
    js = tmp_path / "bench.json"
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    r = _maxsight(["bench", "stage-a", "--video", str(video), "--frames", "8", "--detector", "nanodet",
                   "--threads-list", "1", "--json", str(js)], tmp_path)
    assert r.returncode == 0, r.stderr
    res = json.loads(js.read_text())
    row = res["rows"][0]
    assert row["frames"] == 8 and row["threads"] == 1
    assert row["gflops"] > 1 and row["floor_ms"] > 0 and row["inference_over_floor"] > 0
    assert set(row["median_ms"]) >= {"decode", "preprocess", "inference", "postprocess", "tracking", "geometry"}
    assert "infer/floor" in r.stdout


def test_collision_lane_is_off_unless_asked(tmp_path, installed_models):
    """--collision on runs the class-agnostic lane (its own timing step in every result); without it
    the profile's setting decides (off in a new profile; "more" in one that chose it), and
    --collision off wins over that. The shipped sample clip: no evaluation data needed."""
    from engine.samples import sample_video
    env = {"MAXSIGHT_DATA": str(tmp_path / "data")}        # this test's own profiles, whatever the machine has
    for step in (["create", "Ada"], ["set", "Ada", "obstacle_warnings", "more"]):
        r = _maxsight(["profile", *step], tmp_path, env)
        assert r.returncode == 0, r.stderr
    for n, (flag, want) in enumerate(((["--collision", "on"], True), ([], False),
                                      (["--profile", "Ada"], True), (["--profile", "Ada", "--collision", "off"], False))):
        out = tmp_path / f"r{n}.jsonl"
        r = _maxsight(["run", "--source", str(sample_video()), "--headless", "--tier", "T0", "--max-frames", "6",
                       "--quiet", "--out", str(out), *flag], tmp_path, env)
        assert r.returncode == 0, r.stderr
        lines = [json.loads(x) for x in out.read_text().splitlines()]
        assert len(lines) == 6 and all(("collision" in x["timings_ms"]) is want for x in lines), flag
    bad = _maxsight(["run", "--source", str(sample_video()), "--headless", "--collision", "maybe"], tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.slow
def test_a_file_that_ends_before_its_captions_still_gets_them(tmp_path, installed_models):
    """A 4 s clip of the shipped video with a spoken sentence: the caption worker is still loading when the file
    ends, so its captions come in the end-of-file line (marked, on the last frame's index, no new
    picture), and the summary counts the lines the file really has."""
    from engine.samples import sample_video
    from maxsight_app.measure.media import resample, video_with_sound
    from maxsight_app.outputs.speech import SpeechSynth, Voice
    from maxsight_app.outputs.tones import SAMPLE_RATE
    synth = SpeechSynth(Voice(rate_wpm=180))
    if synth.check():
        pytest.skip(synth.check())
    import numpy as np
    speech = resample(synth.render("Good morning, the bus is here."), SAMPLE_RATE)[:int(2.5 * 16000)]
    sound = np.concatenate([speech, np.zeros(4 * 16000 - len(speech), np.float32)])    # then silence: a whole sentence
    clip = video_with_sound(sample_video(), sound, tmp_path / "talk.mp4", seconds=4.0)
    out = tmp_path / "r.jsonl"
    r = _maxsight(["run", "--source", str(clip), "--headless", "--tier", "T2", "--access", "off", "--out", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert f"({len(lines)} lines)" in r.stdout
    assert any(x["captions"] for x in lines), "the sentence was never captioned (lost when the file ended)"
    ends = [i for i, x in enumerate(lines) if x.get("end_of_file")]
    assert ends in ([], [len(lines) - 1])                  # at most one, the last (none if nothing was owed)
    if ends:
        end = lines[-1]
        assert end["frame"] == lines[-2]["frame"] and end["hazards"] == [] and (end["captions"] or end["sounds"] or end["texts"])
