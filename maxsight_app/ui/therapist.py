"""Therapist mode: choose a profile, set its vision condition and severity, and watch the live
scene as the user sees it beside the original; run fatigue-aware sessions; open reports.

Screen readers: labels are read as their text (no accessible name replaces it), the views are
named and reachable by Tab, every message is shown and announced, and conditions read as words."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from engine.conditions import simulate
from maxsight_app.find import findability
from maxsight_app.nearmiss import Entry, read_log
from maxsight_app.profile.schema import VISION_CONDITIONS
from maxsight_app.profile.store import ProfileStore
from maxsight_app.profile.words import condition_name
from maxsight_app.therapy import report
from maxsight_app.therapy.session import TherapySession
from maxsight_app.therapy.tasks import ContrastChart
from maxsight_app.ui.flow import FlowRow, pair
from maxsight_app.ui.qt import Qt, QtCore, QtGui, QtWidgets, Signal

TEXT_FRESH_S = 10.0          # camera text older than this is not offered to the reading task


NO_LOG = "No near misses logged. Turn on 'Keep a near-miss log' in Settings to keep each warning and danger said."
NO_FIND = "Findability: start find mode in the main window (F) to see how hard its target is to see."


def _pixmap(rgb: np.ndarray, width: int) -> QtGui.QPixmap:
    h, w, _ = rgb.shape
    img = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
    return QtGui.QPixmap.fromImage(img).scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)


class TherapistWindow(QtWidgets.QDialog):
    conditionSaved = Signal()

    def __init__(self, store: ProfileStore, user_id: int, visible_labels: Callable[[], tuple[str, ...]] = tuple,
                 reports_dir: Path | None = None, clock: Callable[[], float] = time.monotonic, parent=None,
                 announce: Callable[[str], None] | None = None,
                 open_url: Callable[[QtCore.QUrl], bool] = QtGui.QDesktopServices.openUrl):
        super().__init__(parent)
        self.setWindowTitle("MaxSight therapist mode")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)      # a closed window leaves the accessibility tree
        self.store, self.user_id, self.visible_labels, self.clock = store, user_id, visible_labels, clock
        self.announce = announce or (lambda text: None)
        self.open_url = open_url
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
        for c in VISION_CONDITIONS:
            self.condition_box.addItem(condition_name(c), c)
        self.condition_box.currentIndexChanged.connect(lambda _i: self._describe_views())
        self.severity = QtWidgets.QSlider(Qt.Orientation.Horizontal)
        self.severity.setRange(0, 100)
        self.severity.setSingleStep(5)
        self.severity.setPageStep(10)
        self.severity.setMinimumWidth(220)
        self.severity.setTickPosition(QtWidgets.QSlider.TickPosition.TicksBelow)
        self.severity.setTickInterval(10)
        self.severity.setAccessibleName("Severity")
        self.severity.setAccessibleDescription("0 is none, 100 is the most severe")
        self.severity_label = QtWidgets.QLabel()
        self.severity.valueChanged.connect(lambda v: (self.severity_label.setText(f"{v}%"), self._describe_views()))
        save = QtWidgets.QPushButton("Save to profile")
        save.clicked.connect(self.save)
        session = QtWidgets.QPushButton("Start session…")
        session.setAccessibleName("Start session")
        session.clicked.connect(self.start_session)
        self.report_button = QtWidgets.QPushButton("Open report")
        self.report_button.setAccessibleDescription("Make the report of this profile's sessions and open it")
        self.report_button.clicked.connect(self.open_report)
        self.original, self.seen = QtWidgets.QLabel("Waiting for the camera…"), QtWidgets.QLabel("Waiting for the camera…")
        self.original.setAccessibleName("As captured")
        self.seen.setAccessibleName("As the user sees it")
        for lab in (self.original, self.seen):
            lab.setMinimumSize(240, 180)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setFocusPolicy(Qt.FocusPolicy.StrongFocus)       # reachable by Tab, named, described
            lab.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored)
        self.info = QtWidgets.QLabel("Choose a profile, a condition and its severity, then save.")
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setFocusPolicy(Qt.FocusPolicy.StrongFocus)          # reachable by Tab; read as its text
        # Find mode's findability (maxsight_app/find.py) for the condition chosen here, read as its text.
        self.findability = QtWidgets.QLabel(NO_FIND)
        self.findability.setWordWrap(True)
        self.findability.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard
                                                 | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findability.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._findability_t = -1e9
        self.find_box: tuple | None = None       # the target's box on the preview, outlined on both views
        # The near-miss log (maxsight_app/nearmiss.py): a timeline stepped through with the arrow keys;
        # the picture and the words of the entry chosen beside it.
        self.log_entries: list[Entry] = []
        self.log_list = QtWidgets.QListWidget()
        self.log_list.setAccessibleName("Near-miss log")
        self.log_list.setAccessibleDescription("Each warning and danger said, oldest first; arrow keys step through them")
        self.log_list.setMaximumHeight(120)
        self.log_list.currentRowChanged.connect(self.show_log_entry)
        self.log_picture = QtWidgets.QLabel()
        self.log_picture.setAccessibleName("Picture of the moment")
        self.log_picture.setMinimumSize(160, 90)
        self.log_picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.log_text = QtWidgets.QLabel(NO_LOG)
        self.log_text.setWordWrap(True)
        self.log_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard
                                              | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.log_text.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        log_title = QtWidgets.QLabel("Near-miss &log")
        log_title.setBuddy(self.log_list)
        log_row = QtWidgets.QHBoxLayout()
        log_row.addWidget(self.log_list, 2)
        log_row.addWidget(self.log_picture)
        log_row.addWidget(self.log_text, 2)
        controls = FlowRow(spacing=8)
        controls.add(pair("Profile:", self.user_box), pair("Vision condition:", self.condition_box))
        sev = pair("Severity:", self.severity)
        sev.layout().addWidget(self.severity_label)
        controls.add(sev, save, session, self.report_button)
        views = QtWidgets.QGridLayout()
        titles = []
        for col, (title, view) in enumerate((("As captured", self.original), ("As the user sees it", self.seen))):
            lab = QtWidgets.QLabel(title)
            f = lab.font()
            f.setBold(True)
            lab.setFont(f)
            lab.setBuddy(view)              # a title belongs to its view: not read as a stray label on opening
            views.addWidget(lab, 0, col)
            views.addWidget(view, 1, col)
            titles.append(lab)
        self.seen_title = titles[1]
        views.setRowStretch(1, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(controls)
        layout.addLayout(views, 1)
        layout.addWidget(self.findability)
        layout.addWidget(log_title)
        layout.addLayout(log_row)
        layout.addWidget(self.info)
        chain = [self.user_box, self.condition_box, self.severity, save, session, self.report_button, self.original,
                 self.seen, self.findability, self.log_list, self.log_text, self.info]
        for a, b in zip(chain, chain[1:]):
            QtWidgets.QWidget.setTabOrder(a, b)
        self._load()
        self.resize(900, 560)
        self.user_box.setFocus()

    @property
    def condition(self) -> str:
        return self.condition_box.currentData()

    def set_condition(self, condition: str) -> None:
        self.condition_box.setCurrentIndex(max(0, self.condition_box.findData(condition)))

    def _load(self) -> None:
        self.user_id = self.user_box.currentData()
        p = self.store.preferences(self.user_id)
        self.set_condition(p["vision_condition"])
        self.severity.setValue(round(100 * p["vision_severity"]))
        self.severity_label.setText(f"{self.severity.value()}%")
        self._describe_views()
        self.reload_log()

    def reload_log(self) -> None:
        """The profile's near-miss log into the timeline; entries that cannot be read are skipped
        and said in one sentence."""
        self.log_entries, notes = read_log(self.store, self.user_id)
        self.log_list.blockSignals(True)
        self.log_list.clear()
        for e in self.log_entries:
            self.log_list.addItem(e.words())
        self.log_list.blockSignals(False)
        if self.log_entries:
            self.log_list.setCurrentRow(len(self.log_entries) - 1)     # the newest; Up goes back in time
        else:
            self.show_log_entry(-1)
        if notes:
            self._message(notes[0] if len(notes) == 1 else
                          f"{len(notes)} near-miss log entries could not be read and were skipped ({notes[0]})")

    def show_log_entry(self, row: int) -> None:
        if not 0 <= row < len(self.log_entries):
            self.log_picture.clear()
            self.log_picture.setAccessibleDescription("")
            self.log_text.setText(NO_LOG)
            return
        e = self.log_entries[row]
        self.log_text.setText(f"{row + 1} of {len(self.log_entries)}: {e.words()}")
        if e.thumbnail is not None:
            self.log_picture.setPixmap(_pixmap(cv2.cvtColor(e.thumbnail, cv2.COLOR_BGR2RGB), 160))
            self.log_picture.setAccessibleDescription(f"The camera picture when '{e.text}' was said")
        else:
            self.log_picture.clear()
            self.log_picture.setText("No picture")
            self.log_picture.setAccessibleDescription("")

    def _describe_views(self) -> None:
        self.seen.setAccessibleDescription(f"{condition_name(self.condition)} at {self.severity.value()}% severity")
        self.original.setAccessibleDescription("The camera picture, unchanged")

    def _message(self, text: str) -> None:
        self.info.setText(text)
        self.announce(text)

    def save(self) -> None:
        self.store.set_preferences(self.user_id, {"vision_condition": self.condition,
                                                  "vision_severity": self.severity.value() / 100})
        self._message(f"Saved: {condition_name(self.condition)} at {self.severity.value()}% for {self.user_box.currentText()}.")
        self.conditionSaved.emit()

    def on_frame(self, view) -> None:
        r = view.result
        if r.texts:                       # what the text reader read in view (for the reading task)
            self.latest_texts = (r.timestamp, tuple((t.text, t.score) for t in r.texts))
        self._now = r.timestamp
        self.find_box = None
        if self.isVisible():
            self.show_findability(view)
            self.show_frame(view.rgb, view.result.timestamp)

    def camera_texts(self) -> tuple:
        """(text, score) lines read in view within the last TEXT_FRESH_S, else ()."""
        t, texts = getattr(self, "latest_texts", (None, ()))
        return texts if t is not None and getattr(self, "_now", t) - t <= TEXT_FRESH_S else ()

    def show_frame(self, rgb: np.ndarray, t: float = 0.0) -> None:
        """Original and simulated views of one frame (RGB, as the engine worker sends it)."""
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        seen = simulate(self.condition, bgr, self.severity.value() / 100, t)
        self.simulated = cv2.cvtColor(seen, cv2.COLOR_BGR2RGB)
        width = max(200, min(self.original.width(), self.original.height() * rgb.shape[1] // max(1, rgb.shape[0])))
        original, simulated = rgb, self.simulated
        if self.find_box is not None:             # the find target, outlined (black under yellow) on both views
            original, simulated = rgb.copy(), simulated.copy()
            x1, y1, x2, y2 = (int(round(v)) for v in self.find_box)
            for img in (original, simulated):
                cv2.rectangle(img, (x1, y1), (x2, y2), (0, 0, 0), 5)
                cv2.rectangle(img, (x1, y1), (x2, y2), (255, 221, 0), 2)
        self.original.setPixmap(_pixmap(original, width))
        self.seen.setPixmap(_pixmap(simulated, width))

    def show_findability(self, view) -> None:
        """How hard find mode's target is to see with the condition and severity chosen here, from
        the frame's pixels; the words change at most once a second (screen readers hear each change)."""
        g = getattr(view, "guidance", None)
        if g is None or not g.in_view or g.hazard is None:
            text = NO_FIND if g is None else f"Finding {g.target.shown}: not in view."
        else:
            self.find_box = tuple(v * view.scale for v in g.hazard.box)
            if view.result.timestamp - self._findability_t < 1.0 and self.findability.text().startswith("Finding"):
                return
            bgr = cv2.cvtColor(view.rgb, cv2.COLOR_RGB2BGR)
            f = findability(bgr, self.find_box, self.condition, self.severity.value() / 100, g.hfov_deg,
                            view.result.timestamp)
            text = (f"Finding {g.target.shown}, for {condition_name(self.condition)} at {self.severity.value()}%: "
                    f"{f.words()}.")
        self._findability_t = view.result.timestamp
        if self.findability.text() != text:
            self.findability.setText(text)

    def start_session(self) -> "SessionDialog":
        self.session_dialog = SessionDialog(self.store, self.user_id, self.visible_labels, self.clock, self,
                                            announce=self.announce, camera_texts=self.camera_texts)
        self.session_dialog.open()
        return self.session_dialog

    def open_report(self) -> report.Report | None:
        try:
            rep = report.generate(self.store, self.user_id, self.reports_dir)
        except ValueError as exc:
            self._message(str(exc)[0].upper() + str(exc)[1:] + ".")
            return None
        if self.open_url(QtCore.QUrl.fromLocalFile(str(rep.png))):
            self._message(f"Report written and opened: {rep.png} (also PDF and CSV in {rep.png.parent})")
        else:
            self._message(f"Report written, but no program to show pictures was found. The report is {rep.png} "
                          f"(also {rep.pdf.name} and the CSV files in the same folder).")
        return rep


