"""Cues through the user's own screen reader, in its own voice and rate.

`Announcer` is an Output (name, check, emit, cancel, close) that the composition root adds when
the profile's `speech_output` asks for the screen reader (or when MaxSight's own voice has no sound
device). It hands each cue to the platform accessibility API:

  * on Linux (AT-SPI) through `AnnouncementLabel`, a label with the Notification role that is
    re-shown with the new words. Orca (43 and later) speaks a notification the moment it is shown
    ("object:state-changed:showing"); Orca 43 does not yet listen for AT-SPI announcement events.
  * elsewhere (Windows UI Automation, macOS) through Qt's QAccessibleAnnouncementEvent, Assertive
    for warnings and dangers, Polite otherwise.

Priority by urgency: a warning or danger goes out at once (a screen reader interrupts itself for
it); anything else waits until the last message has had time to be spoken, so an answer to "what's
around me" never cuts a danger off. `cancel()` (Esc, barge-in) drops what is still waiting.

Emits may come from the engine thread: they hop to the GUI thread by a queued signal.

`ScreenReaderProbe` asks, off the GUI thread and without D-Bus activation, whether a screen reader
runs: AT-SPI's org.a11y.Status ScreenReaderEnabled (set by the desktop when the user turns the
screen reader on), or an Orca process of this user (Orca started by hand does not set it);
SPI_GETSCREENREADER on Windows. Anything that fails means "no".
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.ui.qt import QAccessible, QAccessibleAnnouncementEvent, QObject, QtCore, QtDBus, QtGui, QtWidgets, Signal

log = logging.getLogger(__name__)

WORDS_PER_SECOND = 2.5          # a screen reader at a typical rate (150 words a minute)
AT_SPI_PLATFORMS = ("xcb", "wayland", "offscreen", "minimal")


class AnnouncementLabel(QtWidgets.QLabel):
    """The last thing announced, shown in the status area. On AT-SPI it has the Notification role
    and its accessible name is the message; it is hidden and shown again for every message."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        install_accessibility_factory()
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.NoTextInteraction)


# Interfaces the factory made, kept for the life of the process: Qt's accessibility cache owns and
# deletes them with their widget, so Python must never drop (and delete) one first.
_INTERFACES: list = []
_FACTORY_INSTALLED = False


def _factory(classname: str, obj):
    if classname == "AnnouncementLabel" and isinstance(obj, QtWidgets.QWidget):
        iface = QtWidgets.QAccessibleWidget(obj, QAccessible.Role.Notification)
        _INTERFACES.append(iface)
        return iface
    return None


def install_accessibility_factory() -> None:
    global _FACTORY_INSTALLED
    if not _FACTORY_INSTALLED:
        QAccessible.installFactory(_factory)
        _FACTORY_INSTALLED = True


def with_urgency_word(text: str, urgency: Urgency, upper: bool = False) -> str:
    """'Warning: car, 2 o'clock…' once: the cue policy may already lead with the word."""
    word = urgency.word
    if urgency < Urgency.CAUTION or text.lower().startswith(word.lower()) or \
            (urgency == Urgency.DANGER and text.startswith("Stop!")):      # the cue's own danger word
        return text
    return f"{word.upper()} {text}" if upper else f"{word.capitalize()}: {text}"


def spoken_text(cue: Cue) -> str:
    """What the screen reader says: a hazard leads with its urgency word (no earcon carries it)."""
    if cue.kind is CueKind.HAZARD and cue.urgency >= Urgency.CAUTION:
        return with_urgency_word(cue.text, cue.urgency)
    return cue.text


def is_assertive(cue: Cue) -> bool:
    # Find mode's "found" waits its turn here: an assertive message would cut a warning being read.
    return cue.urgency >= Urgency.WARNING or (cue.priority is Priority.NOW and cue.kind is not CueKind.FIND) or cue.interrupt


