"""Every action the window offers: its key, its words and its menu. One table, so the menu, the
shortcuts, the README's key list and the tests all read the same thing."""
from __future__ import annotations

from typing import Callable

from maxsight_app.ui.qt import Qt, QtCore, QtGui, QtWidgets

SHORTCUTS = {   # action -> (key, label, menu)
    "repeat": ("R", "Repeat last cue", "Cues"),
    "summary": ("W", "What's around me", "Cues"),
    "describe": ("D", "Describe the scene", "Cues"),
    "read_text": ("T", "Read text now", "Cues"),
    "snooze": ("S", "Snooze for 5 minutes", "Cues"),
    "stop_all": ("Esc", "Stop all speech", "Cues"),
    "teach": ("Ctrl+M", "This is my… (remember an object)", "Cues"),
    "find": ("F", "Find something… (F again stops)", "Cues"),
    "document": ("Ctrl+D", "Read a document…", "Cues"),
    "open_file": ("Ctrl+O", "Open a video file…", "Video"),
    "start_stop": ("F5", "Start or stop", "Video"),
    "pause": ("P", "Pause or resume", "Video"),
    "quit": ("Ctrl+Q", "Quit MaxSight", "Video"),
    "bigger": ("Ctrl++", "Larger text", "View"),
    "smaller": ("Ctrl+-", "Smaller text", "View"),
    "contrast": ("Ctrl+H", "High contrast on or off", "View"),
    "settings": ("Ctrl+,", "Settings…", "View"),
    "therapist": ("Ctrl+T", "Therapist mode…", "View"),
}
MENUS = ("Video", "Cues", "View")


def build_actions(window: QtWidgets.QMainWindow, handlers: dict[str, Callable[[], object]]) -> dict[str, QtGui.QAction]:
    """One QAction per row of SHORTCUTS, in the window's menu bar and active anywhere in the window."""
    missing = set(SHORTCUTS) - set(handlers)
    if missing:
        raise ValueError(f"no handler for action(s) {', '.join(sorted(missing))}")
    menus = {name: window.menuBar().addMenu("&" + name) for name in MENUS}
    actions: dict[str, QtGui.QAction] = {}
    for name, (key, label, menu) in SHORTCUTS.items():
        act = QtGui.QAction(label, window)
        act.setShortcut(QtGui.QKeySequence(key))
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.triggered.connect(lambda _checked=False, h=handlers[name]: h())
        menus[menu].addAction(act)
        window.addAction(act)
        actions[name] = act
    return actions


class QuitFromAnyWindow(QtCore.QObject):
    """Ctrl+Q from any MaxSight window. The window's own Quit action is a window shortcut, so in
    therapist mode, settings or any other dialog (they are window-modal) the key reached nothing and
    the app stayed open: a keyboard user could not quit without finding the main window first.
    Installed on the application; quitting is posted, so the dialog's key handler returns first."""

    def __init__(self, window: QtWidgets.QMainWindow, quit: Callable[[], object]):
        super().__init__(window)
        self._window, self._quit = window, quit
        self._key = QtGui.QKeySequence(SHORTCUTS["quit"][0])

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QtCore.QEvent.Type.KeyPress or not isinstance(obj, QtWidgets.QWidget):
            return False
        if obj.window() is self._window or QtGui.QKeySequence(event.keyCombination()) != self._key:
            return False                    # the main window's own action handles it there
        if not self._ours(obj.window()):
            return False                    # a window of something else in this process
        QtCore.QTimer.singleShot(0, self._quit)
        return True

    def _ours(self, w) -> bool:
        """Whether this window was opened by our main window (its parent, or its parent's ...)."""
        while w is not None:
            if w is self._window:
                return True
            w = w.parentWidget()
        return False
