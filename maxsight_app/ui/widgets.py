"""The window's parts. Urgency is never shown by colour alone: each level also has its own
symbol, word and box line style."""
from __future__ import annotations

import time

import numpy as np

from engine.types import FrameResult, Urgency
from maxsight_app.outputs.screen import VisualAlert
from maxsight_app.ui.qt import Qt, QtCore, QtGui, QtWidgets

STYLE = {   # colour, symbol, pen style, pen width
    Urgency.DANGER: ("#ff2a2a", "▲▲", Qt.PenStyle.DashLine, 5),
    Urgency.WARNING: ("#ff9900", "▲", Qt.PenStyle.SolidLine, 4),
    Urgency.CAUTION: ("#ffe000", "●", Qt.PenStyle.SolidLine, 2),
    Urgency.SAFE: ("#b0b0b0", "○", Qt.PenStyle.DotLine, 1),
}


def hazard_label(h) -> str:
    colour, symbol, _, _ = STYLE[h.urgency]
    clock = "ahead" if h.clock == 12 else f"{h.clock} o'clock"
    move = ", approaching" if h.approaching else ""
    return f"{symbol} {h.urgency.word.upper()}: {h.label}, {clock}, {h.distance_m:.1f} m{move}"


class PreviewWidget(QtWidgets.QWidget):
    """The camera picture with boxes, labels, direction and distance drawn over it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Camera preview")
        self.setAccessibleDescription("The live picture with detected objects outlined; the hazard list says the same in text")
        self._image: QtGui.QImage | None = None
        self._result: FrameResult | None = None
        self._scale = 1.0
        self.message = "No source yet. Press Ctrl+O to open a video file, or choose a camera."

    def show_frame(self, rgb: np.ndarray, result: FrameResult, scale: float) -> None:
        h, w, _ = rgb.shape
        self._image = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
        self._result, self._scale = result, scale
        self.message = ""
        self.update()

    def show_message(self, text: str) -> None:
        self.message = text
        self.update()

    def paintEvent(self, _event) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("#000000"))
        if self._image is not None:
            img = self._image
            fit = min(self.width() / img.width(), self.height() / img.height())
            dw, dh = img.width() * fit, img.height() * fit
            ox, oy = (self.width() - dw) / 2, (self.height() - dh) / 2
            p.drawImage(QtCore.QRectF(ox, oy, dw, dh), img)
            k = fit * self._scale
            font = QtGui.QFont(self.font())
            font.setPointSizeF(max(9.0, self.font().pointSizeF()))
            font.setBold(True)
            p.setFont(font)
            for hz in reversed(self._result.hazards if self._result else ()):
                colour, _, pen_style, width = STYLE[hz.urgency]
                x1, y1, x2, y2 = hz.box
                rect = QtCore.QRectF(ox + x1 * k, oy + y1 * k, (x2 - x1) * k, (y2 - y1) * k)
                pen = QtGui.QPen(QtGui.QColor(colour), width, pen_style)
                p.setPen(pen)
                p.drawRect(rect)
                if hz.urgency == Urgency.SAFE:
                    continue        # dotted box only: labels for every far object bury the ones that matter
                text = hazard_label(hz)
                metrics = QtGui.QFontMetrics(font)
                tw, th = metrics.horizontalAdvance(text) + 8, metrics.height() + 4
                # Keep the label inside the picture: shift it left at the right edge, below the box at the top.
                tx = min(rect.left(), ox + dw - tw)
                ty = rect.top() - th if rect.top() - th >= oy else min(rect.bottom(), oy + dh - th)
                tag = QtCore.QRectF(max(ox, tx), ty, tw, th)
                p.fillRect(tag, QtGui.QColor(0, 0, 0, 200))
                p.setPen(QtGui.QColor(colour))
                p.drawText(tag.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
        if self.message:
            p.setPen(QtGui.QColor("#ffffff"))
            f = QtGui.QFont(self.font())
            f.setPointSizeF(self.font().pointSizeF() * 1.5)
            p.setFont(f)
            p.drawText(self.rect().adjusted(20, 20, -20, -20), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        p.end()


LARGE = 1.35   # the hazard list and captions are larger than the rest of the window


def enlarge(widget: QtWidgets.QWidget) -> None:
    """Relative to the application font, so the text-size setting and system scaling still apply."""
    f = QtGui.QFont(widget.font())
    f.setPointSizeF(QtWidgets.QApplication.font().pointSizeF() * LARGE)
    widget.setFont(f)


class HazardList(QtWidgets.QListWidget):
    """Large text, most urgent first; a screen reader reads each row as a sentence."""

    def __init__(self, parent=None):
        super().__init__(parent)
        enlarge(self)
        self.setAccessibleName("Hazards")
        self.setAccessibleDescription("What is around you now, most urgent first")
        self._last: list[str] = []

    def show_hazards(self, result: FrameResult) -> None:
        rows = [hazard_label(h) for h in result.hazards if h.urgency >= Urgency.CAUTION] or \
               [f"No hazards; {len(result.hazards)} other object(s) tracked" if result.hazards else "Nothing detected"]
        if rows == self._last:
            return                                  # no churn: screen readers would re-read the list
        self._last = rows
        self.clear()
        for text, h in zip(rows, [h for h in result.hazards if h.urgency >= Urgency.CAUTION] or [None]):
            item = QtWidgets.QListWidgetItem(text)
            if h is not None:
                # Dark text on a tint of the urgency colour: readable in any theme; the symbol and
                # word carry the meaning for people who cannot tell the colours apart.
                tint = QtGui.QColor(STYLE[h.urgency][0])
                tint.setAlpha(110)
                item.setBackground(QtGui.QBrush(tint))
                item.setForeground(QtGui.QBrush(QtGui.QColor("#000000")))
            item.setData(Qt.ItemDataRole.AccessibleTextRole, text)
            self.addItem(item)


class CaptionsPanel(QtWidgets.QTextEdit):
    """Large live captions with history: spoken alerts now, speech captions when Stage B runs."""

    def __init__(self, parent=None, history: int = 200):
        super().__init__(parent)
        enlarge(self)
        self.setReadOnly(True)
        self.setAccessibleName("Captions and alerts")
        self.setAccessibleDescription("Everything MaxSight said, as text, newest at the bottom")
        self.history = history
        self.lines: list[str] = []

    def add_line(self, text: str, when: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(when or time.time()))
        self.lines = (self.lines + [f"{stamp}  {text}"])[-self.history:]
        self.setPlainText("\n".join(self.lines))
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())


class SoundTimeline(QtWidgets.QListWidget):
    """Environmental sounds heard, newest first (filled by the Stage B sound processor)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Sound events")
        self.setAccessibleDescription("Doorbells, alarms, sirens and other sounds heard, newest first")
        self.addItem("No sounds heard yet")

    def add_event(self, name: str, direction: str = "") -> None:
        if self.count() == 1 and self.item(0).text() == "No sounds heard yet":
            self.clear()
        self.insertItem(0, f"{time.strftime('%H:%M:%S')}  {name}{', ' + direction if direction else ''}")


class FlashOverlay(QtWidgets.QLabel):
    """Full-window visual alert: the alert's words and direction, large, over a flashing colour."""

    def __init__(self, parent: QtWidgets.QWidget):
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAccessibleName("Visual alert")
        self.hide()
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.last: VisualAlert | None = None

    def flash(self, alert: VisualAlert, seconds: float = 1.5) -> None:
        self.last = alert
        colour, symbol, _, _ = STYLE.get(alert.urgency, STYLE[Urgency.CAUTION])
        where = f"<br>{alert.direction}" if alert.direction else ""
        self.setText(f"<div style='font-size:36pt;font-weight:bold;color:#000'>{symbol} {alert.text}{where}</div>")
        self.setStyleSheet(f"background-color: {colour}; border: 12px solid #000;")
        self.setGeometry(self.parentWidget().rect())
        self.raise_()
        self.show()
        self._timer.start(int(seconds * 1000))
