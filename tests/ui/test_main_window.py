"""The desktop window, offscreen, with real models, a real video and a spy output."""
from __future__ import annotations

from pathlib import Path

import pytest

from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.main_window import MainWindow
from maxsight_app.ui.qt import Qt, QtWidgets

OUT = Path(__file__).resolve().parents[2] / "test-output"
INTERACTIVE = (QtWidgets.QAbstractButton, QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit,
               QtWidgets.QAbstractItemView, QtWidgets.QTextEdit, QtWidgets.QAbstractSlider)


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("default")
    s.set_preference(1, "speech", False)     # no espeak timing in UI tests; the spy hears every cue
    s.set_preference(1, "earcons", False)
    yield s
    s.close()


def make_window(qtbot, store, registry, spy, **kw):
    kw.setdefault("stage_b", False)          # one Stage B process is tested on its own below
    w = MainWindow(store, 1, registry, extra_outputs=[spy], probe_cameras=False, **kw)
    qtbot.addWidget(w)
    w.resize(1280, 760)
    w.show()
    qtbot.waitExposed(w)
    if w.file_dialog is None or not w.file_dialog.isVisible():
        w.activateWindow()          # shortcuts are window shortcuts: the window must have focus
        qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    return w


@pytest.mark.slow
def test_window_processes_a_real_video_and_lists_hazards(qtbot, store, installed_models, eval_data):
    spy = SpyOutput()
    video = eval_data / "videos_walking_driving" / "opencv_vtest.avi"
    w = make_window(qtbot, store, installed_models, spy, source=str(video))
    qtbot.waitUntil(lambda: any("person" in w.hazards.item(i).text() for i in range(w.hazards.count())), timeout=60000)
    qtbot.waitUntil(lambda: len(spy.cues) > 0, timeout=60000)
    # The event loop kept running while the engine worked on its own thread.
    assert len(w.ui_lags_ms) >= 10
    assert w.fps_label.text() != "0 fps" and w.stage_a_label.text().startswith("Stage A ")
    OUT.mkdir(exist_ok=True)
    assert w.grab().save(str(OUT / "main_window.png"))
    # Cues also reach the captions panel for people who cannot hear them.
    qtbot.waitUntil(lambda: spy.cues[0].text in w.captions.toPlainText(), timeout=5000)
    w.shutdown()


@pytest.mark.slow
def test_shortcuts_trigger_their_actions(qtbot, store, installed_models, eval_data):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(eval_data / "videos_walking_driving" / "opencv_vtest.avi"))
    qtbot.waitUntil(lambda: w.worker.running and w.hazards.count() > 0, timeout=60000)
    def press(key, expect):
        before = len(spy.events)
        qtbot.keyClick(w, key)
        qtbot.waitUntil(lambda: any(expect(ev) for ev in spy.events[before:]), timeout=10000)
    press(Qt.Key.Key_W, lambda ev: ev[1] is not None and ev[1].kind is CueKind.SUMMARY)
    press(Qt.Key.Key_R, lambda ev: ev[1] is not None and ev[1].kind is CueKind.REPEAT)
    press(Qt.Key.Key_S, lambda ev: ev[1] is not None and "Quiet for 5 minutes" in ev[1].text)
    press(Qt.Key.Key_T, lambda ev: ev[1] is not None and "Reading text is not available" in ev[1].text)   # no Stage B here
    press(Qt.Key.Key_D, lambda ev: ev[1] is not None and ev[1].kind is CueKind.SUMMARY and "I see person" in ev[1].text)
    press(Qt.Key.Key_Escape, lambda ev: ev == ("cancel", None))
    qtbot.keyClick(w, Qt.Key.Key_P)
    assert w.worker.paused and w.pause_button.text() == "Resume"
    qtbot.keyClick(w, Qt.Key.Key_P)
    assert not w.worker.paused
    qtbot.keyClick(w, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert w.settings_dialog.isVisible()
    w.settings_dialog.reject()
    w.shutdown()


def test_settings_persist_and_apply_live(qtbot, store, installed_models, tmp_path):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy)
    dlg = w.open_settings()
    dlg.fields["units"].setCurrentText("steps")
    dlg.fields["cooldown_s"].setValue(20.0)
    dlg.fields["text_scale"].setValue(1.5)
    dog = dlg.classes.findItems("dog", Qt.MatchFlag.MatchExactly)[0]
    dog.setCheckState(Qt.CheckState.Unchecked)
    assert dlg.save()
    assert w.session.profile.units.value == "steps" and w.session.profile.cooldown_s == 20.0      # live
    assert w.session.profile.class_weights["dog"] == 0.0
    w.shutdown()
    path = store.path
    store.close()
    reopened = ProfileStore(path)                                                              # a restart
    assert reopened.preferences(1)["units"] == "steps" and reopened.preferences(1)["text_scale"] == 1.5
    w2 = MainWindow(reopened, 1, installed_models, extra_outputs=[SpyOutput()], probe_cameras=False, stage_b=False)
    qtbot.addWidget(w2)
    assert w2.open_settings().fields["units"].currentText() == "steps"
    w2.shutdown()
    reopened.close()


