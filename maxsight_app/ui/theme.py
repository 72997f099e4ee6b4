"""Colours and text size. High contrast is yellow and white on black; text size multiplies the
system's font size (which already carries the desktop's scaling)."""
from __future__ import annotations

from maxsight_app.ui.qt import QtGui, QtWidgets

_BASE_POINT_SIZE: dict[int, float] = {}


def apply_theme(app: QtWidgets.QApplication, high_contrast: bool, text_scale: float) -> None:
    base = _BASE_POINT_SIZE.setdefault(id(app), app.font().pointSizeF() if app.font().pointSizeF() > 0 else 10.0)
    font = QtGui.QFont(app.font())
    font.setPointSizeF(base * text_scale)
    app.setFont(font)
    if high_contrast:
        pal = QtGui.QPalette()
        black, white, yellow = QtGui.QColor("#000000"), QtGui.QColor("#ffffff"), QtGui.QColor("#ffff00")
        for role, colour in ((QtGui.QPalette.ColorRole.Window, black), (QtGui.QPalette.ColorRole.WindowText, white),
                             (QtGui.QPalette.ColorRole.Base, black), (QtGui.QPalette.ColorRole.Text, white),
                             (QtGui.QPalette.ColorRole.Button, black), (QtGui.QPalette.ColorRole.ButtonText, yellow),
                             (QtGui.QPalette.ColorRole.Highlight, yellow), (QtGui.QPalette.ColorRole.HighlightedText, black),
                             (QtGui.QPalette.ColorRole.ToolTipBase, black), (QtGui.QPalette.ColorRole.ToolTipText, yellow)):
            pal.setColor(role, colour)
        app.setPalette(pal)
        app.setStyleSheet("QWidget:focus { outline: 3px solid #ffff00; border: 2px solid #ffff00; }")
    else:
        app.setPalette(app.style().standardPalette())
        app.setStyleSheet("QWidget:focus { border: 2px solid #3d8bfd; }")
