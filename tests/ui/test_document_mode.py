"""Document mode in the window: guidance is said when it changes (and again after a while), the
page read arrives in reading order, the arrow keys move by line and paragraph, R repeats, S spells,
Ctrl+S saves, Esc leaves and turns the engine's document mode off. The engine side is replaced by
frame results built here; the real chain is tested in tests/integration/test_document_flow.py."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.types import DocumentView, FrameQuality, FrameResult, TextRead
from maxsight_app.ui.document_mode import DocumentMode
from maxsight_app.ui.qt import Qt

GOOD = FrameQuality(120.0, 800.0, 50.0, False, False, False, 1.0)


def view(t, doc):
    r = FrameResult(frame_index=int(t * 10), timestamp=t, image_size=(640, 480), detections=(), tracks=(), hazards=(),
                    quality=GOOD, uncertainty=0.2, document=doc)
    return SimpleNamespace(result=r)


def line(text, x, y, w=300, h=30):
    return TextRead(text, 0.9, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), 12, 0.0)


PAGE = (line("OPENING HOURS", 50, 80, 700, 60), line("Monday to Friday", 50, 200), line("nine to five", 50, 240),
        line("Closed on Sundays", 500, 200), line("and bank holidays", 500, 240))


@pytest.fixture
def dm(qtbot, tmp_path):
    said, calls = [], []
    runtime = SimpleNamespace(pipeline=SimpleNamespace(document_mode=lambda on: calls.append(on) or True))
    d = DocumentMode(said.append, lambda fn: fn(runtime), save_dir=tmp_path)
    d.show()                        # not handed to qtbot: Esc deletes it (WA_DeleteOnClose), as in the app
    qtbot.waitExposed(d)
    d.activateWindow()
    d.said, d.calls = said, calls
    yield d
    try:
        d.close()
    except RuntimeError:            # already deleted by Esc
        pass


def test_guidance_is_said_on_change_and_repeated_after_a_while(dm):
    assert dm.calls == [True] and dm.said[-1].startswith("Document mode.")
    dm.said.clear()
    for t, g in ((0.0, "top edge not visible: tilt up"), (0.5, "top edge not visible: tilt up"), (1.0, "hold still"),
                 (1.5, "hold still"), (6.0, "hold still")):
        dm.on_frame(view(t, DocumentView(g, None)))
    assert dm.said == ["Top edge not visible: tilt up.", "Hold still.", "Hold still."]
    dm.on_frame(view(6.5, DocumentView("", None, reading=True)))
    dm.on_frame(view(7.0, DocumentView("", None, reading=True)))
    assert dm.said[-1] == "Got the page. Reading it…" and dm.said.count("Got the page. Reading it…") == 1


def test_keys_move_through_the_page_and_save(dm, qtbot, tmp_path):
    dm.on_frame(view(0.0, DocumentView("", None, reading=True, texts=PAGE)))
    assert dm.said[-1] == "Heading: OPENING HOURS" and "3 paragraphs" in dm.said[-2]
    press = lambda key, mod=Qt.KeyboardModifier.NoModifier: qtbot.keyClick(dm, key, mod)   # noqa: E731
    press(Qt.Key.Key_Down)
    assert dm.said[-1] == "Monday to Friday"
    press(Qt.Key.Key_Right)
    assert dm.said[-1] == "Closed on Sundays"
    press(Qt.Key.Key_Left)
    press(Qt.Key.Key_Down)
    assert dm.said[-1] == "nine to five"
    press(Qt.Key.Key_Up)
    press(Qt.Key.Key_R)
    assert dm.said[-2:] == ["Monday to Friday", "Monday to Friday"]
    press(Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert dm.said[-1] == "to"
    press(Qt.Key.Key_S)
    assert dm.said[-1] == "t, o"
    assert dm.line.text() == "t, o"
    out = dm.save(tmp_path / "page.txt")
    assert out.read_text() == "OPENING HOURS\n\nMonday to Friday\nnine to five\n\nClosed on Sundays\nand bank holidays\n"
    assert dm.said[-1] == "Saved to page.txt."


def test_nothing_to_move_or_save_before_the_page_and_esc_leaves(dm, qtbot):
    qtbot.keyClick(dm, Qt.Key.Key_Down)
    assert dm.said[-1] == "The page has not been read yet."
    assert dm.save() is None and dm.said[-1] == "There is no page to save yet."
    qtbot.keyClick(dm, Qt.Key.Key_Escape)
    assert dm.calls == [True, False] and dm.said[-1] == "Left document mode."


def test_a_page_without_text_says_so_and_c_takes_another(dm, qtbot):
    dm.on_frame(view(0.0, DocumentView("", None, reading=True, texts=())))
    assert dm.said[-1].startswith("I found no text on this page")
    qtbot.keyClick(dm, Qt.Key.Key_C)
    assert dm.calls == [True, True] and dm.said[-1] == "Point the camera at the next page."
    dm.on_frame(view(1.0, DocumentView("bottom edge not visible: tilt down", None)))
    assert dm.said[-1] == "Bottom edge not visible: tilt down."
