"""The window answers in time and never loses a warning on its way to the screen reader (issue 27):
a key's own answer comes from the GUI thread even while the engine is stuck, Esc drops the hints
still waiting, arrowing a drop-down is said, Down on the Source box does not open the file dialog,
F10 opens the menus and F5 says what it starts. Offscreen; the screen reader is injected
(screen_reader=True), never read from the machine."""
from __future__ import annotations

import threading

import pytest

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.document_mode import DocumentMode
from maxsight_app.ui.main_window import CHOOSE_FILE
from maxsight_app.ui.qt import Qt, QtWidgets
from tests.ui.helpers import make_window, short_clip


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("default")
    s.set_preference(1, "speech", False)
    s.set_preference(1, "earcons", False)
    yield s
    s.close()


@pytest.fixture
def clip(eval_data, tmp_path):
    return short_clip(eval_data / "videos_walking_driving" / "opencv_vtest.avi", tmp_path / "short walk.avi", frames=300)


def said(w) -> list[str]:
    return [text for _, text, _ in w.announcer.history]


def ready(qtbot, w):
    """No camera here: the window offered the file dialog at start. Close it; the window has the keys."""
    if w.file_dialog is not None:
        w.file_dialog.reject()
        qtbot.waitUntil(lambda: w.file_dialog is None or not w.file_dialog.isVisible(), timeout=5000)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    return w


def danger(text="Stop! car, straight ahead, 2 metres"):
    return Cue(text, CueKind.HAZARD, Priority.NOW, Urgency.DANGER, 0.0, interrupt=True)


@pytest.mark.slow
def test_key_answers_come_from_the_window_while_the_engine_is_stuck(qtbot, store, installed_models, clip):
    """P's "Paused" and T's answer went through the engine's queue (4.8 s median, 19 s at worst
    under load). Here the engine thread is held inside a call while the keys are pressed: the
    answers must still be said, so they cannot be waiting on it."""
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(clip), screen_reader=True)
    qtbot.waitUntil(lambda: w.worker.running and w.last_view is not None, timeout=60000)
    gate, inside = threading.Event(), threading.Event()
    w.worker.call(lambda rt: (inside.set(), gate.wait(60)))
    qtbot.waitUntil(inside.is_set, timeout=30000)              # the engine thread is stuck from here on
    try:
        qtbot.keyClick(w, Qt.Key.Key_P)
        qtbot.waitUntil(lambda: "Paused. Press P to resume." in said(w), timeout=10000)
        assert not gate.is_set() and w.worker.paused and w.pause_button.text() == "Resume"
        assert "Paused. Press P to resume." in w.captions.text()
        qtbot.keyClick(w, Qt.Key.Key_T)
        qtbot.waitUntil(lambda: any(t.startswith("Reading text is not available") for t in said(w)), timeout=10000)
        w._text_reader_on = lambda: True                       # as with the text reader running
        qtbot.keyClick(w, Qt.Key.Key_T)
        qtbot.waitUntil(lambda: "Reading…" in said(w), timeout=10000)
        qtbot.keyClick(w, Qt.Key.Key_P)
        qtbot.waitUntil(lambda: "Resumed." in said(w), timeout=10000)
        # W, D and R: answered from the policy's last state, here, while the engine is still stuck.
        expected = [w.session.answer("summary").text, w.session.answer("describe").text]
        for key, text in zip((Qt.Key.Key_W, Qt.Key.Key_D), expected):
            qtbot.keyClick(w, key)
            qtbot.waitUntil(lambda: text in said(w), timeout=10000)
        qtbot.keyClick(w, Qt.Key.Key_R)
        qtbot.waitUntil(lambda: len(said(w)) and said(w)[-1] == w.session.answer("repeat").text, timeout=10000)
        assert not gate.is_set()
    finally:
        gate.set()
    # MaxSight's own voice (here the spy) still gets them, from the engine thread, in order.
    qtbot.waitUntil(lambda: expected[1] in [c.text for c in spy.cues], timeout=30000)
    texts = [c.text for c in spy.cues]
    assert texts.index("Paused. Press P to resume.") < texts.index("Reading…") < texts.index("Resumed.") < \
        texts.index(expected[0]) < texts.index(expected[1])
    w.shutdown()


