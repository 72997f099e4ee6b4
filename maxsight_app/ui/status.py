"""The status area under the picture: a message line, the snooze indicator, the last thing
announced, and the engine's numbers. It wraps onto more rows instead of being cut off.

The numbers change ten times a second. Their label has a fixed accessible name ("Engine status"), so
a changed number sends no name-change event to the screen reader, and its text is refreshed at most
once a second: the accessibility bus carries a few updates a minute, not hundreds."""
from __future__ import annotations

import time

from maxsight_app.ui.announcer import AnnouncementLabel
from maxsight_app.ui.qt import QtCore, QtWidgets

METRICS = ("fps", "stage_a", "stage_b", "device", "model", "lag")      # in the order they are shown
REFRESH_S = 1.0


class StatusStrip(QtWidgets.QWidget):
    def __init__(self, parent=None, clock=time.monotonic):
        super().__init__(parent)
        self.clock = clock
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Status")
        self.message.hide()
        self.snooze = QtWidgets.QLabel("")
        self.snooze.setWordWrap(True)
        self.snooze.setAccessibleName("Snooze")
        self.snooze.hide()
        self.find = QtWidgets.QLabel("")           # "Finding: door" while find mode runs (ui/find_mode.py); read as its text
        self.find.setWordWrap(True)
        self.find.hide()
        self.said = AnnouncementLabel()
        self.said.hide()
        # The engine's numbers share one wrapping line: packed like text, they take fewer rows than a
        # row of separate labels when the window is small or the text is large.
        self.numbers = QtWidgets.QLabel("–")
        self.numbers.setObjectName("muted")
        self.numbers.setWordWrap(True)
        self.numbers.setAccessibleName("Engine status")
        self.values: dict[str, str] = {key: "" for key in METRICS}
        for w in (self.message, self.snooze, self.find, self.said, self.numbers):
            layout.addWidget(w)
        self._pending: dict[str, str] = {}
        self._last_refresh = -1e9
        self._message_timer = QtCore.QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.show_message(""))
        self._snooze_timer = QtCore.QTimer(self)
        self._snooze_timer.setSingleShot(True)
        self._snooze_timer.timeout.connect(self.clear_snooze)
        self._refresh_timer = QtCore.QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self._refresh)

    # -- messages -----------------------------------------------------------------------------
    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        if timeout_ms > 0:
            self._message_timer.start(timeout_ms)
        else:
            self._message_timer.stop()

    def show_snooze(self, seconds: float) -> None:
        until = time.strftime("%H:%M", time.localtime(time.time() + seconds))
        self.snooze.setText(f"Snoozed until {until}: only dangers are spoken. Press S again to snooze longer.")
        self.snooze.show()
        self._snooze_timer.start(int(seconds * 1000))

    def clear_snooze(self) -> None:
        self.snooze.hide()
        self.snooze.setText("")
        self._snooze_timer.stop()

    def show_find(self, text: str) -> None:
        self.find.setText(text)
        self.find.show()

    def clear_find(self) -> None:
        self.find.hide()
        self.find.setText("")

    @property
    def snoozed(self) -> bool:
        return self.snooze.isVisibleTo(self)

    # -- numbers ------------------------------------------------------------------------------
    def set_metric(self, key: str, text: str, now: bool = False) -> None:
        """Shown within REFRESH_S; `now` for values that change rarely (device, model, Stage B)."""
        self._pending[key] = text
        if now or self.clock() - self._last_refresh >= REFRESH_S:
            self._refresh()
        elif not self._refresh_timer.isActive():
            self._refresh_timer.start(int(REFRESH_S * 1000))

    def metric_text(self, key: str) -> str:
        return self._pending.get(key, self.values[key])

    def _refresh(self) -> None:
        self._last_refresh = self.clock()
        self.values.update(self._pending)
        self._pending.clear()
        text = "  ·  ".join(v for v in self.values.values() if v)
        if self.numbers.text() != text:
            self.numbers.setText(text)
