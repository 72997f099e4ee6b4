"""Cues through the user's own screen reader, in its own voice and rate.

`Announcer` is an Output (name, check, emit, cancel, close) that the composition root adds when
the profile's `speech_output` asks for the screen reader (or when MaxSight's own voice has no sound
device). It hands each cue to the platform accessibility API:

  * on Linux (AT-SPI) through `AnnouncementLabel`s, labels with the Notification role shown with
    the new words. Orca (43 and later) speaks a notification when it handles the "showing" event,
    and reads the object's name *then*: a label whose words were replaced before Orca got to it is
    heard with the new words, and the old ones are lost (a "Stop!" overwritten by "The video has
    ended" 3 s later, while Orca was behind). So every message goes out on a label that is not
    holding an unread message: a warning or danger holds its label for URGENT_HOLD_S, anything
    else for its own speaking time; a held label is never reused (a new one is made beside it).
    Orca 43 does not yet listen for AT-SPI announcement events.
  * elsewhere (Windows UI Automation, macOS) through Qt's QAccessibleAnnouncementEvent, Assertive
    for warnings and dangers, Polite otherwise.

Four kinds of message, by what happens when the screen reader is still busy:
  * urgent (warnings and dangers): out at once (a screen reader interrupts itself for it);
  * replies (the answer to a key: P, T, W, D, R, F5): out at once unless a warning or danger is
    still being read, then right after it. But a screen reader stops speaking at every key press
    (Orca 43's KeyboardEvent._present calls presentationInterrupt; NVDA and JAWS alike), so once a
    key was pressed more than CUT_GRACE_S after the warning went out (time for the screen reader to
    have started it), the warning was cut by the key and holding replies back would only leave
    silence (P's answer waited 1.3 s so in the 30-minute Orca run). The announcer watches the
    application's key presses for this (a mouse click does not count). A newer reply replaces one
    still waiting (stale answers are dropped), and the text read for T is dropped when it comes
    ANSWER_STALE_S after the key (`asked`; it came 31 s late under load);
  * notices ("The video has ended"): in turn, after what is being read; at most MAX_NOTICES wait;
  * guidance (cautions, find mode, framing hints, "I can't see well"): in turn, but dropped when it
    has waited GUIDANCE_STALE_S (old directions are worse than none); at most MAX_GUIDANCE wait,
    the oldest dropped first.
`cancel()` (Esc, barge-in) drops everything still waiting; from the GUI thread it does so at once.

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
URGENT_HOLD_S = 30.0            # a label that carried a warning or danger is not given new words for this long
GUIDANCE_STALE_S = 2.0          # guidance that waited this long is no longer true: dropped
MAX_GUIDANCE = 2
MAX_NOTICES = 4
MAX_LABELS = 12                 # notification labels at most (then the one free longest is reused)
ANSWER_STALE_S = 10.0           # the text read for T that comes later than this after T is no answer any more
CUT_GRACE_S = 0.5               # a key this long after a warning went out cut it (Orca started it within 0.12 s)

_KEY_EVENTS = (QtCore.QEvent.Type.KeyPress, QtCore.QEvent.Type.ShortcutOverride)
URGENT, REPLY, NOTICE, GUIDANCE = "urgent", "reply", "notice", "guidance"
MESSAGE_KINDS = (URGENT, REPLY, NOTICE, GUIDANCE)


class AnnouncementLabel(QtWidgets.QLabel):
    """A thing announced, shown in the status area. On AT-SPI it has the Notification role and its
    accessible name is the message; the screen reader speaks it when it is shown."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        install_accessibility_factory()
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.NoTextInteraction)
        self.hold_until = -1e18          # until then its words may still be unread: never replaced
        self.read_until = -1e18          # until then it is never hidden (a warning: as long as it is held)


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


def message_kind(cue: Cue) -> str:
    """urgent, reply, notice or guidance (see the module docstring)."""
    if is_assertive(cue):
        return URGENT
    if cue.kind in (CueKind.SUMMARY, CueKind.REPEAT, CueKind.TEXT):
        return REPLY                     # answers to W, D, R and T
    if cue.kind is CueKind.SYSTEM:
        return NOTICE
    return GUIDANCE


def speaking_time(text: str) -> float:
    return 0.4 + len(text.split()) / WORDS_PER_SECOND


