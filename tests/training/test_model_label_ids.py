"""eval detect --coco: a model's classes become the COCO file's category ids. A label map keeps its
own COCO ids; a model with its own list of names is matched by name (its 1..K are not COCO ids)."""
from __future__ import annotations

import json
from pathlib import Path

from training.evaluate import CocoSet, model_label_ids


def _coco() -> CocoSet:
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 62, "name": "chair"}]
    return CocoSet(Path("."), {"images": [], "annotations": [], "categories": cats})


def test_a_models_own_names_are_matched_by_name(tmp_path):
    sidecar = tmp_path / "joint.json"
    sidecar.write_text(json.dumps({"labels": ["chair", "door", "person"]}))
    assert model_label_ids(str(sidecar), _coco()) == [62, -1, 1]        # not [1, 2, 3]


def test_a_label_map_keeps_its_coco_ids(tmp_path):
    ids = model_label_ids("coco80", _coco())
    assert len(ids) == 80 and ids[0] == 1 and ids[2] == 3 and ids[-1] == 90
    sidecar = tmp_path / "m.json"
    sidecar.write_text(json.dumps({"labels": "coco80"}))                  # a sidecar naming a map: the map's ids
    assert model_label_ids(str(sidecar), _coco()) == ids
