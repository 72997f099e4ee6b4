"""YOLO-layout datasets: reading with field-level errors, merging by class name, the split by source
photo, train/val split names, evaluation with per-class and merged AP, and models that carry their
own class names through training, export, the registry and `maxsight eval detect --data`."""
from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from engine.eval_data import require
from tests.training.conftest import tiny
from training import labels as L
from training.config import ConfigError, from_dict, load
from training.data import CocoDataset, DataError, open_dataset
from training.yolo import VAL_PERCENT, YoloDataset, in_val, source_group

CLASSES = ["door", "handle", "cabinet door", "refrigerator door", "stair_down", "stair_up"]


def _access(*parts):
    return require("accessibility_objects", *parts)


def _tiny_set(root, names=("cat", "dog"), files=None):
    """A small YOLO folder: images/ with a white box per label line, labels/, obj.names."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "obj.names").write_text("\n".join(names) + "\n")
    files = files if files is not None else {"a": "0 0.5 0.5 0.4 0.4\n", "b": "1 0.25 0.25 0.2 0.3\n0 0.7 0.7 0.2 0.2\n", "c": ""}
    for stem, text in files.items():
        img = np.full((60, 80, 3), 40, np.uint8)
        for line in text.splitlines():
            _, cx, cy, w, h = map(float, line.split())
            cv2.rectangle(img, (int((cx - w / 2) * 80), int((cy - h / 2) * 60)), (int((cx + w / 2) * 80) - 1, int((cy + h / 2) * 60) - 1),
                          (255, 255, 255), -1)
        cv2.imwrite(str(root / "images" / f"{stem}.jpg"), img)
        (root / "labels" / f"{stem}.txt").write_text(text)
    return root


# ---- reading --------------------------------------------------------------------------------

def test_reads_boxes_in_pixels_and_empty_files_are_negatives(tmp_path):
    ds = YoloDataset(_tiny_set(tmp_path / "s"), "all")
    assert ds.label_names == ["cat", "dog"] and len(ds) == 3
    assert ds.class_counts().tolist() == [2, 1]
    a = ds.load(0)                                                       # a.jpg: one cat, 0.4 x 0.4 of 80 x 60 in the middle
    assert a.boxes.tolist() == [[24.0, 18.0, 56.0, 42.0]] and a.classes.tolist() == [0]
    assert a.zones.tolist() == [L.NEAR] and a.image.shape == (60, 80, 3)
    c = ds.load(2)
    assert c.boxes.shape == (0, 4) and len(c.classes) == 0               # empty label file: nothing labelled
    assert ds.zone_counts().sum() == 3


def test_real_sets_merge_into_six_classes_with_counts():
    ds = YoloDataset([_access("doors"), _access("stairs")], "all")
    assert ds.label_names == CLASSES
    assert len(ds) == 1017 + 792 + 60
    assert ds.class_counts().tolist() == [499, 3383, 3331, 759, 388, 464]
    empty = sum(1 for it in ds.items if len(it.classes) == 0)
    assert empty == 104                                                  # DoorDetect's photos with nothing labelled
    s = ds.load(len(ds) - 1)                                             # a stairs photo
    assert set(s.classes.tolist()) <= {4, 5} and s.boxes[:, 2:].max() <= 416.5


@pytest.mark.parametrize("text, message", [
    ("0 0.5 0.5 0.2\n", r"line 1 has 4 numbers; a label line is 'class cx cy w h'"),
    ("0 0.5 0.5 0.2 0.2\n0 0.5 abc 0.2 0.2\n", r"line 2: 'abc' is not a number"),
    ("2 0.5 0.5 0.2 0.2\n", r"line 1: class 2 is out of range; .*obj\.names names 2 classes \(0\.\.1\)"),
    ("-1 0.5 0.5 0.2 0.2\n", r"class -1 is out of range"),
    ("0.5 0.5 0.5 0.2 0.2\n", r"the class id must be a whole number"),
    ("0 1.2 0.5 0.2 0.2\n", r"line 1: cx 1.2 is outside 0\.\.1"),
    ("0 0.5 0.5 0.2 -0.1\n", r"line 1: h -0.1 is outside 0\.\.1"),
    ("0 0.95 0.5 0.3 0.2\n", r"line 1: the box reaches outside the image"),
    ("0 0.5 0.5 0 0.2\n", r"the box has no area"),
])
def test_malformed_label_lines_name_the_file_and_line(tmp_path, text, message):
    root = _tiny_set(tmp_path / "s", files={"a": "0 0.5 0.5 0.2 0.2\n", "bad": ""})
    (root / "labels" / "bad.txt").write_text(text)
    with pytest.raises(DataError, match=message) as err:
        YoloDataset(root)
    assert "bad.txt" in str(err.value) and "\n" not in str(err.value)


def test_small_rounding_outside_the_image_is_clipped(tmp_path):
    root = _tiny_set(tmp_path / "s", files={"a": "0 0.1 0.5 0.205 0.2\n"})     # left edge at -0.0025
    b = YoloDataset(root).items[0].boxes
    assert b[0, 0] == 0.0 and b[0, 2] == pytest.approx(0.2025)


def test_missing_pairs_and_names_are_errors(tmp_path):
    root = _tiny_set(tmp_path / "a")
    (root / "labels" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DataError, match=r"ghost\.txt has no image beside it"):
        YoloDataset(root)
    root = _tiny_set(tmp_path / "b")
    (root / "labels" / "a.txt").unlink()
    with pytest.raises(DataError, match=r"a\.jpg has no label file .*a\.txt; an image with nothing labelled needs an empty one"):
        YoloDataset(root)
    root = _tiny_set(tmp_path / "c")
    (root / "obj.names").unlink()
    with pytest.raises(DataError, match="has no obj.names or data.yaml naming the classes"):
        YoloDataset(root)
    (root / "data.yaml").write_text("names: {0: cat, 1: dog}\n")             # data.yaml, dict form
    assert YoloDataset(root).label_names == ["cat", "dog"]
    (root / "data.yaml").write_text("nc: 2\n")
    with pytest.raises(DataError, match=r"data\.yaml: names must be a non-empty list"):
        YoloDataset(root)


def test_sets_merge_by_class_name(tmp_path):
    a = _tiny_set(tmp_path / "a", names=("cat", "dog"))
    b = _tiny_set(tmp_path / "b", names=("bird", "cat"), files={"x": "1 0.5 0.5 0.2 0.2\n0 0.2 0.2 0.1 0.1\n"})
    ds = YoloDataset([a, b], "all")
    assert ds.label_names == ["cat", "dog", "bird"]
    x = ds.items[-1]
    assert x.classes.tolist() == [0, 2]                                 # b's cat is a's cat; bird is new
    assert ds.class_counts().tolist() == [3, 1, 1]
    fixed = YoloDataset([a, b], "all", label_names=["bird", "cat"])      # a fixed list: dog boxes left out
    assert fixed.class_counts().tolist() == [1, 3]
    with pytest.raises(DataError, match=r"the class 'cow' is in none of the datasets"):
        YoloDataset([a, b], "all", label_names=["cow"])


# ---- the split ------------------------------------------------------------------------------

def test_source_group_rule():
    assert source_group("up71_output_jpg.rf.1c16b5b67f4f467c3153b8a455e3f305.jpg") == "up71_output_jpg"
    assert source_group("0001cb734adac2ee.jpg") == "0001cb734adac2ee"
    # the rule itself: the first 8 hex digits of SHA-256 below 20% of 2^32
    for g in ("a", "door_17", "up71_output_jpg"):
        assert in_val(g) == (int(hashlib.sha256(g.encode()).hexdigest()[:8], 16) < 0.2 * 2 ** 32)
    share = np.mean([in_val(f"photo{i}") for i in range(5000)])
    assert abs(share - VAL_PERCENT / 100) < 0.02


def test_split_keeps_copies_together_and_valid_in_val():
    roots = [_access("doors"), _access("stairs")]
    train, val, every = YoloDataset(roots, "train"), YoloDataset(roots, "val"), YoloDataset(roots, "all")
    assert len(train) + len(val) == len(every) and train.groups().isdisjoint(val.groups())
    assert {it.split for it in train.items} == {"train"} and {it.split for it in val.items} == {"val"}
    valid = {it.path for it in every.items if it.path.parent.parent.name == "valid"}
    assert len(valid) == 60 and valid <= {it.path for it in val.items}
    per_group = collections.Counter(it.group for it in every.items if it.path.parent.parent.name == "train")
    assert set(per_group.values()) == {2}                               # Roboflow copies, kept together by the rule
    doors_val = sum(1 for it in val.items if "doors" in it.path.parts)
    assert 0.15 < doors_val / 1017 < 0.25
    again = YoloDataset(roots, "val")
    assert [it.path for it in again.items] == [it.path for it in val.items]     # deterministic


def test_val_halves_split_val_by_source_photo():
    """val-dev / val-test (a score fitted on one half is reported on the other): together exactly
    the val split, no source photo in both, each a fair share of it."""
    roots = [_access("doors"), _access("stairs")]
    val, dev, test = (YoloDataset(roots, s) for s in ("val", "val-dev", "val-test"))
    assert sorted(it.path for it in dev.items + test.items) == sorted(it.path for it in val.items)
    assert dev.groups().isdisjoint(test.groups())
    assert 0.3 < len(dev) / len(val) < 0.7


def test_split_names_belong_to_their_layout(tmp_path):
    with pytest.raises(DataError, match=r"the split 'dev' is not one a YOLO-layout set has; choose train, val, all"):
        YoloDataset(_tiny_set(tmp_path / "s"), "dev")
    with pytest.raises(DataError, match=r"the split 'train' is not one a COCO set has; choose dev, test, all"):
        CocoDataset(require("coco_val2017_128"), "train")
    assert isinstance(open_dataset(require("coco_val2017_128"), "dev"), CocoDataset)
    assert isinstance(open_dataset([_tiny_set(tmp_path / "t")], "train"), YoloDataset)
    with pytest.raises(DataError, match="only YOLO-layout sets can be listed together"):
        open_dataset([_tiny_set(tmp_path / "u"), require("coco_val2017_128")], "all")


def test_folder_with_train_and_valid_subfolders(tmp_path):
    root = tmp_path / "set"
    _tiny_set(root / "train", files={f"p{i}_jpg.rf.{k}": "0 0.5 0.5 0.2 0.2\n" for i in range(30) for k in ("x1", "x2")})
    _tiny_set(root / "valid", files={"p0_jpg.rf.v": "1 0.5 0.5 0.2 0.2\n", "q_jpg.rf.v": ""})
    ds = YoloDataset(root, "val")
    groups = ds.groups()
    assert "p0_jpg" in groups and "q_jpg" in groups                      # p0 is in valid/: its train copies follow it
    assert sum(1 for it in ds.items if it.group == "p0_jpg") == 3
    expected = {f"p{i}_jpg" for i in range(30) if in_val(f"p{i}_jpg")} | {"p0_jpg", "q_jpg"}
    assert groups == expected


# ---- config, labels, training set ------------------------------------------------------------

def test_access_config_loads_and_checks_classes():
    cfg = load("configs/access_detector.yaml")
    assert cfg.data.classes == CLASSES and cfg.model.num_classes == 6 and cfg.data.train_split == "train"
    assert [p.name for p in cfg.resolve_all(cfg.data.train)] == ["doors", "stairs"]
    with pytest.raises(ConfigError, match="model.num_classes is 80 but data.classes names 6 classes"):
        load("configs/access_detector.yaml", ["model.num_classes=80"])
    with pytest.raises(ConfigError, match="data.train_split and data.val_split must be one of"):
        load("configs/access_detector.yaml", ["data.val_split=holdout"])
    with pytest.raises(ConfigError, match=r"data\.train must be a dataset path or a non-empty list"):
        load("configs/access_detector.yaml", ["data.train=[]"])


def test_stairs_urgency_table():
    zones = np.array([L.FAR, L.FAR, L.NEAR, L.NEAR])
    assert L.object_urgency(["stair_down", "stair_up", "door", "handle"], zones).tolist() == [L.WARNING, L.CAUTION, L.SAFE, L.SAFE]


def test_trainer_reads_yolo_sets_and_checks_num_classes(tmp_path):
    from training.loop import Trainer, dry_run
    over = dict(data__train=["eval:accessibility_objects/stairs"], data__train_split="train",
                data__val=["eval:accessibility_objects/stairs"], data__val_split="val", model__num_classes=2)
    cfg = from_dict(tiny(tmp_path, **over))
    info = dry_run(cfg)
    assert "stair_down" in info["classes"] and info["val_data"].startswith("216 images")
    with pytest.raises(DataError, match=r"model.num_classes is 80 but the training data has 2 classes \(stair_down, stair_up\)"):
        Trainer(from_dict(tiny(tmp_path, **{**over, "model__num_classes": 80})), progress=False)


# ---- evaluation -----------------------------------------------------------------------------

class _Oracle:
    """A detector that returns a dataset's own boxes (found by image content), with a class map."""

    def __init__(self, ds, labels, class_map=None, drop=()):
        self.name, self.labels = "oracle", labels
        self.truth = {}
        for i in range(len(ds)):
            s = ds.load(i)
            self.truth[hashlib.sha1(s.image.tobytes()).hexdigest()] = s
        self.class_map, self.drop = class_map or {}, set(drop)

    def detect_raw(self, image, min_score=0.05):
        from engine.models.detectors import RawDetections
        s = self.truth[hashlib.sha1(image.tobytes()).hexdigest()]
        keep = np.array([c not in self.drop for c in s.classes], bool)
        cls = np.array([self.class_map.get(int(c), int(c)) for c in s.classes[keep]], np.int64)
        return RawDetections(s.boxes[keep].astype(np.float32), np.full(len(cls), 0.9, np.float32), cls)


