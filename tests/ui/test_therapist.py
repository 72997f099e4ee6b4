"""Therapist mode: the side-by-side simulation of a real frame, saving the condition to the
profile (which the cue policy then reads), a keyboard-driven session logged in SQLite, and reports."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.fakes.clock import Clock

from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.qt import Qt
from maxsight_app.ui.therapist import TherapistWindow


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("Ada")
    yield s
    s.close()


@pytest.fixture
def frame_rgb(eval_data):
    img = cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000000139.jpg"))
    return cv2.cvtColor(cv2.resize(img, (640, 480)), cv2.COLOR_BGR2RGB)


def test_side_by_side_view_shows_the_condition(qtbot, store, frame_rgb, tmp_path):
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r")
    qtbot.addWidget(tw)
    tw.show()
    tw.condition_box.setCurrentText("glaucoma")
    tw.severity.setValue(90)
    tw.show_frame(frame_rgb)
    sim = tw.simulated.astype(np.int16)
    assert np.abs(sim[:40] - frame_rgb[:40]).mean() > 30                 # periphery darkened
    assert np.array_equal(sim[200:280, 280:360], frame_rgb[200:280, 280:360])   # centre as captured
    assert not tw.original.pixmap().isNull() and not tw.seen.pixmap().isNull()
    tw.save()
    assert store.preferences(1)["vision_condition"] == "glaucoma" and store.preferences(1)["vision_severity"] == 0.9


def test_session_dialog_runs_by_keyboard_and_logs_trials(qtbot, store, tmp_path):
    clock = Clock()
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r", clock=clock)
    qtbot.addWidget(tw)
    dlg = tw.start_session()
    chart = dlg.session.task
    for i in range(6):
        letter = chart.current.text
        clock.t += 1.0
        qtbot.keyClicks(dlg.answer, letter.lower())
        qtbot.keyClick(dlg.answer, Qt.Key.Key_Return)
    assert "Right." in dlg.message.text()
    rows = store.therapy_trials(dlg.session.session_id)
    assert len(rows) == 6 and all(r["correct"] == 1 for r in rows)
    assert rows[-1]["level"] < rows[0]["level"]                            # the staircase got harder
    dlg.finish()
    assert store.therapy_session(dlg.session.session_id)["ended_by"] == "stopped"
    rep = tw.open_report()
    assert rep is not None and rep.png.stat().st_size > 10_000
    assert str(rep.png) in tw.info.text()


def test_report_before_any_session_is_a_message(qtbot, store, tmp_path):
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r")
    qtbot.addWidget(tw)
    assert tw.open_report() is None
    assert tw.info.text() == "Ada has no therapy sessions yet; run one first."


def test_therapist_controls_have_accessible_names(qtbot, store, tmp_path):
    from tests.ui.test_main_window import INTERACTIVE
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r")
    qtbot.addWidget(tw)
    tw.show()
    dlg = tw.start_session()
    unnamed = [f"{type(c).__name__} {getattr(c, 'text', lambda: '')()!r}" for root in (tw, dlg)
               for c in root.findChildren(object) if isinstance(c, INTERACTIVE) and c.isVisibleTo(root) and not c.accessibleName()]
    assert unnamed == []
    dlg.finish()


@pytest.mark.slow
def test_therapist_view_follows_the_live_engine(qtbot, store, installed_models, eval_data):
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.ui.main_window import MainWindow
    store.set_preferences(1, {"speech": False, "earcons": False})
    w = MainWindow(store, 1, installed_models, extra_outputs=[SpyOutput()], probe_cameras=False, stage_b=False,
                   source=str(eval_data / "videos_walking_driving" / "opencv_vtest.avi"))
    qtbot.addWidget(w)
    w.show()
    tw = w.open_therapist()
    tw.condition_box.setCurrentText("hemianopia_left")
    tw.severity.setValue(100)
    qtbot.waitUntil(lambda: tw.simulated is not None, timeout=30000)
    assert tw.simulated[:, :150].mean() < 0.1 * max(1.0, w.last_view.rgb[:, :150].mean())
    tw.save()
    qtbot.waitUntil(lambda: w.session.profile.vision_condition == "hemianopia_left", timeout=5000)   # the policy follows
    w.shutdown()
