"""Tier presets resolve once into processors; a taught object is recognised live through the
Stage B worker and announced as the user's own."""
from __future__ import annotations

import json
import time

import cv2
import pytest

from engine.config import EngineConfig, Tier, stage_b_tasks


def test_tiers_resolve_to_processors(installed_models, tmp_path):
    from maxsight_app.compose import processor_specs
    assert stage_b_tasks(Tier.T0) == ()
    assert stage_b_tasks(Tier.T1) == ("sounds",)
    assert stage_b_tasks(Tier.T3) == ("sounds", "captions", "ocr")
    assert set(stage_b_tasks(Tier.T4)) == {"sounds", "captions", "ocr", "recognition"}
    assert [t.value for t in Tier] == ["T0", "T1", "T2", "T3", "T4"]     # no T5 that only repeats T4
    specs, notes = processor_specs(EngineConfig(tier=Tier.T2), installed_models, captions=False)
    assert list(specs) == ["sounds"] and notes == []
    specs, _ = processor_specs(EngineConfig(tier=Tier.T4), installed_models, personal_index=str(tmp_path / "i.faiss"))
    assert list(specs) == ["sounds", "captions", "ocr", "recognition"]
    assert specs["recognition"].kwargs == {"index_path": str(tmp_path / "i.faiss")}    # no database path: the sidecar


@pytest.mark.slow
def test_a_taught_bus_is_recognised_live_and_announced(tmp_path, installed_models, eval_data, monkeypatch):
    """Driven by events, not by the clock: each recognition job is waited for before the next
    frame, so a busy machine makes the test slower, never wrong. (The decision point skips frame
    work while the load average is high; that rule is not what this test is about.)"""
    monkeypatch.setattr("engine.pipeline.CPU_SATURATED", float("inf"))
    from engine.models.registry import verified_path
    from engine.pipeline import RECOGNISE_EVERY_S
    from engine.stage_b.recognition import Embedder
    from engine.types import Frame
    from maxsight_app.compose import build_runtime
    from maxsight_app.cues.types import CueKind
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.personal_objects import PersonalObjects, index_path
    from maxsight_app.profile.schema import Profile
    from maxsight_app.profile.store import ProfileStore
    data = json.loads((eval_data / "coco_val2017_128" / "instances.json").read_text())
    image = cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000005037.jpg"))    # a bus at a stop
    bus = max((a for a in data["annotations"] if a["image_id"] == 5037 and a["category_id"] == 6), key=lambda a: a["area"])
    x, y, w, h = (int(v) for v in bus["bbox"])
    store = ProfileStore(tmp_path / "profiles.db")
    uid = store.create_user("Ada")
    PersonalObjects(store, uid, Embedder(verified_path(installed_models.get("mobilenet_v2")))).teach("my bus", [image[y:y + h, x:x + w]])
    cfg = EngineConfig(tier=Tier.T4)
    spy = SpyOutput()
    rt = build_runtime(Profile(captions=False), cfg, registry=installed_models, personal_index=index_path(store, uid),
                       with_outputs=False, extra_outputs=[spy])
    try:
        sched, session = rt.stage_b, rt.session
        assert "recognition" in sched.specs
        jobs = 0
        for i in range(int(6 * RECOGNISE_EVERY_S / 0.5)):       # room for 6 recognition jobs
            session.handle(Frame(i, i * 0.5, image))
            if sched.pending_for("recognition"):
                jobs += 1
                assert sched.wait_idle(120, "recognition"), "the recognition job never finished"
            if any(c.kind is CueKind.OWN for c in spy.cues):
                break
        session.handle(Frame(i + 1, (i + 1) * 0.5, image))     # the frame that drains the last result
        own = [c for c in spy.cues if c.kind is CueKind.OWN]
        assert jobs >= 1
        assert own and own[0].text.startswith("your bus"), [c.text for c in spy.cues]
        assert len(own) == 1 or own[1].track_id != own[0].track_id    # said once per track
    finally:
        rt.close()
        store.close()
