"""Therapist mode: choose a profile, set its vision condition and severity, and watch the live
scene as the user sees it beside the original; run fatigue-aware sessions; open reports."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from engine.conditions import simulate
from maxsight_app.profile.schema import VISION_CONDITIONS
from maxsight_app.profile.store import ProfileStore
from maxsight_app.therapy import report
from maxsight_app.therapy.session import TherapySession
from maxsight_app.therapy.tasks import ContrastChart
from maxsight_app.ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal


def _pixmap(rgb: np.ndarray, width: int) -> QtGui.QPixmap:
    h, w, _ = rgb.shape
    img = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
    return QtGui.QPixmap.fromImage(img).scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)


class TherapistWindow(QtWidgets.QDialog):
    conditionSaved = Signal()

    def __init__(self, store: ProfileStore, user_id: int, visible_labels: Callable[[], tuple[str, ...]] = tuple,
                 reports_dir: Path | None = None, clock: Callable[[], float] = time.monotonic, parent=None):
        super().__init__(parent)
        self.setWindowTitle("MaxSight therapist mode")
        self.setAccessibleName("Therapist mode")
        self.store, self.user_id, self.visible_labels, self.clock = store, user_id, visible_labels, clock
        self.reports_dir = reports_dir or Path(store.path).parent / "reports"
        self.simulated: np.ndarray | None = None
        self.user_box = QtWidgets.QComboBox()
        self.user_box.setAccessibleName("Profile")
        for u in store.users():
            self.user_box.addItem(u["name"], u["id"])
        self.user_box.setCurrentIndex(max(0, self.user_box.findData(user_id)))
        self.user_box.currentIndexChanged.connect(self._load)
        self.condition_box = QtWidgets.QComboBox()
        self.condition_box.setAccessibleName("Vision condition")
        self.condition_box.addItems(list(VISION_CONDITIONS))
        self.severity = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.severity.setRange(0, 100)
        self.severity.setAccessibleName("Severity")
        self.severity.setAccessibleDescription("0 is none, 100 is the most severe")
        self.severity_label = QtWidgets.QLabel()
        self.severity.valueChanged.connect(lambda v: self.severity_label.setText(f"{v}%"))
        save = QtWidgets.QPushButton("Save to profile")
        save.setAccessibleName("Save condition to profile")
        save.clicked.connect(self.save)
        session = QtWidgets.QPushButton("Start session…")
        session.setAccessibleName("Start a therapy session")
        session.clicked.connect(self.start_session)
        self.report_button = QtWidgets.QPushButton("Open report")
        self.report_button.setAccessibleName("Make and open the report")
        self.report_button.clicked.connect(self.open_report)
        self.original, self.seen = QtWidgets.QLabel("Waiting for the camera…"), QtWidgets.QLabel("")
        self.original.setAccessibleName("As captured")
        self.seen.setAccessibleName("As the user sees it")
        for lab in (self.original, self.seen):
            lab.setMinimumSize(320, 240)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.info = QtWidgets.QLabel("")
        self.info.setAccessibleName("Therapist messages")
        self.info.setWordWrap(True)
        controls = QtWidgets.QHBoxLayout()
        for text, w in (("Profile:", self.user_box), ("Condition:", self.condition_box), ("Severity:", self.severity)):
            lab = QtWidgets.QLabel(text)
            lab.setBuddy(w)
            controls.addWidget(lab)
            controls.addWidget(w)
        controls.addWidget(self.severity_label)
        for b in (save, session, self.report_button):
            controls.addWidget(b)
        views = QtWidgets.QGridLayout()
        views.addWidget(QtWidgets.QLabel("<b>As captured</b>"), 0, 0)
        self.seen_title = QtWidgets.QLabel("<b>As the user sees it</b>")
        views.addWidget(self.seen_title, 0, 1)
        views.addWidget(self.original, 1, 0)
        views.addWidget(self.seen, 1, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(views)
        layout.addWidget(self.info)
        self._load()

    def _load(self) -> None:
        self.user_id = self.user_box.currentData()
        p = self.store.preferences(self.user_id)
        self.condition_box.setCurrentText(p["vision_condition"])
        self.severity.setValue(round(100 * p["vision_severity"]))
        self.severity_label.setText(f"{self.severity.value()}%")

    def save(self) -> None:
        self.store.set_preferences(self.user_id, {"vision_condition": self.condition_box.currentText(),
                                                  "vision_severity": self.severity.value() / 100})
        self.info.setText(f"Saved: {self.condition_box.currentText()} at {self.severity.value()}% for {self.user_box.currentText()}.")
        self.conditionSaved.emit()

    def show_frame(self, rgb: np.ndarray, t: float = 0.0) -> None:
        """Original and simulated views of one frame (RGB, as the engine worker sends it)."""
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        seen = simulate(self.condition_box.currentText(), bgr, self.severity.value() / 100, t)
        self.simulated = cv2.cvtColor(seen, cv2.COLOR_BGR2RGB)
        width = max(320, (self.width() - 40) // 2)
        self.original.setPixmap(_pixmap(rgb, width))
        self.seen.setPixmap(_pixmap(self.simulated, width))

    def start_session(self) -> "SessionDialog":
        self.session_dialog = SessionDialog(self.store, self.user_id, self.visible_labels, self.clock, self)
        self.session_dialog.open()
        return self.session_dialog

    def open_report(self) -> report.Report | None:
        try:
            rep = report.generate(self.store, self.user_id, self.reports_dir)
        except ValueError as exc:
            self.info.setText(str(exc)[0].upper() + str(exc)[1:] + ".")
            return None
        self.info.setText(f"Report written: {rep.png} (also PDF and CSV in {rep.png.parent})")
        QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(rep.png)))
        return rep


class SessionDialog(QtWidgets.QDialog):
    """One session, keyboard driven: type the answer (a letter, the words, or 'found') and Enter."""

    def __init__(self, store, user_id, visible_labels, clock, parent=None, plan=("contrast", "reading", "find")):
        super().__init__(parent)
        self.setWindowTitle("Therapy session")
        self.setAccessibleName("Therapy session")
        self.visible_labels = visible_labels
        self.session = TherapySession(store, user_id, plan=plan, trials_per_task=15, clock=clock)
        self.card = QtWidgets.QLabel()
        self.card.setAccessibleName("Task")
        self.card.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.card.setMinimumSize(380, 260)
        self.instruction = QtWidgets.QLabel()
        self.instruction.setAccessibleName("Instruction")
        self.answer = QtWidgets.QLineEdit()
        self.answer.setAccessibleName("Answer")
        self.answer.setAccessibleDescription("Type what you see and press Enter")
        self.answer.returnPressed.connect(self.submit)
        self.fatigue_bar = QtWidgets.QProgressBar()
        self.fatigue_bar.setRange(0, 100)
        self.fatigue_bar.setFormat("Fatigue %p%")
        self.fatigue_bar.setAccessibleName("Fatigue estimate")
        self.message = QtWidgets.QLabel("")
        self.message.setAccessibleName("Session messages")
        self.message.setWordWrap(True)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setAccessibleName("Pause or resume the session")
        self.pause_button.clicked.connect(self.toggle_pause)
        end = QtWidgets.QPushButton("End session")
        end.setAccessibleName("End the session")
        end.clicked.connect(self.finish)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.pause_button, end):
            b.setAutoDefault(False)      # Enter submits the answer; it must not also pause or end the session
            b.setDefault(False)
            buttons.addWidget(b)
        layout = QtWidgets.QVBoxLayout(self)
        for w in (self.instruction, self.card, self.answer, self.fatigue_bar, self.message):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self._advance()

    def _advance(self) -> None:
        prompt = self.session.next_prompt(visible=tuple(self.visible_labels()))
        if prompt is None:
            if self.session.finished:
                self.instruction.setText("Session complete. Thank you.")
                self.card.clear()
                self.answer.setEnabled(False)
            elif not self.session.paused:
                self.instruction.setText("Nothing to find in view right now; point the camera at the room.")
            return
        self.instruction.setText(prompt.instruction)
        if prompt.task == "contrast chart":
            card = ContrastChart.render(prompt.text, prompt.level)
            self.card.setPixmap(_pixmap(cv2.cvtColor(card, cv2.COLOR_GRAY2RGB), 260))
        elif prompt.task == "reading":
            self.card.setText(prompt.text)
            f = QtGui.QFont(self.font())
            f.setPointSizeF(prompt.level)
            self.card.setFont(f)
        else:
            self.card.setText(f"Find: {prompt.text}")
        self.answer.clear()
        self.answer.setFocus()

    def submit(self) -> None:
        if self.session.paused or self.session.finished:
            return
        try:
            out = self.session.respond(self.answer.text(), visible=tuple(self.visible_labels()))
        except ValueError:
            self._advance()
            return
        self.fatigue_bar.setValue(round(100 * out.fatigue.fatigue))
        self.message.setText(("Right. " if out.correct else "Not quite. ") + out.message)
        if self.session.paused:
            self.pause_button.setText("Resume")
            self.instruction.setText("Paused for a rest.")
            self.card.clear()
            return
        self._advance()

    def toggle_pause(self) -> None:
        if self.session.paused:
            self.session.resume()
            self.pause_button.setText("Pause")
            self.message.setText("")
            self._advance()
        else:
            self.session.pause()
            self.pause_button.setText("Resume")

    def finish(self) -> None:
        self.session.end("stopped" if not self.session.finished else "completed")
        self.accept()
