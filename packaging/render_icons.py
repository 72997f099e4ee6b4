"""Render assets/icons/maxsight.svg to the PNG sizes desktops ask for (16, 32, 48, 128, 256 px).

    python packaging/render_icons.py        (the PNGs are committed; run again after changing the SVG)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

SIZES = (16, 32, 48, 128, 256)
CRISP_BELOW = 48        # 16 and 32 px: no antialiasing, so every pixel is black, white or yellow (sharper edges)
PALETTE = ("#000000", "#FFFFFF", "#FFD400")
ICONS = Path(__file__).resolve().parents[1] / "assets" / "icons"


def render(svg: Path, size: int):
    """A QImage of the SVG at size x size, transparent outside the rounded square; antialiased from
    CRISP_BELOW px up, pixel-exact below it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from maxsight_app.ui.qt import QtCore, QtGui, QtWidgets  # noqa: F401 - the one Qt import
    from PySide6 import QtSvg
    _app = QtGui.QGuiApplication.instance() or QtGui.QGuiApplication(sys.argv[:1])
    renderer = QtSvg.QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    img = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32)
    img.fill(QtCore.Qt.GlobalColor.transparent)
    p = QtGui.QPainter(img)
    p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    renderer.render(p)
    p.end()
    if size < CRISP_BELOW:
        # Qt SVG antialiases regardless of the painter's hint: snap every pixel to the palette instead.
        palette = [QtGui.QColor(c) for c in PALETTE]
        for y in range(size):
            for x in range(size):
                c = img.pixelColor(x, y)
                if c.alpha() < 128:
                    img.setPixelColor(x, y, QtGui.QColor(0, 0, 0, 0))
                    continue
                best = min(palette, key=lambda q: (q.red() - c.red()) ** 2 + (q.green() - c.green()) ** 2
                           + (q.blue() - c.blue()) ** 2)
                img.setPixelColor(x, y, best)
    return img


def main() -> int:
    svg = ICONS / "maxsight.svg"
    for size in SIZES:
        out = ICONS / f"maxsight-{size}.png"
        if not render(svg, size).save(str(out)):
            raise SystemExit(f"cannot write {out}")
        print(out)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
