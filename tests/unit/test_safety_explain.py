"""`maxsight eval safety --explain`: each mistake is one row and one picture, with a cause a person
can check; hand-made cases whose answer is known."""
from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import numpy as np

from engine.config import CameraModel, EngineConfig, Tier
from engine.types import Urgency
from maxsight_app.measure import explain, safety
from tests.fakes.detectors import ScriptedDetector

PERSON, TV = 0, 62            # COCO-80 class ids of the detector's labels


def test_causes_of_a_report_that_matched_nothing():
    # a person on a poster: nothing labelled under it
    assert explain.report_cause("person", 0.0, "", 0.0, "", 1.0, None) == "nothing labelled there"
    # the box is on a labelled television
    assert explain.report_cause("person", 0.0, "", 0.8, "tv", 1.0, None) == "wrong class"
    # half on a true person: a part or a second box
    assert explain.report_cause("person", 0.3, "person", 0.0, "", 4.0, 4.2) == "box off the true one"
    assert explain.report_cause("stair_down", 0.0, "", 0.0, "", 2.0, None) == "stairs, none labelled"
    # on a calm photo: the true car is 20 m away, reported at 3 m
    assert explain.report_cause("car", 0.7, "car", 0.0, "", 3.0, 20.0) == "far object called near"
    assert explain.report_cause("car", 0.7, "car", 0.0, "", 3.0, 7.0) == "wrong distance"


def _frame(t, confirmed=True, urgency=Urgency.CAUTION, track=1, label="person"):
    return {"t": t, "confirmed": confirmed, "urgency": int(urgency), "track": track, "label": label, "policy": ""}


def test_causes_of_a_missed_approach():
    onset = 2.0
    assert explain.approach_cause("its warning cue was cut", [], onset, "person") == "cue cut or yielded"
    assert explain.approach_cause("its warning cue was yielded to a more urgent cue", [], onset, "person") == "cue cut or yielded"
    late = [_frame(t / 10, confirmed=t >= 35) for t in range(0, 50)]
    assert explain.approach_cause("no cue about it within 1 s", late, onset, "person") == "track born late"
    never = [_frame(t / 10, confirmed=False) for t in range(0, 50)]
    assert explain.approach_cause("no cue about it within 1 s", never, onset, "person") == "not detected"
    calm = [_frame(t / 10) for t in range(0, 50)]
    assert explain.approach_cause("no cue about it within 1 s", calm, onset, "person") == "never urgent"
    dropped = [_frame(t / 10, urgency=Urgency.WARNING if t < 8 else Urgency.CAUTION) for t in range(0, 50)]
    assert explain.approach_cause("no cue about it within 1 s", dropped, onset, "person") == "urgency dropped"
    other = [_frame(t / 10, label="chair") for t in range(0, 50)]
    assert explain.approach_cause("no cue about it within 1 s", other, onset, "person") == "wrong class (approach)"
    held = [_frame(t / 10, urgency=Urgency.WARNING) for t in range(0, 50)]
    assert explain.approach_cause("no cue about it within 1 s", held, onset, "person") == "policy held it back"


class _TinyCoco:
    """Two hand-made photos: a person on a poster (no hazard labelled, a TV labelled), and a real
    person near the camera that the detector misses."""

    def __init__(self, root):
        self.root = root
        for name in ("poster.png", "person.png"):
            img = np.full((480, 640, 3), 90, np.uint8)
            cv2.rectangle(img, (230, 20), (410, 460), (200, 200, 200), -1)
            cv2.imwrite(str(root / name), img)
        self.data = {
            "images": [{"id": 1, "file_name": "poster.png", "width": 640, "height": 480},
                       {"id": 2, "file_name": "person.png", "width": 640, "height": 480}],
            "categories": [{"id": 1, "name": "person"}, {"id": 72, "name": "tv"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 72, "bbox": [20, 20, 150, 100], "iscrowd": 0},
                            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [230, 20, 180, 440], "iscrowd": 0}]}

    def image_path(self, im):
        return self.root / im["file_name"]


def test_explain_writes_a_row_and_a_picture_per_mistake(tmp_path, installed_models):
    from maxsight_app.compose import build_runtime
    from engine.models.detectors import build
    from maxsight_app.profile.schema import Profile
    coco = _TinyCoco(tmp_path)

    def script(i):
        # frames 0-4 are the poster photo (a person box on the poster), 5-9 the real person (missed)
        return [((230, 20, 410, 460), PERSON, 0.9)] if i < 5 else []
    inner = build(installed_models.get("nanodet"), installed_models, threads=1)
    rt = build_runtime(Profile(speech=False), EngineConfig(tier=Tier.T0), registry=installed_models, with_outputs=False,
                       stage_b=False, detector=ScriptedDetector(inner, script))
    ex = explain.Explainer(tmp_path / "explain")
    try:
        s = safety.eval_stills(coco, [1, 2], rt.pipeline, CameraModel(), explain=ex)
    finally:
        rt.close()
    summary = ex.finish()
    rows = json.loads((tmp_path / "explain" / "rows.json").read_text())
    kinds = {(r["kind"], r["cause"]) for r in rows}
    assert ("unmatched report", "nothing labelled there") in kinds or ("false urgent alert", "nothing labelled there") in kinds
    assert ("missed near hazard", "not detected") in kinds
    assert s["precision"]["n"] == 0 and s["precision"]["of"] == 1
    poster = next(r for r in rows if r["source"] == "poster.png")
    assert poster["label"] == "person" and poster["est_m"] < 3 and poster["track_age"].startswith("5 hits")
    assert poster["policy"]                                     # what the cue policy did with it
    for r in rows:
        assert (tmp_path / "explain" / r["picture"]).is_file()
    page = (tmp_path / "explain" / "index.html").read_text()
    assert page.count("<img ") == len(rows) == summary["rows"]
    assert (tmp_path / "explain" / "rows.csv").read_text().count("\n") == len(rows) + 1


def test_a_picture_shows_truth_and_report():
    img = np.zeros((480, 640, 3), np.uint8)
    hz = SimpleNamespace(box=(100, 100, 200, 300), label="person", score=0.8, distance_m=2.0, urgency=Urgency.DANGER)
    pic = explain.draw(img, [("person", (300, 100, 400, 300), 2.5)], [hz], "caption", focus=hz.box)
    assert pic.shape == img.shape
    assert (pic[200, 100] == explain.COLOURS[Urgency.DANGER]).all()          # the reported box, red
    assert (pic[200, 300] == explain.TRUE_COLOUR).all() or (pic[200, 301] == explain.TRUE_COLOUR).all()
