"""Small accessibility helpers shared by the window and its dialogs.

`speak_choices`: arrowing through a closed drop-down changes its value, but the box keeps its
accessible name ("Voice"), so Orca 43 says nothing (the set-up says "choose with the arrow keys").
Each new choice reached from the keyboard is said through `say` (the window's announcer, or the
set-up's own voice). With the list open the screen reader follows the list's focus itself, and a
value set by the program is not said.

`open_menus`: F10 opens the first menu of a window's menu bar (Qt binds no key to it on Linux)."""
from __future__ import annotations

from typing import Callable

from maxsight_app.ui.qt import Qt, QtGui, QtWidgets


def speak_choices(root: QtWidgets.QWidget, say: Callable[[str], None],
                  boxes: list[QtWidgets.QComboBox] | None = None) -> list[QtWidgets.QComboBox]:
    """Say the new choice of every drop-down under `root` (or of `boxes`) when the keyboard changes it."""
    boxes = list(boxes) if boxes is not None else root.findChildren(QtWidgets.QComboBox)
    for box in boxes:
        if box.property("speaks_choices"):
            continue
        box.setProperty("speaks_choices", True)
        box.currentIndexChanged.connect(lambda index, b=box: _said(b, index, say))
    return boxes


def _said(box: QtWidgets.QComboBox, index: int, say: Callable[[str], None]) -> None:
    if index < 0 or not box.hasFocus() or box.view().isVisible():
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
