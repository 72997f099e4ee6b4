"""The one place MaxSight imports Qt. Everything else imports from here, so a binding change or
a missing Qt is handled once."""
from __future__ import annotations

try:
    from PySide6 import QtCore, QtGui, QtWidgets
    from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
    from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
except ImportError as exc:  # pragma: no cover - the set-up installs PySide6
    raise ImportError("the desktop window needs PySide6 (pip install 'maxsight[app]')") from exc

try:        # D-Bus: asking the desktop whether a screen reader runs (Linux); absent elsewhere
    from PySide6 import QtDBus
except ImportError:  # pragma: no cover - PySide6-Essentials ships it on Linux
    QtDBus = None

__all__ = ["QtCore", "QtGui", "QtWidgets", "QtDBus", "QObject", "Qt", "QThread", "QTimer", "Signal", "Slot",
           "QAccessible", "QAccessibleAnnouncementEvent"]
