"""WCAG 2.2 AA contrast, measured on rendered pixels of the real widgets in both themes: text at
least 4.5:1 against what is behind it, focus rings, outlines and boxes at least 3:1. Screenshots
of what was measured go to test-output/."""
from __future__ import annotations

import numpy as np
import pytest

from engine.types import FrameQuality, FrameResult, Hazard, Urgency, Zone
from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.screen import VisualAlert
from maxsight_app.profile.schema import Profile
from maxsight_app.ui.qt import Qt, QtCore, QtWidgets
from maxsight_app.ui.theme import BOX_COLOURS, apply_theme, theme_for
from maxsight_app.ui.widgets import PEN, HazardList, PreviewWidget
from tests.ui.helpers import OUT, contrast, image_rgb, text_contrast

THEMES = pytest.mark.parametrize("high_contrast", [False, True], ids=["standard", "high-contrast"])
MEASURED: dict[str, float] = {}        # what the last run measured, for the report


def hazard(urgency, box, tid, label="person", clock=12, dist=3.0, approaching=False):
    return Hazard(tid, 0, label, box, clock, 0.0, dist, Zone.NEAR, approaching, None, urgency, 1.0, 0.9, True)


def result(hazards, size=(640, 480)):
    q = FrameQuality(128.0, 500.0, 50.0, False, False, False, 1.0)
    return FrameResult(0, 0.0, size, (), (), tuple(hazards), q, 0.1)


HAZARDS = [hazard(Urgency.DANGER, (40, 60, 160, 300), 1, dist=2.5, approaching=True),
           hazard(Urgency.WARNING, (200, 80, 300, 320), 2, "car", 2, 4.0, True),
           hazard(Urgency.CAUTION, (340, 100, 430, 300), 3, "bicycle", 1, 6.0),
           hazard(Urgency.SAFE, (470, 120, 600, 330), 4, "chair", 3, 12.0)]


@pytest.fixture
def themed(qapp):
    def use(high_contrast: bool):
        return apply_theme(qapp, high_contrast, 1.0)
    yield use
    apply_theme(qapp, False, 1.0)


@pytest.fixture(scope="module", autouse=True)
def write_measurements():
    """The ratios measured, for the record: test-output/contrast.json."""
    yield
    if MEASURED:
        import json
        OUT.mkdir(exist_ok=True)
        (OUT / "contrast.json").write_text(json.dumps(dict(sorted(MEASURED.items())), indent=1))


def record(key: str, value: float, floor: float) -> None:
    MEASURED[key] = round(value, 2)
    assert value >= floor, f"{key}: {value:.2f}:1 is under {floor}:1"


@THEMES
def test_hazard_rows_text_reaches_4_5_to_1(qtbot, themed, high_contrast):
    t = themed(high_contrast)
    lst = HazardList()
    qtbot.addWidget(lst)
    lst.resize(520, 420)
    lst.show()
    lst.show_hazards(result(HAZARDS), Profile())
    qtbot.wait(50)
    img = image_rgb(lst.grab())
    OUT.mkdir(exist_ok=True)
    lst.grab().save(str(OUT / f"contrast-hazard-rows-{t.name.replace(' ', '-')}.png"))
    off = lst.viewport().mapTo(lst, QtCore.QPoint(0, 0))
    for i, h in enumerate(HAZARDS):
        r = lst.visualItemRect(lst.item(i)).translated(off).adjusted(4, 4, -4, -4)
        ratio, fg, bg = text_contrast(img[r.top():r.bottom(), r.left():r.right()])
        record(f"{t.name}: {h.urgency.word} row text", ratio, 4.5)
        if h.urgency != Urgency.SAFE:
            assert bg == tuple(int(t.urgency[h.urgency][0][k:k + 2], 16) for k in (1, 3, 5))    # solid, not a tint


@THEMES
def test_controls_text_outline_and_focus_ring(qtbot, themed, high_contrast):
    t = themed(high_contrast)
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    lay = QtWidgets.QHBoxLayout(w)
    label = QtWidgets.QLabel("Source:")
    combo = QtWidgets.QComboBox()
    combo.addItem("File: opencv_vtest.avi")
    first, second, third = (QtWidgets.QPushButton(x) for x in ("Open video…", "Start", "Settings…"))
    for x in (label, combo, first, second, third):
        lay.addWidget(x)
    lay.addStretch(1)
    w.resize(700, 80)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    third.setFocus()
    qtbot.waitUntil(third.hasFocus, timeout=2000)
    before = {x: x.geometry() for x in (combo, first, second, third)}
    img = image_rgb(w.grab())
    window_bg = tuple(img[2, 2])
    for name, x in (("button", second), ("combo box", combo)):
        g = x.geometry().adjusted(6, 6, -6, -6)
        ratio, _, _ = text_contrast(img[g.top():g.bottom(), g.left():g.right()])
        record(f"{t.name}: {name} text", ratio, 4.5)
    g = label.geometry()
    record(f"{t.name}: label text", text_contrast(img[g.top():g.bottom(), g.left():g.right()])[0], 4.5)
    # An unfocused button's outline against the window (a component boundary: 3:1).
    g = second.geometry()
    outline = img[g.center().y(), g.left() + 2]
    record(f"{t.name}: control outline", contrast(outline, window_bg), 3.0)
    # Focus: the ring is 3 px of the focus colour round the button, against the window and the button.
    second.setFocus()
    qtbot.waitUntil(second.hasFocus, timeout=2000)
    qtbot.wait(50)
    img2 = image_rgb(w.grab())
    OUT.mkdir(exist_ok=True)
    w.grab().save(str(OUT / f"contrast-focus-{t.name.replace(' ', '-')}.png"))
    g = second.geometry()
    ring = img2[g.center().y(), g.left():g.left() + 3]
    focus = tuple(int(t.focus[k:k + 2], 16) for k in (1, 3, 5))
    assert all(tuple(px) == focus for px in ring), f"ring pixels {ring.tolist()} are not the focus colour {focus}"
    button_bg = tuple(img2[g.center().y(), g.left() + 6])
    record(f"{t.name}: focus ring against the window", contrast(focus, window_bg), 3.0)
    record(f"{t.name}: focus ring against the button", contrast(focus, button_bg), 3.0)
    # The focus moved nothing: every control keeps its place and size.
    assert {x: x.geometry() for x in (combo, first, second, third)} == before