def test_per_class_and_merged_ap_on_the_stairs_val_split():
    from training.evaluate import evaluate_dataset, per_class_table
    stairs = _access("stairs")
    ds = YoloDataset(stairs, "val")
    perfect = evaluate_dataset(stairs, "val", _Oracle(ds, ["stair_down", "stair_up"]))
    rows = {r["class"]: r for r in perfect["per_class"]}
    assert perfect["images"] == 216 and perfect["boxes"] == 216
    assert rows["stair_down"]["AP50"] == pytest.approx(100) and rows["stair_up"]["AP"] == pytest.approx(100)
    assert rows["stair_down"]["boxes"] + rows["stair_up"]["boxes"] == 216
    merged = rows["stairs (stair_down + stair_up)"]
    assert merged["AP50"] == pytest.approx(100) and merged["boxes"] == 216
    # Up and down swapped: each class scores nothing, the merged stairs still everything.
    swapped = evaluate_dataset(stairs, "val", _Oracle(ds, ["stair_down", "stair_up"], {0: 1, 1: 0}))
    rows = {r["class"]: r for r in swapped["per_class"]}
    assert rows["stair_down"]["AP50"] == 0 and rows["stair_up"]["AP50"] == 0
    assert rows["stairs (stair_down + stair_up)"]["AP50"] == pytest.approx(100)
    # Classes matched by name: a detector whose label order differs, and one that never finds stair_up.
    other = evaluate_dataset(stairs, "val", _Oracle(ds, ["stair_up", "stair_down", "door"], {0: 1, 1: 0}, drop={1}))
    rows = {r["class"]: r for r in other["per_class"]}
    assert rows["stair_down"]["AP50"] == pytest.approx(100) and rows["stair_up"]["AP50"] == 0
    assert other["shared_classes"] == 2 and "stair_down" in per_class_table(other)
    assert perfect["safety"]["n_gt"] == 216                              # stairs count as hazards


