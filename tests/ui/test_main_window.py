"""The desktop window, offscreen, with real models, a real video and a spy output."""
from __future__ import annotations

import pytest

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.main_window import MainWindow
from maxsight_app.ui.qt import QAccessible, Qt, QtWidgets
from tests.ui.helpers import INTERACTIVE, OUT, make_window, short_clip


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("default")
    s.set_preference(1, "speech", False)     # no espeak timing in UI tests; the spy hears every cue
    s.set_preference(1, "earcons", False)
    yield s
    s.close()


@pytest.fixture
def vtest(eval_data):
    return eval_data / "videos_walking_driving" / "opencv_vtest.avi"


def heard(spy, text: str) -> int:
    return sum(text in c.text for c in spy.cues)


@pytest.mark.slow
def test_window_processes_a_real_video_and_lists_hazards(qtbot, store, installed_models, vtest):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(vtest))
    qtbot.waitUntil(lambda: any("person" in t for t in w.hazards.texts()), timeout=60000)
    qtbot.waitUntil(lambda: len(spy.cues) > 0, timeout=60000)
    # The event loop kept running while the engine worked on its own thread.
    assert len(w.ui_lags_ms) >= 10
    qtbot.waitUntil(lambda: w.status.metric_text("fps").endswith(" fps"), timeout=5000)
    assert w.status.metric_text("stage_a").startswith("Stage A ") and " fps  ·  Stage A " in w.status.numbers.text()
    # The Source box names the file being watched.
    assert w.source_box.currentText() == "File: opencv_vtest.avi" and w.source_box.currentData() == str(vtest)
    OUT.mkdir(exist_ok=True)
    assert w.grab().save(str(OUT / "main_window.png"))
    # Cues also reach the captions panel for people who cannot hear them.
    qtbot.waitUntil(lambda: spy.cues[0].text in w.captions.text(), timeout=5000)
    w.shutdown()


@pytest.mark.slow
def test_shortcuts_trigger_their_actions(qtbot, store, installed_models, vtest):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(vtest))
    qtbot.waitUntil(lambda: w.worker.running and w.last_view is not None, timeout=60000)

    def press(key, expect, mod=Qt.KeyboardModifier.NoModifier):
        before = len(spy.events)
        qtbot.keyClick(w, key, mod)
        qtbot.waitUntil(lambda: any(expect(ev) for ev in spy.events[before:]), timeout=10000)
    press(Qt.Key.Key_W, lambda ev: ev[1] is not None and ev[1].kind is CueKind.SUMMARY)
    press(Qt.Key.Key_R, lambda ev: ev[1] is not None and ev[1].kind is CueKind.REPEAT)
    assert not w.status.snoozed
    press(Qt.Key.Key_S, lambda ev: ev[1] is not None and "Quiet for 5 minutes" in ev[1].text)
    assert w.status.snoozed and "Snoozed until" in w.status.snooze.text()        # seen, not only heard
    press(Qt.Key.Key_T, lambda ev: ev[1] is not None and "Reading text is not available" in ev[1].text)   # no Stage B here
    press(Qt.Key.Key_D, lambda ev: ev[1] is not None and ev[1].kind is CueKind.SUMMARY and "I see" in ev[1].text)
    press(Qt.Key.Key_Escape, lambda ev: ev == ("cancel", None))
    # Pause is a button whose words say what it will do, and pausing is spoken.
    press(Qt.Key.Key_P, lambda ev: ev[1] is not None and ev[1].text.startswith("Paused"))
    assert w.worker.paused and w.pause_button.text() == "Resume" and not w.pause_button.isCheckable()
    assert QAccessible.queryAccessibleInterface(w.pause_button).role() == QAccessible.Role.Button
    assert QAccessible.queryAccessibleInterface(w.pause_button).text(QAccessible.Text.Name) == "Resume"
    press(Qt.Key.Key_P, lambda ev: ev[1] is not None and ev[1].text == "Resumed.")
    assert not w.worker.paused
    assert QAccessible.queryAccessibleInterface(w.start_button).text(QAccessible.Text.Name) == "Stop"
    qtbot.keyClick(w, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert w.settings_dialog.isVisible()
    w.settings_dialog.reject()
    # Quit is an action with a key, and it ends the engine.
    assert w.actions["quit"].shortcut().toString() == "Ctrl+Q"
    w.actions["quit"].trigger()
    assert w.worker is None and not w.isVisible()


def test_ctrl_q_quits_from_therapist_mode_and_settings(qtbot, store, installed_models):
    """Therapist mode and settings are window-modal dialogs: the main window's Quit action never
    saw Ctrl+Q there and the app stayed open (the 5-minute desktop run ended in therapist mode)."""
    w = make_window(qtbot, store, installed_models, SpyOutput())
    tw = w.open_therapist()
    qtbot.waitExposed(tw)
    qtbot.keyClick(tw, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=30000)
    # Closed and deleted with the window: Qt deletes it later in the event loop, which a busy machine
    # reaches after the window is hidden, so this waits for the deletion itself.
    qtbot.waitUntil(lambda: w.therapist is None, timeout=30000)
    w2 = make_window(qtbot, store, installed_models, SpyOutput())
    dlg = w2.open_settings()
    qtbot.keyClick(dlg, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not w2.isVisible(), timeout=30000)
    assert w.worker is None and w2.worker is None   # the engines ended; both dialogs went with their windows


@pytest.mark.slow
def test_end_of_video_leaves_nothing_stale_and_f5_plays_it_again(qtbot, store, installed_models, vtest, tmp_path):
    clip = short_clip(vtest, tmp_path / "short walk.avi", frames=25)
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(clip))
    qtbot.waitUntil(lambda: w.last_view is not None, timeout=60000)
    assert w.preview.has_frame and w.start_button.text() == "Stop"
    qtbot.waitUntil(lambda: heard(spy, "The video has ended") == 1, timeout=60000)
    assert not w.preview.has_frame and "has ended" in w.preview.message and "F5" in w.preview.message
    assert w.hazards.texts() == ["Nothing is being watched: the video has ended."]
    assert w.status.numbers.text().startswith("Not running  ·  Stage B: off") and " fps" not in w.status.numbers.text()
    assert w.start_button.text() == "Start" and not w.preview.banner.isVisible()
    assert w.source_box.currentText() == "File: short walk.avi"
    # F5 plays the same file again; it does not open the file picker.
    frames_before = w.last_view.result.frame_index
    qtbot.keyClick(w, Qt.Key.Key_F5)
    assert w.file_dialog is None or not w.file_dialog.isVisible()
    qtbot.waitUntil(lambda: w.preview.has_frame, timeout=60000)
    assert w.current_source == str(clip) and w.last_view.result.frame_index <= frames_before
    qtbot.waitUntil(lambda: heard(spy, "The video has ended") == 2, timeout=60000)
    w.shutdown()


