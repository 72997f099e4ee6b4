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
from typing import Callable

from maxsight_app.find import FindTarget, choices, resolve, seeable_labels, why_not
from maxsight_app.cues.phrasing import sentence
from maxsight_app.ui.qt import QtCore, Qt, QtWidgets, Signal

log = logging.getLogger(__name__)

HOW = "Type what to find, or choose it below with the arrow keys. Enter finds it, Escape cancels."


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
    """The window's side of find mode: the chooser, starting and stopping, the status line."""

    def __init__(self, window):
        self.window = window
        self.target: FindTarget | None = None
        self.dialog: FindChooser | None = None
        self._listening = False

    @property
    def active(self) -> bool:
        return self.target is not None

    def _personal(self) -> list[str]:
        w = self.window
        try:
            return sorted(set(w.store.personal_items(w.user_id).values()))
        except Exception:  # noqa: BLE001 - the chooser still offers everything else
            log.exception("reading the personal objects failed")
            return []

    def check(self, text: str, personal: list[str] | None = None) -> FindTarget:
        target = resolve(text, self._personal() if personal is None else personal)
        rt = self.window.runtime
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
        if self.window.session is None:
            self.window._say("Find mode needs the engine, which is not running.")
            return None
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        personal = self._personal()
        ann = self.window.announcer
        dlg = FindChooser(choices(personal), lambda text: self.check(text, personal), self.window,
                          announce=lambda text, assertive=False: ann.say(text, kind="urgent" if assertive else "reply"))
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
            self.window.status.show_message(message)
            self.window._say(message)
            return False
        self.start(target)
        return True

    def start(self, target: FindTarget) -> None:
        w = self.window
        self.target = target
        if w.worker is not None and w.worker.running:
            w.worker.start_find(target)
        elif w.session is not None:
            w.session.start_find(target)
        w.status.show_find(f"Finding: {target.shown}")
        w._say(f"Finding {target.shown}. Press F or Escape to stop.")
        if w.worker is not None and not self._listening:
            w.worker.frameReady.connect(self._on_frame)
            self._listening = True

    def _on_frame(self, view) -> None:
        """The target followed is outlined on the picture (as the object 'This is my…' takes is)."""
        g = getattr(view, "guidance", None)
        if not self.active or self.window.teach_dialog is not None:
            return
        box = tuple(v * view.scale for v in g.hazard.box) if g is not None and g.in_view and g.hazard else None
        if box != self.window.preview.marked:
            self.window.preview.mark(box)

    def stop(self) -> bool:
        """Stop find mode; False when it was not running."""
        if not self.active:
            return False
        w = self.window
        self.target = None
        if w.worker is not None and w.worker.running:
            w.worker.stop_find()
        elif w.session is not None:
            w.session.stop_find()
        w.status.clear_find()
        if w.teach_dialog is None:
            w.preview.mark(None)
        w._say("Find mode off.")
        return True

    def escape(self) -> None:
        """Escape: stop all speech, and find mode when it runs (said after the silence)."""
        self.window.request("stop")
        self.stop()
