"""The near-miss log through a real Session on the shipped sample clip: with the profile's
near_miss_log off nothing is kept; turned on mid-clip, every warning and danger said from then on
is kept, in order, with its words, distance and a thumbnail of its frame; the report holds them."""
from __future__ import annotations

import csv
import re

from engine.config import EngineConfig
from engine.samples import sample_video
from engine.types import Urgency
from maxsight_app.capture.feed import Feed
from maxsight_app.capture.video import open_source
from maxsight_app.compose import apply_profile, build_runtime
from maxsight_app.cues.types import CueKind
from maxsight_app.nearmiss import read_log
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from maxsight_app.therapy import report

SWITCH_S = 45.0        # the log is turned on at this point of the 90-second clip


def test_a_session_keeps_warnings_only_while_the_log_is_on(tmp_path, installed_models):
    store = ProfileStore(tmp_path / "profiles.db")
    uid = store.create_user("Ada")
    store.set_preferences(uid, {"speech": False, "earcons": False})
    rt = build_runtime(store.profile(uid), EngineConfig(), registry=installed_models, with_outputs=False, stage_b=False,
                       near_miss_log=(store.path, uid))
    spy = SpyOutput()
    rt.session.outputs = [spy]
    recorder = rt.session.near_misses
    feed = Feed(open_source(str(sample_video())), audio=False)
    switched_at = None
    try:
        for frame, _ in feed:
            if switched_at is None and frame.timestamp >= SWITCH_S:
                store.set_preference(uid, "near_miss_log", True)          # as the settings dialog saves it
                apply_profile(rt, store.profile(uid), with_outputs=False)
                switched_at = len(spy.cues)
            rt.session.handle(frame)
        assert recorder.flush(120), "the near-miss log writer did not finish"
    finally:
        feed.close()
        rt.close()
    def warnings(cues):
        return [c for c in cues if c.kind is CueKind.HAZARD and c.urgency >= Urgency.WARNING]
    before, after = warnings(spy.cues[:switched_at]), warnings(spy.cues[switched_at:])
    assert before and after, "the clip no longer gives warnings on both sides of the switch; move SWITCH_S"
    assert recorder.dropped == 0 and recorder.failed == 0
    rows = store.near_misses(uid)
    assert [r["text"] for r in rows] == [c.text for c in after]          # nothing from before the switch
    assert [r["urgency"] for r in rows] == [c.urgency.name.lower() for c in after]
    assert [r["distance_m"] for r in rows] == [c.distance_m for c in after]
    assert [r["media_s"] for r in rows] == [c.frame_time for c in after]               # the moment in the video
    entries, notes = read_log(store, uid)
    assert notes == [] and all(e.thumbnail is not None and e.thumbnail.shape[1] == 160 for e in entries)

    rep = report.generate(store, uid, tmp_path / "reports")             # no therapy sessions: the log alone
    assert rep.sessions == 0 and rep.near_misses == len(rows)
    logged = list(csv.DictReader(open(rep.near_misses_csv)))
    assert [r["text"] for r in logged] == [c.text for c in after]
    assert len(re.findall(rb"/Type\s*/Page[^s]", rep.pdf.read_bytes())) >= 2     # the plots, then the timeline
    store.close()
