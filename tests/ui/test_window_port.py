"""The window's helpers (find mode, document mode, Help) work against the small WindowPort
interface alone (issue 25): driven here through a stand-in port that records what a window would
show and say, with no engine running, they answer with one sentence and touch nothing else."""
from __future__ import annotations

from maxsight_app.ui.document_mode import DocumentController
from maxsight_app.ui.find_mode import FindController
from maxsight_app.ui.qt import QtWidgets
from maxsight_app.ui.window_port import Engine


class StandInPort:
    """What a window offers its helpers, with no engine: every call is recorded."""

    def __init__(self, widget, personal=()):
        self.widget = widget
        self.said: list[str] = []
        self.shown: list[str] = []
        self.marks: list = []
        self._personal = list(personal)
        self.teaching = False

    def say(self, text): self.said.append(text)
    def hint(self, text): self.said.append(text)
    def announce(self, text, urgent=False): self.said.append(text)
    def stop_speech(self): pass
    def show_message(self, text): self.shown.append(text)
    def show_find(self, text): self.shown.append(text)
    def clear_find(self): self.shown.append("")
    def mark(self, box): self.marks.append(box)
    def engine(self): return Engine(None, None, None)
    def request(self, what): self.said.append(f"<{what}>")
    def personal_items(self): return self._personal


def test_find_mode_without_an_engine_says_so_once(qtbot):
    parent = QtWidgets.QMainWindow()
    qtbot.addWidget(parent)
    port = StandInPort(parent, personal=["keys"])
    find = FindController(port)
    assert find.choose() is None and find.dialog is None
    assert port.said == ["Find mode needs the engine, which is not running."]
    # words that name nothing findable: one sentence, shown and said, and find mode stays off
    assert find.start_words("zzqx") is False and not find.active
    assert port.shown and port.said[-1] == port.shown[-1] and port.said[-1].count(".") == 1
    # the user's own objects come from the port: "my keys" is a target while nothing runs
    assert find.check("keys").shown.endswith("keys")


def test_document_mode_without_an_engine_says_so_once(qtbot):
    parent = QtWidgets.QMainWindow()
    qtbot.addWidget(parent)
    port = StandInPort(parent)
    doc = DocumentController(port)
    assert doc.open() is None and doc.dialog is None
    assert port.said == ["Document mode needs the camera and the text reader, which are not running."]



def test_find_chooser_words_watch_for_a_word_or_stop_watching(qtbot):
    from maxsight_app.ui.find_mode import WatchWords
    parent = QtWidgets.QMainWindow()
    qtbot.addWidget(parent)
    port = StandInPort(parent)
    find = FindController(port)
    assert find.check("Watch for 75,  Gate C3") == WatchWords(("75", "Gate C3"))
    assert find.check("watch for: Pharmacy") == WatchWords(("Pharmacy",))
    assert find.check("stop watching") == WatchWords(())
    for bad in ("watch for", "watch for ,,"):
        try:
            find.check(bad)
        except ValueError as exc:
            assert "\n" not in str(exc) and "watch" in str(exc)          # one sentence
        else:
            raise AssertionError(f"{bad!r} was accepted")
    find.start(WatchWords(("75", "Gate C3")))
    assert port.said[-1].startswith("Watching for 75 and Gate C3: ") and port.shown[-1] == "Watching for: 75, Gate C3"
    assert not find.active                                     # find mode itself is not started
    find.start(WatchWords(()))
    assert port.said[-1] == "Stopped watching for words."
