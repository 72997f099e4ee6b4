"""NanoDet in torch (training/nanodet_torch.py), built from the installed TF.js graph: it matches the
installed ONNX model on real frames to the export tolerance, and growing its class layer leaves
the 80 COCO outputs exactly as they were."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models.registry import models_dir
from engine.samples import sample_frames


@pytest.fixture(scope="module")
def nanodet(installed_models):
    from training import nanodet_torch as N
    graph, weights = N.tfjs_files()
    if not (graph.is_file() and weights.is_file() and (models_dir() / "nanodet.onnx").is_file()):
        pytest.skip("NanoDet's TF.js graph is not installed; run `maxsight models fetch`")
    return N.NanoDetTorch.from_files().eval()


@pytest.fixture(scope="module")
def frames():
    return sample_frames(3, every=100)


def test_torch_nanodet_matches_the_installed_onnx_model(nanodet, frames):
    from training.joint import parity
    p = parity(nanodet, models_dir() / "nanodet.onnx", frames)
    assert p["images"] == 3
    assert p["ok"], f"torch NanoDet differs from nanodet.onnx beyond the export tolerance: {p}"
    assert p["top100_agreement"] == 1.0, p


def test_torch_detector_gives_the_apps_detections(nanodet, frames, installed_models):
    """Through the engine's own letterbox, decoding and NMS, the torch model detects what the app's
    ONNX NanoDet detects: same classes, scores within 1e-3, boxes within 0.05 px."""
    from engine.models.detectors import build
    from engine.models.spec import load_labels
    from training.joint import torch_detector
    det = torch_detector(nanodet, load_labels("coco80")[0], "nanodet-torch")
    app = build(installed_models.get("nanodet"), installed_models, threads=2)
    total = 0
    for f in frames:
        a, b = app.detect_raw(f, min_score=0.3), det.detect_raw(f, min_score=0.3)
        assert len(a.scores) == len(b.scores), (a.classes, b.classes)
        assert np.array_equal(a.classes, b.classes)
        assert np.abs(a.scores - b.scores).max(initial=0) <= 1e-3
        assert np.abs(a.boxes - b.boxes).max(initial=0) <= 0.05
        total += len(a.scores)
    assert total >= 3, f"the frames should hold some objects; found {total}"


def test_growing_the_class_layer_keeps_the_old_outputs(nanodet, frames):
    from training import nanodet_torch as N
    from training.joint import build_student
    student = build_student(6, nanodet).eval()
    assert student.num_classes == 86
    x = torch.from_numpy(N.preprocess(frames[0])[0])
    with torch.inference_mode():
        a, b = nanodet(x), student(x)
    assert b["cls"].shape == (1, 3549, 86) and b["reg"].shape == (1, 3549, 44)
    assert torch.equal(a["cls"], b["cls"][..., :80]), "old class logits changed when the layer grew"
    assert torch.equal(a["reg"], b["reg"]), "box logits changed when the class layer grew"
    new = torch.sigmoid(b["cls"][..., 80:])
    assert float(new.max()) < 0.05, f"new classes should start near the 0.01 prior, max {float(new.max()):.3f}"
    # the new rows are trainable and distinct (not all the same row)
    w = student.heads[0].weight[80:86].detach().reshape(6, -1)
    assert not torch.allclose(w[0], w[1])


def test_export_of_the_grown_model_passes_parity(nanodet, frames, tmp_path):
    from training.joint import build_student, export_onnx
    from engine.models.spec import load_labels
    student = build_student(2, nanodet)
    labels = load_labels("coco80")[0] + ["door", "stair_down"]
    p = export_onnx(student, labels, tmp_path / "joint.onnx", frames[:2])
    assert p["ok"] and p["images"] == 2
    assert (tmp_path / "joint.json").is_file()
    import json
    assert json.loads((tmp_path / "joint.json").read_text())["labels"][-1] == "stair_down"
    scores = np.asarray(p["max_abs_score"])
    assert scores <= 1e-3


def test_the_export_runs_in_the_app(nanodet, frames, tmp_path, installed_models):
    """The export is an ordinary MaxSight export (family maxsight, RGB ImageNet input, NanoDet's BGR
    normalisation inside the graph): the registry reads its sidecar and the app's runner gives the
    original NanoDet's detections for the old classes (the new rows start near 0.01)."""
    from engine.models.detectors import build
    from engine.models.registry import spec_from_path
    from engine.models.spec import load_labels
    from training.joint import build_student, export_onnx
    labels = load_labels("coco80")[0] + ["door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up"]
    export_onnx(build_student(6, nanodet), labels, tmp_path / "joint.onnx", frames[:1])
    spec = spec_from_path(tmp_path / "joint.onnx")
    det = build(spec, installed_models, threads=2)
    assert det.labels[-1] == "stair_up" and len(det.labels) == 86
    app = build(installed_models.get("nanodet"), installed_models, threads=2)
    for f in frames[1:]:
        a, b = app.detect_raw(f, min_score=0.3), det.detect_raw(f, min_score=0.3)
        assert np.array_equal(a.classes, b.classes), (a.classes, b.classes)
        assert np.abs(a.scores - b.scores).max(initial=0) <= 1e-3
        assert np.abs(a.boxes - b.boxes).max(initial=0) <= 0.5