def test_warnings_flash_the_whole_window_with_words_and_direction(qtbot, store, installed_models):
    from engine.types import Urgency
    from maxsight_app.cues.types import Cue, Priority
    w = make_window(qtbot, store, installed_models, SpyOutput())
    w.session.say(Cue("car, 2 o'clock, 4 metres, approaching", CueKind.HAZARD, Priority.NEXT, Urgency.WARNING, 0.0,
                      track_id=3, label="car", bearing_deg=55.0, distance_m=4.0))
    qtbot.waitUntil(w.flash.isVisible, timeout=3000)
    assert "car, 2 o'clock, 4 metres, approaching" in w.flash.text() and "2 o'clock" in w.flash.text()
    assert w.flash.geometry() == w.rect()
    assert "WARNING car, 2 o'clock" in w.captions.toPlainText()
    store.set_preference(1, "screen_alerts", False)
    w.flash.hide()
    w.session.say(Cue("bus, ahead, 3 metres", CueKind.HAZARD, Priority.NOW, Urgency.DANGER, 0.0, bearing_deg=0.0, distance_m=3.0))
    qtbot.waitUntil(lambda: "bus, ahead" in w.captions.toPlainText(), timeout=3000)
    assert not w.flash.isVisible()                  # the user turned flashing off
    w.shutdown()


def test_text_size_shortcut_scales_and_persists(qtbot, store, installed_models, tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"no")                  # a source that fails fast keeps the no-camera picker closed
    w = make_window(qtbot, store, installed_models, SpyOutput(), source=str(bad))
    qtbot.waitUntil(lambda: "cannot be read" in w.preview.message, timeout=10000)
    before = w.hazards.font().pointSizeF()
    qtbot.keyClick(w, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert store.preferences(1)["text_scale"] == pytest.approx(1.15)
    assert w.hazards.font().pointSizeF() == pytest.approx(before * 1.15, rel=0.02)
    qtbot.keyClick(w, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert store.preferences(1)["high_contrast"] is True
    w.shutdown()
    from maxsight_app.ui.theme import apply_theme
    apply_theme(QtWidgets.QApplication.instance(), False, 1.0)      # leave the app as other tests expect it


def test_bad_setting_is_reported_by_field_and_not_saved(qtbot, store, installed_models):
    w = make_window(qtbot, store, installed_models, SpyOutput())
    dlg = w.open_settings()
    dlg.fields["haptic_port"].setText("/dev/ttyUSB0")
    dlg.fields["voice"].setText("") if isinstance(dlg.fields["voice"], QtWidgets.QLineEdit) else None
    # No widget lets a value out of bounds, so feed the store path a bad value the way an import would.
    dlg.fields["units"].addItem("yards")
    dlg.fields["units"].setCurrentText("yards")
    assert not dlg.save()
    assert dlg.error.text().startswith("units: must be one of")
    assert store.preferences(1)["haptic_port"] == ""        # all or nothing
    w.shutdown()


def test_no_camera_shows_the_message_and_a_file_picker(qtbot, store, installed_models):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy)          # no source, no cameras
    assert "No camera was found" in w.preview.message
    assert w.file_dialog is not None and w.file_dialog.isVisible()
    assert any("No camera was found" in c.text for c in spy.cues)    # spoken too
    w.shutdown()


def test_bad_video_is_a_message_not_a_crash(qtbot, store, installed_models, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video" * 50)
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(bad))
    qtbot.waitUntil(lambda: "cannot be read as a video" in w.preview.message, timeout=10000)
    assert w.preview.message.startswith("Broken.mp4") or "broken.mp4" in w.preview.message
    w.shutdown()


def _inside_file_dialog(widget) -> bool:
    """Qt's (or the desktop's native) file picker carries its own accessibility."""
    p = widget.parentWidget()
    while p is not None:
        if isinstance(p, QtWidgets.QFileDialog):
            return True
        p = p.parentWidget()
    return False


def test_every_interactive_widget_has_an_accessible_name(qtbot, store, installed_models):
    w = make_window(qtbot, store, installed_models, SpyOutput())
    dlg = w.open_settings()
    unnamed = []
    for root in (w, dlg):
        for child in root.findChildren(QtWidgets.QWidget):
            if isinstance(child, INTERACTIVE) and child.isVisibleTo(root) and not child.accessibleName():
                # Qt's own helper parts (scroll bars inside lists, tab scrollers) are named by their owner.
                if isinstance(child, QtWidgets.QScrollBar) or child.objectName().startswith("qt_") or _inside_file_dialog(child):
                    continue
                unnamed.append(f"{type(child).__name__} {child.objectName()!r} {getattr(child, 'text', lambda: '')()!r}")
    assert unnamed == []
    assert all(a.shortcut().toString() for a in w.actions.values())
    w.shutdown()


@pytest.mark.slow
def test_window_runs_stage_b_sounds_in_its_own_process(qtbot, store, installed_models, eval_data):
    w = make_window(qtbot, store, installed_models, SpyOutput(), stage_b=True,
                    source=str(eval_data / "videos_walking_driving" / "udacity_vehicle-detection_test_video.mp4"))
    sched = w.runtime.stage_b
    assert sched is not None and w.stage_b_label.text() == "Stage B: sounds + captions + ocr + recognition"
    qtbot.waitUntil(lambda: getattr(w, "last_view", None) is not None and w.last_view.result.stage_b is not None, timeout=30000)
    assert sched._proc.is_alive() and w.last_view.result.stage_b.disabled == ()
    pid = sched.worker_pid
    w.shutdown()
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    import os
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


@pytest.mark.slow
def test_teaching_an_object_from_the_window(qtbot, store, installed_models, eval_data):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(eval_data / "videos_walking_driving" / "opencv_vtest.avi"))
    qtbot.waitUntil(lambda: bool(getattr(w, "last_view", None) is not None and w.last_view.result.hazards), timeout=60000)
    assert w.teach_current("my friend Sam") == "I will remember my friend Sam."
    rows = list(store.personal_items(1).values())
    assert rows and set(rows) == {"my friend Sam"}
    qtbot.waitUntil(lambda: any(c.text == "I will remember my friend Sam." for c in spy.cues), timeout=5000)
    assert "Ctrl+M" in w.actions["teach"].shortcut().toString()
    w.shutdown()
