"""Config checking, COCO validation with field-level errors, derived labels, splits, augmentations."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from engine.eval_data import require
from training import labels as L
from training.augment import Augmenter
from training.config import AugmentConfig, ConfigError, from_dict, load
from training.data import CocoDataset, DataError, Sample, epoch_batches, split_ids


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.backbone must be one of"):
        from_dict({"model": {"backbone": "vgg"}})
    with pytest.raises(ConfigError, match=r"optim\.lr must be a number"):
        from_dict({"optim": {"lr": "fast"}})
    with pytest.raises(ConfigError, match=r"optim\.bogus is not a known setting"):
        from_dict({"optim": {"bogus": 1}})
    with pytest.raises(ConfigError, match=r"loss\.phases\[0\]\.weights\.boxes is not a loss"):
        from_dict({"loss": {"phases": [{"weights": {"boxes": 1.0}}]}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad)


def test_config_presets_and_overrides_load():
    for name in ("t0", "t2", "t5", "t5_from_t2", "smoke", "distill_mobilenet"):
        cfg = load(f"configs/{name}.yaml")
        assert cfg.model.preset in ("t0", "t2", "t5")
    cfg = load("configs/t0.yaml", ["optim.lr=0.0005", "model.input_size=128"])
    assert cfg.optim.lr == 0.0005 and cfg.model.input_size == 128
    assert load("configs/t5_from_t2.yaml").transfer.lr_groups["new_heads"] == 1.3


def _coco_copy(tmp_path, mutate):
    src = require("coco_val2017_128")
    data = json.loads((src / "instances.json").read_text())
    mutate(data)
    (tmp_path / "images").symlink_to(src / "images")
    (tmp_path / "instances.json").write_text(json.dumps(data))
    return tmp_path


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"][3].__setitem__("bbox", [1, 2, 3]), r"annotations\[3\]\.bbox must be \[x, y, width, height\]"),
    (lambda d: d["annotations"][5].__setitem__("image_id", 999999999), r"annotations\[5\]\.image_id refers to image 999999999"),
    (lambda d: d["images"][2].__setitem__("width", -4), r"images\[2\]\.width must be a positive whole number"),
    (lambda d: d["annotations"][0].__setitem__("category_id", 4242), r"annotations\[0\]\.category_id refers to category 4242"),
    (lambda d: d.pop("categories"), r"categories is missing"),
])
def test_malformed_annotations_give_field_level_errors(tmp_path, mutate, message):
    root = _coco_copy(tmp_path, mutate)
    with pytest.raises(DataError, match=message) as err:
        CocoDataset(root)
    assert "instances.json" in str(err.value)


def test_eval_detect_reads_coco_with_the_same_field_level_checks(tmp_path):
    from training.evaluate import CocoSet, EvalDataError
    root = _coco_copy(tmp_path, lambda d: d["annotations"][3].__setitem__("bbox", [1, 2, 3]))
    with pytest.raises(EvalDataError, match=r"annotations\[3\]\.bbox must be"):
        CocoSet.load(root)


def test_dataset_loads_real_images_with_derived_labels():
    ds = CocoDataset(require("coco_val2017_128"), "dev")
    assert len(ds) == 32 and len(CocoDataset(require("coco_val2017_128"), "test")) == 32
    s = ds.load(0)
    assert s.image.ndim == 3 and s.boxes.shape[1] == 4 and len(s.classes) == len(s.boxes) == len(s.zones)
    assert (s.classes >= 0).all() and (s.classes < 80).all()
    assert ds.class_counts().sum() > 100


def test_splits_are_disjoint_halves():
    ids = list(range(10, 20))
    dev, test = split_ids(ids, "dev"), split_ids(ids, "test")
    assert set(dev).isdisjoint(test) and sorted(dev + test) == ids and len(dev) == 5


def test_derived_zone_and_urgency_rules():
    boxes = np.array([[0, 0, 400, 300], [0, 0, 100, 50], [0, 0, 10, 10]], np.float32)   # 31%, 1.6%, 0.03% of 640x480
    assert L.distance_zones(boxes, 640, 480).tolist() == [L.NEAR, L.MEDIUM, L.FAR]
    zones = np.array([L.NEAR, L.FAR, L.NEAR, L.MEDIUM])
    u = L.object_urgency(["car", "car", "person", "chair"], zones)
    assert u.tolist() == [L.DANGER, L.WARNING, L.WARNING, L.SAFE]
    assert L.image_urgency(u) == L.DANGER and L.image_urgency(np.zeros(0, np.int64)) == L.SAFE
    w = L.class_weights(np.array([100, 1, 0, 25]))
    assert w[1] > w[3] > w[0] and w[2] == 1.0


def _sample():
    img = np.zeros((200, 300, 3), np.uint8)
    img[50:100, 30:90] = 255                                       # a white box where the label is
    return Sample(img, np.array([[30, 50, 90, 100]], np.float32), np.array([2]), np.array([1]), np.array([2]))


def _white_bbox(img):
    ys, xs = np.nonzero(img.max(2) > 200)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


def test_geometric_augmentation_moves_boxes_with_pixels():
    aug = Augmenter(AugmentConfig(flip=0.5, photometric=0, cutout=0, condition=0, scale=[0.6, 1.4], translate=0.2), 128)
    moved = 0
    for seed in range(12):
        out = aug(_sample(), np.random.default_rng(seed))
        if len(out.boxes) == 0:
            continue                                                  # pushed off the canvas: dropped, as it should be
        assert np.abs(out.boxes[0] - _white_bbox(out.image)).max() <= 2.0
        moved += 1
    assert moved >= 8


def test_augmentation_is_a_pure_function_of_the_generator():
    aug = Augmenter(AugmentConfig(mosaic=0, condition=0.5, cutout=0.5), 128)
    a = aug(_sample(), np.random.default_rng([0, 1, 2]))
    b = aug(_sample(), np.random.default_rng([0, 1, 2]))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.boxes, b.boxes)


def test_mosaic_keeps_every_box_in_its_quadrant():
    aug = Augmenter(AugmentConfig(), 64)
    m = aug.mosaic([_sample() for _ in range(4)], np.random.default_rng(0))
    assert m.image.shape == (128, 128, 3) and len(m.boxes) == 4
    quads = {(int(b[0] // 64), int(b[1] // 64)) for b in m.boxes}
    assert quads == {(0, 0), (1, 0), (0, 1), (1, 1)}


def test_clip_flow_matches_the_motion_of_the_content():
    aug = Augmenter(AugmentConfig(photometric=0, cutout=0, condition=0, flip=0), 128, head_stride=16)
    frames, last, flow = aug.clip(_sample(), np.random.default_rng(3), 3)
    a, b = _white_bbox(frames[-2]), _white_bbox(frames[-1])
    centre_prev, centre_now = (a[:2] + a[2:]) / 2, (b[:2] + b[2:]) / 2
    cell = (centre_now // 16).astype(int)
    predicted = flow[:, cell[1], cell[0]] * 16                       # pixels per frame at that cell
    assert np.abs((centre_now - centre_prev) - predicted).max() < 3.0
    assert np.abs(last.boxes[0] - b).max() <= 2.0


def test_epoch_batches_shard_and_cover():
    one = epoch_batches(20, 4, seed=1, epoch=0)
    r0, r1 = epoch_batches(20, 2, 1, 0, rank=0, world=2), epoch_batches(20, 2, 1, 0, rank=1, world=2)
    assert len(one) == len(r0) == len(r1) == 5
    for g, a, b in zip(one, r0, r1):
        assert g == a + b                                            # same global batch, split across ranks
    assert epoch_batches(20, 4, 1, 0) != epoch_batches(20, 4, 1, 1)  # a new order each epoch
    assert len(epoch_batches(20, 4, 1, 0, iters=12)) == 12
