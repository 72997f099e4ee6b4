"""The Qt binding itself: PySide6 6.12.0 on Python 3.11 drops a reference to None on every
QPainter drawRect, setPen and fillRect call, so a window that paints boxes for a few minutes
aborts ("Fatal Python error: none_dealloc"). This measures None's reference count around thirty
thousand such calls, in a child process (a bad binding aborts the process it runs in)."""
from __future__ import annotations

import os
import subprocess
import sys

PAINT = """
import sys
from maxsight_app.ui.qt import QtCore, QtGui, QtWidgets
app = QtWidgets.QApplication([])
image = QtGui.QImage(64, 64, QtGui.QImage.Format.Format_RGB32)
pen = QtGui.QPen(QtGui.QColor("#ff0000"), 3, QtCore.Qt.PenStyle.DashLine)
before = sys.getrefcount(None)
painter = QtGui.QPainter(image)
for _ in range(10000):
    painter.setPen(pen)
    painter.drawRect(QtCore.QRectF(1, 1, 30, 30))
    painter.fillRect(QtCore.QRectF(2, 2, 10, 10), QtGui.QColor(0, 0, 0, 200))
painter.end()
print(sys.getrefcount(None) - before)
"""


def test_painting_keeps_none_alive():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    r = subprocess.run([sys.executable, "-c", PAINT], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, f"painting aborted the process (exit {r.returncode}): {r.stderr.strip()[-300:]}"
    assert abs(int(r.stdout.strip())) < 1000, f"None's reference count moved by {r.stdout.strip()} over 30000 painter calls"
