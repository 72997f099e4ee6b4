"""Small accessibility helpers shared by the window and its dialogs.

`speak_choices`: arrowing through a closed drop-down changes its value, but the box keeps its
accessible name ("Voice"), so Orca 43 says nothing (the set-up says "choose with the arrow keys").
Each new choice reached from the keyboard is said through `say` (the window's announcer, or the
set-up's own voice). With the list open the screen reader follows the list's focus itself, and a
value set by the program is not said (the Source box naming the video it opened was read at start).

`open_menus`: F10 opens the first menu of a window's menu bar (Qt binds no key to it on Linux).

`install_focus_first`: a text field reached by Tab selects its text on focus-in, and Qt sends the
selection and caret events before the focus event. Orca 43 takes the caret event as the focus moving
there, silently, and then skips the focus event as nothing new: an empty field was read as nothing
(or "Text unselected") instead of its name. An empty field has nothing to select, so its Tab
focus-in is handled as an ordinary one: no selection or caret event goes first, and Orca says
"Name: text"."""
from __future__ import annotations

from typing import Callable

from maxsight_app.ui.qt import QObject, Qt, QtCore, QtGui, QtWidgets


def speak_choices(root: QtWidgets.QWidget, say: Callable[[str], None],
                  boxes: list[QtWidgets.QComboBox] | None = None) -> list[QtWidgets.QComboBox]:
    """Say the new choice of every drop-down under `root` (or of `boxes`) when a key changes it."""
    boxes = list(boxes) if boxes is not None else root.findChildren(QtWidgets.QComboBox)
    for box in boxes:
        if box.property("speaks_choices"):
            continue
        box.setProperty("speaks_choices", True)
        keys = _KeyWatch(box)
        box.installEventFilter(keys)
        box.currentIndexChanged.connect(lambda index, b=box, k=keys: _said(b, k, index, say))
    return boxes


class _KeyWatch(QObject):
    """Whether the box's current key press is being handled (a change then came from the keyboard;
    the program choosing a value, such as the Source box naming the video it opened, says nothing)."""

    def __init__(self, box: QtWidgets.QComboBox):
        super().__init__(box)
        self.pressing = False

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QtCore.QEvent.Type.KeyPress:
            self.pressing = True
            QtCore.QTimer.singleShot(0, self._done)       # after the box's own handler ran
        return False

    def _done(self) -> None:
        self.pressing = False


def _said(box: QtWidgets.QComboBox, keys: _KeyWatch, index: int, say: Callable[[str], None]) -> None:
    if index < 0 or not keys.pressing or not box.hasFocus() or box.view().isVisible():
        return
    say(box.itemText(index))


def open_menus(window: QtWidgets.QMainWindow) -> QtGui.QAction | None:
    """Open the menu bar's first menu, as F10 does in other programs; None when it has none."""
    bar = window.menuBar()
    first = next((a for a in bar.actions() if a.isVisible() and a.isEnabled() and a.menu() is not None), None)
    if first is None:
        return None
    bar.setFocus(Qt.FocusReason.ShortcutFocusReason)
    bar.setActiveAction(first)
    return first


def install_f10(window: QtWidgets.QMainWindow) -> QtGui.QShortcut:
    sc = QtGui.QShortcut(QtGui.QKeySequence("F10"), window)
    sc.setContext(Qt.ShortcutContext.WindowShortcut)
    sc.activated.connect(lambda: open_menus(window))
    return sc


class FocusFirst(QObject):
    """See the module docstring; installed once on the application."""
    sent = 0                      # focus-ins handled (tests)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QtCore.QEvent.Type.FocusIn and isinstance(obj, QtWidgets.QLineEdit) and not obj.text() \
                and event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason,
                                       Qt.FocusReason.ShortcutFocusReason):
            # An empty field has nothing to select: taken as an ordinary focus-in, no selection or
            # caret event goes before the focus event.
            FocusFirst.sent += 1
            obj.event(QtGui.QFocusEvent(QtCore.QEvent.Type.FocusIn, Qt.FocusReason.OtherFocusReason))
            return True
        return False


_FOCUS_FIRST: list[FocusFirst] = []


def install_focus_first(app: QtWidgets.QApplication | None = None) -> FocusFirst:
    app = app or QtWidgets.QApplication.instance()
    if not _FOCUS_FIRST:
        f = FocusFirst(app)
        app.installEventFilter(f)
        _FOCUS_FIRST.append(f)
    return _FOCUS_FIRST[0]