# ---- a model with its own classes, end to end ---------------------------------------------------

@pytest.fixture(scope="module")
def access_ckpt(tmp_path_factory):
    from training.loop import Trainer
    tmp = tmp_path_factory.mktemp("access")
    cfg = from_dict(tiny(tmp, data__train=["eval:accessibility_objects/doors", "eval:accessibility_objects/stairs"],
                         data__train_split="train", data__val=["eval:accessibility_objects/stairs"], data__val_split="val",
                         data__classes=CLASSES, model__num_classes=6, model__head_stride=8, optim__iters_per_epoch=3))
    Trainer(cfg, progress=False).run()
    return tmp / "run" / "last.pt"


def test_checkpoint_export_and_registry_carry_the_class_names(access_ckpt, tmp_path):
    from engine.models.detectors import build
    from engine.models.registry import default_registry, load_labels, spec_from_path
    from training import checkpoint as ckpt
    from training.export import export, sidecar_labels
    data = ckpt.read(access_ckpt)
    assert data["labels"] == CLASSES and data["dims"]["num_classes"] == 6
    rep = export(access_ckpt, tmp_path, ("onnx",), name="acc", calib_limit=2, eval_limit=6)
    meta = json.loads((tmp_path / "acc.json").read_text())
    assert meta["labels"] == CLASSES and meta["num_classes"] == 6
    per_class = meta["metrics"]["per_class"]
    assert rep.accuracy["fp32"]["images"] == 6 and per_class and all(r["class"].startswith("stair") for r in per_class)
    spec = spec_from_path(tmp_path / "acc.onnx")
    assert load_labels(spec.labels) == (CLASSES, [1, 2, 3, 4, 5, 6])
    reg = default_registry(include_user=False)
    det = build(reg.get(str(tmp_path / "acc.onnx")), reg, threads=1)
    assert det.labels == CLASSES
    raw = det.detect_raw(cv2.imread(str(sorted((_access("stairs") / "valid" / "images").iterdir())[0])), min_score=0.0)
    assert len(raw.classes) and raw.classes.max() < 6 and det.to_detections(raw)[0].label in CLASSES
    assert sidecar_labels(load_labels("coco80")[0]) == "coco80"          # COCO models keep the label map name


