"""The therapist view's near-miss log (Ctrl+T in the window): a timeline stepped through with the
arrow keys, each entry's picture and words beside it, named for screen readers; an entry whose
picture does not decode is skipped and said in one sentence; the report opened from there holds it."""
from __future__ import annotations

import csv
import datetime as dt
import sqlite3

import pytest

from engine.samples import sample_frames
from maxsight_app.nearmiss import encode_thumbnail, small_copy
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.qt import Qt
from maxsight_app.ui.therapist import NO_LOG, TherapistWindow

SAID = ["Warning, person, straight ahead, 3.5 metres, approaching", "Stop! person, straight ahead, 2 metres",
        "Warning, bicycle, 2 o'clock, 6 metres"]


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("Ada")
    now = dt.datetime.now(dt.timezone.utc)
    frames = sample_frames(len(SAID) + 1, every=40)
    s.add_near_misses(1, [{"at": (now - dt.timedelta(minutes=10 - i)).isoformat(), "kind": "hazard",
                           "urgency": "danger" if text.startswith("Stop") else "warning", "text": text, "label": "person",
                           "distance_m": 3.5 - i, "clock": 12, "thumbnail": encode_thumbnail(small_copy(frames[i]))}
                          for i, text in enumerate(SAID)])
    yield s
    s.close()


def test_the_log_is_stepped_through_by_keyboard(qtbot, store, tmp_path):
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r", open_url=lambda url: True)
    qtbot.addWidget(tw)
    tw.show()
    qtbot.waitExposed(tw)
    assert tw.log_list.accessibleName() == "Near-miss log" and tw.log_picture.accessibleName() == "Picture of the moment"
    assert tw.log_list.count() == 3 and tw.log_list.currentRow() == 2               # the newest first in view
    assert tw.log_text.text().startswith("3 of 3: ") and SAID[2] in tw.log_text.text()
    tw.activateWindow()
    qtbot.waitUntil(tw.isActiveWindow, timeout=3000)
    tw.log_list.setFocus()
    qtbot.waitUntil(tw.log_list.hasFocus, timeout=3000)
    seen = []
    for _ in range(2):
        qtbot.keyClick(tw.log_list, Qt.Key.Key_Up)                                  # back in time
        seen.append(tw.log_text.text())
        assert not tw.log_picture.pixmap().isNull()
        assert tw.log_picture.accessibleDescription().startswith("The camera picture when")
    assert seen[0].startswith("2 of 3: ") and SAID[1] in seen[0] and "danger" in seen[0]
    assert seen[1].startswith("1 of 3: ") and SAID[0] in seen[1] and "(3.5 m)" in seen[1]
    qtbot.keyClick(tw.log_list, Qt.Key.Key_End)
    assert SAID[2] in tw.log_text.text()
    # Tab reaches the log after the findability line and goes on to the entry's words.
    tw.findability.setFocus()
    qtbot.waitUntil(tw.findability.hasFocus, timeout=3000)
    qtbot.keyClick(tw.findability, Qt.Key.Key_Tab)
    qtbot.waitUntil(tw.log_list.hasFocus, timeout=3000)
    qtbot.keyClick(tw.log_list, Qt.Key.Key_Tab)
    qtbot.waitUntil(tw.log_text.hasFocus, timeout=3000)

    rep = tw.open_report()                                                          # no sessions: the log alone
    assert rep is not None and rep.near_misses == 3
    assert [r["text"] for r in csv.DictReader(open(rep.near_misses_csv))] == SAID


def test_a_corrupt_entry_is_skipped_and_said_once(qtbot, store, tmp_path):
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE near_misses SET thumbnail = ? WHERE text = ?", [b"\xff\xd8\xff broken", SAID[1]])
    conn.commit()
    conn.close()
    heard = []
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r", announce=heard.append)
    qtbot.addWidget(tw)
    assert [tw.log_list.item(i).text().split(", ", 1)[1] for i in range(tw.log_list.count())] == \
        [f"warning: {SAID[0]} (3.5 m)", f"warning: {SAID[2]} (1.5 m)"]
    assert "was skipped: its picture does not decode" in tw.info.text() and heard == [tw.info.text()]


def test_an_empty_log_says_how_to_start_one(qtbot, tmp_path):
    s = ProfileStore(tmp_path / "p.db")
    s.create_user("Bo")
    tw = TherapistWindow(s, 1, reports_dir=tmp_path / "r")
    qtbot.addWidget(tw)
    assert tw.log_list.count() == 0 and tw.log_text.text() == NO_LOG and tw.log_picture.pixmap().isNull()
    s.close()


def test_settings_turn_the_log_on_within_its_declared_bounds(qtbot, tmp_path):
    from maxsight_app.ui.settings_dialog import SettingsDialog
    s = ProfileStore(tmp_path / "p.db")
    s.create_user("Bo")
    dlg = SettingsDialog(s, 1, [])
    qtbot.addWidget(dlg)
    on, days, most = (dlg.fields[k] for k in ("near_miss_log", "near_miss_days", "near_miss_max"))
    assert not on.isChecked() and on.accessibleName() == "Keep a near-miss log"          # opt-in: off
    assert (days.minimum(), days.maximum(), most.minimum(), most.maximum()) == (1, 365, 10, 10000)
    on.setChecked(True)
    days.setValue(1000)                                        # beyond the bound: the box stops at 365
    assert dlg.save()
    p = s.profile(1)
    assert (p.near_miss_log, p.near_miss_days) == (True, 365)
    s.close()


def test_the_window_keeps_what_it_warned_about_and_ctrl_t_replays_it(qtbot, tmp_path, installed_models):
    """The window, playing the shipped clip with the log on: the warnings and dangers it says are in
    the profile's log, and Ctrl+T shows them; the log follows another profile chosen."""
    from engine.samples import sample_video
    from maxsight_app.outputs.base import SpyOutput
    from tests.ui.helpers import make_window
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("default")
    s.set_preferences(1, {"speech": False, "earcons": False, "near_miss_log": True})
    sam = s.create_user("Sam")
    spy = SpyOutput()
    w = make_window(qtbot, s, installed_models, spy, source=str(sample_video()))

    def urgent():
        return [c.text for c in spy.cues if c.kind.value == "hazard" and c.urgency.name in ("WARNING", "DANGER")]
    qtbot.waitUntil(lambda: len(urgent()) >= 1, timeout=180000)
    recorder = w.session.near_misses
    assert recorder is not None and recorder.user_id == 1
    qtbot.waitUntil(lambda: len(s.near_misses(1)) >= 1, timeout=60000)
    first = s.near_misses(1)[0]
    assert first["text"] == urgent()[0] and first["thumbnail"] is not None
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    qtbot.keyClick(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.therapist is not None and w.therapist.isVisible(), timeout=10000)
    assert w.therapist.log_list.count() >= 1 and urgent()[0] in w.therapist.log_list.item(0).text()
    w.therapist.close()
    w.profile_box.setCurrentIndex(w.profile_box.findData(sam))
    assert recorder.user_id == sam
    w.shutdown()
    s.close()
