"""Document mode, the window's side (Ctrl+D): say how to move the camera until the whole page is
in view and steady, then read the sharpest frame of it in reading order and let the user move
through it from the keyboard:

  Up / Down             previous / next line        Left / Right          previous / next paragraph
  Ctrl+Left / Ctrl+Right  previous / next word      R                     repeat the line
  S                     spell the current word      C                     read another page
  Ctrl+S                save the text               Esc                   leave document mode

The engine does the seeing (engine/stage_a/page.py through Pipeline.document_mode, on the
engine thread; the page is read by the Stage B text reader; maxsight_app/document.py puts it in
reading order); this dialog only listens to frame
results, speaks through the window's outputs and moves a cursor. Guidance is said when it changes,
and again every GUIDANCE_REPEAT_S while it stays the same, as guidance (`hint`: the screen reader
drops a hint that waited too long); Esc stops what is being said and drops the hints still waiting
(`leaving`) before it says "Left document mode".
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from maxsight_app.document import Document, DocumentCursor, layout
from maxsight_app.ui.qt import Qt, QtGui, QtWidgets

log = logging.getLogger(__name__)
GUIDANCE_REPEAT_S = 4.0
KEYS = (("Up", "previous line"), ("Down", "next line"), ("Left", "previous paragraph"), ("Right", "next paragraph"),
        ("Ctrl+Left", "previous word"), ("Ctrl+Right", "next word"), ("R", "repeat"), ("S", "spell the word"),
        ("C", "read another page"), ("Ctrl+S", "save the text"), ("Esc", "leave"))


class DocumentMode(QtWidgets.QDialog):
    """say: speaks a sentence through the window's outputs; engine_call(fn): runs fn(runtime) on
    the engine thread (the worker's queue, or at once when nothing plays); hint: says a framing hint
    (say when not given); leaving: stops speech and drops waiting hints when the dialog closes."""

    def __init__(self, say: Callable[[str], None], engine_call: Callable[[Callable], None], parent=None,
                 save_dir: Path | None = None, hint: Callable[[str], None] | None = None,
                 leaving: Callable[[], None] = lambda: None):
        super().__init__(parent)
        self.setWindowTitle("Document mode")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.say, self.engine_call = say, engine_call
        self.hint, self.leaving = hint or say, leaving
        self.save_dir = save_dir or Path.home()
        self.cursor: DocumentCursor | None = None
        self.document: Document | None = None
        self._said, self._said_t, self._reading_said = None, -1e9, False
        self.save_dialog: QtWidgets.QFileDialog | None = None
        self.status = QtWidgets.QLabel("Point the camera at a page.")
        self.status.setWordWrap(True)
        self.status.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.line = QtWidgets.QLabel("")
        self.line.setWordWrap(True)
        f = self.line.font()
        f.setPointSizeF(f.pointSizeF() * 1.6)
        self.line.setFont(f)
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("The page")
        self.text.setFocusPolicy(Qt.FocusPolicy.NoFocus)        # the keys below belong to the dialog
        keys = QtWidgets.QLabel("Keys: " + "; ".join(f"{k} {w}" for k, w in KEYS))
        keys.setWordWrap(True)
        layout_ = QtWidgets.QVBoxLayout(self)
        for w in (self.status, self.line, self.text, keys):
            layout_.addWidget(w)
        self._actions = {}
        for key, handler in (("Up", lambda: self._move("move_line", -1)), ("Down", lambda: self._move("move_line", 1)),
                             ("Left", lambda: self._move("move_paragraph", -1)), ("Right", lambda: self._move("move_paragraph", 1)),
                             ("Ctrl+Left", lambda: self._move("move_word", -1)), ("Ctrl+Right", lambda: self._move("move_word", 1)),
                             ("R", lambda: self._move("line")), ("S", lambda: self._move("spell")),
                             ("C", self.again), ("Ctrl+S", self.save)):
            act = QtGui.QAction(self)
            act.setShortcut(QtGui.QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(lambda _c=False, h=handler: h())
            self.addAction(act)
            self._actions[key] = act
        self.resize(640, 480)
        self.engine_call(lambda rt: rt.pipeline.document_mode(True))
        self._tell("Document mode. Point the camera at a page; I will tell you how to move it.")

    # -- from the engine (GUI thread, by the worker's frameReady signal) ---------------------------
    def on_frame(self, view) -> None:
        d = getattr(view.result, "document", None)
        if d is None:
            return
        now = view.result.timestamp
        if d.texts is not None and self.document is None:
            self.show_document(layout(list(d.texts)))
            return
        if self.document is not None:
            return
        if d.reading:
            if not self._reading_said:
                self._reading_said = True
                self._tell("Got the page. Reading it…")
            return
        if d.guidance and (d.guidance != self._said or now - self._said_t >= GUIDANCE_REPEAT_S):
            self._said, self._said_t = d.guidance, now
            text = d.guidance[:1].upper() + d.guidance[1:] + "."
            self.status.setText(text)
            self.hint(text)

    def show_document(self, document: Document) -> None:
        self.document, self.cursor = document, DocumentCursor(document)
        self.text.setPlainText(document.text())
        n = len(document.paragraphs)
        if self.cursor.empty:
            self._tell("I found no text on this page. Press C to try another.")
            return
        self._tell(f"The page has {n} paragraph{'s' if n != 1 else ''}. Down for the next line, Right for the next paragraph.")
        self._show(self.cursor.line())

    # -- keys ----------------------------------------------------------------------------------
    def _move(self, what: str, *step: int) -> None:
        """A DocumentCursor method (move_line, move_paragraph, move_word, line, spell), said and shown."""
        if self.cursor is None:
            self._tell("The page has not been read yet.")
            return
        self._show(getattr(self.cursor, what)(*step))

    def _show(self, text: str) -> None:
        self.line.setText(text)
        self.say(text)

    def _tell(self, text: str) -> None:
        self.status.setText(text)
        self.say(text)

    def again(self) -> None:
        self.document = self.cursor = None
        self._said, self._said_t, self._reading_said = None, -1e9, False
        self.text.clear()
        self.line.clear()
        self.engine_call(lambda rt: rt.pipeline.document_mode(True))
        self._tell("Point the camera at the next page.")

    def save(self, path: Path | None = None) -> Path | None:
        """Ctrl+S: a file chooser (non-blocking); `path` writes there at once (tests, scripts)."""
        if self.document is None:
            self._tell("There is no page to save yet.")
            return None
        if path is not None:
            return self._write(Path(path))
        if self.save_dialog is None:
            dlg = QtWidgets.QFileDialog(self, "Save the text", str(self.save_dir / "page.txt"), "Text (*.txt)")
            dlg.setAcceptMode(QtWidgets.QFileDialog.AcceptMode.AcceptSave)
            dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dlg.fileSelected.connect(lambda p: self._write(Path(p)))
            dlg.destroyed.connect(lambda *_: setattr(self, "save_dialog", None))
            self.save_dialog = dlg
        self.save_dialog.open()
        return None

    def _write(self, path: Path) -> Path | None:
        try:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(self.document.text(), encoding="utf-8")
            tmp.replace(path)
        except OSError as exc:
            self._tell(f"The text could not be saved: {exc.strerror or exc}.")
            return None
        self._tell(f"Saved to {path.name}.")
        return path

    def done(self, result: int) -> None:           # Esc, the close button, or close()
        try:
            self.engine_call(lambda rt: rt.pipeline.document_mode(False))
        except Exception:  # noqa: BLE001 - leaving must always work
            log.exception("turning document mode off failed")
        try:
            self.leaving()                       # the hints still waiting are no longer true
        except Exception:  # noqa: BLE001
            log.exception("stopping speech failed")
        self.say("Left document mode.")
        super().done(result)


class DocumentController:
    """The main window's hook (Ctrl+D): one document dialog at a time, fed by the engine's frames.
    It talks to the window only through its WindowPort (ui/window_port.py)."""

    def __init__(self, port):
        self.port = port
        self.dialog: DocumentMode | None = None

    def open(self) -> DocumentMode | None:
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        eng = self.port.engine()
        if eng.worker is None or eng.runtime is None:
            self.port.say("Document mode needs the camera and the text reader, which are not running.")
            return None
        if "ocr" not in eng.runtime.stage_b_tasks:          # the runtime's answer, not the scheduler's internals
            self.port.say("Document mode needs the text reader, which is off at this tier.")
            return None
        dlg = DocumentMode(self.port.say, eng.call, parent=self.port.widget, hint=self.port.hint,
                           leaving=self.port.stop_speech)
        eng.worker.frameReady.connect(dlg.on_frame)
        dlg.destroyed.connect(lambda *_: setattr(self, "dialog", None))
        self.dialog = dlg
        dlg.open()
        return dlg