class SessionDialog(QtWidgets.QDialog):
    """One session, keyboard driven: type the answer (a letter, the words, or 'found') and Enter."""

    def __init__(self, store, user_id, visible_labels, clock, parent=None, plan=("contrast", "reading", "find"),
                 announce: Callable[[str], None] | None = None, camera_texts: Callable[[], tuple] = tuple):
        super().__init__(parent)
        self.setWindowTitle("Therapy session")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.visible_labels = visible_labels
        self.camera_texts = camera_texts
        self.announce = announce or (lambda text: None)
        self.session = TherapySession(store, user_id, plan=plan, trials_per_task=15, clock=clock)
        # Labels carry no accessible name of their own: a screen reader reads their text.
        self.card = QtWidgets.QLabel()
        self.card.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.card.setMinimumSize(300, 200)
        self.instruction = QtWidgets.QLabel()
        self.instruction.setWordWrap(True)
        self.answer = QtWidgets.QLineEdit()
        self.answer.setAccessibleName("Answer")
        self.answer.returnPressed.connect(self.submit)
        answer_label = QtWidgets.QLabel("Answer:")
        answer_label.setBuddy(self.answer)
        self.fatigue_bar = QtWidgets.QProgressBar()
        self.fatigue_bar.setRange(0, 100)
        self.fatigue_bar.setFormat("Fatigue %p%")
        self.fatigue_bar.setAccessibleName("Fatigue estimate")
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.pause_button = QtWidgets.QPushButton("Pause")
        self.pause_button.setAccessibleDescription("Pause or resume the session")
        self.pause_button.clicked.connect(self.toggle_pause)
        end = QtWidgets.QPushButton("End session")
        end.clicked.connect(self.finish)
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.pause_button, end):
            b.setAutoDefault(False)      # Enter submits the answer; it must not also pause or end the session
            b.setDefault(False)
            buttons.addWidget(b)
        layout = QtWidgets.QVBoxLayout(self)
        for w in (self.instruction, self.card, answer_label, self.answer, self.fatigue_bar, self.message):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self._advance()

    def _advance(self) -> None:
        prompt = self.session.next_prompt(visible=tuple(self.visible_labels()), texts=tuple(self.camera_texts()))
        if prompt is None:
            if self.session.finished:
                self._instruct("Session complete. Thank you.")
                self.card.clear()
                self.answer.setEnabled(False)
            elif not self.session.paused:
                self._instruct("Nothing to find in view right now; point the camera at the room.")
            return
        self._instruct(prompt.instruction)
        if prompt.task == "contrast chart":
            card = ContrastChart.render(prompt.text, prompt.level)
            self.card.setPixmap(_pixmap(cv2.cvtColor(card, cv2.COLOR_GRAY2RGB), 260))
            self.card.setAccessibleName("Contrast chart")        # a picture: named, but never by its letters
        elif prompt.task == "reading" and prompt.real:
            self.card.setAccessibleName("")
            self.card.setFont(QtGui.QFont(self.font()))
            self.card.setText("Read the text the camera sees")       # never the text itself: that is the test
        elif prompt.task == "reading":
            self.card.setAccessibleName("")
            self.card.setText(prompt.text)
            f = QtGui.QFont(self.font())
            f.setPointSizeF(prompt.level)
            self.card.setFont(f)
        else:
            self.card.setAccessibleName("")
            self.card.setText(f"Find: {prompt.text}")
        self.answer.clear()
        self.answer.setFocus()

    def _instruct(self, text: str) -> None:
        """The instruction, on screen and as the answer field's description (read with the field)."""
        self.instruction.setText(text)
        self.answer.setAccessibleDescription(text)

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
        self.announce(self.message.text())
        if self.session.paused:
            self.pause_button.setText("Resume")
            self._instruct("Paused for a rest.")
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