@pytest.mark.slow
def test_a_bad_file_does_not_stop_the_video_that_plays(qtbot, store, installed_models, vtest, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video" * 50)
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(vtest))
    qtbot.waitUntil(lambda: w.worker.running and w.last_view is not None, timeout=60000)
    w.start(str(bad))
    assert "cannot be read as a video" in w.status.message.text()
    qtbot.waitUntil(lambda: heard(spy, "cannot be read as a video") == 1, timeout=5000)
    seen = w.last_view.result.frame_index
    qtbot.waitUntil(lambda: w.last_view.result.frame_index > seen + 3, timeout=30000)      # still playing
    assert w.worker.running and w.current_source == str(vtest)
    assert w.source_box.currentText() == "File: opencv_vtest.avi"
    w.shutdown()


def test_settings_persist_and_apply_live(qtbot, store, installed_models, tmp_path):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy)
    dlg = w.open_settings()
    units = dlg.fields["units"]
    units.setCurrentIndex(units.findData("steps"))
    assert units.currentText() == "Steps"                          # words, not identifiers
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
    w2 = MainWindow(reopened, 1, installed_models, extra_outputs=[SpyOutput()], probe_cameras=False, stage_b=False,
                    screen_reader=False)
    qtbot.addWidget(w2)
    assert w2.open_settings().fields["units"].currentData() == "steps"
    w2.shutdown()
    reopened.close()


