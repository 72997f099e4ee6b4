"""Reflow: at text sizes 1.0 to 2.0, in a large window and at 800x600, nothing is cut off or hidden
behind a horizontal scrollbar: the toolbar wraps, the status area wraps, every hazard row wraps and
shows its whole text (distance and "approaching" included), and the most urgent rows are in view.
Screenshots of each theme and size go to test-output/."""
from __future__ import annotations

import numpy as np
import pytest

from engine.types import Urgency
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.qt import Qt, QtCore, QtGui, QtWidgets
from maxsight_app.ui.theme import apply_theme
from maxsight_app.ui.widgets import WrapDelegate, hazard_row, ordered_hazards
from tests.ui.helpers import OUT
from tests.ui.test_contrast import HAZARDS, hazard, result

SCALES = (1.0, 1.25, 1.5, 1.75, 2.0)
CASES = [(s, (800, 600)) for s in SCALES] + [(1.0, (1280, 760)), (2.0, (1280, 760))]
BUSY = HAZARDS[:3] + [hazard(Urgency.WARNING, (100, 100, 200, 300), 9, "motorcycle", 10, 5.0, True)] + HAZARDS[3:] + \
    [hazard(Urgency.SAFE, (10 * i, 10, 10 * i + 40, 80), 20 + i, "person", 1, 14.0 + i) for i in range(6)]


@pytest.fixture(scope="module")
def window(qapp, installed_models, tmp_path_factory):
    store = ProfileStore(tmp_path_factory.mktemp("reflow") / "p.db")
    store.create_user("default")
    store.set_preferences(1, {"speech": False, "earcons": False})
    from maxsight_app.ui.main_window import MainWindow
    w = MainWindow(store, 1, installed_models, extra_outputs=[SpyOutput()], probe_cameras=False, stage_b=False,
                   screen_reader=False)
    if w.file_dialog is not None:
        w.file_dialog.reject()
    w.show()
    yield w, store
    w.shutdown()
    w.close()
    store.close()
    apply_theme(qapp, False, 1.0)


def _fill(w) -> None:
    """What a busy street puts on screen: a picture, four hazards and seven tracked objects, captions, numbers."""
    frame = np.full((480, 640, 3), (90, 110, 70), dtype=np.uint8)
    w._state = "running"                       # as while a video plays
    w.preview.show_frame(frame, result(BUSY), 1.0)
    w.hazards.show_hazards(result(BUSY), w.session.profile)
    w.captions.add_line("WARNING person, straight ahead, 3 metres, approaching")
    w.captions.add_line("Sound is off: no sound output device was found.")
    for key, text in (("fps", "10.1 fps"), ("stage_a", "Stage A 112 ms"), ("stage_b", "Stage B: sounds + captions + ocr + recognition"),
                      ("device", "Device: cpu"), ("model", "Model: nanodet"), ("lag", "UI lag p95 8 ms")):
        w.status.set_metric(key, text, now=True)
    w.status.show_message("Watching video opencv_vtest.avi")


def _inside(widget: QtWidgets.QWidget, window: QtWidgets.QWidget) -> bool:
    r = QtCore.QRect(widget.mapTo(window, QtCore.QPoint(0, 0)), widget.size())
    return window.rect().contains(r)


def _row_shows_all_its_text(lst, i: int) -> bool:
    item = lst.item(i)
    rect = lst.visualItemRect(item)
    fm = QtGui.QFontMetrics(lst.font())
    need = fm.boundingRect(QtCore.QRect(0, 0, rect.width() - 2 * WrapDelegate.PAD, 100000),
                           int(Qt.TextFlag.TextWordWrap), item.text())
    return need.height() <= rect.height() - 2 * WrapDelegate.PAD + 1 and need.width() <= rect.width() - 2 * WrapDelegate.PAD \
        and rect.right() <= lst.viewport().width()


