"""Scene descriptions: relations from geometry, and a real COCO photo described by its objects."""
from __future__ import annotations

import json

import cv2
import pytest

from engine.stage_a.geometry import clock_from_bearing, zone_for
from maxsight_app.cues.scene import Relation, describe, relations
from engine.types import Hazard, SoundEvent, Urgency


def hz(tid, label, bearing, d, box=(0, 0, 10, 10), urgency=Urgency.CAUTION):
    return Hazard(tid, 0, label, box, clock_from_bearing(bearing), bearing, d, zone_for(d), False, None, urgency, 0.0, 0.9, abs(bearing) <= 15)


def test_relations():
    cup = hz(1, "cup", 0, 2.0, box=(300, 200, 340, 240))
    table = hz(2, "dining table", 0, 2.2, box=(200, 230, 500, 400))
    assert Relation("cup", "on", "dining table") in relations((cup, table))
    person, car = hz(3, "person", 2, 3.0), hz(4, "car", 5, 9.0)
    assert Relation("person", "in front of", "car") in relations((person, car))
    a, b = hz(5, "chair", -25, 4.0), hz(6, "bench", 20, 4.5)
    assert Relation("chair", "left of", "bench") in relations((a, b))
    dog, man = hz(7, "dog", -12, 2.0), hz(8, "person", -2, 2.2)
    assert Relation("dog", "next to", "person") in relations((dog, man))
    assert Relation("chair", "beside the path", "") in relations((a,))


def test_sentences_are_short_deterministic_and_mention_sounds():
    hs = (hz(1, "person", 2, 3.0), hz(2, "car", 5, 9.0))
    a = describe(hs, sounds=(SoundEvent("doorbell", 0.9, 1.0, None),))
    assert a == describe(hs, sounds=(SoundEvent("doorbell", 0.9, 1.0, None),))
    assert a.sentences == ("I see person, straight ahead, 3 metres; car, straight ahead, 9 metres.",
                           "The person is in front of the car; I hear a doorbell.")
    assert 1 <= len(a.sentences) <= 2
    assert describe(()).text == "I don't see anything I recognise nearby."


@pytest.mark.slow
def test_a_real_photo_is_described_by_its_objects(installed_models, eval_data):
    from engine.config import EngineConfig
    from engine.pipeline import Pipeline
    from engine.types import Frame
    data = json.loads((eval_data / "coco_val2017_128" / "instances.json").read_text())
    cats = {c["id"]: c["name"] for c in data["categories"]}
    img_id = 139                                                    # a living room
    truth = {cats[a["category_id"]] for a in data["annotations"] if a["image_id"] == img_id}
    image = cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000000139.jpg"))
    pipe = Pipeline(EngineConfig(), installed_models)
    for i in range(3):                                              # a few frames confirm the tracks
        r = pipe.step(Frame(i, i / 10, image))
    report = describe(r.hazards)
    assert report.objects and set(report.objects) <= truth, (report.objects, truth)
    assert "person" in report.text or "tv" in report.text