def test_warnings_show_a_banner_over_the_picture_with_the_words_once(qtbot, store, installed_models, vtest):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(vtest))
    qtbot.waitUntil(lambda: w.preview.has_frame, timeout=60000)
    w.session.say(Cue("car, 2 o'clock, 4 metres, approaching", CueKind.HAZARD, Priority.NEXT, Urgency.WARNING, 0.0,
                      track_id=3, label="car", bearing_deg=55.0, distance_m=4.0, clock=2))
    banner = w.preview.banner
    qtbot.waitUntil(banner.isVisible, timeout=3000)
    assert banner.text() == "▲ WARNING car, 2 o'clock, 4 metres, approaching"     # the direction once, not twice
    # Over the top of the picture, not over the whole window: the lists and controls stay readable.
    assert w.preview.rect().contains(banner.geometry()) and banner.height() < w.preview.height() / 2
    assert "WARNING car, 2 o'clock" in w.captions.text()
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=8000)               # it goes by itself
    store.set_preference(1, "screen_alerts", False)
    w.apply_profile()
    qtbot.waitUntil(lambda: not w.session.profile.screen_alerts, timeout=10000)      # applied on the engine thread
    w.session.say(Cue("bus, straight ahead, 3 metres", CueKind.HAZARD, Priority.NOW, Urgency.DANGER, 0.0, bearing_deg=0.0,
                      distance_m=3.0, clock=12))
    qtbot.waitUntil(lambda: heard(spy, "bus, straight ahead") == 1, timeout=3000)
    qtbot.wait(300)
    assert not banner.isVisible()                  # the user turned flashing off
    w.shutdown()


