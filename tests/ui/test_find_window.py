"""Find mode in the window, offscreen, on a real video with a spy output: F opens a named chooser
(type or choose; Escape cancels), the status shows "Finding: person", the spy hears "found" and the
tone, F again or Escape stops it, and the therapist view shows the target's findability."""
from __future__ import annotations

import pytest

from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.actions import SHORTCUTS
from maxsight_app.ui.qt import QAccessible, Qt, QtWidgets
from tests.ui.helpers import OUT, make_window


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("default")
    s.set_preference(1, "speech", False)     # no espeak timing in UI tests; the spy hears every cue
    s.set_preference(1, "earcons", False)
    yield s
    s.close()


def name_of(widget) -> str:
    return QAccessible.queryAccessibleInterface(widget).text(QAccessible.Text.Name)


def said(spy, text) -> bool:
    return any(text in c.text for c in spy.cues)


@pytest.mark.slow
def test_f_finds_by_keyboard_and_f_or_escape_stops(qtbot, store, installed_models, eval_data):
    assert SHORTCUTS["find"][0] == "F"
    spy = SpyOutput()
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    w = make_window(qtbot, store, installed_models, spy, source=str(video))
    qtbot.waitUntil(lambda: w.worker.running and w.last_view is not None, timeout=60000)
    assert w.actions["find"].shortcut().toString() == "F" and w.actions["find"] in w.menuBar().actions()[1].menu().actions()

    # F opens the chooser: focus in its named field, announced; Escape cancels it.
    qtbot.keyClick(w, Qt.Key.Key_F)
    dlg = w.find_mode.dialog
    assert dlg is not None and dlg.isVisible() and dlg.windowTitle() == "Find"
    qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is dlg.field, timeout=3000)
    assert name_of(dlg.field) == "What to find" and "Escape cancels" in dlg.field.accessibleDescription()
    assert name_of(dlg.list) == "Things you can find" and dlg.list.count() > 80
    OUT.mkdir(exist_ok=True)
    assert dlg.grab().save(str(OUT / "find_chooser.png"))
    qtbot.keyClick(dlg.field, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.find_mode.dialog is None, timeout=3000)
    assert not w.find_mode.active and not w.status.find.isVisibleTo(w)

    # What cannot be found is said in the chooser, which stays open.
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    qtbot.keyClick(w, Qt.Key.Key_F)
    dlg = w.find_mode.dialog
    qtbot.keyClicks(dlg.field, "unicorn")
    qtbot.keyClick(dlg.field, Qt.Key.Key_Return)
    assert dlg.isVisible() and dlg.message.text().startswith("I can't find 'unicorn'")

    # Typing filters the list; Enter takes the choice it reached ("pers" -> person).
    dlg.field.clear()
    qtbot.keyClicks(dlg.field, "pers")
    assert [dlg.list.item(i).text() for i in range(dlg.list.count()) if not dlg.list.item(i).isHidden()] == ["person"]
    qtbot.keyClick(dlg.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.find_mode.dialog is None, timeout=3000)
    assert w.find_mode.active and w.status.find.text() == "Finding: person" and w.status.find.isVisibleTo(w)
    assert name_of(w.status.find) == "Finding: person"          # read as its text
    qtbot.waitUntil(lambda: said(spy, "Finding person. Press F or Escape to stop."), timeout=5000)
    qtbot.waitUntil(lambda: any(c.kind is CueKind.FIND and c.text.startswith("person found, ") for c in spy.cues),
                    timeout=20000)
    qtbot.waitUntil(lambda: any(t is not None for t in spy.tones), timeout=10000)
    qtbot.waitUntil(lambda: w.preview.marked is not None, timeout=10000)      # the person followed, outlined
    OUT.mkdir(exist_ok=True)
    assert w.grab().save(str(OUT / "find_mode.png"))

    # The therapist sees how hard the target is to see, for the condition chosen there.
    tw = w.open_therapist()
    tw.set_condition("glaucoma")
    tw.severity.setValue(60)
    qtbot.waitUntil(lambda: tw.findability.text().startswith("Finding person, for Glaucoma at 60%: "), timeout=15000)
    assert any(word in tw.findability.text() for word in ("easy", "moderate", "hard"))
    tw.close()

    # F again stops find mode: said, the status line goes, the tone stops.
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    qtbot.keyClick(w, Qt.Key.Key_F)
    assert not w.find_mode.active and not w.status.find.isVisibleTo(w) and w.find_mode.dialog is None
    qtbot.waitUntil(lambda: said(spy, "Find mode off."), timeout=5000)
    qtbot.waitUntil(lambda: w.session.find is None and spy.tones[-1] is None, timeout=5000)
    assert w.preview.marked is None

    # Escape stops it too, and stops speech.
    w.find_mode.start(w.find_mode.check("person"))
    qtbot.waitUntil(lambda: w.session.find is not None, timeout=5000)
    before = len(spy.events)
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert not w.find_mode.active
    qtbot.waitUntil(lambda: ("cancel", None) in spy.events[before:] and w.session.find is None, timeout=5000)
    w.shutdown()