def test_old_and_coco_sidecars_still_mean_coco80(access_ckpt, tmp_path):
    from engine.models.detectors import build
    from engine.models.registry import ModelError, default_registry, spec_from_path
    from training.export import export
    export(access_ckpt, tmp_path, ("onnx",), name="acc", calib_limit=2, eval_limit=2)
    meta = json.loads((tmp_path / "acc.json").read_text())
    for labels in ("coco80", None):                                      # an explicit map name, or an older sidecar without one
        m = dict(meta)
        m.pop("labels") if labels is None else m.update(labels=labels)
        (tmp_path / "acc.json").write_text(json.dumps(m))
        assert spec_from_path(tmp_path / "acc.onnx").labels == "coco80"
    reg = default_registry(include_user=False)                           # 80 names for a 6-class graph: refused, not misread
    with pytest.raises(ModelError, match="scores 6 classes but its labels name 80"):
        build(reg.get(str(tmp_path / "acc.onnx")), reg, threads=1)
    (tmp_path / "acc.json").write_text(json.dumps({**meta, "labels": CLASSES[:5]}))
    with pytest.raises(ModelError, match="is not a MaxSight export description"):
        spec_from_path(tmp_path / "acc.onnx")


def test_eval_detect_cli_reads_yolo_sets_and_prints_per_class_ap(access_ckpt, tmp_path):
    out = tmp_path / "e.json"
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "eval", "detect", "--data", str(_access("stairs")), "--split", "val",
                        "--model", str(access_ckpt), "--threads", "1", "--limit", "8", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "8 images" in r.stdout and "AP50" in r.stdout and "stairs (stair_down + stair_up)" in r.stdout
    rows = json.loads(out.read_text())
    assert rows[0]["images"] == 8 and rows[0]["shared_classes"] == 2
    bad = subprocess.run([sys.executable, "-m", "maxsight_app", "eval", "detect", "--data", str(_access("stairs")), "--split", "dev",
                          "--model", str(access_ckpt)], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "not one a YOLO-layout set has" in bad.stderr and "Traceback" not in bad.stderr


def test_eval_every_logs_val_rows_keeps_best_and_resumes(tmp_path):
    import csv

    from training import checkpoint as ckpt
    from training.loop import Trainer
    over = dict(data__train=["eval:accessibility_objects/stairs"], data__train_split="train", data__val=["eval:accessibility_objects/stairs"],
                data__val_split="val", model__num_classes=2, optim__epochs=2, optim__iters_per_epoch=2, eval_every=1, evaluate=True)
    r = Trainer(from_dict(tiny(tmp_path, **over)), progress=False).run()
    rows = list(csv.DictReader((tmp_path / "run" / "val.csv").open()))
    assert [int(x["epoch"]) for x in rows] == [1, 2] and all(int(x["images"]) == 216 for x in rows)
    assert "AP50_stair_down" in rows[0] and "AP50_stairs" in rows[0]
    best = max(float(x["mAP50"]) for x in rows)
    state = ckpt.read(tmp_path / "run" / "best.pt")
    assert state["best_val"] == pytest.approx(best, abs=1e-3) and ckpt.read(tmp_path / "run" / "last.pt")["best_val"] == state["best_val"]
    assert r.evaluation["coco"]["mAP50"] == pytest.approx(float(rows[-1]["mAP50"]), abs=1e-3)   # measured once, reused
    with pytest.raises(ConfigError, match="eval_every must be 0"):
        from_dict(tiny(tmp_path, eval_every=-1))
