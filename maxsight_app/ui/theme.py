"""Colours and text size, declared once per theme and checked against WCAG 2.2 AA.

Every text colour here reaches 4.5:1 on the background it is drawn on, and every outline, focus
ring and urgency colour reaches 3:1 against what surrounds it (tests/ui/test_contrast.py measures
the rendered pixels of both themes). Text size multiplies the system's font size, which already
carries the desktop's scaling.

The focus ring is 3 px in the theme's focus colour. Controls keep a 2 px margin round a 1 px
outline when not focused and give the margin to the ring when focused, so a focused control keeps
its size and nothing around it moves."""
from __future__ import annotations

from dataclasses import dataclass

from engine.types import Urgency
from maxsight_app.ui.qt import QtGui, QtWidgets


@dataclass(frozen=True)
class Theme:
    name: str
    window: str           # the window's background
    text: str             # text on `window`
    base: str             # lists, text and entry fields
    base_text: str        # text on `base`
    muted: str            # secondary text (safe objects, hints) on `base` and `window`
    button: str
    button_text: str
    outline: str          # a control's 1 px outline: 3:1 against `window`
    focus: str            # the focus ring: 3:1 against `window`, `base` and `button`
    error: str            # error text on `window`
    disabled: str         # disabled text (exempt from the contrast rule, still kept readable)
    urgency: dict         # Urgency -> (background, text) for hazard rows and alert banners

    def colour(self, name: str) -> QtGui.QColor:
        return QtGui.QColor(getattr(self, name))


# Solid urgency colours with black text: 5.7:1 (danger red), 9.8:1 (warning orange), 15:1 (caution
# yellow). The same pairs in both themes, so a colour always means the same thing.
_URGENCY = {Urgency.DANGER: ("#ff2a2a", "#000000"), Urgency.WARNING: ("#ff9900", "#000000"),
            Urgency.CAUTION: ("#ffe000", "#000000")}

STANDARD = Theme("standard", window="#f2f2f2", text="#111111", base="#ffffff", base_text="#111111", muted="#4d4d4d",
                 button="#ffffff", button_text="#111111", outline="#6b6b6b", focus="#0b3d91", error="#a30016",
                 disabled="#6b6b6b", urgency=_URGENCY)
HIGH_CONTRAST = Theme("high contrast", window="#000000", text="#ffffff", base="#000000", base_text="#ffffff",
                      muted="#c8c8c8", button="#000000", button_text="#ffff00", outline="#ffffff", focus="#ffff00",
                      error="#ff9c9c", disabled="#a0a0a0", urgency=_URGENCY)

# Boxes on the live picture: the urgency colour over a white rim over a black outline. Any colour is
# at least 4.5:1 from black or from white, so every box reaches 3:1 on a white wall, at night and on
# grass. Safe objects: light grey, thin, solid; danger: dashed (the white rim shows between dashes).
BOX_COLOURS = {Urgency.DANGER: "#ff2a2a", Urgency.WARNING: "#ff9900", Urgency.CAUTION: "#ffe000", Urgency.SAFE: "#e6e6e6"}
BOX_OUTLINE = "#000000"
BOX_RIM = "#ffffff"

_BASE_POINT_SIZE: dict[int, float] = {}


def theme_for(high_contrast: bool) -> Theme:
    return HIGH_CONTRAST if high_contrast else STANDARD


def current_theme(app: QtWidgets.QApplication | None = None) -> Theme:
    app = app or QtWidgets.QApplication.instance()
    name = app.property("maxsight_theme") if app is not None else None
    return HIGH_CONTRAST if name == HIGH_CONTRAST.name else STANDARD


LARGE = 1.35     # the hazard list and captions (widgets with the property large=true) are larger than the rest
LARGEST = 2.5    # ... but at most this many times the system size: at text size 2.0 a row still fits a small window


def large_factor(text_scale: float) -> float:
    return max(1.0, min(LARGE, LARGEST / max(text_scale, 0.1)))


