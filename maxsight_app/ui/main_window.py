"""The main window: live preview, hazard list, captions, sound timeline, status; keyboard first
(every action has a shortcut and a menu entry: ui/actions.py) and screen-reader true (cues go to the
user's own screen reader through ui/announcer.py; every control is named by its visible label).

Nothing stale stays on screen: when a video ends or is stopped the picture, the list and the numbers
say so, and MaxSight says so once."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from engine.config import EngineConfig
from engine.models.registry import ModelError, Registry
from engine.types import Urgency
from maxsight_app.capture.video import SourceError, VideoFileSource, list_cameras
from maxsight_app.compose import Runtime, apply_profile, build_runtime, make_registry, set_screen_reader
from maxsight_app.cues.phrasing import sentence
from maxsight_app.cues.policy import quality_words
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.screen import ScreenOutput, VisualAlert
from maxsight_app.personal_objects import index_path
from maxsight_app.profile.store import ProfileStore
from maxsight_app.session import Session
from maxsight_app.ui.a11y import install_f10, install_focus_first, speak_choices
from maxsight_app.ui.actions import SHORTCUTS, QuitFromAnyWindow, build_actions
from maxsight_app.ui.announcer import GUIDANCE, NOTICE, REPLY, Announcer, ScreenReaderProbe, with_urgency_word
from maxsight_app.ui.engine_worker import EngineWorker, FrameView
from maxsight_app.ui.flow import FlowRow, pair
from maxsight_app.ui.qt import QObject, Qt, QThread, QtCore, QtGui, QtWidgets, Signal
from maxsight_app.ui.settings_dialog import SettingsDialog
from maxsight_app.ui.status import StatusStrip
from maxsight_app.ui.theme import apply_theme
from maxsight_app.ui.widgets import CaptionsPanel, HazardList, PreviewWidget, SoundTimeline, enlarge

log = logging.getLogger(__name__)
__all__ = ["MainWindow", "SHORTCUTS"]

SNOOZE_S = 300.0
COMPACT_LINES = 26      # below this many lines of text in the window's height, the Sounds list folds away
CHOOSE_FILE = "Choose a video file…"


SCREEN_READER_RECHECK_MS = 10_000      # how often to ask again whether a screen reader runs
HAZARD_REFRESH_S = 1.0                 # the hazard list's words change at most this often, unless what is listed changes


class _AlertBridge(QObject):
    """Screen alerts are emitted on the worker thread; this hops them to the GUI thread."""
    alert = Signal(object)


def _source_name(source: str) -> str:
    """A file's name; a picture sequence's img1/ by its sequence ("MOT17-02/img1")."""
    p = Path(source)
    return f"{p.parent.name}/{p.name}" if p.name == "img1" and p.parent.name else p.name


def _source_words(source: str) -> str:
    return f"camera {source}" if source.isdigit() else _source_name(source)


class MainWindow(QtWidgets.QMainWindow):
    startRequested = Signal(str)

    def __init__(self, store: ProfileStore, user_id: int, registry: Registry | None = None, config: EngineConfig | None = None,
                 extra_outputs: list | None = None, source: str | None = None, probe_cameras: bool = True,
                 stage_b: bool = True, screen_reader: bool | None = None, announcer_method: str = "auto"):
        super().__init__()
        probe = ScreenReaderProbe() if screen_reader is None else None       # asks while the window builds
        self.store, self.user_id = store, user_id
        self.registry = registry or make_registry()
        self.config = config or EngineConfig()
        self.setWindowTitle("MaxSight")
        self._lags: list[float] = []
        self._state = "idle"                 # idle | starting | running
        self._stop_when_started = False
        self._starting: str | None = None
        self._pending_source: str | None = None
        self.current_source: str | None = None
        self.last_view: FrameView | None = None
        self.settings_dialog: SettingsDialog | None = None
        self.therapist = None
        self.teach_dialog = None
        from maxsight_app.ui.document_mode import DocumentController
        from maxsight_app.ui.find_mode import FindController
        from maxsight_app.ui.window_port import WindowPort
        self.port = WindowPort(self)                # all the helpers below may use of this window
        self.find_mode = FindController(self.port)  # F: find mode (ui/find_mode.py)
        self.document_mode = DocumentController(self.port)   # Ctrl+D (ui/document_mode.py)
        from maxsight_app.ui.first_run import SetupController
        self.setup = SetupController(self.port)     # the set-up assistant (ui/first_run.py)
        self.file_dialog: QtWidgets.QFileDialog | None = None
        self._build_ui()
        self.announcer = Announcer(self, self.status.said, method=announcer_method)
        speak_choices(self, self.announcer.reply, [self.source_box, self.profile_box])     # arrowing is heard
        from maxsight_app.ui.help import install_help_menu
        self.help_actions = install_help_menu(self.port)   # Help: set-up assistant, each step again, system check (ui/help.py)
        self._bridge = _AlertBridge()
        self._bridge.alert.connect(self._on_alert)
        self.runtime: Runtime | None = None
        self.session: Session | None = None
        self.worker: EngineWorker | None = None
        self.apply_profile()            # the profile's theme and text size from the first paint
        self.screen_reader = probe.result(0.5) if probe is not None else bool(screen_reader)
        # A screen reader started (or quit) after MaxSight is noticed within SCREEN_READER_RECHECK_MS;
        # not when the caller said whether one runs (tests, the first-run set-up's own choice).
        self._reader_probe: ScreenReaderProbe | None = None
        if screen_reader is None:
            self._reader_timer = QtCore.QTimer(self)
            self._reader_timer.setInterval(SCREEN_READER_RECHECK_MS)
            self._reader_timer.timeout.connect(self._recheck_screen_reader)
            self._reader_timer.start()
        try:
            self.runtime = build_runtime(store.profile(user_id), self.config, registry=self.registry,
                                         personal_index=index_path(store, user_id), extra_outputs=extra_outputs,
                                         screen_listeners=[self._bridge.alert.emit], stage_b=stage_b,
                                         announcer=self.announcer, screen_reader=self.screen_reader,
                                         near_miss_log=(store.path, user_id))
        except ModelError as exc:
            self._problem(f"{exc}.")
            self.start_button.setEnabled(False)
            return
        self.session = self.runtime.session
        for n in self.runtime.notes:
            self._say(n)
        self.status.set_metric("stage_b", "Stage B: " + (" + ".join(self.runtime.stage_b_tasks) or "off"), now=True)
        pipeline = self.runtime.pipeline
        self.worker = EngineWorker(self.runtime)
        self.thread = QThread(self)
        self.thread.setObjectName("engine")
        self.worker.moveToThread(self.thread)
        self.startRequested.connect(self.worker.start)
        self.worker.frameReady.connect(self._on_frame)
        self.worker.problem.connect(self._problem)
        self.worker.notice.connect(self._say)
        self.worker.resultProblem.connect(self._result_problem)
        self.worker.status.connect(lambda text: self.status.show_message(text, 5000))
        self.worker.started.connect(self._on_started)
        self.worker.finished.connect(self._on_finished)
        self.thread.start()
        self.status.set_metric("device", f"Device: {pipeline.device}", now=True)
        self.status.set_metric("model", f"Model: {pipeline.detector.name}", now=True)
        self._fill_sources(probe_cameras)
        if source is not None:
            self.start(source)
        elif not self._cameras:
            self._no_camera()
        else:
            self.start(str(self._cameras[0]))

    # -- layout -------------------------------------------------------------------------------
    def _build_ui(self) -> None:
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        self.source_box = QtWidgets.QComboBox()
        self.source_box.setAccessibleName("Source")
        self.source_box.setAccessibleDescription("A camera or a video file to watch")
        self.source_box.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.open_button = QtWidgets.QPushButton("Open video…")
        self.open_button.setAccessibleName("Open video")
        self.open_button.setAccessibleDescription("Choose a video file to watch (Ctrl+O)")
        self.open_button.clicked.connect(self.open_file)
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.setAccessibleDescription("Start watching the chosen source, or stop (F5)")
        self.start_button.clicked.connect(self.start_stop)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setAccessibleDescription("Pause or resume what is playing (P)")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.profile_box = QtWidgets.QComboBox()
        self.profile_box.setAccessibleName("Profile")
        self.profile_box.setAccessibleDescription("Whose settings to use")
        for u in self.store.users():
            self.profile_box.addItem(u["name"], u["id"])
        self.profile_box.setCurrentIndex(max(0, self.profile_box.findData(self.user_id)))
        self.profile_box.currentIndexChanged.connect(self._profile_changed)
        self.settings_button = QtWidgets.QPushButton("Settings…")
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.setAccessibleDescription("Ctrl+comma")
        self.settings_button.clicked.connect(self.open_settings)
        self.therapist_button = QtWidgets.QPushButton("Therapist mode…")
        self.therapist_button.setAccessibleName("Therapist mode")
        self.therapist_button.setAccessibleDescription("Ctrl+T")
        self.therapist_button.clicked.connect(lambda: self.open_therapist())
        self.toolbar = FlowRow(spacing=6)
        self.toolbar.add(pair("Source:", self.source_box), self.open_button, self.start_button, self.pause_button,
                         pair("Profile:", self.profile_box), self.settings_button, self.therapist_button)
        self.preview = PreviewWidget()
        self.hazards = HazardList()
        self.captions = CaptionsPanel()
        self.sounds = SoundTimeline()
        side = QtWidgets.QVBoxLayout()
        side.setContentsMargins(0, 0, 0, 0)
        self.side_titles = []
        for title, w, stretch in (("Hazards", self.hazards, 5), ("Captions and alerts", self.captions, 3), ("Sounds", self.sounds, 1)):
            lab = QtWidgets.QLabel(title)
            f = lab.font()
            f.setBold(True)
            lab.setFont(f)
            lab.setBuddy(w)
            side.addWidget(lab)
            side.addWidget(w, stretch)
            self.side_titles.append(lab)
        self.side = QtWidgets.QWidget()
        self.side.setLayout(side)
        self.body = QtWidgets.QHBoxLayout()
        self.body.addWidget(self.preview, 3)
        self.body.addWidget(self.side, 2)
        self.status = StatusStrip()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 4)
        layout.addWidget(self.toolbar)
        layout.addLayout(self.body, 1)
        layout.addWidget(self.status)
        # Tab order follows reading order: controls left to right, then the lists.
        chain = [self.source_box, self.open_button, self.start_button, self.pause_button, self.profile_box,
                 self.settings_button, self.therapist_button, self.hazards, self.captions, self.sounds]
        for a, b in zip(chain, chain[1:]):
            QtWidgets.QWidget.setTabOrder(a, b)
        self.actions = build_actions(self, {
            "repeat": lambda: self.request("repeat"), "pause": self.toggle_pause,
            "summary": lambda: self.request("summary"), "read_text": lambda: self.request("read_text"),
            "describe": lambda: self.request("describe"), "snooze": lambda: self.request("snooze"),
            "stop_all": lambda: self.find_mode.escape(), "settings": self.open_settings, "open_file": self.open_file,
            "start_stop": self.start_stop, "bigger": lambda: self._scale_text(1.15), "smaller": lambda: self._scale_text(1 / 1.15),
            "contrast": self._toggle_contrast, "therapist": self.open_therapist, "teach": self.open_teach,
            "find": lambda: self.find_mode.toggle(),
            "document": self.open_document,
            "quit": self.close})
        self._f10 = install_f10(self)          # F10 opens the menus (README)
        install_focus_first()                  # text fields are read by name when Tab reaches them (ui/a11y.py)
        self._source_keys = False
        self.source_box.installEventFilter(self)
        self._quit_filter = QuitFromAnyWindow(self, self.close)
        QtWidgets.QApplication.instance().installEventFilter(self._quit_filter)
        self._hazards_at = -1e9
        self._hazards_key = None
        self._hazards_pending = None
        self._hazards_timer = QtCore.QTimer(self)
        self._hazards_timer.setSingleShot(True)
        self._hazards_timer.timeout.connect(self._show_pending_hazards)
        self.lag_timer = QtCore.QTimer(self)
        self.lag_timer.setInterval(50)
        self._lag_clock = QtCore.QElapsedTimer()
        self._lag_clock.start()
        self.lag_timer.timeout.connect(self._measure_lag)
        self.lag_timer.start()

    def _fit_body(self) -> None:
        """Narrow windows and large text give the lists more of the width; when fewer than
        COMPACT_LINES lines of text fit the window's height, the Sounds list folds into Captions and
        alerts (which already holds every sound heard), so the hazard rows keep the room."""
        scale = QtWidgets.QApplication.font().pointSizeF() / max(1.0, self._base_point_size())
        narrow = self.width() < 1000 or scale >= 1.4
        self.body.setStretch(0, 1 if narrow else 3)
        self.body.setStretch(1, 1 if narrow else 2)
        side = self.side.layout()          # title, list, title, list, title, list
        for i, stretch in zip((1, 3, 5), (6, 2, 1) if narrow else (5, 3, 1)):
            side.setStretch(i, stretch)
        line = QtGui.QFontMetrics(QtWidgets.QApplication.font()).height()
        compact = self.height() < COMPACT_LINES * line
        for w in (self.side_titles[2], self.sounds):
            w.setVisible(not compact)

    def _base_point_size(self) -> float:
        from maxsight_app.ui.theme import _BASE_POINT_SIZE
        return _BASE_POINT_SIZE.get(id(QtWidgets.QApplication.instance()), 10.0)

    def _fill_sources(self, probe: bool) -> None:
        self._cameras = list_cameras() if probe else []
        for i in self._cameras:
            self.source_box.addItem(f"Camera {i}", str(i))
        self.source_box.addItem(CHOOSE_FILE, "")
        self.source_box.activated.connect(self._source_chosen)

    def eventFilter(self, obj, event) -> bool:
        """The Source box: the arrow keys only move through it (each choice is said); Enter plays the
        choice or opens the file dialog. Qt plays (or opens) on every arrow, so Down on the box
        opened the file dialog at once."""
        if obj is self.source_box and event.type() == QtCore.QEvent.Type.KeyPress and not self.source_box.view().isVisible():
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._source_chosen(self.source_box.currentIndex(), keyboard=False)
                return True
            if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown,
                               Qt.Key.Key_Home, Qt.Key.Key_End):
                self._source_keys = True           # the box's own key handler runs next, and emits activated
                QtCore.QTimer.singleShot(0, lambda: setattr(self, "_source_keys", False))
        return super().eventFilter(obj, event)

    def _remember_source(self, source: str) -> None:
        """The Source box names what is being watched (and F5 plays it again)."""
        i = self.source_box.findData(source)
        if i < 0:
            self.source_box.insertItem(self.source_box.count() - 1, f"File: {_source_name(source)}", source)
            i = self.source_box.findData(source)
        self.source_box.setCurrentIndex(i)

    # -- engine control -----------------------------------------------------------------------
    def start(self, source: str) -> None:
        if self.worker is None:
            return
        if self._state != "idle":
            if not source.isdigit():
                try:                          # a bad file never stops what is playing
                    VideoFileSource(source).close()
                except SourceError as exc:
                    self._problem(sentence(str(exc)), keep_picture=True)
                    return
            self._pending_source = source
            if self._state == "starting":
                self._stop_when_started = True     # the worker clears a stop that comes before it starts
            else:
                self.worker.stop()
            return
        self._starting, self._state = source, "starting"
        if not self.preview.has_frame:
            self.preview.show_message(f"Opening {_source_words(source)}…")
        self.status.show_message(f"Opening {_source_words(source)}…")
        self.startRequested.emit(source)

    def start_stop(self) -> None:
        if self.worker is None:
            return
        if self._state == "running":
            self.worker.stop()
        elif self._state == "starting":
            self._stop_when_started = True
        else:
            data = self.source_box.currentData() or self.current_source
            if data:
                self._reply(f"Starting {_source_words(data)}.")       # F5's own answer, at once
                self.start(data)
            else:
                self.open_file()

    def _source_chosen(self, index: int, keyboard: bool = True) -> None:
        if keyboard and self._source_keys:
            return                                 # an arrow key: only the choice is said (see eventFilter)
        data = self.source_box.itemData(index)
        if data:
            if data != self.current_source or self._state == "idle":
                self.start(data)
        else:
            self.open_file()

    def open_file(self) -> None:
        """A non-blocking file picker: the window keeps working while it is open."""
        if self.file_dialog is None:
            start_dir = str(Path(self.current_source).parent) if self.current_source and not self.current_source.isdigit() \
                else str(Path.home())
            dlg = QtWidgets.QFileDialog(self, "Open a video file", start_dir,
                                        "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)")
            dlg.setFileMode(QtWidgets.QFileDialog.FileMode.ExistingFile)
            dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dlg.fileSelected.connect(self.start)
            dlg.destroyed.connect(lambda *_: setattr(self, "file_dialog", None))
            dlg.finished.connect(lambda *_: self._restore_source_box())
            self.file_dialog = dlg
        self.file_dialog.open()

    def _restore_source_box(self) -> None:
        if self.current_source is not None and self.source_box.currentData() == "":
            self._remember_source(self.current_source)

    def _no_camera(self) -> None:
        self._problem("No camera was found. Open a video file instead: press Ctrl+O.")
        self.open_file()

    def toggle_pause(self) -> None:
        if self.worker is None or self._state != "running":
            self._reply("Nothing is playing to pause.")
            return
        paused = not self.worker.paused
        self.worker.set_paused(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self._reply("Paused. Press P to resume.")
            self.status.show_message("Paused. Press P to resume.")
        else:
            self._reply("Resumed.")
            self.status.show_message("Running", 3000)

    def request(self, what: str) -> None:
        """On-demand cues: through the worker while it runs, directly when it does not."""
        if self.worker is None:
            return
        if what == "snooze":
            self.status.show_snooze(SNOOZE_S)
        if what == "stop":
            # Esc: the screen reader's queue is dropped here, at once; the other outputs stop on the
            # engine thread. Through the session's stop the announcer was cancelled again later,
            # from the engine, and lost what was said after the key ("Find mode off.").
            self.announcer.cancel()
            announcer = self.announcer

            def stop(rt) -> None:
                for out in list(rt.session.outputs):
                    if out is announcer:
                        continue
                    try:
                        out.cancel()
                    except Exception:  # noqa: BLE001 - one broken output must not keep the others talking
                        log.exception("output %s failed to stop", getattr(out, "name", out))
            if self.worker.running:
                self.worker.call(stop)
            elif self.runtime is not None:
                stop(self.runtime)
            return
        if what == "read_text":
            self.announcer.asked(CueKind.TEXT)  # the text read is said when it comes in time (announcer.py)
        if self.worker.running:
            if what in Session.ANSWERS:        # R, W, D: asked here, said at once (the policy is only read)
                self._answer(self.session.answer(what))
                return
            if what == "read_text":            # T's own answer comes from here at once; the reading from the engine
                if not self._text_reader_on():
                    self._reply("Reading text is not available: the text reader is not running.")
                    return
                self._reply("Reading…")
                self.worker.call(lambda rt: rt.pipeline.request_text())
                return
            self.worker.request(what)
        else:
            self.session.request(what)

    def _answer(self, cue: Cue) -> None:
        """An answer the window made: to the screen reader now, to the other outputs (MaxSight's
        voice, the screen's captions, ...) on the engine thread, between frames."""
        session = self.session
        if self.announcer in session.outputs:
            self.announcer.emit(cue)
        announcer = self.announcer

        def others(rt) -> None:
            for out in list(rt.session.outputs):
                if out is announcer:
                    continue
                try:
                    out.emit(cue)
                except Exception:  # noqa: BLE001 - one broken output must not silence the others
                    log.exception("output %s failed", getattr(out, "name", out))
        self.worker.call(others)

    def _text_reader_on(self) -> bool:
        """Is the text reader running? From the last frame's Stage B report (FrameResult is the one
        channel from the engine), before the first frame from the runtime's tasks; read here, with
        no waiting on the engine thread."""
        report = self.last_view.result.stage_b if self.last_view is not None else None
        if report is not None:
            return "ocr" in report.tasks and "ocr" not in report.disabled
        return self.runtime is not None and "ocr" in self.runtime.stage_b_tasks

    def stop_speech(self) -> None:
        """Stop what is being said and drop what waits (Esc)."""
        if self.worker is not None:
            self.request("stop")
        else:
            self.announcer.cancel()

    def _recheck_screen_reader(self) -> None:
        """Ask again on a thread; the answer is read at the next tick, so the window never waits."""
        probe = self._reader_probe
        if probe is None:
            self._reader_probe = ScreenReaderProbe()
        elif probe.done:
            self._reader_probe = None
            self.screen_reader_changed(probe.result(0))

    def screen_reader_changed(self, running: bool) -> None:
        """With Who speaks on automatic, cues move to a screen reader that started, or back to
        MaxSight's voice when it stopped (compose.set_screen_reader), on the engine's thread."""
        if running == self.screen_reader or self.runtime is None:
            return
        self.screen_reader = running
        if self.worker is not None and self.worker.running:
            self.worker.set_screen_reader(running)
        else:
            for note in set_screen_reader(self.runtime, running):
                self._say(note)

    def _say(self, text: str) -> None:
        """A system message through every output (speech, screen reader, screen) and the captions."""
        self._deliver(text, NOTICE)

    def _reply(self, text: str) -> None:
        """The answer to a key the user pressed (P, T, F5): at once, never stuck behind other messages."""
        self._deliver(text, REPLY)

    def _hint(self, text: str) -> None:
        """Guidance that is soon out of date (document mode's framing hints): dropped when it waited too long."""
        self._deliver(text, GUIDANCE)

    def _deliver(self, text: str, kind: str) -> None:
        """The captions and the screen reader get it from this (the GUI) thread at once, so a key's
        answer never waits for the engine; MaxSight's own voice (and any other output) gets it on
        the engine's thread, between frames, where it renders speech."""
        self.captions.add_line(text)
        session = self.session
        if session is None or self.announcer in session.outputs:
            self.announcer.say(text, kind=kind)
        if session is None:
            return
        cue = Cue(text, CueKind.SYSTEM, Priority.NEXT, Urgency.SAFE, 0.0)
        announcer = self.announcer

        def others(rt) -> None:
            for out in list(rt.session.outputs):
                if out is announcer or isinstance(out, ScreenOutput):      # both had it from the GUI thread
                    continue
                try:
                    out.emit(cue)
                except Exception:  # noqa: BLE001 - one broken output must not silence the others
                    log.exception("output %s failed", getattr(out, "name", out))
        if self.worker is not None and self.worker.running:
            self.worker.call(others)
        elif self.runtime is not None:
            others(self.runtime)

    def _problem(self, text: str, speak: bool = True, keep_picture: bool = False) -> None:
        if not keep_picture or not self.preview.has_frame:
            self.preview.show_message(text)
        self.status.show_message(text)
        if speak:
            self._say(text)
        else:
            self.captions.add_line(text)

    def _result_problem(self, text: str) -> None:
        """A problem from a FrameResult (a Stage B crash, restart, hang or memory ceiling; a failing
        detector): on the status line and said like any cue, so a screen reader says it too."""
        self.status.show_message(text, 15000)
        self._say(text)

    # -- results (GUI thread) -----------------------------------------------------------------
    def _on_started(self, description: str) -> None:
        self._state = "running"
        self.current_source, self._starting = self._starting, None
        if self.current_source is not None:
            if self.current_source.isdigit():
                self.source_box.setCurrentIndex(max(0, self.source_box.findData(self.current_source)))
            else:
                self._remember_source(self.current_source)
        self.start_button.setText("Stop")
        self.pause_button.setText("Pause")
        self.status.show_message(f"Watching {description}", 5000)
        if self._stop_when_started:
            self._stop_when_started = False
            self.worker.stop()

    def _on_finished(self, why: str = "end") -> None:
        self._state = "idle"
        self._starting = None
        self.start_button.setText("Start")
        self.pause_button.setText("Pause")
        self.preview.mark(None)
        self._hazards_timer.stop()
        self._hazards_pending = self._hazards_key = None
        self.status.set_metric("fps", "Not running", now=True)
        self.status.set_metric("stage_a", "", now=True)
        pending, self._pending_source = self._pending_source, None
        if pending:
            self.start(pending)
            return
        name = _source_words(self.current_source) if self.current_source else "the source"
        if why == "end":
            self.preview.clear(f"{sentence(name)} has ended. Press F5 to play it again, or Ctrl+O to open another.")
            self.hazards.show_status("Nothing is being watched: the video has ended.")
            self.status.show_message("The video has ended.")
            self._say("The video has ended. Press F5 to play it again.")
        elif why == "stopped":
            self.preview.clear("Stopped. Press F5 to start again.")
            self.hazards.show_status("Nothing is being watched: stopped.")
            self.status.show_message("Stopped.")
            self._say("Stopped.")
        else:        # the problem itself was shown and said already
            self.preview.clear(self.preview.message or "The source could not be read.")
            self.hazards.show_status("Nothing is being watched: the source could not be read.")

    def _on_frame(self, view: FrameView) -> None:
        if self._state == "idle" or self.session is None:
            return                              # a last frame arriving after the end (or shutdown) is stale
        r = view.result
        profile = self.session.profile
        self.preview.show_frame(view.rgb, r, view.scale, profile.hedge_below)     # the box names it as the cues do
        self._show_hazards(r, profile)
        for line in r.captions:
            self.captions.add_line(f"\u201c{line.text}\u201d")
        self.status.set_metric("fps", f"{view.fps:.1f} fps")
        self.status.set_metric("stage_a", f"Stage A {r.timings_ms.get('stage_a', 0):.0f} ms")
        if r.stage_b is not None:
            tasks = [t for t in r.stage_b.tasks if t not in r.stage_b.disabled]
            off = [t for t in r.stage_b.tasks if t in r.stage_b.disabled]
            text = "Stage B: " + (" + ".join(tasks) or "off") + (f" ({', '.join(off)} off after failing)" if off else "")
            self.status.set_metric("stage_b", text)
        self.last_view = view

    def _show_hazards(self, result, profile) -> None:
        """The hazard list at once when what it lists changes (a new object, a new urgency, a poor
        picture); a distance or a direction that moves every frame at most once a HAZARD_REFRESH_S.
        Ten rewrites a second of a few rows each flooded the accessibility bus, and Orca then
        dropped every event, warnings included ("Ignoring event type due to deluge")."""
        quality = quality_words(result, profile)
        key = (quality, tuple(sorted((h.label, int(h.urgency)) for h in result.hazards)))
        now = time.monotonic()
        if key != self._hazards_key or now - self._hazards_at >= HAZARD_REFRESH_S:
            self._hazards_timer.stop()
            self._hazards_pending = None
            self._hazards_key, self._hazards_at = key, now
            self.hazards.show_hazards(result, profile, quality)
            return
        self._hazards_pending = (result, profile)           # the newest is shown when the second is up
        if not self._hazards_timer.isActive():
            self._hazards_timer.start(int((self._hazards_at + HAZARD_REFRESH_S - now) * 1000) + 1)

    def _show_pending_hazards(self) -> None:
        pending, self._hazards_pending = self._hazards_pending, None
        if pending is not None:
            self._hazards_at = time.monotonic()
            self.hazards.show_hazards(pending[0], pending[1], quality_words(*pending))

    def _on_alert(self, alert: VisualAlert | None) -> None:
        if alert is None:
            self.preview.banner.hide()
            return
        if alert.kind is CueKind.SOUND:
            self.sounds.add_event(alert.text)
        self.captions.add_line(with_urgency_word(alert.text, alert.urgency, upper=True) if alert.kind is CueKind.HAZARD
                               else alert.text)
        if alert.flash and self.session is not None and self.session.profile.screen_alerts and self._state != "idle":
            self.preview.flash(alert)

    def _measure_lag(self) -> None:
        elapsed = self._lag_clock.restart()
        self._lags = (self._lags + [max(0, elapsed - self.lag_timer.interval())])[-100:]
        if len(self._lags) >= 10:
            self.status.set_metric("lag", f"UI lag p95 {np.percentile(self._lags, 95):.0f} ms")

    @property
    def first_run(self):
        """The set-up wizard open over the window, or None."""
        return self.setup.wizard

    @property
    def ui_lags_ms(self) -> list[float]:
        return list(self._lags)

    def open_document(self):
        return self.document_mode.open()

    # -- "this is my…" --------------------------------------------------------------------------
    def open_teach(self):
        from maxsight_app.ui.teach import TeachDialog, teach_target
        try:
            target = teach_target(self.last_view, self.store.profile(self.user_id))
        except ValueError as exc:
            self._say(sentence(str(exc)))
            return None
        self.preview.mark(target.box)
        dlg = TeachDialog(target, self)
        dlg.taught.connect(lambda label: self.teach_current(label, target))
        dlg.finished.connect(lambda *_: self.preview.mark(None))
        dlg.destroyed.connect(lambda *_: setattr(self, "teach_dialog", None))
        dlg.open()
        self.teach_dialog = dlg
        return dlg

    def teach_current(self, label: str, target=None) -> str:
        """'This is my ...': teach the object nearest the centre of view (or the centre of the picture)."""
        from engine.models.registry import verified_path
        from engine.stage_b.recognition import Embedder
        from maxsight_app.personal_objects import PersonalObjects
        from maxsight_app.ui.teach import teach_target
        target = target or teach_target(self.last_view, self.store.profile(self.user_id))
        try:
            path = verified_path(self.registry.get("mobilenet_v2"))
        except ModelError as exc:
            raise ValueError(str(exc)) from None
        PersonalObjects(self.store, self.user_id, Embedder(path)).teach(label, [target.crop])
        message = f"I will remember {label}: {target.words}."
        self._say(message)
        return message

    # -- settings and profiles ----------------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            self.settings_dialog.activateWindow()
            return self.settings_dialog
        from maxsight_app.outputs.speech import SpeechSynth
        synth = SpeechSynth()
        voices = synth.voices() if synth.check() is None else []
        dlg = SettingsDialog(self.store, self.user_id, voices, self, announce=self.announcer.say)
        speak_choices(dlg, self.announcer.reply)        # Who speaks, How much to say, ...: arrowing is heard
        dlg.saved.connect(self.apply_profile)
        dlg.destroyed.connect(lambda *_: setattr(self, "settings_dialog", None))
        dlg.open()
        self.settings_dialog = dlg
        return dlg

    def open_therapist(self):
        from maxsight_app.ui.therapist import TherapistWindow
        tw = self.therapist
        if tw is None:          # one therapist window at a time, fed by the same frames
            tw = TherapistWindow(self.store, self.user_id, visible_labels=self._visible_labels, parent=self,
                                 announce=self.announcer.say)
            tw.conditionSaved.connect(self.apply_profile)
            speak_choices(tw, self.announcer.reply)     # Vision condition, Profile
            if self.worker is not None:
                self.worker.frameReady.connect(tw.on_frame)
            tw.destroyed.connect(lambda *_: setattr(self, "therapist", None))
            self.therapist = tw
        if self.last_view is not None:
            tw.show_frame(self.last_view.rgb, self.last_view.result.timestamp)
        tw.show()
        tw.raise_()
        tw.activateWindow()
        return tw

    def _visible_labels(self) -> tuple[str, ...]:
        return tuple(h.label for h in self.last_view.result.hazards) if self.last_view is not None else ()

    def _profile_changed(self, index: int) -> None:
        uid = self.profile_box.itemData(index)
        if uid is not None and uid != self.user_id:
            self.user_id = uid
            if self.runtime is not None:
                self.runtime.personal_index = index_path(self.store, uid)
                if self.runtime.session.near_misses is not None:
                    self.runtime.session.near_misses.user_id = uid    # the log follows the profile chosen
            self.apply_profile()

    def apply_profile(self) -> None:
        """Settings take effect live: theme here; policy, outputs and Stage B through the
        composition root, on the thread that runs the session."""
        profile = self.store.profile(self.user_id)
        apply_theme(QtWidgets.QApplication.instance(), profile.high_contrast, profile.text_scale)
        for w in (self.hazards, self.captions):
            enlarge(w)                 # explicitly sized fonts do not follow the application font
        self._fit_body()
        if getattr(self, "runtime", None) is None:
            return
        if self.worker is not None and self.worker.running:
            self.worker.set_profile(profile)
        else:
            for note in apply_profile(self.runtime, profile):
                self._say(note)

    def _scale_text(self, factor: float) -> None:
        p = self.store.profile(self.user_id)
        scale = round(min(3.0, max(0.75, p.text_scale * factor)), 2)
        self.store.set_preference(self.user_id, "text_scale", scale)
        self._reply(f"Text size {round(scale * 100)}%.")
        self.status.show_message(f"Text size {scale:.2f}", 3000)
        QtCore.QTimer.singleShot(0, self.apply_profile)      # restyling after the key's answer is out

    def _toggle_contrast(self) -> None:
        p = self.store.profile(self.user_id)
        self.store.set_preference(self.user_id, "high_contrast", not p.high_contrast)
        # The key's answer first: restyling every widget took 2.9 s under load when turning it off
        # (a 30-minute Orca session), and the answer waited behind it.
        self._reply("High contrast on." if not p.high_contrast else "High contrast off.")
        QtCore.QTimer.singleShot(0, self.apply_profile)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_body()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._quit_filter)
        for dlg in (self.settings_dialog, self.therapist, self.teach_dialog, self.file_dialog):
            if dlg is not None:
                try:
                    dlg.close()
                except RuntimeError:        # already deleted by Qt
                    pass
        if self.worker is not None:
            self.worker.stop()
            self.thread.quit()
            self.thread.wait(5000)
            self.worker = None
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
            self.session = None
