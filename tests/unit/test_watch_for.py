"""Watch for a word: forgiving where a sign reader slips (case, spacing, one letter in a long
word), strict where meaning changes (a digit, a longer number); said once per sighting; bad input
is one sentence."""
from __future__ import annotations

import pytest

from engine.types import TextRead
from maxsight_app.cues.watch import WatchFor, matches, parse_words


@pytest.mark.parametrize("word,text", [
    ("75", "75"), ("75", "Route 75 City Centre"), ("Gate C3", "GATE C3"), ("Gate C3", "GateC3"),
    ("Gate C3", "gate-c3 ->"), ("Pharmacy", "PHARMACY"), ("Pharmacy", "Pharmcy"), ("Pharmacy", "Pharmacy's"),
    ("Main Street", "MAINSTREET"), ("Galaxy", "GALAXYNote"), ("Note", "GALAXYNote"), ("Exit", "GateExit"),
    ("finest", "FairPricefinest"), ("Galaxy", "GALAXYNOTE"), ("Market", "MARKETPLACE"),   # a space lost, case or not
])
def test_forgiving_matches(word, text):
    assert matches(word, text)


@pytest.mark.parametrize("word,text", [
    ("75", "15"), ("75", "175"), ("75", "750"), ("75", "75A"), ("Gate C3", "Gate C8"), ("Gate C3", "Gate"),
    ("Exit", "Exlt"), ("Pharmacy", "Phrmcy"), ("C3", "C30"), ("Platform 12", "Platform 17"), ("75", ""),
    ("Gate", "Gatehouse"), ("75", "Bus75A"), ("Station", "Stationery"), ("Marina", "Marinara"),
    ("Pharmacy", "Pharmacyxx"), ("Galaxy", "NOTEGALAXYS"), ("finest", "finestra"),
])
def test_what_does_not_match(word, text):
    assert not matches(word, text)


def _read(text: str, seen: int = 2, clock: int = 11, score: float = 0.8) -> TextRead:
    return TextRead(text, score, ((0, 0), (10, 0), (10, 5), (0, 5)), clock, -30.0, seen=seen)


def test_one_sure_exact_reading_is_enough_an_unsure_or_forgiven_one_waits_for_the_vote():
    from maxsight_app.cues.watch import SURE_READ
    w = WatchFor("75, Pharmacy")
    assert w.update([_read("75", seen=1, score=SURE_READ - 0.05)], 0.0) == []       # unsure: one frame is not enough
    assert w.update([_read("Pharmcy", seen=1, score=0.99)], 0.0) == []              # a letter forgiven: the vote decides
    assert w.update([_read("15", seen=1, score=0.99)], 0.0) == []                   # never a different digit
    assert [s.word for s in w.update([_read("Bus 75", seen=1, score=SURE_READ)], 0.5)] == ["75"]
    assert [s.word for s in w.update([_read("Pharmcy", seen=2)], 1.0)] == ["Pharmacy"]
    assert WatchFor("75", sure_read=None).update([_read("75", seen=1, score=0.99)], 0.0) == []   # vote only


def test_said_once_per_sighting_after_the_vote():
    w = WatchFor("75, Gate C3")
    assert w.update([_read("75", seen=1)], 0.0) == []                  # one unsure frame is not enough
    first = w.update([_read("75")], 0.5)
    assert [s.word for s in first] == ["75"] and first[0].words() == "75, 11 o'clock"
    assert w.update([_read("75")], 1.0) == [] and w.update([], 3.0) == [] and w.update([_read("75")], 4.0) == []
    again = w.update([_read("bus 75", clock=1)], 10.0)                  # unseen for 6 s: a new sighting
    assert [s.words() for s in again] == ["75, 1 o'clock"]
    both = w.update([_read("GATE C3"), _read("75")], 30.0)
    assert sorted(s.word for s in both) == ["75", "Gate C3"]


def _bus(distance_m: float, box=(300.0, 100.0, 600.0, 400.0)):
    from engine.types import Hazard, Urgency, Zone
    return Hazard(track_id=4, class_id=5, label="bus", box=box, clock=11, bearing_deg=-30.0, distance_m=distance_m,
                  zone=Zone.FAR, approaching=False, ttc_s=None, urgency=Urgency.SAFE, priority=0, score=0.8, in_path=False)


