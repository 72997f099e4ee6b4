"""The one place MaxSight imports Qt. Everything else imports from here, so a binding change or
a missing Qt is handled once."""
from __future__ import annotations

try:
    from PySide6 import QtCore, QtGui, QtWidgets
    from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
except ImportError as exc:  # pragma: no cover - the set-up installs PySide6
    raise ImportError("the desktop window needs PySide6 (pip install 'maxsight[app]')") from exc

__all__ = ["QtCore", "QtGui", "QtWidgets", "QObject", "Qt", "QThread", "QTimer", "Signal", "Slot"]