class Announcer(QObject):
    """An Output that speaks through the screen reader (see the module docstring)."""
    name = "screen reader"
    _post = Signal(str, str, float)      # text, kind, when it was posted (self.clock)
    _drop = Signal()
    announced = Signal(str, bool)          # text, assertive: after it went to the accessibility API
    dropped = Signal(str, str)             # text, why ("stale", "replaced", "cancelled", "too many")

    def __init__(self, host: QtWidgets.QWidget, label: AnnouncementLabel | None = None, method: str = "auto",
                 clock=time.monotonic):
        super().__init__(host)
        if method == "auto":
            method = "notification" if QtGui.QGuiApplication.platformName() in AT_SPI_PLATFORMS else "event"
        if method not in ("notification", "event"):
            raise ValueError(f"method must be auto, notification or event, got {method!r}")
        self.method, self.host, self.clock = method, host, clock
        first = label if label is not None else AnnouncementLabel(host)
        self.labels: list[AnnouncementLabel] = [first]
        self._current = first
        self.history: list[tuple[float, str, bool]] = []        # (time, text, assertive), the last 200
        self._waiting: list[tuple[str, str, float]] = []        # (text, kind, posted)
        self._busy_until = 0.0           # the screen reader is reading the last message until then
        self._asked: dict[CueKind, float] = {}
        self._urgent_until = 0.0         # ... a warning or danger, until then
        self._urgent_sent = -1e18        # when that warning or danger went out
        self._last_key = -1e18           # the user's last key press (the screen reader stopped speaking then)
        app = QtCore.QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._flush)
        self._post.connect(self._on_post, QtCore.Qt.ConnectionType.QueuedConnection)
        self._drop.connect(self._on_drop, QtCore.Qt.ConnectionType.QueuedConnection)

    @property
    def label(self) -> AnnouncementLabel:
        """The label the last message went out on."""
        return self._current

    @property
    def waiting(self) -> list[tuple[str, str]]:
        """(text, kind) of what is still waiting its turn."""
        return [(t, k) for t, k, _ in self._waiting]

    # -- Output protocol (any thread) ---------------------------------------------------------
    def check(self) -> str | None:
        return None              # announcing with no screen reader listening is harmless

    def emit(self, cue: Cue) -> None:
        if not cue.text:
            return
        if cue.kind is CueKind.TEXT:
            asked = self._asked.get(CueKind.TEXT)
            if asked is None or self.clock() - asked > ANSWER_STALE_S:
                self.dropped.emit(cue.text, "stale")     # (any thread: a queued signal to the GUI thread)
                return
        self._post.emit(spoken_text(cue), message_kind(cue), self.clock())

    def asked(self, kind: CueKind) -> None:
        """The user pressed the key whose answer is a cue of this kind (T: CueKind.TEXT), now."""
        self._asked[kind] = self.clock()

    def say(self, text: str, assertive: bool = False, kind: str | None = None) -> None:
        """kind: one of MESSAGE_KINDS; by default urgent when assertive, else a notice."""
        kind = kind or (URGENT if assertive else NOTICE)
        if kind not in MESSAGE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(MESSAGE_KINDS)}, got {kind!r}")
        if text:
            self._post.emit(text, kind, self.clock())

    def reply(self, text: str) -> None:
        """The answer to a key the user pressed: at once (see the module docstring)."""
        self.say(text, kind=REPLY)

    def cancel(self) -> None:
        if QtCore.QThread.currentThread() == self.thread():
            self._on_drop()          # Esc on the GUI thread: nothing waiting is said after it
        self._drop.emit()            # ... and anything posted before it from another thread is dropped too

    def close(self) -> None:
        self._drop.emit()        # the window owns the label; a later profile may add this output again

    # -- GUI thread ---------------------------------------------------------------------------
    def _on_post(self, text: str, kind: str, posted: float) -> None:
        now = self.clock()
        if kind == URGENT:
            self._send(text, True, now)
        elif kind == REPLY and self._reply_free(now):
            self._discard(lambda k: k == REPLY, "replaced")
            self._send(text, False, now)
        else:
            if kind == REPLY:
                self._discard(lambda k: k == REPLY, "replaced")
                at = next((i for i, (_, k, _) in enumerate(self._waiting) if k != REPLY), len(self._waiting))
                self._waiting.insert(at, (text, kind, posted))       # first in line
            else:
                self._waiting.append((text, kind, posted))
                self._trim(kind, MAX_GUIDANCE if kind == GUIDANCE else MAX_NOTICES)
        self._flush()

    def key_pressed(self) -> None:
        """The user pressed a key (the event filter calls this): the screen reader stopped speaking,
        so a reply waiting for a warning to be read may go now."""
        self._last_key = self.clock()
        if self._waiting and self._waiting[0][1] == REPLY:
            self._flush()

    def eventFilter(self, obj, event) -> bool:
        # A shortcut's key never arrives as a KeyPress, only as its ShortcutOverride.
        if event.type() in _KEY_EVENTS:
            self.key_pressed()
        return False

    def _reply_free(self, now: float) -> bool:
        """May a reply go out now? Yes unless a warning or danger is still being read and no key
        has cut it since (see the module docstring)."""
        return now >= self._urgent_until or self._last_key > self._urgent_sent + CUT_GRACE_S

    def _discard(self, which, why: str) -> None:
        keep = []
        for item in self._waiting:
            if which(item[1]):
                self.dropped.emit(item[0], why)
            else:
                keep.append(item)
        self._waiting = keep

    def _trim(self, kind: str, most: int) -> None:
        mine = [i for i, item in enumerate(self._waiting) if item[1] == kind]
        for i in reversed(mine[:max(0, len(mine) - most)]):
            self.dropped.emit(self._waiting.pop(i)[0], "too many")

    def _on_drop(self) -> None:
        self._discard(lambda k: True, "cancelled")
        self._timer.stop()

    def _flush(self) -> None:
        now = self.clock()
        for text, kind, posted in list(self._waiting):
            if kind == GUIDANCE and now - posted >= GUIDANCE_STALE_S:
                self._waiting.remove((text, kind, posted))
                self.dropped.emit(text, "stale")
        if not self._waiting:
            self._timer.stop()
            return
        text, kind, _ = self._waiting[0]
        free = (now if self._reply_free(now) else self._urgent_until) if kind == REPLY else self._busy_until
        if free > now:
            self._timer.start(int((free - now) * 1000) + 1)
            return
        self._waiting.pop(0)
        self._send(text, False, now)
        self._flush()

    def _label_for(self, now: float) -> AnnouncementLabel:
        """A label holding no unread words: the one free longest, or a new one beside the first."""
        free = [lab for lab in self.labels if lab.hold_until <= now]
        if free:
            return min(free, key=lambda lab: lab.hold_until)
        if len(self.labels) >= MAX_LABELS:
            return min(self.labels, key=lambda lab: lab.hold_until)
        first = self.labels[0]
        parent = first.parentWidget() or self.host
        lab = AnnouncementLabel(parent)
        lab.hide()
        layout = parent.layout()
        if layout is not None and layout.indexOf(first) >= 0:
            layout.insertWidget(layout.indexOf(first) + 1, lab)
        self.labels.append(lab)
        return lab

    def _send(self, text: str, assertive: bool, now: float) -> None:
        said = speaking_time(text)
        self._busy_until = now + said
        if assertive:
            self._urgent_until = now + said
            self._urgent_sent = now
        self.history = (self.history + [(now, text, assertive)])[-200:]
        if self.method == "notification":
            lab = self._label_for(now)
            lab.hold_until = now + (max(URGENT_HOLD_S, said) if assertive else said + 1.0)
            lab.read_until = lab.hold_until if assertive else now + said     # a warning stays on screen as long
            for other in self.labels:           # what was read already leaves the screen
                if other is not lab and not other.isHidden() and other.read_until <= now:
                    other.hide()
            lab.hide()                          # showing it is what the screen reader hears
            lab.setText(text)
            lab.setAccessibleName(text)
            lab.show()
            self._current = lab
        else:
            self._current.setText(text)
            ev = QAccessibleAnnouncementEvent(self.host, text)
            ev.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if assertive
                             else QAccessible.AnnouncementPoliteness.Polite)
            QAccessible.updateAccessibility(ev)
        self.announced.emit(text, assertive)
        if self._waiting and not self._timer.isActive():
            self._timer.start(int(said * 1000) + 1)


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
