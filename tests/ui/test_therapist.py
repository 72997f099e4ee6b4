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
    tw.set_condition("glaucoma")
    assert tw.condition_box.currentText() == "Glaucoma"               # words, not the identifier
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
    assert tw.info.text() == "Ada has no therapy sessions yet and no near-miss log; run one first."


def test_therapist_controls_have_accessible_names(qtbot, store, tmp_path):
    from tests.ui.helpers import INTERACTIVE
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r")
    qtbot.addWidget(tw)
    tw.show()
    dlg = tw.start_session()
    from maxsight_app.ui.qt import QAccessible

    def name(c):     # what a screen reader is given: the accessible name, else the visible words
        return QAccessible.queryAccessibleInterface(c).text(QAccessible.Text.Name)
    unnamed = [f"{type(c).__name__} {getattr(c, 'text', lambda: '')()!r}" for root in (tw, dlg)
               for c in root.findChildren(object) if isinstance(c, INTERACTIVE) and c.isVisibleTo(root) and not name(c)]
    assert unnamed == []
    dlg.finish()


@pytest.mark.slow
def test_therapist_view_follows_the_live_engine(qtbot, store, installed_models, eval_data):
    from maxsight_app.outputs.base import SpyOutput
    from maxsight_app.ui.main_window import MainWindow
    store.set_preferences(1, {"speech": False, "earcons": False})
    w = MainWindow(store, 1, installed_models, extra_outputs=[SpyOutput()], probe_cameras=False, stage_b=False,
                   screen_reader=False, source=str(eval_data / "videos_walking_driving" / "opencv_vtest.avi"))
    qtbot.addWidget(w)
    w.show()
    tw = w.open_therapist()
    tw.set_condition("hemianopia_left")
    tw.severity.setValue(100)
    qtbot.waitUntil(lambda: tw.simulated is not None, timeout=30000)
    assert tw.simulated[:, :150].mean() < 0.1 * max(1.0, w.last_view.rgb[:, :150].mean())
    tw.save()
    qtbot.waitUntil(lambda: w.session.profile.vision_condition == "hemianopia_left", timeout=5000)   # the policy follows
    w.shutdown()


def test_labels_read_as_their_text_and_messages_are_reachable(qtbot, store, tmp_path):
    """A screen reader reads a label's text, not a name laid over it; the views and the message line
    are Tab stops with names; conditions read as words; the severity slider is big enough to use."""
    from maxsight_app.ui.qt import QAccessible, QtWidgets
    said = []
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r", announce=said.append)
    qtbot.addWidget(tw)
    tw.show()
    qtbot.waitExposed(tw)
    tw.activateWindow()
    qtbot.waitUntil(tw.isActiveWindow, timeout=3000)
    tw.user_box.setFocus()
    stops = []
    for _ in range(12):                               # Tab through the window as a keyboard user does
        stops.append(QtWidgets.QApplication.focusWidget())
        qtbot.keyClick(QtWidgets.QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert tw.info in stops and tw.seen in stops and tw.original in stops and tw.log_list in stops
    dlg = tw.start_session()
    for lab in dlg.findChildren(QtWidgets.QLabel):
        if lab.text():
            assert QAccessible.queryAccessibleInterface(lab).text(QAccessible.Text.Name) == lab.text()
    assert dlg.instruction.text() and dlg.answer.accessibleDescription() == dlg.instruction.text()
    assert "amd" not in [tw.condition_box.itemText(i) for i in range(tw.condition_box.count())]
    tw.set_condition("amd")
    assert tw.condition_box.currentText() == "Age-related macular degeneration (AMD)" and tw.condition == "amd"
    # The label in front of the condition box says what its accessible name says.
    assert tw.condition_box.accessibleName() == "Vision condition"
    buddy = [lab for lab in tw.findChildren(QtWidgets.QLabel) if lab.buddy() is tw.condition_box]
    assert [lab.text() for lab in buddy] == ["Vision condition:"]
    # Titles belong to their views, so they are not read as stray labels when the window opens.
    assert {lab.text() for lab in tw.findChildren(QtWidgets.QLabel) if lab.buddy() in (tw.original, tw.seen)} == \
        {"As captured", "As the user sees it"}
    assert tw.severity.width() >= 200
    tw.save()
    assert said and said[-1].startswith("Saved: Age-related macular degeneration (AMD) at")
    dlg.finish()


def test_open_report_without_a_viewer_says_where_the_report_is(qtbot, store, tmp_path):
    said = []
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r", announce=said.append, open_url=lambda url: False)
    qtbot.addWidget(tw)
    dlg = tw.start_session()
    chart = dlg.session.task
    qtbot.keyClicks(dlg.answer, chart.current.text.lower())
    qtbot.keyClick(dlg.answer, Qt.Key.Key_Return)
    dlg.finish()
    rep = tw.open_report()
    assert rep is not None
    assert "no program to show pictures was found" in tw.info.text() and str(rep.png) in tw.info.text()
    assert said[-1] == tw.info.text()


def test_reading_task_asks_for_the_text_the_camera_reads(qtbot, store, tmp_path):
    """With a camera running, the reading task asks for real text read by the Stage B reader (from
    the frames the therapist window is fed) and never shows it on the card."""
    from types import SimpleNamespace

    from engine.types import FrameQuality, FrameResult, TextRead
    from maxsight_app.ui.therapist import SessionDialog
    clock = Clock()
    tw = TherapistWindow(store, 1, reports_dir=tmp_path / "r", clock=clock)
    qtbot.addWidget(tw)
    q = FrameQuality(120.0, 800.0, 50.0, False, False, False, 1.0)
    box = ((0, 0), (10, 0), (10, 5), (0, 5))
    r = FrameResult(frame_index=1, timestamp=5.0, image_size=(640, 480), detections=(), tracks=(), hazards=(), quality=q,
                    uncertainty=0.1, texts=(TextRead("PLATFORM 2", 0.93, box, 12, 0.0),))
    tw.on_frame(SimpleNamespace(result=r, rgb=np.zeros((48, 64, 3), np.uint8)))
    dlg = SessionDialog(store, 1, tw.visible_labels, clock, tw, plan=("reading",), camera_texts=tw.camera_texts)
    qtbot.addWidget(dlg)
    assert dlg.card.text() == "Read the text the camera sees" and "camera" in dlg.instruction.text()
    qtbot.keyClicks(dlg.answer, "platform 2")
    qtbot.keyClick(dlg.answer, Qt.Key.Key_Return)
    rows = store.therapy_trials(dlg.session.session_id)
    assert rows[-1]["prompt"] == "PLATFORM 2" and rows[-1]["correct"] == 1
    tw.on_frame(SimpleNamespace(result=FrameResult(frame_index=2, timestamp=30.0, image_size=(640, 480), detections=(), tracks=(),
                                                   hazards=(), quality=q, uncertainty=0.1), rgb=np.zeros((48, 64, 3), np.uint8)))
    assert tw.camera_texts() == ()                      # old text is not offered
    dlg.finish()
