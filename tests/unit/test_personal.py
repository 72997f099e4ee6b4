"""Personal objects: the MobileNetV2 ONNX build, and teach / recognise / forget through the profile
on crops of real photos."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from maxsight_app.profile.store import ProfileStore


@pytest.fixture(scope="module")
def embedder(installed_models):
    from engine.models.registry import installed_path
    from engine.stage_b.recognition import Embedder
    path = installed_path(installed_models.get("mobilenet_v2"))
    assert path is not None
    return Embedder(path)


@pytest.fixture(scope="module")
def crops(eval_data):
    """Crops of annotated objects from the COCO set: {label: [crop, ...]}."""
    data = json.loads((eval_data / "coco_val2017_128" / "instances.json").read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    files = {i["id"]: i["file_name"] for i in data["images"]}
    out = {}
    for a in sorted(data["annotations"], key=lambda a: -a["area"]):
        x, y, w, h = (int(v) for v in a["bbox"])
        if w * h < 60 * 60:
            continue
        img = cv2.imread(str(eval_data / "coco_val2017_128" / "images" / files[a["image_id"]]))
        out.setdefault(cats[a["category_id"]], []).append(img[y:y + h, x:x + w])
    return out


def test_imagenet_weights_classify_a_real_photo_sensibly(installed_models, eval_data):
    """The converted network keeps ImageNet's knowledge: a bus photo's top-5 includes a bus class."""
    import onnxruntime as ort

    from engine.models.mobilenet_v2 import preprocess
    from engine.models.registry import installed_path
    s = ort.InferenceSession(str(installed_path(installed_models.get("mobilenet_v2"))), providers=["CPUExecutionProvider"])
    logits = s.run(["logits"], {"image": preprocess(cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000005037.jpg")))})[0][0]
    top5 = set(np.argsort(-logits)[:5].tolist())
    assert top5 & {779, 874, 654, 705}, top5      # school bus, trolleybus, minibus, passenger car


def test_teach_recognise_forget_round_trip(tmp_path, embedder, crops):
    from maxsight_app.personal_objects import PersonalObjects
    store = ProfileStore(tmp_path / "profiles.db")
    uid = store.create_user("Ada")
    bus = crops["bus"][0]
    po = PersonalObjects(store, uid, embedder)
    assert po.teach("my bus", [bus]) == 1
    # The same object seen again, a little differently: shifted and rescaled.
    h, w = bus.shape[:2]
    again = cv2.resize(bus[h // 12:, w // 15:], None, fx=0.8, fy=0.8)
    match = po.recognise(again)
    assert match is not None and match.label == "my bus" and match.similarity >= 0.75
    others = [c for label, cs in crops.items() if label not in ("bus", "truck", "train", "car") for c in cs[:2]][:12]
    assert sum(po.recognise(c) is not None for c in others) == 0       # nothing else is called "my bus"
    store.close()
    # Persisted with the profile: a restart still knows it.
    store = ProfileStore(tmp_path / "profiles.db")
    po = PersonalObjects(store, uid, embedder)
    assert po.labels() == ["my bus"] and po.recognise(again).label == "my bus"
    assert po.forget("my bus") == 3
    assert po.recognise(again) is None and po.labels() == []
    with pytest.raises(ValueError, match="nothing called 'my bus'"):
        po.forget("my bus")
    with pytest.raises(ValueError, match="label: say what it is"):
        po.teach("  ", [bus])
    store.close()


def test_onnx_build_matches_torchvision_on_a_real_photo(installed_models, eval_data):
    """Reference values from torchvision 0.29.1's mobilenet_v2 with the same .pth, on COCO 000000001532
    (a street sign: top class 920 = traffic light / street sign area), computed once with torch."""
    import onnxruntime as ort

    from engine.models.mobilenet_v2 import preprocess
    from engine.models.registry import installed_path
    s = ort.InferenceSession(str(installed_path(installed_models.get("mobilenet_v2"))), providers=["CPUExecutionProvider"])
    emb, logits = s.run(["embedding", "logits"], {"image": preprocess(cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000001532.jpg")))})
    assert np.argsort(-logits[0])[:5].tolist() == [920, 565, 867, 781, 415]
    np.testing.assert_allclose(emb[0][:8], [0.14836, 2.00538, 0.17393, 0.01652, 0.40181, 0.49034, 0.17807, 0.2302], atol=2e-4)
    np.testing.assert_allclose(np.sort(logits[0])[::-1][:3], [12.624, 12.3774, 12.2608], atol=2e-3)


def test_legacy_reader_refuses_foreign_classes(tmp_path):
    import pickle

    from engine.models.install.torch_legacy import MAGIC, load_state_dict
    p = tmp_path / "evil.pth"
    with open(p, "wb") as f:
        for obj in (MAGIC, 1001, {}):
            pickle.dump(obj, f, protocol=2)
        f.write(pickle.dumps(__import__("os").system, protocol=2))
    with pytest.raises(ValueError, match="which a state dict never does"):
        load_state_dict(p)
