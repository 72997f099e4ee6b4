"""The window's Help menu: the set-up assistant (ui/first_run.py), each of its steps again, and the
system check (the same report as `maxsight doctor`, from maxsight_app/doctor.py).

Installed by one call from the main window (with its WindowPort), so its file stays about the
window itself."""
from __future__ import annotations

import logging
import threading

from maxsight_app.ui.first_run import REDO_STEPS, TITLES
from maxsight_app.ui.qt import QObject, Qt, QtGui, QtWidgets, Signal

log = logging.getLogger(__name__)

HELP_KEYS = {"doctor": ("F1", "System check…"), "setup": ("Ctrl+Shift+S", "Set-up assistant…")}


class _DoctorBridge(QObject):
    line = Signal(str)
    done = Signal(object)


class DoctorDialog(QtWidgets.QDialog):
    """The doctor's report, line by line as each check finishes, in a read-only text a screen reader
    can read line by line; the summary is said when it is complete."""

    def __init__(self, parent=None, say=lambda text: None, run=None):
        super().__init__(parent)
        self.setWindowTitle("MaxSight system check")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(900, 520)
        self.say = say
        self.report = None
        layout = QtWidgets.QVBoxLayout(self)
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text.setAccessibleName("System check report")
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard
                                          | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QtWidgets.QLabel("Checking…")
        self.summary.setWordWrap(True)
        self.copy_button = QtWidgets.QPushButton("Copy the report")
        self.copy_button.clicked.connect(lambda: QtWidgets.QApplication.clipboard().setText(self.text.toPlainText()))
        self.close_button = QtWidgets.QPushButton("Close")
        self.close_button.setDefault(True)
        self.close_button.clicked.connect(self.accept)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        layout.addWidget(self.summary)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)
        self.say("Checking MaxSight's set-up.")
        bridge = _DoctorBridge()
        bridge.line.connect(self._add_line)
        bridge.done.connect(self._done)

        def work():
            if run is None:
                from maxsight_app.doctor import run_checks
                report = run_checks(progress=lambda c: bridge.line.emit(c.line()))
            else:
                report = run(lambda c: bridge.line.emit(c.line()))
            bridge.done.emit(report)
        self._thread = threading.Thread(target=work, name="doctor", daemon=True)
        self._thread.bridge = bridge
        self._thread.start()
        self.text.setFocus()

    def _add_line(self, line: str) -> None:
        """A line at the end; the cursor stays where it was (the report's start, where a screen
        reader user begins reading: it was left at the end)."""
        cursor = self.text.textCursor()
        at, anchor = cursor.position(), cursor.anchor()
        self.text.appendPlainText(line)
        cursor = self.text.textCursor()
        cursor.setPosition(anchor)
        cursor.setPosition(at, QtGui.QTextCursor.MoveMode.KeepAnchor)
        self.text.setTextCursor(cursor)

    def _done(self, report) -> None:
        self.report = report
        problems = [c for c in report.checks if c.status == "fail"]
        missing = [c.name for c in report.checks if c.status == "missing"]
        self.summary.setText(report.summary())
        said = report.summary()
        if problems:
            said += " " + " ".join(f"{c.name}: {c.detail}. Fix: {c.fix}." for c in problems)
        if missing:
            said += f" Missing: {', '.join(missing)}."
        self.say(said)

    def wait(self, timeout_s: float = 120) -> None:
        self._thread.join(timeout_s)


def install_help_menu(port) -> dict[str, QtGui.QAction]:
    """Help: Set-up assistant…, Set up again (one step), System check…; returns its actions by key.
    It talks to the window only through its WindowPort (ui/window_port.py)."""
    parent = port.widget
    menu = parent.menuBar().addMenu("&Help")
    actions: dict[str, QtGui.QAction] = {}

    def add(key, handler, parent_menu=menu, shortcut=None, label=None):
        act = QtGui.QAction(label, parent)
        if shortcut:
            act.setShortcut(QtGui.QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            parent.addAction(act)
        act.triggered.connect(lambda _checked=False: handler())
        parent_menu.addAction(act)
        actions[key] = act
        return act

    add("setup", lambda: port.open_setup(), shortcut=HELP_KEYS["setup"][0], label=HELP_KEYS["setup"][1])
    again = menu.addMenu("Set up &again")
    for step in REDO_STEPS:
        add(f"setup:{step}", lambda s=step: port.open_setup(only=s), parent_menu=again, label=TITLES[step] + "…")
    add("doctor", lambda: open_doctor(port), shortcut=HELP_KEYS["doctor"][0], label=HELP_KEYS["doctor"][1])
    return actions


def open_doctor(port, **kw) -> DoctorDialog:
    voice = port.voice()
    dlg = DoctorDialog(port.widget, say=lambda text: voice.say(text, interrupt=False), **kw)
    dlg.destroyed.connect(lambda *_: voice.close())
    dlg.open()
    return dlg