def test_esc_drops_the_hints_still_waiting(qtbot, store, installed_models):
    w = ready(qtbot, make_window(qtbot, store, installed_models, SpyOutput(), screen_reader=True))
    w.session.say(danger())                                     # being read: what follows waits
    qtbot.waitUntil(lambda: said(w)[-1].startswith("Stop!"), timeout=10000)
    w._hint("Left edge not visible: move left.")
    w._say("Find mode off.")
    qtbot.waitUntil(lambda: len(w.announcer.waiting) == 2, timeout=10000)
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert w.announcer.waiting == []                            # at once, on the key
    # What is said after the key is not dropped by the stop reaching the engine later.
    w.find_mode.start(w.find_mode.check("person"))
    w.session.say(danger("Stop! bus, 1 o'clock, 3 metres"))
    qtbot.waitUntil(lambda: said(w)[-1].startswith("Stop! bus"), timeout=10000)
    qtbot.keyClick(w, Qt.Key.Key_Escape)                        # stops find mode: "Find mode off." waits its turn
    qtbot.waitUntil(lambda: "Find mode off." in said(w), timeout=15000)
    # Document mode: Esc leaves it; twelve framing hints kept coming for 47 s after it.
    dlg = DocumentMode(w._say, lambda fn: None, parent=w, hint=w._hint, leaving=w.stop_speech)
    dlg.show()
    qtbot.waitExposed(dlg)
    w.session.say(danger("Stop! stairs down, 1 metre"))
    qtbot.waitUntil(lambda: said(w)[-1].startswith("Stop! stairs"), timeout=10000)
    for side in ("left", "right", "top", "bottom"):
        dlg.hint(f"{side.capitalize()} edge not visible.")
    qtbot.waitUntil(lambda: any(k == "guidance" for _, k in w.announcer.waiting), timeout=10000)
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow, timeout=5000)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: "Left document mode." in said(w) + [t for t, _ in w.announcer.waiting], timeout=10000)
    assert not any(k == "guidance" for _, k in w.announcer.waiting)
    assert not any("edge not visible" in t for t in said(w))
    w.shutdown()


def test_arrowing_a_drop_down_is_said_and_down_on_source_does_not_open_the_file_dialog(qtbot, store, installed_models,
                                                                                       tmp_path):
    store.create_user("Sam")
    w = ready(qtbot, make_window(qtbot, store, installed_models, SpyOutput(), screen_reader=True))
    video = tmp_path / "car park.mp4"
    w._remember_source(str(video))             # as after a video was played: "File: car park.mp4", then "Choose…"
    w.source_box.setFocus()
    qtbot.waitUntil(w.source_box.hasFocus, timeout=5000)
    assert w.source_box.currentText() == "File: car park.mp4"
    n = len(said(w))
    w.source_box.setCurrentIndex(w.source_box.count() - 1)      # the program choosing (a video opened): not said
    w._remember_source(str(video))
    w.announcer.reply("(mark)")                                  # everything posted before it has been handled then
    qtbot.waitUntil(lambda: "(mark)" in said(w), timeout=10000)
    assert said(w)[n:] == ["(mark)"]
    qtbot.keyClick(w.source_box, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: CHOOSE_FILE in said(w), timeout=10000)
    assert w.source_box.currentText() == CHOOSE_FILE
    assert w.file_dialog is None or not w.file_dialog.isVisible()        # only moved there
    qtbot.keyClick(w.source_box, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: said(w)[-1] == "File: car park.mp4", timeout=10000)
    assert w._state == "idle"                                           # arrowing plays nothing
    qtbot.keyClick(w.source_box, Qt.Key.Key_Down)
    qtbot.keyClick(w.source_box, Qt.Key.Key_Return)                     # Enter on "Choose…" opens the dialog
    qtbot.waitUntil(lambda: w.file_dialog is not None and w.file_dialog.isVisible(), timeout=10000)
    w.file_dialog.reject()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    # The profile box, Settings' Who speaks and therapist mode's Vision condition.
    w.profile_box.setFocus()
    qtbot.waitUntil(w.profile_box.hasFocus, timeout=5000)
    qtbot.keyClick(w.profile_box, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: said(w)[-1] == "Sam", timeout=10000)
    for opener, name in ((w.open_settings, "Who speaks"), (w.open_therapist, "Vision condition")):
        dlg = opener()
        qtbot.waitExposed(dlg)
        boxes = [b for b in dlg.findChildren(QtWidgets.QComboBox) if b.accessibleName() == name]
        assert boxes, f"no drop-down named {name}"
        box = boxes[0]
        dlg.activateWindow()
        box.setFocus()
        qtbot.waitUntil(box.hasFocus, timeout=5000)
        before = box.currentIndex()
        qtbot.keyClick(box, Qt.Key.Key_Down if before < box.count() - 1 else Qt.Key.Key_Up)
        assert box.currentIndex() != before
        qtbot.waitUntil(lambda: said(w)[-1] == box.currentText(), timeout=10000)
        dlg.close()
    w.shutdown()


