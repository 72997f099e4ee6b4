"""A small window for tests/desktop/test_orca_announcer.py: the window's Announcer and a drop-down,
nothing else (no models, no video), so Orca's speech can be checked for the announcer alone.

Ctrl+D: a danger, at once a warning, then "The video has ended" (what lost a danger in the
50-minute run: the same notification object got new words before Orca read it). The drop-down
"Voice" has the focus; the arrow keys move through it (ui/a11y.py speak_choices); Tab reaches an
empty text field "Name" (ui/a11y.py install_focus_first)."""
from __future__ import annotations

import sys

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.ui.a11y import install_focus_first, speak_choices
from maxsight_app.ui.announcer import Announcer
from maxsight_app.ui.qt import QtGui, QtWidgets

DANGER = "Stop! something, 9 metres"
WARNING = "car, 2 o'clock, 4 metres"
NOTICE = "The video has ended. Press F5 to play it again."


def main() -> int:
    app = QtWidgets.QApplication(sys.argv)
    w = QtWidgets.QWidget()
    w.setWindowTitle("Announcer test")
    lay = QtWidgets.QVBoxLayout(w)
    label = QtWidgets.QLabel("&Voice:")
    box = QtWidgets.QComboBox()
    box.setAccessibleName("Voice")
    box.addItems(["Alba", "Bartholomew", "Carmen"])
    label.setBuddy(box)
    lay.addWidget(label)
    lay.addWidget(box)
    name_label = QtWidgets.QLabel("&Name:")
    field = QtWidgets.QLineEdit()            # empty: Tab to it must say its name
    field.setAccessibleName("Name")
    name_label.setBuddy(field)
    lay.addWidget(name_label)
    lay.addWidget(field)
    if "--old-focus" not in sys.argv:
        install_focus_first(app)
    a = Announcer(w, method="notification")
    lay.addWidget(a.label)
    speak_choices(w, a.reply, [box])

    def burst():
        a.emit(Cue(DANGER, CueKind.HAZARD, Priority.NOW, Urgency.DANGER, 0.0, interrupt=True))
        a.emit(Cue(WARNING, CueKind.HAZARD, Priority.NEXT, Urgency.WARNING, 0.0))
        a.say(NOTICE)
    sc = QtGui.QShortcut(QtGui.QKeySequence("Ctrl+D"), w)
    sc.activated.connect(burst)
    w.resize(420, 200)
    w.show()
    box.setFocus()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
