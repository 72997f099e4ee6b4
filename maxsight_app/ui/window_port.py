"""The small interface the window's helpers (find mode, document mode, the Help menu) use to talk
to the main window, instead of reaching into it (`window._say`, attributes attached to it).

Everything a helper may ask of the window is a method here, so what they depend on is written in
one place, and a helper can be tested with a stand-in of this interface alone. The engine's
objects change with each source (a new file, a replay), so they are read each time through
`engine()`, never kept. The helpers keep their own state (their open dialog) on themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Engine:
    """The engine as it is now: the worker thread (None before the first source), the runtime and
    the session it runs (None while nothing runs)."""
    worker: Any
    runtime: Any
    session: Any

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.running

    def call(self, fn: Callable) -> None:
        """Run fn(runtime) on the engine's thread while it runs, here when it does not."""
        if self.running:
            self.worker.call(fn)
        elif self.runtime is not None:
            fn(self.runtime)


class WindowPort:
    """What the main window offers its helpers. Built once by the window (`MainWindow.port`)."""

    def __init__(self, window):
        self._w = window        # the MainWindow (not imported: the window imports this module)

    # -- where dialogs and menus go ----------------------------------------------------------------
    @property
    def widget(self):
        """The parent for the helpers' dialogs, menus and shortcuts."""
        return self._w

    # -- speaking and showing ------------------------------------------------------------------------
    def say(self, text: str) -> None:
        """A system message: shown, said by every output, and in the captions."""
        self._w._say(text)

    def hint(self, text: str) -> None:
        """Guidance that is soon out of date (dropped when it waited too long)."""
        self._w._hint(text)

    def announce(self, text: str, urgent: bool = False) -> None:
        """To the screen reader at once (a reply, or assertive when urgent)."""
        self._w.announcer.say(text, kind="urgent" if urgent else "reply")

    def stop_speech(self) -> None:
        self._w.stop_speech()

    def show_message(self, text: str) -> None:
        self._w.status.show_message(text)

    def show_find(self, text: str) -> None:
        self._w.status.show_find(text)

    def clear_find(self) -> None:
        self._w.status.clear_find()

    # -- the picture ---------------------------------------------------------------------------------
    def mark(self, box: tuple | None) -> None:
        """Outline this box (preview pixels) on the picture, or none."""
        if box != self._w.preview.marked:
            self._w.preview.mark(box)

    @property
    def teaching(self) -> bool:
        """Is "this is my…" open (it owns the outline on the picture)?"""
        return self._w.teach_dialog is not None

    # -- the engine and the user's data ---------------------------------------------------------------
    def engine(self) -> Engine:
        w = self._w
        return Engine(w.worker, w.runtime, w.session)

    def request(self, what: str) -> None:
        """An on-demand request to the engine ("stop", "summary", ...)."""
        self._w.request(what)

    def personal_items(self) -> list[str]:
        """The names of the user's own taught objects."""
        w = self._w
        return sorted(set(w.store.personal_items(w.user_id).values()))

    def profile_store(self):
        """(ProfileStore, user id) of the user the window serves."""
        return self._w.store, self._w.user_id

    def profile(self):
        store, uid = self.profile_store()
        return store.profile(uid)

    def apply_profile(self) -> None:
        """The profile changed: the window and the running engine take it up."""
        self._w.apply_profile()

    @property
    def announcer(self):
        """The window's screen-reader output (for a helper that must not say a thing twice)."""
        return self._w.announcer

    @property
    def screen_reader(self) -> bool:
        return self._w.screen_reader

    def close_file_dialog(self) -> None:
        if self._w.file_dialog is not None:
            self._w.file_dialog.close()

    # -- the set-up assistant (ui/first_run.py) -----------------------------------------------------------
    def open_setup(self, only: str | None = None):
        return self._w.setup.open(only=only)

    def voice(self):
        """A voice for a dialog that speaks while the engine may not run (the set-up's own)."""
        from maxsight_app.ui.first_run import WizardVoice
        return WizardVoice.for_window(self)
