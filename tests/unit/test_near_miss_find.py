"""The near-miss log keeps find mode's findings with their findability figures (the numbers the
therapy report plots), once per finding, through the real session on a scripted door."""
from __future__ import annotations

from types import SimpleNamespace

from engine.config import EngineConfig, Tier
from maxsight_app.compose import build_runtime, make_registry
from maxsight_app.find import resolve
from maxsight_app.nearmiss import read_log
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from tests.fakes.detectors import ScriptedDetector
from tests.unit.test_find import DOOR, LABELS, box_at, frame


def test_a_finding_is_kept_once_with_its_findability(tmp_path):
    store = ProfileStore(tmp_path / "p.db")
    uid = store.create_user("Ada")
    store.set_preferences(uid, {"near_miss_log": True, "speech": False, "earcons": False})
    script = [[(box_at(10), DOOR)]] * 25 + [[]] * 40 + [[(box_at(-15), DOOR)]] * 25    # found, lost, found again
    det = ScriptedDetector(SimpleNamespace(name="scripted", spec=None, labels=LABELS),
                           lambda i: [(b, c, 0.9) for b, c in (script[i] if i < len(script) else [])])
    rt = build_runtime(store.profile(uid), EngineConfig(tier=Tier.T0, access=""), registry=make_registry(),
                       with_outputs=False, stage_b=False, detector=det, near_miss_log=(store.path, uid))
    spy = SpyOutput()
    rt.session.outputs = [spy]
    rt.session.start_find(resolve("door"))
    try:
        for i, dets in enumerate(script):
            rt.session.handle(frame(i, [b for b, c in dets if c == DOOR]))
        assert rt.session.near_misses.flush(60)
    finally:
        rt.close()
    found = [c.text for c in spy.cues if c.text.startswith("door found")]
    entries, notes = read_log(store, uid)
    finds = [e for e in entries if e.kind == "find"]
    assert notes == [] and len(found) == 2 and len(finds) == 2                # one entry per finding
    for e in finds:
        assert e.text == "door found" and e.label == "door" and e.thumbnail is not None
        assert 0 <= e.find_score <= 1 and e.find_size_deg > 1 and e.find_contrast > 20 and e.find_field == 1.0
        assert e.find_level in ("easy", "moderate", "hard", "very hard") and e.detail.startswith(e.find_level)
    store.close()