def style_sheet(t: Theme, point_size: float = 10.0, text_scale: float = 1.0) -> str:
    """Fonts are sized here too: once an application has a style sheet, Qt no longer passes a changed
    application font on to widgets that already exist."""
    controls = "QPushButton, QComboBox, QLineEdit, QAbstractSpinBox"
    return f"""
QWidget {{ color: {t.text}; background-color: {t.window}; font-size: {point_size:.2f}pt; }}
*[large="true"] {{ font-size: {point_size * large_factor(text_scale):.2f}pt; }}
QLabel {{ background-color: transparent; }}
QToolTip {{ color: {t.base_text}; background-color: {t.base}; border: 1px solid {t.outline}; }}
{controls} {{
    color: {t.button_text}; background-color: {t.button};
    margin: 2px; border: 1px solid {t.outline}; border-radius: 3px; padding: 4px 10px;
}}
QComboBox QAbstractItemView {{ color: {t.base_text}; background-color: {t.base}; selection-color: {t.base};
    selection-background-color: {t.base_text}; }}
{controls.replace(",", ":focus,")}:focus {{ margin: 0px; border: 3px solid {t.focus}; }}
QPushButton:disabled, QComboBox:disabled {{ color: {t.disabled}; border-style: dashed; }}
QAbstractScrollArea {{ color: {t.base_text}; background-color: {t.base}; margin: 2px; border: 1px solid {t.outline}; }}
QAbstractScrollArea:focus {{ margin: 0px; border: 3px solid {t.focus}; }}
QScrollArea#page {{ margin: 0px; border: none; background-color: {t.window}; }}
QScrollArea#page > QWidget > QWidget {{ background-color: {t.window}; }}
QAbstractItemView {{ selection-color: {t.base_text}; selection-background-color: {t.base}; }}
QCheckBox {{ margin: 2px; border: 1px solid transparent; padding: 2px; }}
QCheckBox:focus {{ margin: 0px; border: 3px solid {t.focus}; }}
QCheckBox::indicator {{ width: 1em; height: 1em; border: 2px solid {t.text}; background-color: {t.base}; }}
QCheckBox::indicator:checked {{ background-color: {t.text}; image: none; border: 2px solid {t.text};
    border-image: none; }}
QSlider {{ margin: 2px; border: 1px solid transparent; min-height: 2.2em; }}
QSlider:focus {{ margin: 0px; border: 3px solid {t.focus}; }}
QSlider::groove:horizontal {{ height: 0.5em; background-color: {t.muted}; border: 1px solid {t.outline}; }}
QSlider::handle:horizontal {{ width: 1.4em; margin: -0.6em 0; background-color: {t.text}; border: 2px solid {t.window};
    border-radius: 0.7em; }}
QProgressBar {{ color: {t.text}; border: 1px solid {t.outline}; text-align: center; }}
QProgressBar::chunk {{ background-color: {t.muted}; }}
QMenuBar {{ color: {t.text}; background-color: {t.window}; }}
QMenuBar::item:selected {{ color: {t.window}; background-color: {t.text}; }}
QMenu {{ color: {t.base_text}; background-color: {t.base}; border: 1px solid {t.outline}; }}
QMenu::item:selected {{ color: {t.base}; background-color: {t.base_text}; }}
QMenu::item:disabled {{ color: {t.disabled}; }}
QLabel#error {{ color: {t.error}; font-weight: bold; }}
QLabel#muted {{ color: {t.muted}; }}
"""


def apply_theme(app: QtWidgets.QApplication, high_contrast: bool, text_scale: float) -> Theme:
    base = _BASE_POINT_SIZE.setdefault(id(app), app.font().pointSizeF() if app.font().pointSizeF() > 0 else 10.0)
    font = QtGui.QFont(app.font())
    font.setPointSizeF(base * text_scale)
    app.setFont(font)
    t = theme_for(high_contrast)
    pal = QtGui.QPalette()
    R = QtGui.QPalette.ColorRole
    for role, colour in ((R.Window, t.window), (R.WindowText, t.text), (R.Base, t.base), (R.AlternateBase, t.base),
                         (R.Text, t.base_text), (R.Button, t.button), (R.ButtonText, t.button_text),
                         (R.Highlight, t.base_text), (R.HighlightedText, t.base), (R.ToolTipBase, t.base),
                         (R.ToolTipText, t.base_text), (R.PlaceholderText, t.muted), (R.BrightText, t.error),
                         (R.Link, t.focus)):
        pal.setColor(role, QtGui.QColor(colour))
    for role in (R.WindowText, R.Text, R.ButtonText):
        pal.setColor(QtGui.QPalette.ColorGroup.Disabled, role, QtGui.QColor(t.disabled))
    app.setPalette(pal)
    app.setProperty("maxsight_theme", t.name)
    app.setStyleSheet(style_sheet(t, font.pointSizeF(), text_scale))
    return t
