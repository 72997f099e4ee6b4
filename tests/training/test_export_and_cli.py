"""Export parity, the registry and --model, distillation data, and the train/export/bench CLIs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from engine.eval_data import require
from engine.samples import sample_video
from engine.models.detectors import build
from engine.models.registry import ModelError, default_registry
from tests.training.conftest import tiny
from tests.cli import maxsight
from training.config import from_dict
from training.loop import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny t0 checkpoint (a few real training steps)."""
    tmp = tmp_path_factory.mktemp("trained")
    Trainer(from_dict(tiny(tmp, optim__iters_per_epoch=4)), progress=False).run()
    return tmp / "run" / "last.pt"


def _cli(*args, env=None):
    return maxsight(*args, env=env)


def test_onnx_and_torchscript_exports_match_eager(trained, tmp_path):
    from training.export import export
    rep = export(trained, tmp_path, ("onnx", "torchscript"), name="m", calib_limit=4)   # ExecuTorch, CoreML: test_export_mobile.py
    for fmt in ("onnx", "torchscript"):
        p = rep.parity[fmt]
        assert p["images"] == 4 and p["max_abs_score"] < 1e-4 and p["max_abs_box_px"] < 0.05 and p["top100_agreement"] >= 0.95
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["input_size"] == 96 and meta["onnx"] == "m.onnx" and meta["parity"]["images"] == 4


def test_exported_model_runs_in_the_engine_like_the_checkpoint(trained, tmp_path):
    from training.export import export
    export(trained, tmp_path, ("onnx",), name="m", calib_limit=2)
    from training import torch_detector
    reg = default_registry()
    reg.add_family(torch_detector.FAMILY, torch_detector.make)      # the engine knows no training code; the app adds this
    onnx_det = build(reg.get(str(tmp_path / "m.onnx")), reg, threads=2)
    torch_det = build(reg.get(str(trained)), reg, threads=2)
    import cv2
    img = cv2.imread(str(sorted((require("coco_val2017_128") / "images").iterdir())[0]))
    a, b = onnx_det.detect_raw(img, min_score=0.01), torch_det.detect_raw(img, min_score=0.01)
    assert len(a.scores) == len(b.scores) and np.allclose(a.scores, b.scores, atol=1e-4) and np.allclose(a.boxes, b.boxes, atol=0.5)
    with pytest.raises(ModelError, match="has no m2.json beside it"):
        (tmp_path / "m2.onnx").write_bytes((tmp_path / "m.onnx").read_bytes())
        reg.get(str(tmp_path / "m2.onnx"))


def test_int8_export_reports_its_accuracy_change(trained, tmp_path):
    from training.export import export
    rep = export(trained, tmp_path, ("int8",), name="m", calib_limit=4, eval_limit=4)
    acc = rep.accuracy
    assert acc["fp32"]["images"] == acc["int8"]["images"] == 4 and acc["fp32"]["boxes"] > 0
    assert acc["change"]["mAP"] == pytest.approx(acc["int8"]["mAP"] - acc["fp32"]["mAP"])
    assert rep.parity["int8"]["top100_agreement"] > 0.5                 # quantised, but the same model
    assert json.loads((tmp_path / "m.int8.json").read_text())["metrics"]["images"] == 4