class Announcer(QObject):
    """An Output that speaks through the screen reader (see the module docstring)."""
    name = "screen reader"
    _post = Signal(str, bool)
    _drop = Signal()
    announced = Signal(str, bool)          # text, assertive: after it went to the accessibility API

    def __init__(self, host: QtWidgets.QWidget, label: AnnouncementLabel | None = None, method: str = "auto",
                 clock=time.monotonic):
        super().__init__(host)
        if method == "auto":
            method = "notification" if QtGui.QGuiApplication.platformName() in AT_SPI_PLATFORMS else "event"
        if method not in ("notification", "event"):
            raise ValueError(f"method must be auto, notification or event, got {method!r}")
        self.method, self.host, self.clock = method, host, clock
        self.label = label if label is not None else AnnouncementLabel(host)
        self.history: list[tuple[float, str, bool]] = []        # (time, text, assertive), the last 200
        self._waiting: list[str] = []
        self._busy_until = 0.0
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)
        self._post.connect(self._on_post, QtCore.Qt.ConnectionType.QueuedConnection)
        self._drop.connect(self._on_drop, QtCore.Qt.ConnectionType.QueuedConnection)

    # -- Output protocol (any thread) ---------------------------------------------------------
    def check(self) -> str | None:
        return None              # announcing with no screen reader listening is harmless

    def emit(self, cue: Cue) -> None:
        if cue.text:
            self._post.emit(spoken_text(cue), is_assertive(cue))

    def say(self, text: str, assertive: bool = False) -> None:
        if text:
            self._post.emit(text, assertive)

    def cancel(self) -> None:
        self._drop.emit()

    def close(self) -> None:
        self._drop.emit()        # the window owns the label; a later profile may add this output again

    # -- GUI thread ---------------------------------------------------------------------------
    def _on_post(self, text: str, assertive: bool) -> None:
        if assertive:
            self._send(text, True)
        else:
            self._waiting.append(text)
            self._flush()

    def _on_drop(self) -> None:
        self._waiting.clear()
        self._timer.stop()

    def _flush(self) -> None:
        if not self._waiting:
            return
        wait = self._busy_until - self.clock()
        if wait > 0:
            self._timer.start(int(wait * 1000) + 1)
            return
        self._send(self._waiting.pop(0), False)
        if self._waiting:
            self._flush()

    def _send(self, text: str, assertive: bool) -> None:
        now = self.clock()
        self._busy_until = now + 0.4 + len(text.split()) / WORDS_PER_SECOND
        self.history = (self.history + [(now, text, assertive)])[-200:]
        lab = self.label
        if self.method == "notification":
            lab.hide()                          # showing it again is what the screen reader hears
            lab.setText(text)
            lab.setAccessibleName(text)
            lab.show()
        else:
            lab.setText(text)
            ev = QAccessibleAnnouncementEvent(self.host, text)
            ev.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if assertive
                             else QAccessible.AnnouncementPoliteness.Polite)
            QAccessible.updateAccessibility(ev)
        self.announced.emit(text, assertive)
        if self._waiting and not self._timer.isActive():
            self._timer.start(int((self._busy_until - now) * 1000) + 1)


# -- is a screen reader running? --------------------------------------------------------------
def _orca_running(proc: Path = Path("/proc")) -> bool:
    uid = os.getuid()
    for d in proc.iterdir() if proc.is_dir() else ():
        if not d.name.isdigit():
            continue
        try:
            if d.stat().st_uid != uid:
                continue
            if (d / "comm").read_text().strip() == "orca":
                return True
            argv = (d / "cmdline").read_bytes().split(b"\0")
            if any(Path(a.decode(errors="replace")).name == "orca" for a in argv[:2] if a):
                return True
        except OSError:
            continue
    return False


def _a11y_status(prop: str, timeout_ms: int) -> bool:
    if QtDBus is None:
        return False
    bus = QtDBus.QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    msg = QtDBus.QDBusMessage.createMethodCall("org.a11y.Bus", "/org/a11y/bus", "org.freedesktop.DBus.Properties", "Get")
    msg.setArguments(["org.a11y.Status", prop])
    msg.setAutoStartService(False)          # never start the accessibility bus just to ask
    reply = bus.call(msg, QtDBus.QDBus.CallMode.Block, timeout_ms)
    if reply.type() != QtDBus.QDBusMessage.MessageType.ReplyMessage or not reply.arguments():
        return False
    value = reply.arguments()[0]
    if hasattr(value, "variant"):
        value = value.variant()
    return value is True


def _windows_screen_reader() -> bool:  # pragma: no cover - Windows only
    import ctypes
    flag = ctypes.c_int(0)
    ok = ctypes.windll.user32.SystemParametersInfoW(0x0046, 0, ctypes.byref(flag), 0)   # SPI_GETSCREENREADER
    return bool(ok and flag.value)


def screen_reader_running(timeout_ms: int = 500) -> bool:
    try:
        if sys.platform == "win32":
            return _windows_screen_reader()
        if sys.platform.startswith("linux"):
            return _orca_running() or _a11y_status("ScreenReaderEnabled", timeout_ms)
    except Exception:  # noqa: BLE001 - a probe that fails means "no screen reader", never a failed start
        log.debug("screen reader probe failed", exc_info=True)
    return False


class ScreenReaderProbe:
    """Asks on a thread while the window builds; result() waits at most `wait_s` for the answer."""

    def __init__(self, probe=screen_reader_running):
        self._answer: bool | None = None
        self._thread = threading.Thread(target=self._run, args=(probe,), name="screen-reader-probe", daemon=True)
        self._thread.start()

    def _run(self, probe) -> None:
        self._answer = bool(probe())

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, wait_s: float = 0.5) -> bool:
        self._thread.join(wait_s)
        return bool(self._answer)