def test_f10_opens_the_menus_and_f5_says_what_it_starts(qtbot, store, installed_models, clip):
    w = ready(qtbot, make_window(qtbot, store, installed_models, SpyOutput(), screen_reader=True))
    qtbot.keyClick(w, Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: isinstance(QtWidgets.QApplication.activePopupWidget(), QtWidgets.QMenu), timeout=10000)
    menu = QtWidgets.QApplication.activePopupWidget()
    assert menu.title().replace("&", "") == "Video"
    menu.close()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    w._remember_source(str(clip))
    qtbot.keyClick(w, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: "Starting short walk.avi." in said(w), timeout=10000)
    qtbot.waitUntil(lambda: w.worker.running, timeout=60000)
    w.shutdown()


def test_the_hazard_list_is_rewritten_at_most_once_a_second_unless_what_it_lists_changes(qtbot, store,
                                                                                          installed_models):
    """Distances that change every frame rewrote the list ten times a second: that flooded Orca."""
    import time

    from maxsight_app.ui.main_window import HAZARD_REFRESH_S
    from maxsight_app.ui.widgets import HazardList
    from tests.unit.cues.test_policy import frame, hz
    w = ready(qtbot, make_window(qtbot, store, installed_models, SpyOutput()))
    profile = w.session.profile
    shown, t0 = [], time.monotonic()
    for i in range(30):                       # a person walking nearer, frame by frame
        w._show_hazards(frame(i / 10, hz(1, "person", d=8.0 - i * 0.1)), profile)
        if not shown or w.hazards.texts() != shown[-1]:
            shown.append(w.hazards.texts())
    elapsed = time.monotonic() - t0
    assert len(shown) <= 2 + int(elapsed / HAZARD_REFRESH_S)
    last = frame(2.9, hz(1, "person", d=8.0 - 2.9))
    expected = HazardList()
    qtbot.addWidget(expected)
    expected.show_hazards(last, profile, None)
    qtbot.waitUntil(lambda: w.hazards.texts() == expected.texts(), timeout=10000)     # the newest is never lost
    # Something new, or more urgent, is listed at once.
    w._show_hazards(frame(3.0, hz(1, "person", d=5.0), hz(2, "car", d=3.0, urgency=Urgency.DANGER)), profile)
    assert any("car" in t for t in w.hazards.texts())
    w.shutdown()