def test_train_dry_run_export_register_and_run_with_model(trained, tmp_path):
    cfg = tiny(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = _cli("train", str(path), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout and "first_batch_losses" in r.stdout and not (tmp_path / "run" / "last.pt").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**cfg, "optim": {"lr": -1}}))
    r = _cli("train", str(bad), "--dry-run")
    assert r.returncode == 2 and "optim.lr must be > 0" in r.stderr and "Traceback" not in r.stderr

    import os
    env = {**os.environ, "MAXSIGHT_CACHE": os.environ.get("MAXSIGHT_CACHE", "")}
    r = _cli("export", str(trained), "--out", str(tmp_path / "x"), "--format", "onnx", "--name", "mine")
    assert r.returncode == 0, r.stderr
    assert "parity on" in r.stdout
    video = sample_video()                          # the clip shipped with MaxSight: no data needed
    out = tmp_path / "res.jsonl"
    r = _cli("run", "--source", str(video), "--headless", "--max-frames", "5", "--quiet", "--out", str(out),
             "--model", str(tmp_path / "x" / "mine.onnx"))
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 5 and all("mine.onnx" in ln["model"] for ln in lines)
    r = _cli("run", "--source", str(video), "--headless", "--max-frames", "2", "--quiet", "--model", str(tmp_path / "nope.onnx"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_registered_model_is_selectable_by_name(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("MAXSIGHT_CACHE", str(tmp_path / "cache"))
    from engine.models.registry import register_user_model
    from training.export import export
    export(trained, tmp_path, ("onnx",), name="m", calib_limit=2)
    register_user_model("my-walk-model", tmp_path / "m.onnx")
    register_user_model("my-ckpt", trained)
    reg = default_registry()
    assert reg.get("my-walk-model").family == "maxsight" and reg.get("my-ckpt").family == "maxsight-checkpoint"
    listed = _cli("models", "list")
    assert "my-walk-model" in listed.stdout and "my-ckpt" in listed.stdout
    det = build(reg.get("my-walk-model"), reg)
    assert det.detect_raw(np.zeros((240, 320, 3), np.uint8)).boxes.shape[1] == 4
    with pytest.raises(ModelError, match="built-in"):
        register_user_model("nanodet", tmp_path / "m.onnx")


def test_distillation_frames_are_labelled_by_the_teacher_and_train(tmp_path):
    cfg = from_dict(tiny(tmp_path, distill={"teacher": "nanodet", "videos": ["eval:videos_walking_driving/opencv_vtest.avi"],
                                            "every_n": 200, "hard_score": 0.4, "soft_floor": 0.1},
                         loss={"phases": [{"weights": {"objectness": 1.0, "classification": 1.0, "box": 3.0, "distill": 1.0}}]}))
    t = Trainer(cfg, progress=False)
    src = t.source
    assert len(src) == 4                                                 # frames 0, 200, 400, 600 of 795
    assert src.class_counts().sum() >= 4                                  # people on the campus path
    s = src.load(0)
    assert s.scores.min() >= 0.1 and (s.scores >= 0.4).any() and (s.classes == 0).any()
    r = t.run()
    assert r.steps == 3 and np.isfinite(r.last_loss)
    again = Trainer(cfg, progress=False)                                 # labels come from the cache
    assert again.source.dir == src.dir and len(again.source) == 4


def test_bench_train_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "b.json"
    r = _cli("bench", "train", "--row", "t0:mobilenet_v2", "--row", "t5:mobilenet_v2", "--size", "96", "--batch", "2",
             "--steps", "1", "--json", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert [row["preset"] for row in data["rows"]] == ["t0", "t5"] and data["rows"][0]["ratio_to_first"] == 1.0
    assert all(row["images_per_s"] > 0 for row in data["rows"]) and "img/s" in r.stdout
    bad = _cli("bench", "train", "--row", "t0", "--json", str(out))
    assert bad.returncode == 2 and "--row takes PRESET:BACKBONE" in bad.stderr and "Traceback" not in bad.stderr


def test_eval_distill_scores_a_model_against_its_teacher(tmp_path):
    # The teacher against itself must agree almost perfectly; a barely trained model must not.
    out = tmp_path / "a.json"
    video = str(sample_video())
    r = _cli("eval", "distill", "nanodet", "--teacher", "nanodet", "--video", video, "--every", "100", "--limit", "4", "--json", str(out))
    assert r.returncode == 0, r.stderr
    data = json.loads(out.read_text())
    assert data["frames"] == 4 and data["teacher_boxes"] >= 4 and data["mAP50"] > 90