@THEMES
def test_error_and_muted_text(qtbot, themed, high_contrast):
    t = themed(high_contrast)
    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    lay = QtWidgets.QVBoxLayout(w)
    err = QtWidgets.QLabel("units: must be one of metres, feet, steps")
    err.setObjectName("error")
    muted = QtWidgets.QLabel("9.9 fps  Stage A 54 ms")
    muted.setObjectName("muted")
    lay.addWidget(err)
    lay.addWidget(muted)
    w.show()
    qtbot.waitExposed(w)
    img = image_rgb(w.grab())
    for name, lab in (("error text", err), ("status text", muted)):
        g = lab.geometry()
        record(f"{t.name}: {name}", text_contrast(img[g.top():g.bottom(), g.left():g.right()])[0], 4.5)


def _frame(colour) -> np.ndarray:
    return np.full((480, 640, 3), colour, dtype=np.uint8)


@THEMES
@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0), (58, 92, 40), (128, 128, 128)],
                         ids=["white-wall", "night", "grass", "grey"])
def test_boxes_reach_3_to_1_on_any_picture(qtbot, themed, high_contrast, background):
    t = themed(high_contrast)
    p = PreviewWidget()
    qtbot.addWidget(p)
    p.resize(640, 480)
    p.show()
    p.show_frame(_frame(background), result(HAZARDS), 1.0)
    qtbot.waitExposed(p)
    img = image_rgb(p.grab())
    name = f"{t.name.replace(' ', '-')}-{'-'.join(map(str, background))}"
    OUT.mkdir(exist_ok=True)
    p.grab().save(str(OUT / f"contrast-boxes-{name}.png"))
    for h in HAZARDS:
        x1, y1, x2, y2 = h.box
        _, width = PEN[h.urgency]
        half = width // 2 + 3
        worst = 99.0
        # Every sampled point of the left and bottom edges: the best contrast across the line's width.
        bands = [img[y, x1 - half:x1 + half + 1] for y in range(y1 + 10, y2 - 10, 7)] + \
                [img[y2 - half:y2 + half + 1, x] for x in range(x1 + 10, x2 - 10, 7)]
        for band in bands:
            worst = min(worst, max(contrast(px, background) for px in band))
        record(f"{t.name}: {h.urgency.word} box on {background}", worst, 3.0)
    # Label tags are opaque: their text keeps its contrast on a white wall.
    if background == (255, 255, 255):
        colour = BOX_COLOURS[Urgency.DANGER]
        tag_row = img[HAZARDS[0].box[1] - 14, HAZARDS[0].box[0] + 2:HAZARDS[0].box[0] + 120]
        assert (tag_row == 0).all(axis=1).sum() > 20, "the tag behind the danger label is not solid black"
        assert contrast(tuple(int(colour[k:k + 2], 16) for k in (1, 3, 5)), (0, 0, 0)) >= 4.5


@THEMES
def test_messages_over_a_bright_picture_and_the_alert_banner(qtbot, themed, high_contrast):
    t = themed(high_contrast)
    p = PreviewWidget()
    qtbot.addWidget(p)
    p.resize(640, 480)
    p.show()
    p.show_frame(_frame((250, 250, 245)), result([]), 1.0)
    p.show_message("opencv_vtest.avi cannot be read as a video (unsupported format or damaged file).")
    qtbot.waitExposed(p)
    img = image_rgb(p.grab())
    c = p.rect().center()
    region = img[c.y() - 30:c.y() + 30, 60:580]
    record(f"{t.name}: message over a bright picture", text_contrast(region)[0], 4.5)
    for u in (Urgency.WARNING, Urgency.DANGER):
        p.flash(VisualAlert("person, straight ahead, 2.5 metres, approaching", u, True, "straight ahead", CueKind.HAZARD))
        qtbot.waitUntil(p.banner.isVisible, timeout=2000)
        b = p.banner.geometry().adjusted(8, 8, -8, -8)
        img = image_rgb(p.grab())
        OUT.mkdir(exist_ok=True)
        p.grab().save(str(OUT / f"contrast-banner-{u.word}-{t.name.replace(' ', '-')}.png"))
        record(f"{t.name}: {u.word} banner text", text_contrast(img[b.top():b.bottom(), b.left():b.right()])[0], 4.5)


