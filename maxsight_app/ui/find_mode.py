"""Find mode in the window: F opens a small chooser (type, or choose with the arrow keys: your own
objects, door, stairs, the COCO classes; Enter finds, Escape cancels); F again or Escape stops find
mode. The status line shows "Finding: door" while it runs. The guidance itself (tone, "door found,
2 o'clock", "lost it") is the session's (maxsight_app/find.py), on the engine thread.

Installed by the main window with one object (FindController), so its file stays about the window.
Screen readers: the chooser is a dialog named "Find" whose text field is named and described with
what to do: the screen reader reads the instructions once, with the field, on opening (they were
also announced, and shown in a label read as the dialog's text: three times, and again after every
letter when the description changed). Typing says nothing more than the typed letter; the arrow keys
say the choice they reach; starting and stopping are announced. Typing "c" chooses the first thing
whose name (or a word of it) starts with "c", not "backpack": names that only contain the letters
are shown only when nothing starts with it."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from maxsight_app.find import FindTarget, choices, resolve, seeable_labels, why_not
from maxsight_app.profile.schema import watch_words
from maxsight_app.cues.phrasing import sentence
from maxsight_app.ui.qt import QtCore, Qt, QtWidgets, Signal

log = logging.getLogger(__name__)

HOW = ("Type what to find, or choose it below with the arrow keys; or type watch for and words, such as watch "
       "for 75, to hear them when they are read. Enter finds it, Escape cancels.")
WATCH_FOR = "watch for"            # typed first: the words after it are watched for (cues/watch.py), not found
STOP_WATCHING = "stop watching"
WATCH_ITEM = "watch for…"          # the list's entry for it: choosing it puts "watch for " in the field


@dataclass(frozen=True)
class WatchWords:
    """What the chooser returns for "watch for 75, Gate C3" (no words: stop watching)."""
    words: tuple[str, ...]

    @property
    def shown(self) -> str:
        return " and ".join(", ".join(self.words).rsplit(", ", 1))


class FindChooser(QtWidgets.QDialog):
    """Type or choose what to find. `check(text)` returns the target or raises ValueError (one
    sentence, shown and announced, the dialog stays open)."""
    chosen = Signal(object)             # FindTarget

    def __init__(self, options: list[str], check: Callable[[str], FindTarget], parent=None,
                 announce: Callable[..., None] | None = None):
        """announce(text, assertive=False): through the screen reader."""
        super().__init__(parent)
        self.setWindowTitle("Find")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)     # a closed dialog leaves the accessibility tree
        self.check, self.announce = check, announce or (lambda text, assertive=False: None)
        self.field = QtWidgets.QLineEdit()
        self.field.setAccessibleName("What to find")
        self.field.setAccessibleDescription(HOW)
        self.field.setPlaceholderText("for example: door, stairs, cup")
        label = QtWidgets.QLabel("&Find:")
        label.setBuddy(self.field)
        self.list = QtWidgets.QListWidget()
        self.list.setAccessibleName("Things you can find")
        self.list.addItems(options)
        self.list.setCurrentRow(0)
        list_label = QtWidgets.QLabel("&Things you can find:")
        list_label.setBuddy(self.list)
        self.message = QtWidgets.QLabel(HOW)
        self.message.setWordWrap(True)
        self.message.setBuddy(self.field)       # the field's own words (its description), not the dialog's text to read again
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        self.find_button = buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok)
        self.find_button.setText("Find")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.field, 1)
        layout.addLayout(row)
        layout.addWidget(list_label)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.field.textChanged.connect(self._filter)
        self.field.installEventFilter(self)
        self.list.itemActivated.connect(lambda item: self._choose(item.text()))
        QtWidgets.QWidget.setTabOrder(self.field, self.list)
        self.resize(420, 420)
        self.field.setFocus()

    # -- typing filters the list; the arrow keys move in it from the text field -----------------
    def _filter(self, text: str) -> None:
        """Names starting with what was typed (or with a word starting with it); names that only
        contain it when none does. The first shown is chosen."""
        words = text.strip().lower()
        starts, inside = [], []
        for i in range(self.list.count()):
            name = self.list.item(i).text().lower()
            if not words or name.startswith(words) or any(w.startswith(words) for w in name.replace("_", " ").split()):
                starts.append(i)
            elif words in name:
                inside.append(i)
        shown = set(starts or inside)
        for i in range(self.list.count()):
            self.list.item(i).setHidden(i not in shown)
        first = min(shown) if shown else None
        if first is not None:
            self.list.setCurrentRow(first)

    def _visible_rows(self) -> list[int]:
        return [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]

    def eventFilter(self, obj, event) -> bool:
        if obj is self.field and event.type() == QtCore.QEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            rows = self._visible_rows()
            if rows:
                cur = self.list.currentRow()
                i = rows.index(cur) if cur in rows else -1
                i = min(len(rows) - 1, i + 1) if event.key() == Qt.Key.Key_Down else max(0, i - 1)
                self.list.setCurrentRow(rows[i])
                self.announce(self.list.item(rows[i]).text())      # the choice the arrow reached, said once
            return True
        return super().eventFilter(obj, event)

    # -- choosing ----------------------------------------------------------------------------
    def submit(self) -> None:
        """Enter: what was typed when it names something to find, else the choice the list shows
        ("sta" finds the stairs it reached)."""
        typed = self.field.text().strip()
        item = self.list.currentItem()
        if item is not None and item.isHidden():
            item = None
        if typed and item is not None:
            try:
                self.check(typed)
            except ValueError:
                typed = item.text()
        self._choose(typed or (item.text() if item is not None else ""))

    def _choose(self, text: str) -> None:
        if text == WATCH_ITEM:                   # chosen from the list: the words are typed after it
            self.field.setText(WATCH_FOR + " ")
            self.field.setFocus()
            self.announce("Type the words to watch for after watch for, then press Enter.", True)
            return
        try:
            target = self.check(text)
        except ValueError as exc:
            self.message.setText(sentence(str(exc)))
            self.announce(self.message.text(), True)        # the answer to Enter: not after the instructions
            self.field.setFocus()
            return
        self.chosen.emit(target)
        self.accept()


class FindController:
    """The window's side of find mode: the chooser, starting and stopping, the status line. It talks
    to the window only through its WindowPort (ui/window_port.py)."""

    def __init__(self, port):
        self.port = port
        self.target: FindTarget | None = None
        self.dialog: FindChooser | None = None
        self._listening = False

    @property
    def active(self) -> bool:
        return self.target is not None

    def _personal(self) -> list[str]:
        try:
            return self.port.personal_items()
        except Exception:  # noqa: BLE001 - the chooser still offers everything else
            log.exception("reading the personal objects failed")
            return []

    def check(self, text: str, personal: list[str] | None = None) -> FindTarget | WatchWords:
        said = " ".join(str(text).split())
        if said.lower() == STOP_WATCHING:
            return WatchWords(())
        if said.lower().startswith(WATCH_FOR) and said[len(WATCH_FOR):len(WATCH_FOR) + 1] in ("", " ", ":"):
            rest = said[len(WATCH_FOR):].strip(" :")
            if not rest:
                raise ValueError("type what to watch for after watch for, for example: watch for 75, Gate C3")
            words = watch_words(rest)
            rt = self.port.engine().runtime
            if rt is not None and "ocr" not in rt.stage_b_tasks:
                raise ValueError("watching for words needs the text reader, which is off at this tier (T3 or T4 runs it)")
            return WatchWords(words)
        target = resolve(text, self._personal() if personal is None else personal)
        rt = self.port.engine().runtime
        if rt is not None:
            reason = why_not(target, seeable_labels(rt.pipeline), "recognition" in rt.stage_b_tasks)
            if reason:
                raise ValueError(reason)
        return target

    def toggle(self) -> None:
        """F: open the chooser, or stop find mode when it runs."""
        if self.active:
            self.stop()
        else:
            self.choose()

    def choose(self) -> FindChooser | None:
        if self.port.engine().session is None:
            self.port.say("Find mode needs the engine, which is not running.")
            return None
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        personal = self._personal()
        dlg = FindChooser(choices(personal) + [WATCH_ITEM], lambda text: self.check(text, personal), self.port.widget,
                          announce=self.port.announce)
        dlg.chosen.connect(self.start)
        dlg.destroyed.connect(lambda *_: setattr(self, "dialog", None))
        self.dialog = dlg
        dlg.open()
        return dlg

    def start_words(self, text: str) -> bool:
        """Find what these words name (the command line's --find); one sentence, shown and said, when
        they name nothing this MaxSight can find."""
        try:
            target = self.check(text)
        except ValueError as exc:
            message = sentence(f"find {text}: {exc}")
            self.port.show_message(message)
            self.port.say(message)
            return False
        self.start(target)
        return True

    def start(self, target: FindTarget | WatchWords) -> None:
        eng = self.port.engine()
        if isinstance(target, WatchWords):             # watching goes on beside find mode, on the engine's thread
            eng.call(lambda rt: rt.session.start_watch(target.words))
            if target.words:
                self.port.show_message(f"Watching for: {', '.join(target.words)}")
                self.port.say(f"Watching for {target.shown}: I will say where when I read it. Type stop watching in "
                              f"Find to stop.")
            else:
                self.port.show_message("Not watching for words")
                self.port.say("Stopped watching for words.")
            return
        self.target = target
        if eng.running:
            eng.worker.start_find(target)
        elif eng.session is not None:
            eng.session.start_find(target)
        self.port.show_find(f"Finding: {target.shown}")
        self.port.say(f"Finding {target.shown}. Press F or Escape to stop.")
        if eng.worker is not None and not self._listening:
            eng.worker.frameReady.connect(self._on_frame)
            self._listening = True

    def _on_frame(self, view) -> None:
        """The target followed is outlined on the picture (as the object 'This is my…' takes is)."""
        g = getattr(view, "guidance", None)
        if not self.active or self.port.teaching:
            return
        self.port.mark(tuple(v * view.scale for v in g.hazard.box) if g is not None and g.in_view and g.hazard else None)

    def stop(self) -> bool:
        """Stop find mode; False when it was not running."""
        if not self.active:
            return False
        eng = self.port.engine()
        self.target = None
        if eng.running:
            eng.worker.stop_find()
        elif eng.session is not None:
            eng.session.stop_find()
        self.port.clear_find()
        if not self.port.teaching:
            self.port.mark(None)
        self.port.say("Find mode off.")
        return True

    def escape(self) -> None:
        """Escape: stop all speech, and find mode when it runs (said after the silence)."""
        self.port.request("stop")
        self.stop()