@pytest.mark.parametrize("scale,size", CASES, ids=[f"text{s}-{w}x{h}" for s, (w, h) in CASES])
def test_nothing_is_cut_off(qtbot, window, scale, size):
    w, store = window
    store.set_preferences(1, {"text_scale": scale, "high_contrast": scale in (1.5, 2.0)})
    w.apply_profile()
    w.resize(*size)
    _fill(w)
    qtbot.waitUntil(lambda: w.size() == QtCore.QSize(*size), timeout=3000)
    qtbot.wait(100)                              # layouts settle (delayed item layout, wrapping rows)
    QtWidgets.QApplication.processEvents()
    OUT.mkdir(exist_ok=True)
    theme = "high-contrast" if scale in (1.5, 2.0) else "standard"
    w.grab().save(str(OUT / f"reflow-{theme}-text{scale}-{size[0]}x{size[1]}.png"))
    assert w.minimumSizeHint().width() <= size[0] and w.minimumSizeHint().height() <= size[1]
    # No information behind a horizontal scrollbar, anywhere in the window.
    for area in w.findChildren(QtWidgets.QAbstractScrollArea):
        if area.isVisible():
            assert not area.horizontalScrollBar().isVisible(), f"{area.accessibleName()} scrolls sideways"
    # The toolbar wrapped instead of pushing its last controls off the window.
    for control in (w.source_box, w.open_button, w.start_button, w.pause_button, w.profile_box, w.settings_button,
                    w.therapist_button):
        assert _inside(control, w), f"{control.accessibleName() or control.text()} is cut off"
    # The status area wrapped too: the numbers whole and inside the window.
    for lab in (w.status.numbers, w.status.message):
        assert _inside(lab, w), f"status {lab.accessibleName()} is cut off"
        need = lab.fontMetrics().boundingRect(QtCore.QRect(0, 0, lab.width(), 100000), int(Qt.TextFlag.TextWordWrap), lab.text())
        assert need.height() <= lab.height(), f"status {lab.accessibleName()} is cut short"
    # The newest caption is shown whole (at large text the list was shorter than one caption).
    cap = w.captions
    cap.scrollToBottom()
    QtWidgets.QApplication.processEvents()
    assert _row_shows_all_its_text(cap, cap.count() - 1) and \
        cap.viewport().rect().contains(cap.visualItemRect(cap.item(cap.count() - 1))), "the newest caption is cut off"
    # Nothing the Sounds list says is lost when it folds away: every sound is also a caption line.
    if not w.sounds.isVisible():
        assert w.captions.isVisible() and w.hazards.height() > w.captions.height()
    # Every hazard row shows its whole text, wrapped; the hazards (caution and above) come first and are in view.
    rows = w.hazards.texts()
    urgent = [i for i, t in enumerate(rows) if "DANGER" in t or "WARNING" in t or "CAUTION" in t]
    assert urgent == list(range(4))
    for i in range(len(rows)):
        assert _row_shows_all_its_text(w.hazards, i), f"row {rows[i]!r} is cut off"
    assert rows[:4] == [hazard_row(h, w.session.profile)[0] for h in ordered_hazards(result(BUSY))[:4]]
    view = w.hazards.viewport().rect()
    in_view = [i for i in urgent if view.contains(w.hazards.visualItemRect(w.hazards.item(i)))]
    assert in_view[:1] == [0], "the most urgent row is not in view"


@pytest.mark.parametrize("scale", (1.0, 2.0))
def test_settings_show_every_section_at_any_text_size(qtbot, window, scale):
    w, store = window
    store.set_preferences(1, {"text_scale": scale, "high_contrast": False})
    w.apply_profile()
    dlg = w.open_settings()
    qtbot.waitExposed(dlg)
    screen = dlg.screen().availableGeometry()
    assert dlg.width() <= screen.width() and dlg.height() <= screen.height()
    OUT.mkdir(exist_ok=True)
    dlg.grab().save(str(OUT / f"reflow-settings-text{scale}.png"))
    assert list(dlg.sections) == ["Speech and sound", "What is said", "Vibration", "Seeing and hearing", "Near-miss log",
                                  "Objects to announce", "Sounds to show"]
    assert not dlg.findChildren(QtWidgets.QTabBar)                # no tabs to hide behind scroll arrows
    assert not dlg.page.horizontalScrollBar().isVisible()
    # Tab reaches a field in every section, in reading order.
    firsts = [dlg.fields["speech"], dlg.fields["verbosity"], dlg.fields["haptic"], dlg.fields["vision_condition"],
              dlg.fields["near_miss_log"], dlg.classes, dlg.sounds]
    dlg.activateWindow()
    qtbot.waitUntil(dlg.isActiveWindow, timeout=3000)
    dlg.fields["speech"].setFocus()
    seen = []
    for _ in range(44):
        f = QtWidgets.QApplication.focusWidget()
        seen.append(f)
        qtbot.keyClick(f, Qt.Key.Key_Tab)
    assert all(x in seen for x in firsts), [type(x).__name__ + ":" + (x.accessibleName() if x else "") for x in seen]
    assert [seen.index(x) for x in firsts] == sorted(seen.index(x) for x in firsts)
    dlg.reject()
