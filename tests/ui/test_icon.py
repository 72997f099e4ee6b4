"""The icon (assets/icons): the committed PNGs are renders of the SVG at the sizes desktops use, and
the eye stays legible at 16 px in black, white and yellow (WCAG contrast of its parts on rendered pixels)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.ui.helpers import contrast, image_rgb

ROOT = Path(__file__).resolve().parents[2]
ICONS = ROOT / "assets" / "icons"
sys.path.insert(0, str(ROOT / "packaging"))
from render_icons import SIZES, render  # noqa: E402

YELLOW, BLACK, WHITE = (255, 212, 0), (0, 0, 0), (255, 255, 255)


@pytest.mark.parametrize("size", SIZES)
def test_committed_png_is_the_svg_rendered(size, qapp):
    from maxsight_app.ui.qt import QtGui
    fresh = render(ICONS / "maxsight.svg", size)
    committed = QtGui.QImage(str(ICONS / f"maxsight-{size}.png"))
    assert committed.width() == committed.height() == size
    a = image_rgb(fresh).astype(int)
    b = image_rgb(committed).astype(int)
    assert np.abs(a - b).max() <= 2, "run python packaging/render_icons.py after changing the SVG"


def test_only_three_colours_and_the_eye_reads_at_16_px(qapp):
    from maxsight_app.ui.qt import QtGui
    img = QtGui.QImage(str(ICONS / "maxsight-16.png")).convertToFormat(QtGui.QImage.Format.Format_ARGB32)
    rgb = image_rgb(img)
    alpha = np.array([[QtGui.QColor(img.pixel(x, y)).alpha() for x in range(16)] for y in range(16)])
    solid = rgb[alpha == 255].reshape(-1, 3)
    # Every opaque pixel is black, white or yellow, or a blend of two of them (antialiased edges).
    near = lambda c: np.abs(solid.astype(int) - np.array(c)).sum(1) <= 30     # noqa: E731
    pure = near(BLACK) | near(WHITE) | near(YELLOW)
    assert pure.mean() >= 0.75, f"only {pure.mean():.0%} of the 16 px icon is black, white or yellow"
    # The eye: a yellow band across the middle row, a black pupil at the centre, black around it.
    middle = rgb[8]
    assert (np.abs(middle.astype(int) - np.array(YELLOW)).sum(1) <= 40).sum() >= 4
    assert contrast(YELLOW, BLACK) >= 7.0 and contrast(rgb[8, 8], YELLOW) >= 7.0
    svg = (ICONS / "maxsight.svg").read_text()
    fills = {f.split('"')[1].upper() for f in svg.split("fill=")[1:]} | {svg.split('stroke="')[1].split('"')[0].upper()}
    assert fills <= {"#000000", "#FFFFFF", "#FFD400"}