def test_the_door_needs_the_door_and_stairs_detector_or_is_found(qtbot, store, installed_models, eval_data):
    """Without the access model the chooser says so and stays open; with it, door starts find mode."""
    from maxsight_app.find import seeable_labels
    spy = SpyOutput()
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    w = make_window(qtbot, store, installed_models, spy, source=str(video))
    try:
        dlg = w.find_mode.choose()
        qtbot.keyClicks(dlg.field, "door")
        qtbot.keyClick(dlg.field, Qt.Key.Key_Return)
        if "door" in seeable_labels(w.runtime.pipeline):
            assert w.find_mode.active and w.status.find.text() == "Finding: door"
        else:
            assert dlg.isVisible() and not w.find_mode.active
            assert "door and stairs detector" in dlg.message.text()
            qtbot.waitUntil(lambda: any("door and stairs detector" in t for _, t, _ in w.announcer.history), timeout=3000)
        dlg.reject()
        # `maxsight run --source FILE --find WHAT` with the window: words that name nothing are one sentence.
        assert w.find_mode.start_words("unicorn") is False and not w.find_mode.active
        assert w.status.message.text().startswith("Find unicorn: I can't find 'unicorn'")
        assert w.find_mode.start_words("cups") is True and w.status.find.text() == "Finding: cup"
    finally:
        w.shutdown()


def test_the_instructions_are_said_once_and_typing_c_chooses_what_starts_with_c(qtbot, store, installed_models):
    """Find's instructions were announced, read with the field and read as the dialog's text, and
    again after every letter (the field's description changed); "c" chose "backpack"."""
    from maxsight_app.ui.find_mode import HOW
    w = make_window(qtbot, store, installed_models, SpyOutput(), screen_reader=True)
    try:
        dlg = w.find_mode.choose()
        qtbot.waitExposed(dlg)
        qtbot.waitUntil(lambda: QtWidgets.QApplication.focusWidget() is dlg.field, timeout=5000)
        assert dlg.field.accessibleDescription() == HOW
        assert dlg.message.buddy() is dlg.field          # the label is the field's, not more dialog text to read
        qtbot.keyClick(dlg.field, Qt.Key.Key_C)
        shown = [dlg.list.item(i).text() for i in range(dlg.list.count()) if not dlg.list.item(i).isHidden()]
        assert shown and "backpack" not in shown and all(
            t.lower().startswith("c") or any(x.startswith("c") for x in t.lower().split()) for t in shown)
        assert dlg.list.currentItem().text() == shown[0]
        assert dlg.field.accessibleDescription() == HOW   # unchanged: nothing is read again after a letter
        qtbot.keyClick(dlg.field, Qt.Key.Key_Down)        # the arrow says the choice it reached
        qtbot.waitUntil(lambda: any(t == shown[1] for _, t, _ in w.announcer.history), timeout=5000)
        qtbot.keyClicks(dlg.field, "kpa")                 # "ckpa": only inside "backpack": shown then
        assert [dlg.list.item(i).text() for i in range(dlg.list.count()) if not dlg.list.item(i).isHidden()] == ["backpack"]
        assert not any("Type what to find" in t for _, t, _ in w.announcer.history)     # never announced on top
        dlg.reject()
    finally:
        w.shutdown()


def test_watch_for_in_the_chooser_needs_the_text_reader(qtbot, store, installed_models):
    """Typed in Find's chooser, "watch for 75" is refused in one sentence when the text reader does
    not run (this window has no Stage B), and the chooser stays open; its list offers "watch for…",
    which puts the words' start in the field."""
    from engine.samples import sample_video
    from maxsight_app.ui.find_mode import WATCH_ITEM
    w = make_window(qtbot, store, installed_models, SpyOutput(), source=str(sample_video()))
    qtbot.waitUntil(lambda: w.worker.running and w.last_view is not None, timeout=60000)
    qtbot.keyClick(w, Qt.Key.Key_F)
    dlg = w.find_mode.dialog
    assert WATCH_ITEM in [dlg.list.item(i).text() for i in range(dlg.list.count())]
    qtbot.keyClicks(dlg.field, "watch for 75")
    qtbot.keyClick(dlg.field, Qt.Key.Key_Return)
    assert dlg.isVisible() and "needs the text reader" in dlg.message.text()
    dlg.field.clear()
    dlg._choose(WATCH_ITEM)
    assert dlg.field.text() == "watch for " and dlg.isVisible()
    dlg.reject()
    w.shutdown()
