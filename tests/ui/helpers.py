"""Shared by the window tests: a profile store, the window with a spy output, short clips, and
WCAG contrast measured on rendered pixels."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from maxsight_app.ui.qt import QtGui, QtWidgets

OUT = Path(__file__).resolve().parents[2] / "test-output"
INTERACTIVE = (QtWidgets.QAbstractButton, QtWidgets.QComboBox, QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit,
               QtWidgets.QAbstractItemView, QtWidgets.QTextEdit, QtWidgets.QAbstractSlider)


def make_window(qtbot, store, registry, spy, size=(1280, 760), **kw):
    from maxsight_app.ui.main_window import MainWindow
    kw.setdefault("stage_b", False)          # one Stage B process is tested on its own
    kw.setdefault("screen_reader", False)
    w = MainWindow(store, 1, registry, extra_outputs=[spy], probe_cameras=False, **kw)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    if w.file_dialog is None or not w.file_dialog.isVisible():
        w.activateWindow()          # shortcuts are window shortcuts: the window must have focus
        qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    return w


def short_clip(src: Path, dst: Path, frames: int = 30) -> Path:
    """The first `frames` frames of a real video, as a small AVI (MJPG)."""
    import cv2
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    writer = None
    for _ in range(frames):
        ok, img = cap.read()
        if not ok:
            break
        if writer is None:
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, (img.shape[1], img.shape[0]))
        writer.write(img)
    cap.release()
    writer.release()
    return dst


# -- WCAG 2.2 contrast --------------------------------------------------------------------------
def luminance(rgb) -> np.ndarray:
    """Relative luminance of sRGB colours ([..., 3] uint8)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a, b) -> float:
    la, lb = float(luminance(a)), float(luminance(b))
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def image_rgb(img: QtGui.QImage | QtGui.QPixmap) -> np.ndarray:
    if isinstance(img, QtGui.QPixmap):
        img = img.toImage()
    img = img.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    buf = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return buf[:, :w * 3].reshape(h, w, 3).copy()


def text_contrast(region: np.ndarray) -> tuple[float, tuple, tuple]:
    """Contrast of the text in a region of one background colour: the background is the region's most
    common colour, the text its colour furthest from it in luminance (anti-aliased edges lie between).
    Returns (ratio, text colour, background colour)."""
    px = region.reshape(-1, 3)
    colours, counts = np.unique(px, axis=0, return_counts=True)
    bg = colours[np.argmax(counts)]
    lum = luminance(colours)
    # Ignore colours used by a handful of pixels (anti-aliasing of other things).
    keep = counts >= max(3, 0.002 * len(px))
    far = np.argmax(np.where(keep, np.abs(lum - luminance(bg)), -1))
    fg = colours[far]
    return contrast(fg, bg), tuple(int(v) for v in fg), tuple(int(v) for v in bg)
