"""The main window: live preview, hazard list, captions, sound timeline, status bar; keyboard
first (every action has a shortcut) and screen-reader friendly (every control is named)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.config import EngineConfig
from engine.models.registry import ModelError, Registry
from engine.types import Urgency
from maxsight_app.capture.video import list_cameras
from maxsight_app.compose import Runtime, apply_profile, build_runtime, make_registry
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.screen import VisualAlert
from maxsight_app.personal_objects import index_path
from maxsight_app.profile.store import ProfileStore
from maxsight_app.session import Session
from maxsight_app.ui.engine_worker import EngineWorker, FrameView
from maxsight_app.ui.qt import QObject, Qt, QThread, QtCore, QtGui, QtWidgets, Signal
from maxsight_app.ui.settings_dialog import SettingsDialog
from maxsight_app.ui.theme import apply_theme
from maxsight_app.ui.widgets import CaptionsPanel, FlashOverlay, HazardList, PreviewWidget, SoundTimeline, enlarge
log = logging.getLogger(__name__)

SHORTCUTS = {   # action -> (key, label)
    "repeat": ("R", "Repeat last cue"),
    "pause": ("P", "Pause or resume"),
    "summary": ("W", "What's around me"),
    "read_text": ("T", "Read text now"),
    "describe": ("D", "Describe the scene"),
    "snooze": ("S", "Snooze for 5 minutes"),
    "stop_all": ("Esc", "Stop all speech"),
    "settings": ("Ctrl+,", "Settings"),
    "open_file": ("Ctrl+O", "Open a video file"),
    "start_stop": ("F5", "Start or stop"),
    "bigger": ("Ctrl++", "Larger text"),
    "smaller": ("Ctrl+-", "Smaller text"),
    "contrast": ("Ctrl+H", "High contrast on or off"),
    "therapist": ("Ctrl+T", "Therapist mode"),
    "teach": ("Ctrl+M", "This is my… (remember an object)"),
}


class _AlertBridge(QObject):
    """Screen alerts are emitted on the worker thread; this hops them to the GUI thread."""
    alert = Signal(object)


class MainWindow(QtWidgets.QMainWindow):
    startRequested = Signal(str)

    def __init__(self, store: ProfileStore, user_id: int, registry: Registry | None = None, config: EngineConfig | None = None,
                 extra_outputs: list | None = None, source: str | None = None, probe_cameras: bool = True,
                 stage_b: bool = True):
        super().__init__()
        self.store, self.user_id = store, user_id
        self.registry = registry or make_registry()
        self.config = config or EngineConfig()
        self.setWindowTitle("MaxSight")
        self.setAccessibleName("MaxSight main window")
        self._lags: list[float] = []
        self._build_ui()
        self._bridge = _AlertBridge()
        self._bridge.alert.connect(self._on_alert)
        self.runtime: Runtime | None = None
        self.session: Session | None = None
        self.worker: EngineWorker | None = None
        self.apply_profile()            # the profile's theme and text size from the first paint
        try:
            self.runtime = build_runtime(store.profile(user_id), self.config, registry=self.registry,
                                         personal_index=index_path(store, user_id), extra_outputs=extra_outputs,
                                         screen_listeners=[self._bridge.alert.emit], stage_b=stage_b)
        except ModelError as exc:
            self._problem(f"{exc}.", speak=False)
            self.start_button.setEnabled(False)
            return
        self.session = self.runtime.session
        for n in self.runtime.notes:
            self.captions.add_line(n)
        self.stage_b_label.setText("Stage B: " + (" + ".join(self.runtime.stage_b_tasks) or "off"))
        pipeline = self.runtime.pipeline
        self.worker = EngineWorker(self.runtime)
        self.thread = QThread(self)
        self.thread.setObjectName("engine")
        self.worker.moveToThread(self.thread)
        self.startRequested.connect(self.worker.start)
        self.worker.frameReady.connect(self._on_frame)
        self.worker.problem.connect(lambda msg: self._problem(msg))
        self.worker.notice.connect(self.captions.add_line)
        self.worker.status.connect(self.statusBar().showMessage)
        self.worker.started.connect(self._on_started)
        self.worker.finished.connect(self._on_finished)
        self.thread.start()
        self.device_label.setText(f"Device: {pipeline.device}")
        self.model_label.setText(f"Model: {pipeline.detector.name}")
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
        top = QtWidgets.QHBoxLayout()
        self.source_box = QtWidgets.QComboBox()
        self.source_box.setAccessibleName("Source")
        self.source_box.setAccessibleDescription("Choose a camera or a video file")
        self.open_button = QtWidgets.QPushButton("Open video…")
        self.open_button.setAccessibleName("Open a video file")
        self.open_button.clicked.connect(self.open_file)
        self.start_button = QtWidgets.QPushButton("Start")
        self.start_button.setAccessibleName("Start or stop")
        self.start_button.clicked.connect(self.start_stop)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setAccessibleName("Pause or resume")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._set_paused)
        self.profile_box = QtWidgets.QComboBox()
        self.profile_box.setAccessibleName("Profile")
        self.profile_box.setAccessibleDescription("Whose settings to use")
        for u in self.store.users():
            self.profile_box.addItem(u["name"], u["id"])
        self.profile_box.setCurrentIndex(max(0, self.profile_box.findData(self.user_id)))
        self.profile_box.currentIndexChanged.connect(self._profile_changed)
        self.therapist_button = QtWidgets.QPushButton("Therapist…")
        self.therapist_button.setAccessibleName("Open therapist mode")
        self.therapist_button.clicked.connect(lambda: self.open_therapist())
        self.settings_button = QtWidgets.QPushButton("Settings…")
        self.settings_button.setAccessibleName("Open settings")
        self.settings_button.clicked.connect(self.open_settings)
        for w, label in ((self.source_box, "Source:"), (self.open_button, None), (self.start_button, None),
                         (self.pause_button, None), (self.profile_box, "Profile:"), (self.settings_button, None),
                         (self.therapist_button, None)):
            if label:
                lab = QtWidgets.QLabel(label)
                lab.setBuddy(w)
                top.addWidget(lab)
            top.addWidget(w)
        top.addStretch(1)
        self.preview = PreviewWidget()
        self.hazards = HazardList()
        self.captions = CaptionsPanel()
        self.sounds = SoundTimeline()
        side = QtWidgets.QVBoxLayout()
        for title, w, stretch in (("Hazards", self.hazards, 3), ("Captions and alerts", self.captions, 3), ("Sounds", self.sounds, 1)):
            lab = QtWidgets.QLabel(f"<b>{title}</b>")
            lab.setBuddy(w)
            side.addWidget(lab)
            side.addWidget(w, stretch)
        body = QtWidgets.QHBoxLayout()
        body.addWidget(self.preview, 3)
        side_w = QtWidgets.QWidget()
        side_w.setLayout(side)
        body.addWidget(side_w, 2)
        layout = QtWidgets.QVBoxLayout(central)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        # Tab order follows reading order: controls left to right, then the lists.
        chain = [self.source_box, self.open_button, self.start_button, self.pause_button, self.profile_box,
                 self.settings_button, self.therapist_button, self.hazards, self.captions, self.sounds]
        for a, b in zip(chain, chain[1:]):
            QtWidgets.QWidget.setTabOrder(a, b)
        self.fps_label, self.stage_a_label, self.stage_b_label = QtWidgets.QLabel("0 fps"), QtWidgets.QLabel("Stage A –"), QtWidgets.QLabel("")
        self.device_label, self.model_label, self.lag_label = QtWidgets.QLabel("Device –"), QtWidgets.QLabel("Model –"), QtWidgets.QLabel("UI lag –")
        for lab in (self.fps_label, self.stage_a_label, self.stage_b_label, self.device_label, self.model_label, self.lag_label):
            self.statusBar().addPermanentWidget(lab)
        self.stage_b_label.setText("Stage B: starting")
        self.flash = FlashOverlay(self)
        self.file_dialog: QtWidgets.QFileDialog | None = None
        self.actions: dict[str, QtGui.QAction] = {}
        handlers = {"repeat": lambda: self.request("repeat"), "pause": lambda: self.pause_button.toggle(),
                    "summary": lambda: self.request("summary"), "read_text": lambda: self.request("read_text"),
                    "describe": lambda: self.request("describe"), "snooze": lambda: self.request("snooze"),
                    "stop_all": lambda: self.request("stop"), "settings": self.open_settings, "open_file": self.open_file,
                    "start_stop": self.start_stop, "bigger": lambda: self._scale_text(1.15), "smaller": lambda: self._scale_text(1 / 1.15),
                    "contrast": self._toggle_contrast, "therapist": self.open_therapist,
                    "teach": self._teach_dialog}
        menu = self.menuBar().addMenu("&Actions")
        for name, (key, label) in SHORTCUTS.items():
            act = QtGui.QAction(label, self)
            act.setShortcut(QtGui.QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(handlers[name])
            menu.addAction(act)
            self.addAction(act)
            self.actions[name] = act
        self.lag_timer = QtCore.QTimer(self)
        self.lag_timer.setInterval(50)
        self._lag_clock = QtCore.QElapsedTimer()
        self._lag_clock.start()
        self.lag_timer.timeout.connect(self._measure_lag)
        self.lag_timer.start()

    def teach_current(self, label: str) -> str:
        """'This is my ...': teach the object nearest the centre of view (or the centre of the picture)."""
        import cv2

        from engine.models.registry import verified_path
        from engine.stage_b.recognition import Embedder
        from maxsight_app.personal_objects import PersonalObjects
        view = getattr(self, "last_view", None)
        if view is None:
            raise ValueError("there is no picture yet to learn from")
        try:
            path = verified_path(self.registry.get("mobilenet_v2"))
        except ModelError as exc:
            raise ValueError(str(exc)) from None
        img = cv2.cvtColor(view.rgb, cv2.COLOR_RGB2BGR)
        hz = sorted(view.result.hazards, key=lambda h: abs(h.bearing_deg))
        if hz:
            x1, y1, x2, y2 = (int(v * view.scale) for v in hz[0].box)
            crop = img[max(0, y1):y2, max(0, x1):x2]
        else:
            h, w = img.shape[:2]
            crop = img[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
        PersonalObjects(self.store, self.user_id, Embedder(path)).teach(label, [crop])
        message = f"I will remember {label}."
        self._say(message)
        return message

    def _teach_dialog(self) -> None:
        label, ok = QtWidgets.QInputDialog.getText(self, "This is my…", "What is it? (for example: my mug, my front door)")
        if ok and label.strip():
            try:
                self.teach_current(label.strip())
            except ValueError as exc:
                self._say(str(exc)[0].upper() + str(exc)[1:] + ".")

    def _fill_sources(self, probe: bool) -> None:
        self._cameras = list_cameras() if probe else []
        for i in self._cameras:
            self.source_box.addItem(f"Camera {i}", str(i))
        self.source_box.addItem("Video file…", "")
        self.source_box.activated.connect(self._source_chosen)

    # -- engine control -----------------------------------------------------------------------
    def start(self, source: str) -> None:
        if self.worker is None:
            return
        if self.worker.running:
            self.worker.stop()
            self._pending_source = source
            return
        self.preview.show_message(f"Opening {Path(source).name if not source.isdigit() else 'camera ' + source}…")
        self.startRequested.emit(source)

    def start_stop(self) -> None:
        if self.worker is None:
            return
        if self.worker.running:
            self.worker.stop()
        else:
            data = self.source_box.currentData()
            if data:
                self.start(data)
            else:
                self.open_file()

    def _source_chosen(self, index: int) -> None:
        data = self.source_box.itemData(index)
        if data:
            self.start(data)
        else:
            self.open_file()

    def open_file(self) -> None:
        """A non-blocking file picker: the window keeps working while it is open."""
        if self.file_dialog is None:
            self.file_dialog = QtWidgets.QFileDialog(self, "Open a video file", str(Path.home()),
                                                     "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)")
            self.file_dialog.setAccessibleName("Choose a video file")
            self.file_dialog.setFileMode(QtWidgets.QFileDialog.FileMode.ExistingFile)
            self.file_dialog.fileSelected.connect(self.start)
        self.file_dialog.open()

    def _no_camera(self) -> None:
        self._problem("No camera was found. Open a video file instead: press Ctrl+O.")
        self.open_file()

    def _set_paused(self, paused: bool) -> None:
        if self.worker:
            self.worker.set_paused(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.statusBar().showMessage("Paused" if paused else "Running", 3000)

    def request(self, what: str) -> None:
        """On-demand cues: through the worker while it runs, directly when it does not."""
        if self.worker is None:
            return
        if self.worker.running:
            self.worker.request(what)
        else:
            self.session.request(what)

    def _say(self, text: str) -> None:
        """A system message through every output (speech, screen) as well as the captions."""
        if self.session is None:
            self.captions.add_line(text)
            return
        cue = Cue(text, CueKind.SYSTEM, Priority.NEXT, Urgency.SAFE, 0.0)
        if self.worker is not None and self.worker.running:
            self.worker.request_cue(cue)
        else:
            self.session.say(cue)

    def _problem(self, text: str, speak: bool = True) -> None:
        self.preview.show_message(text)
        self.statusBar().showMessage(text)
        if speak:
            self._say(text)
        else:
            self.captions.add_line(text)

    # -- results (GUI thread) -----------------------------------------------------------------
    def _on_started(self, description: str) -> None:
        self.start_button.setText("Stop")
        self.statusBar().showMessage(f"Watching {description}", 5000)

    def _on_finished(self, why: str = "end") -> None:
        self.start_button.setText("Start")
        pending = getattr(self, "_pending_source", None)
        if pending:
            self._pending_source = None
            self.start(pending)

    def _on_frame(self, view: FrameView) -> None:
        r = view.result
        self.preview.show_frame(view.rgb, r, view.scale)
        self.hazards.show_hazards(r)
        for line in r.captions:
            self.captions.add_line(f"\u201c{line.text}\u201d")
        self.fps_label.setText(f"{view.fps:.1f} fps")
        self.stage_a_label.setText(f"Stage A {r.timings_ms.get('stage_a', 0):.0f} ms")
        self.last_view = view

    def _on_alert(self, alert: VisualAlert | None) -> None:
        if alert is None:
            self.flash.hide()
            return
        if alert.kind is CueKind.SOUND:
            self.sounds.add_event(alert.text)
        self.captions.add_line(f"{alert.urgency.word.upper() if alert.kind is CueKind.HAZARD else ''} {alert.text}".strip())
        if alert.flash and self.store.profile(self.user_id).screen_alerts:
            self.flash.flash(alert)

    def _measure_lag(self) -> None:
        elapsed = self._lag_clock.restart()
        self._lags = (self._lags + [max(0, elapsed - self.lag_timer.interval())])[-100:]
        if len(self._lags) >= 10:
            self.lag_label.setText(f"UI lag p95 {np.percentile(self._lags, 95):.0f} ms")

    @property
    def ui_lags_ms(self) -> list[float]:
        return list(self._lags)

    # -- settings and profiles ----------------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        from maxsight_app.outputs.speech import SpeechSynth
        synth = SpeechSynth()
        voices = synth.voices() if synth.check() is None else []
        dlg = SettingsDialog(self.store, self.user_id, voices, self)
        dlg.saved.connect(self.apply_profile)
        dlg.open()
        self.settings_dialog = dlg
        return dlg

    def open_therapist(self):
        from maxsight_app.ui.therapist import TherapistWindow
        tw = getattr(self, "therapist", None)
        if tw is None:          # one therapist window per main window, fed by the same frames
            tw = TherapistWindow(self.store, self.user_id, visible_labels=self._visible_labels, parent=self)
            tw.conditionSaved.connect(self.apply_profile)
            if self.worker is not None:
                self.worker.frameReady.connect(lambda view: tw.isVisible() and tw.show_frame(view.rgb, view.result.timestamp))
        last = getattr(self, "last_view", None)
        if last is not None:
            tw.show_frame(last.rgb, last.result.timestamp)
        tw.show()
        self.therapist = tw
        return tw

    def _visible_labels(self) -> tuple[str, ...]:
        last = getattr(self, "last_view", None)
        return tuple(h.label for h in last.result.hazards) if last is not None else ()

    def _profile_changed(self, index: int) -> None:
        uid = self.profile_box.itemData(index)
        if uid is not None and uid != self.user_id:
            self.user_id = uid
            if self.runtime is not None:
                self.runtime.personal_index = index_path(self.store, uid)
            self.apply_profile()

    def apply_profile(self) -> None:
        """Settings take effect live: theme here; policy, outputs and Stage B through the
        composition root, on the thread that runs the session."""
        profile = self.store.profile(self.user_id)
        apply_theme(QtWidgets.QApplication.instance(), profile.high_contrast, profile.text_scale)
        for w in (self.hazards, self.captions):
            enlarge(w)                 # explicitly sized fonts do not follow the application font
        if self.runtime is None:
            return
        if self.worker is not None and self.worker.running:
            self.worker.set_profile(profile)
        else:
            for note in apply_profile(self.runtime, profile):
                self.captions.add_line(note)

    def _scale_text(self, factor: float) -> None:
        p = self.store.profile(self.user_id)
        self.store.set_preference(self.user_id, "text_scale", round(min(3.0, max(0.75, p.text_scale * factor)), 2))
        self.apply_profile()

    def _toggle_contrast(self) -> None:
        p = self.store.profile(self.user_id)
        self.store.set_preference(self.user_id, "high_contrast", not p.high_contrast)
        self.apply_profile()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.flash.isVisible():
            self.flash.setGeometry(self.rect())

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.thread.quit()
            self.thread.wait(5000)
            self.worker = None
        if self.runtime is not None:
            self.runtime.close()
            self.runtime = None
            self.session = None