def test_a_box_names_its_object_as_the_cues_do():
    """The box said "stair_down" while speech said "something": one name for one object."""
    from maxsight_app.cues.phrasing import hazard_phrase
    from maxsight_app.profile.schema import Profile
    from maxsight_app.ui.widgets import box_text
    from tests.unit.cues.test_policy import hz
    unsure = hz(3, "stair_down", d=3.0, urgency=Urgency.DANGER, score=0.2)
    sure = hz(4, "stair_down", d=3.0, urgency=Urgency.WARNING, score=0.9)
    for h in (unsure, sure):
        spoken = hazard_phrase(h, Profile().units, 0.55, lead=False).split(",")[0]
        assert f": {spoken}, " in box_text(h, 0.55) and "stair_down" not in box_text(h, 0.55)
    assert ": something, " in box_text(unsure, 0.55)


def test_the_system_check_report_opens_with_the_cursor_at_its_start(qtbot):
    """F1's report was left with the cursor at its end: a screen reader user began reading there."""
    from maxsight_app.doctor import Check, Report
    from maxsight_app.ui.help import DoctorDialog
    checks = [Check("Python", "ok", "3.11"), Check("Camera", "missing", "no camera", "plug one in", required=False),
              Check("Models", "ok", "4 models")]

    def run(progress):
        for c in checks:
            progress(c)
        return Report(checks)
    said_ = []
    dlg = DoctorDialog(run=run, say=said_.append)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=30000)
    assert dlg.text.toPlainText().count("\n") == 2 and "Models" in dlg.text.toPlainText()
    assert dlg.text.textCursor().position() == 0


def test_settings_show_severity_in_percent_as_therapist_mode_does(qtbot, store):
    from maxsight_app.ui.settings_dialog import SettingsDialog
    store.set_preferences(1, {"vision_condition": "glaucoma", "vision_severity": 0.3})
    dlg = SettingsDialog(store, 1, [])
    qtbot.addWidget(dlg)
    box = dlg.fields["vision_severity"]
    assert box.text() == "30%"
    box.setValue(45)
    assert dlg.save() and store.profile(1).vision_severity == pytest.approx(0.45)


def test_box_labels_stay_small_beside_the_picture_at_the_largest_text_size(qtbot):
    from maxsight_app.ui.qt import QtGui
    from maxsight_app.ui.widgets import PreviewWidget
    pw = PreviewWidget()
    qtbot.addWidget(pw)
    f = pw.font()
    f.setPointSizeF(30.0)                       # text size 3
    pw.setFont(f)
    for height in (300, 480, 720):
        assert QtGui.QFontMetrics(pw.label_font(height)).height() <= max(11, height / PreviewWidget.LABEL_LINES)
    f.setPointSizeF(10.0)
    pw.setFont(f)
    assert pw.label_font(720).pointSizeF() == 10.0          # normal text is left as it is


def test_tab_into_an_empty_field_is_an_ordinary_focus_in(qtbot):
    """Orca read an empty field as nothing (or "Text unselected"): the selection and caret events of
    a Tab focus-in came before the focus event (tests/desktop/test_orca_announcer.py hears it)."""
    from maxsight_app.ui.a11y import FocusFirst, install_focus_first
    install_focus_first()
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    lay = QtWidgets.QVBoxLayout(w)
    button, empty, filled = QtWidgets.QPushButton("First"), QtWidgets.QLineEdit(), QtWidgets.QLineEdit("hello")
    for x in (button, empty, filled):
        lay.addWidget(x)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    button.setFocus()
    before = FocusFirst.sent
    qtbot.keyClick(button, Qt.Key.Key_Tab)
    qtbot.waitUntil(empty.hasFocus, timeout=5000)
    assert FocusFirst.sent == before + 1
    qtbot.keyClicks(empty, "cup")
    assert empty.text() == "cup"                                  # the field works as before
    qtbot.keyClick(empty, Qt.Key.Key_Tab)
    qtbot.waitUntil(filled.hasFocus, timeout=5000)
    assert FocusFirst.sent == before + 1 and filled.selectedText() == "hello"     # a filled one is selected, as before