def test_the_distance_is_the_objects_the_text_is_on_else_rough_from_its_height():
    from maxsight_app.cues.watch import text_distance
    focal = 554.3                                               # 640 px wide, 60 degrees
    on_bus = TextRead("75", 0.9, ((400, 150), (460, 150), (460, 180), (400, 180)), 11, -30.0, seen=2)
    assert text_distance(on_bus, (_bus(8.2),), focal) == (8.2, False)
    # Nothing tracked holds it: 0.15 m of text 20 px tall is ~4 m; 2 px tall is too far to say.
    sign = TextRead("Gate C3", 0.9, ((10, 10), (90, 10), (90, 30), (10, 30)), 10, -40.0, seen=2)
    d, rough = text_distance(sign, (_bus(8.2),), focal)
    assert rough and 3.5 < d < 4.7
    tiny = TextRead("Gate C3", 0.9, ((10, 10), (30, 10), (30, 12), (10, 12)), 10, -40.0, seen=2)
    assert text_distance(tiny, (), focal) == (None, True)
    # A tilted line is as far as a level one: its height is the box's short side, not its extent.
    import math
    a = math.radians(20)
    c, s_ = math.cos(a) * 80, math.sin(a) * 80
    tilted = TextRead("Gate C3", 0.9, ((10, 10), (10 + c, 10 + s_), (10 + c - 20 * math.sin(a), 10 + s_ + 20 * math.cos(a)),
                                       (10 - 20 * math.sin(a), 10 + 20 * math.cos(a))), 10, -40.0, seen=2)
    assert abs(text_distance(tilted, (), focal)[0] - d) < 0.05
    # A sign far behind a tracked car (the text-size distance disagrees 3x or more): not the car's distance.
    behind = TextRead("EXIT", 0.9, ((400, 150), (412, 150), (412, 153), (400, 153)), 11, -30.0, seen=2)
    far, rough = text_distance(behind, (_bus(8.2),), focal)
    assert rough and 27 < far < 28.5                               # 0.15 m in 3 px, not the bus's 8.2 m
    # Said with the clock direction and the distance; "about" when only the text's height says it.
    w = WatchFor("75, Gate C3")
    said = w.update([on_bus, sign], 1.0, lambda r: text_distance(r, (_bus(8.2),), focal))
    assert sorted(s.words() for s in said) == ["75, 11 o'clock, 8 metres", "Gate C3, 10 o'clock, about 4 metres"]
    from maxsight_app.profile.schema import Units
    assert [s.words(Units.FEET) for s in said if s.word == "Gate C3"] == ["Gate C3, 10 o'clock, about 13 feet"]


@pytest.mark.parametrize("value,msg", [
    ("", "empty"), ("75,,Gate", "empty"), ("x" * 41, "at most 40"), ("!!", "no letter or digit"),
    (",".join(str(i) for i in range(11)), "at most 10"),
])
def test_bad_input_is_one_sentence(value, msg):
    with pytest.raises(ValueError, match=msg) as exc:
        parse_words(value)
    assert "\n" not in str(exc.value)


def test_words_are_kept_as_typed_without_repeats():
    assert parse_words(" Gate  C3 , 75, gate c3") == ("Gate C3", "75")
    assert parse_words(["Pharmacy"]) == ("Pharmacy",)


def _sign(path, text: str, gt_path, x=420, y=300, scale=3.0):
    import cv2
    import numpy as np
    img = np.full((720, 1280, 3), 200, np.uint8)
    cv2.rectangle(img, (0, 500), (1280, 720), (90, 110, 90), -1)
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 6)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 6, cv2.LINE_AA)
    cv2.imwrite(str(path), img)
    gt_path.write_text(f"{x},{y - h},{x + w},{y - h},{x + w},{y + base},{x},{y + base},{text}\n"
                       f"10,10,40,10,40,30,10,30,###\n", encoding="utf-8")


def test_eval_watch_for_on_rendered_signs(tmp_path):
    """The evaluation end to end on two drawn signs (no evaluation data needed): each target is
    found after it becomes legible, and watching one sign for the other's word gives no alert."""
    from maxsight_app.measure import watch_for
    (tmp_path / "images").mkdir()
    (tmp_path / "gt").mkdir()
    _sign(tmp_path / "images" / "img_1.jpg", "GATE C3", tmp_path / "gt" / "gt_img_1.txt")
    _sign(tmp_path / "images" / "img_2.jpg", "PHARMACY", tmp_path / "gt" / "gt_img_2.txt", x=150)
    r = watch_for.evaluate(tmp_path, "all", limit=2, every=1.0, duration=2.0, others=1)
    assert [x["word"] for x in r["rows"]] == ["GATE C3", "PHARMACY"]
    for x in r["rows"]:
        # Found, and timed from when it became legible (a sure reading may come a frame before the
        # evaluation's "legible": the latency is then 0).
        assert x["legible_t"] is not None and x["found_t"] is not None and x["latency_s"] is not None, x
        assert x["latency_s"] == max(0.0, x["found_t"] - x["legible_t"]) and x["within"], x
    assert r["false_alerts"] == [] and r["watched_s"] == 2 * (2.0 + watch_for.HOLD_S)
    assert "false alerts: 0" in watch_for.table(r)