def test_text_size_shortcut_scales_and_persists(qtbot, store, installed_models, tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"no")                  # a source that fails fast keeps the no-camera picker closed
    w = make_window(qtbot, store, installed_models, SpyOutput(), source=str(bad))
    qtbot.waitUntil(lambda: "cannot be read" in w.preview.message, timeout=10000)
    before, button_before = w.hazards.font().pointSizeF(), w.start_button.font().pointSizeF()
    qtbot.keyClick(w, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    assert store.preferences(1)["text_scale"] == pytest.approx(1.15)
    assert "Text size 115%." in w.captions.text()                                  # the key's answer, at once
    qtbot.waitUntil(lambda: w.hazards.font().pointSizeF() == pytest.approx(before * 1.15, rel=0.02), timeout=5000)
    assert w.start_button.font().pointSizeF() == pytest.approx(button_before * 1.15, rel=0.02)   # every widget, not the lists only
    qtbot.keyClick(w, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    assert store.preferences(1)["high_contrast"] is True
    w.shutdown()
    from maxsight_app.ui.theme import apply_theme
    apply_theme(QtWidgets.QApplication.instance(), False, 1.0)      # leave the app as other tests expect it


def test_a_note_is_said_once_however_often_settings_change(qtbot, store, installed_models, monkeypatch):
    """'Sound is off' (no sound device) is said once, not again on every Ctrl+H, Ctrl++, Ctrl+-, settings save
    or therapist save; and since MaxSight's own voice is off, cues go to the screen reader and it says so."""
    from maxsight_app.outputs import audio
    monkeypatch.setattr(audio.SoundDeviceSink, "check", lambda self: "no sound output device was found")
    store.set_preferences(1, {"speech": True, "speech_output": "own_voice"})
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy)
    assert heard(spy, "Sound is off") == 1 and heard(spy, "so cues go to your screen reader") == 1
    assert w.announcer in w.session.outputs            # a blind user still gets every cue
    for key in (Qt.Key.Key_H, Qt.Key.Key_Plus, Qt.Key.Key_Minus, Qt.Key.Key_H):
        qtbot.keyClick(w, key, Qt.KeyboardModifier.ControlModifier)
    dlg = w.open_settings()
    dlg.fields["volume"].setValue(0.5)                 # an output preference: the outputs are rebuilt
    assert dlg.save()
    tw = w.open_therapist()
    tw.save()
    qtbot.wait(200)
    assert heard(spy, "Sound is off") == 1 and w.captions.text().count("Sound is off") == 1
    assert sum("Sound is off" in text for _, text, _ in w.announcer.history) == 1
    w.shutdown()
    from maxsight_app.ui.theme import apply_theme
    apply_theme(QtWidgets.QApplication.instance(), False, 1.0)


def test_bad_setting_is_reported_by_field_and_not_saved(qtbot, store, installed_models):
    w = make_window(qtbot, store, installed_models, SpyOutput())
    dlg = w.open_settings()
    dlg.fields["haptic_port"].setText("/dev/ttyUSB0")
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
    assert w.hazards.texts() == ["No video or camera yet: press Ctrl+O to open a video file."]    # never an empty list
    w.shutdown()


def test_bad_video_is_a_message_not_a_crash(qtbot, store, installed_models, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video" * 50)
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(bad))
    qtbot.waitUntil(lambda: "cannot be read as a video" in w.preview.message, timeout=10000)
    assert w.preview.message.startswith("Broken.mp4") or "broken.mp4" in w.preview.message
    qtbot.waitUntil(lambda: w.hazards.texts() == ["Nothing is being watched: the source could not be read."], timeout=5000)
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
            if not isinstance(child, INTERACTIVE) or not child.isVisibleTo(root) or _inside_file_dialog(child):
                continue
            if isinstance(child, QtWidgets.QScrollBar) or child.objectName().startswith("qt_"):
                continue        # Qt's own helper parts (scroll bars inside lists) are named by their owner
            name = QAccessible.queryAccessibleInterface(child).text(QAccessible.Text.Name)
            if not name and not child.accessibleName():
                unnamed.append(f"{type(child).__name__} {child.objectName()!r} {getattr(child, 'text', lambda: '')()!r}")
    assert unnamed == []
    assert all(a.shortcut().toString() for a in w.actions.values())
    # A button's spoken name holds its visible words (WCAG 2.5.3 label in name).
    for b in w.findChildren(QtWidgets.QPushButton):
        visible = b.text().replace("&", "").rstrip("…")
        assert visible in QAccessible.queryAccessibleInterface(b).text(QAccessible.Text.Name), b.text()
    w.shutdown()


def test_closed_dialogs_leave_the_accessibility_tree(qtbot, store, installed_models):
    w = make_window(qtbot, store, installed_models, SpyOutput())
    if w.file_dialog is not None:
        w.file_dialog.reject()
    for opener, attr in ((w.open_settings, "settings_dialog"), (w.open_therapist, "therapist")):
        for _ in range(3):
            dlg = opener()
            qtbot.waitExposed(dlg)
            dlg.close()
            qtbot.waitUntil(lambda: getattr(w, attr) is None, timeout=5000)
    qtbot.waitUntil(lambda: not [t for t in QtWidgets.QApplication.topLevelWidgets()
                                 if isinstance(t, QtWidgets.QDialog)], timeout=5000)
    w.shutdown()


@pytest.mark.slow
def test_window_runs_stage_b_sounds_in_its_own_process(qtbot, store, installed_models, eval_data):
    w = make_window(qtbot, store, installed_models, SpyOutput(), stage_b=True,
                    source=str(eval_data / "videos_walking_driving" / "udacity_vehicle-detection_test_video.mp4"))
    sched = w.runtime.stage_b
    assert sched is not None and w.status.metric_text("stage_b") == "Stage B: sounds + captions + ocr + recognition"
    qtbot.waitUntil(lambda: w.last_view is not None and w.last_view.result.stage_b is not None, timeout=30000)
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
def test_teaching_shows_and_says_what_it_takes(qtbot, store, installed_models, vtest):
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, source=str(vtest))
    qtbot.waitUntil(lambda: bool(w.last_view is not None and w.last_view.result.hazards), timeout=60000)
    qtbot.keyClick(w, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    dlg = w.teach_dialog
    assert dlg is not None and dlg.isVisible()
    words = dlg.target.words
    assert words.startswith("the ") and words in dlg.what.text()                 # shown before anything is learnt
    assert w.preview.marked == dlg.target.box and dlg.target.box is not None     # and outlined on the picture
    assert not dlg.picture.pixmap().isNull()
    qtbot.keyClicks(dlg.name, "my friend Sam")
    qtbot.keyClick(dlg.name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: heard(spy, "I will remember my friend Sam: " + words) == 1, timeout=10000)
    rows = list(store.personal_items(1).values())
    assert rows and set(rows) == {"my friend Sam"}
    assert w.preview.marked is None
    w.shutdown()


def test_ticking_an_object_or_a_sound_is_announced(qtbot, store):
    from maxsight_app.ui.settings_dialog import SettingsDialog
    said = []
    dlg = SettingsDialog(store, 1, [], announce=said.append)
    qtbot.addWidget(dlg)
    assert said == []                                  # filling the lists says nothing
    dlg.classes.findItems("dog", Qt.MatchFlag.MatchExactly)[0].setCheckState(Qt.CheckState.Unchecked)
    dlg.sounds.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert said == ["dog, not ticked", f"{dlg.sounds.item(0).text()}, not ticked"]
    dlg.classes.findItems("dog", Qt.MatchFlag.MatchExactly)[0].setCheckState(Qt.CheckState.Checked)
    assert said[-1] == "dog, ticked"
    # Choices read as words; the profile keeps the identifiers.
    verbosity = dlg.fields["verbosity"]
    assert [verbosity.itemText(i) for i in range(verbosity.count())][0] == "Dangers only"
    assert dlg.values()["verbosity"] == "normal"
    dlg.reject()


def test_the_hazard_list_names_what_whats_around_me_names(qtbot):
    """The list shows every tracked object in the cue words, so it never says "no hazards" while W
    (what's around me) names one: each object W names is a row of the list."""
    from maxsight_app.cues.policy import CuePolicy
    from maxsight_app.profile.schema import Profile
    from maxsight_app.ui.widgets import HazardList
    from tests.ui.test_contrast import hazard, result
    profile = Profile()
    scenes = [
        [hazard(Urgency.SAFE, (10, 10, 60, 120), 1, "person", 12, 6.0)],                       # W: "person, … 6 metres"
        [hazard(Urgency.SAFE, (10, 10, 60, 120), i, "person", 1 + i % 3, 8.0 + i) for i in range(10)],
        [hazard(Urgency.WARNING, (10, 10, 200, 300), 1, "car", 2, 4.0, True),
         hazard(Urgency.SAFE, (300, 10, 360, 120), 2, "chair", 3, 12.0)],
    ]
    lst = HazardList()
    qtbot.addWidget(lst)
    for hazards in scenes:
        r = result(hazards)
        policy = CuePolicy()
        policy.decide(r, profile, 0.0)
        said = policy.summary(profile, 0.1).text
        lst.show_hazards(r, profile)
        rows = lst.texts()
        assert not any(t.lower().startswith(("no hazard", "nothing")) for t in rows), rows
        named = [part for part in said.split("; ") if not part.startswith("and ")]
        assert named and len(rows) == len(hazards)
        for part in named:
            core = part.split(": ", 1)[-1].removeprefix("Warning, ").removeprefix("Stop! ")
            assert any(core in row for row in rows), f"W says {part!r}; the list says {rows}"


def _noise_clip(path, frames: int):
    """A silent MJPG clip of random pixels, 160 x 120 at 10 fps."""
    import cv2
    import numpy as np
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    writer.release()
    return path


def test_a_stage_b_crash_in_a_real_run_is_shown_and_said_once(qtbot, store, installed_models, tmp_path):
    """A Stage B processor that crashes while the window plays a video: the problem travels in the
    FrameResult from Pipeline.step to the status line and the screen reader, and is said once."""
    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    clip = _noise_clip(tmp_path / "noise.avi", 1800)             # 3 minutes: the run outlasts a busy machine
    spy = SpyOutput()
    w = make_window(qtbot, store, installed_models, spy, screen_reader=True)
    assert w.announcer in w.session.outputs
    shown, show = [], w.status.show_message
    w.status.show_message = lambda text, timeout_ms=0: (shown.append(text), show(text, timeout_ms))
    w.runtime.stage_b = w.runtime.pipeline.stage_b = StageBScheduler({"ocr": ProcessorSpec("tests.fakes.stage_b:crashes")})
    w.start(str(clip))
    qtbot.waitUntil(lambda: w.worker.running and w.last_view is not None, timeout=60000)
    asked = []
    w.worker.call(lambda rt: asked.append(rt.pipeline.request_text()))       # "read text now": the crash
    failed, restarted = "Stage B ocr failed (the worker died while running it", "The Stage B worker stopped unexpectedly"

    def said(text):
        return sum(text in t for _, t, _ in w.announcer.history)
    qtbot.waitUntil(lambda: said(failed) and said(restarted), timeout=120000)
    assert asked == [True]
    assert any(failed in t for t in shown) and any(restarted in t for t in shown), shown
    # Later frames do not say it again.
    seen = w.last_view.result.frame_index
    qtbot.waitUntil(lambda: w.last_view.result.frame_index >= seen + 10, timeout=120000)
    assert said(failed) == 1 and said(restarted) == 1 and heard(spy, failed) == 1
    w.shutdown()


def test_a_screen_reader_started_after_the_window_is_told_and_used(qtbot, store, installed_models):
    w = make_window(qtbot, store, installed_models, SpyOutput())
    assert w.screen_reader is False and w.announcer not in w.session.outputs
    w.screen_reader_changed(True)
    assert w.announcer in w.session.outputs
    assert "A screen reader is running: cues now go to it." in w.captions.text()
    w.screen_reader_changed(False)
    assert w.announcer not in w.session.outputs
    w.shutdown()
