"""The window's parts. Urgency is never shown by colour alone: each level also has its own symbol,
word and box line style. Rows wrap instead of scrolling sideways, so a row's distance and
"approaching" are never hidden, at any text size or window width."""
from __future__ import annotations

import time

import numpy as np

from engine.types import FrameResult, Hazard, Urgency
from maxsight_app.cues.phrasing import clock_words, hazard_phrase, object_words
from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.screen import VisualAlert
from maxsight_app.profile.schema import Profile
from maxsight_app.ui.announcer import with_urgency_word
from maxsight_app.ui.qt import Qt, QtCore, QtGui, QtWidgets
from maxsight_app.ui.theme import BOX_COLOURS, BOX_OUTLINE, BOX_RIM, LARGE, current_theme

SYMBOL = {Urgency.DANGER: "▲▲", Urgency.WARNING: "▲", Urgency.CAUTION: "●", Urgency.SAFE: "○"}
PEN = {   # line style and width of a box on the picture, drawn over a white rim and a black outline
    Urgency.DANGER: (Qt.PenStyle.DashLine, 5),
    Urgency.WARNING: (Qt.PenStyle.SolidLine, 4),
    Urgency.CAUTION: (Qt.PenStyle.SolidLine, 3),
    Urgency.SAFE: (Qt.PenStyle.SolidLine, 2),
}
ROLE_URGENCY = Qt.ItemDataRole.UserRole + 1       # Urgency for a hazard row, None otherwise


def ordered_hazards(result: FrameResult) -> list[Hazard]:
    """Every tracked object, most urgent first and nearest first within an urgency: the objects
    'what's around me' (W) chooses from, so the list and W never disagree."""
    return sorted(result.hazards, key=lambda h: (-int(h.urgency), h.distance_m))


def hazard_row(h: Hazard, profile: Profile) -> tuple[str, str]:
    """(shown, spoken) text of one row, in the words the cues use."""
    phrase = hazard_phrase(h, profile.units, profile.hedge_below)
    if h.urgency == Urgency.SAFE:
        return f"{SYMBOL[h.urgency]} {phrase}", f"{phrase}, no hazard"
    word = h.urgency.word
    if phrase.lower().startswith(word.lower()):             # the cue words may lead with it already
        phrase = phrase[len(word):].lstrip(" ,:")
    return f"{SYMBOL[h.urgency]} {word.upper()}: {phrase}", f"{word.capitalize()}: {phrase}"


def box_text(h: Hazard, hedge_below: float = Profile().hedge_below) -> str:
    """The label on an object's box, in the words the cues and the hazard list use ("stairs down",
    or "something" when the class is unsure), never the detector's class name ("stair_down")."""
    move = ", approaching" if h.approaching else ""
    return (f"{SYMBOL[h.urgency]} {h.urgency.word.upper()}: {object_words(h, hedge_below)}, {clock_words(h.clock)}, "
            f"{h.distance_m:.1f} m{move}")


def enlarge(widget: QtWidgets.QWidget) -> None:
    """Mark a widget as large text: the theme's style sheet sizes it LARGE times the text size."""
    widget.setProperty("large", True)
    widget.style().unpolish(widget)
    widget.style().polish(widget)
    if isinstance(widget, QtWidgets.QAbstractItemView):
        widget.scheduleDelayedItemsLayout()


# -- the picture ------------------------------------------------------------------------------
class PreviewWidget(QtWidgets.QWidget):
    """The camera picture with boxes, labels, direction and distance drawn over it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Camera preview")
        self.setAccessibleDescription("The live picture with detected objects outlined; the hazard list says the same in text")
        self._image: QtGui.QImage | None = None
        self._result: FrameResult | None = None
        self._scale = 1.0
        self._flash: Urgency | None = None
        self.marked: tuple | None = None       # preview pixels of the object "this is my…" will learn
        self.message = "No source yet. Press Ctrl+O to open a video file, or choose a camera."
        self.banner = AlertBanner(self)

    @property
    def has_frame(self) -> bool:
        return self._image is not None

    def show_frame(self, rgb: np.ndarray, result: FrameResult, scale: float, hedge_below: float | None = None) -> None:
        """hedge_below: the profile's, so a box names its object as the cues do (box_text)."""
        if hedge_below is not None:
            self.hedge_below = hedge_below
        h, w, _ = rgb.shape
        self._image = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
        self._result, self._scale = result, scale
        self.message = ""
        self.update()

    def show_message(self, text: str) -> None:
        self.message = text
        self.update()

    def mark(self, box: tuple | None) -> None:
        self.marked = box
        self.update()

    def clear(self, message: str) -> None:
        """No picture any more (the video ended, the source failed): nothing stale stays on screen."""
        self._image, self._result = None, None
        self.banner.hide()
        self.show_message(message)

    def flash(self, alert: VisualAlert, seconds: float = 3.0) -> None:
        self.banner.show_alert(alert, seconds)
        self._flash = alert.urgency
        self.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.banner.place()

    def paintEvent(self, _event) -> None:
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        p.fillRect(self.rect(), QtGui.QColor("#000000"))
        if self._image is not None:
            img = self._image
            fit = min(self.width() / img.width(), self.height() / img.height())
            dw, dh = img.width() * fit, img.height() * fit
            ox, oy = (self.width() - dw) / 2, (self.height() - dh) / 2
            p.drawImage(QtCore.QRectF(ox, oy, dw, dh), img)
            self._draw_boxes(p, fit * self._scale, ox, oy, dw, dh)
            if self.marked is not None:
                x1, y1, x2, y2 = self.marked
                rect = QtCore.QRectF(ox + x1 * fit, oy + y1 * fit, (x2 - x1) * fit, (y2 - y1) * fit).adjusted(-6, -6, 6, 6)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.setPen(QtGui.QPen(QtGui.QColor("#000000"), 8))
                p.drawRect(rect)
                p.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 4, Qt.PenStyle.DashLine))
                p.drawRect(rect)
        if self.banner.isVisible() and self._flash is not None:
            colour = QtGui.QColor(current_theme().urgency.get(self._flash, ("#ffe000",))[0])
            p.setPen(QtGui.QPen(colour, 8))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(self.rect().adjusted(4, 4, -4, -4))
        if self.message:
            self._draw_message(p)
        p.end()

    LABEL_LINES = 18         # a box label's line is at most this fraction (1/18) of the picture's height

    def label_font(self, picture_height: float) -> QtGui.QFont:
        """The box labels' font: the text size, but a line at most 1/LABEL_LINES of the picture's
        height (at the largest text size a label covered a quarter of the picture); never under 11 px."""
        font = QtGui.QFont(self.font())
        font.setPointSizeF(max(9.0, self.font().pointSizeF()))
        font.setBold(True)
        limit = max(11, int(picture_height / self.LABEL_LINES))
        if QtGui.QFontMetrics(font).height() > limit:
            font.setPixelSize(limit)
            while font.pixelSize() > 11 and QtGui.QFontMetrics(font).height() > limit:
                font.setPixelSize(font.pixelSize() - 1)
        return font

    def _draw_boxes(self, p: QtGui.QPainter, k: float, ox: float, oy: float, dw: float, dh: float) -> None:
        font = self.label_font(dh)
        p.setFont(font)
        metrics = QtGui.QFontMetrics(font)
        hazards = self._result.hazards if self._result else ()
        for hz in sorted(hazards, key=lambda h: int(h.urgency)):          # the most urgent drawn last, on top
            style, width = PEN[hz.urgency]
            x1, y1, x2, y2 = hz.box
            rect = QtCore.QRectF(ox + x1 * k, oy + y1 * k, (x2 - x1) * k, (y2 - y1) * k)
            p.setBrush(Qt.BrushStyle.NoBrush)
            # Black, then white, then the colour: one of the two rims reaches 3:1 on any picture
            # (a red line alone is 2:1 on grass; a black outline alone vanishes at night).
            for colour, w, pen_style in ((BOX_OUTLINE, width + 4, Qt.PenStyle.SolidLine),
                                         (BOX_RIM, width + 2, Qt.PenStyle.SolidLine),
                                         (BOX_COLOURS[hz.urgency], width, style)):
                p.setPen(QtGui.QPen(QtGui.QColor(colour), w, pen_style))
                p.drawRect(rect)
            if hz.urgency == Urgency.SAFE:
                continue        # the outline only: labels for every far object bury the ones that matter
            text = box_text(hz, getattr(self, "hedge_below", Profile().hedge_below))
            # A label wider than the picture wraps inside it; none is ever cut at the picture's edge.
            tw = min(metrics.horizontalAdvance(text) + 10, int(dw))
            flags = int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignVCenter)
            th = metrics.boundingRect(QtCore.QRect(0, 0, tw - 10, 10000), flags, text).height() + 6
            # Keep the label inside the picture: shift it left at the right edge, below the box at the top.
            tx = min(rect.left(), ox + dw - tw)
            ty = rect.top() - th - 2 if rect.top() - th - 2 >= oy else min(rect.bottom() + 2, oy + dh - th)
            tag = QtCore.QRectF(max(ox, tx), ty, tw, th)
            p.fillRect(tag, QtGui.QColor("#000000"))          # opaque: the text keeps its contrast on any picture
            p.setPen(QtGui.QColor(BOX_COLOURS[hz.urgency]))
            p.drawText(tag.adjusted(5, 3, -5, -3), flags, text)

    def _draw_message(self, p: QtGui.QPainter) -> None:
        f = QtGui.QFont(self.font())
        f.setPointSizeF(self.font().pointSizeF() * 1.4)
        p.setFont(f)
        area = self.rect().adjusted(20, 20, -20, -20)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        box = p.boundingRect(area, flags, self.message).adjusted(-14, -10, 14, 10).intersected(self.rect())
        p.fillRect(box, QtGui.QColor("#000000"))              # white on solid black, whatever was behind it
        p.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 2))
        p.drawRect(box.adjusted(1, 1, -2, -2))
        p.drawText(area, flags, self.message)


class AlertBanner(QtWidgets.QLabel):
    """A warning or danger, large, across the top of the picture for a few seconds: the words once,
    the urgency's symbol and colour, black text. It never covers the controls or the lists."""

    def __init__(self, preview: QtWidgets.QWidget):
        super().__init__(preview)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAccessibleName("Visual alert")
        self.hide()
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._expire)
        self.last: VisualAlert | None = None

    @staticmethod
    def words(alert: VisualAlert) -> str:
        text = alert.text
        if alert.direction and alert.direction not in text:      # "ahead" is said once, not twice
            text = f"{text}, {alert.direction}"
        if alert.kind is CueKind.HAZARD:
            text = with_urgency_word(text, alert.urgency, upper=True)
        return f"{SYMBOL.get(alert.urgency, '●')} {text}"

    def show_alert(self, alert: VisualAlert, seconds: float) -> None:
        self.last = alert
        bg, fg = current_theme().urgency.get(alert.urgency, current_theme().urgency[Urgency.CAUTION])
        f = QtGui.QFont(self.font())
        f.setPointSizeF(QtWidgets.QApplication.font().pointSizeF() * 1.6)
        f.setBold(True)
        self.setFont(f)
        self.setStyleSheet(f"QLabel {{ color: {fg}; background-color: {bg}; border: 4px solid #000000; padding: 6px; }}")
        self.setText(self.words(alert))
        self.place()
        self.raise_()
        self.show()
        self._timer.start(int(seconds * 1000))

    def place(self) -> None:
        parent = self.parentWidget()
        width = parent.width() - 24
        self.setGeometry(12, 12, width, self.heightForWidth(width) if self.text() else 0)

    def _expire(self) -> None:
        self.hide()
        self.parentWidget().update()


# -- lists ------------------------------------------------------------------------------------
class WrapDelegate(QtWidgets.QStyledItemDelegate):
    """Rows that wrap to the list's width, in the theme's colours; a hazard row is its urgency's
    colour with black text; the current row has a 3 px ring in the text colour."""
    PAD = 6

    def _width(self, option) -> int:
        view = self.parent()
        return max(40, view.viewport().width() - 2 * self.PAD - 2)

    def sizeHint(self, option, index) -> QtCore.QSize:
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        fm = QtGui.QFontMetrics(option.font)
        r = fm.boundingRect(QtCore.QRect(0, 0, self._width(option), 100000), int(Qt.TextFlag.TextWordWrap), text)
        return QtCore.QSize(self._width(option) + 2 * self.PAD, r.height() + 2 * self.PAD)

    def paint(self, p: QtGui.QPainter, option, index) -> None:
        t = current_theme()
        urgency = index.data(ROLE_URGENCY)
        rect = option.rect
        if urgency is not None and urgency != Urgency.SAFE:
            bg, fg = t.urgency[urgency]
        else:
            bg, fg = t.base, (t.muted if urgency == Urgency.SAFE else t.base_text)
        p.save()
        p.fillRect(rect, QtGui.QColor(bg))
        p.setPen(QtGui.QColor(fg))
        p.setFont(option.font)
        p.drawText(rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD),
                   int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                   index.data(Qt.ItemDataRole.DisplayRole) or "")
        view = self.parent()
        if index == view.currentIndex() and view.hasFocus():
            p.setPen(QtGui.QPen(QtGui.QColor(t.base_text), 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QtCore.QRectF(rect).adjusted(1.5, 1.5, -1.5, -1.5))
        elif urgency is not None:
            p.setPen(QtGui.QPen(QtGui.QColor(t.base), 1))      # a hairline between coloured rows
            p.drawLine(rect.bottomLeft(), rect.bottomRight())
        p.restore()


class RowList(QtWidgets.QListWidget):
    """A list of wrapping, read-only rows; focus lands on a row, so a screen reader reads its text
    (not only "list with N items")."""

    def __init__(self, name: str, description: str, parent=None):
        super().__init__(parent)
        self.setAccessibleName(name)
        self.setAccessibleDescription(description)
        self.setItemDelegate(WrapDelegate(self))
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.setMinimumWidth(160)

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(160, self.fontMetrics().height() + 2 * WrapDelegate.PAD + 2 * self.frameWidth() + 4)

    def set_rows(self, rows: list[tuple[str, str, Urgency | None]]) -> bool:
        """Update rows in place (a screen-reader user's place in the list is kept); True if changed."""
        changed = False
        while self.count() > len(rows):
            self.takeItem(self.count() - 1)
            changed = True
        for i, (shown, spoken, urgency) in enumerate(rows):
            item = self.item(i)
            if item is None:
                item = QtWidgets.QListWidgetItem()
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.addItem(item)
                changed = True
            if item.text() != shown or item.data(ROLE_URGENCY) != urgency:
                item.setText(shown)
                item.setData(Qt.ItemDataRole.AccessibleTextRole, spoken)
                item.setData(ROLE_URGENCY, urgency)
                changed = True
        if self.currentRow() < 0 and self.count():
            self.setCurrentRow(0)
        return changed

    def texts(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()          # rows re-wrap to the new width

    def focusInEvent(self, event) -> None:
        if self.currentRow() < 0 and self.count():
            self.setCurrentRow(0)
        super().focusInEvent(event)


class HazardList(RowList):
    """Large text, most urgent first; a screen reader reads each row as a sentence. Safe objects are
    listed too, in grey, so the list names what "what's around me" names."""

    def __init__(self, parent=None):
        super().__init__("Hazards", "What is around you now, most urgent first", parent)
        enlarge(self)
        self.show_status("No video or camera yet: press Ctrl+O to open a video file.")

    def show_hazards(self, result: FrameResult, profile: Profile, quality: str | None = None) -> bool:
        rows = [("⚠ " + quality, quality, None)] if quality else []
        rows += [(*hazard_row(h, profile), h.urgency) for h in ordered_hazards(result)]
        if not result.hazards:
            rows.append(("Nothing recognised nearby", "Nothing recognised nearby", None))
        return self.set_rows(rows)

    def show_status(self, text: str) -> None:
        self.set_rows([(text, text, None)])


class CaptionsPanel(RowList):
    """Everything MaxSight said, as text, newest at the bottom, one row per line: a screen reader
    reads a whole line (the newest, on focus), never a piece cut where it wraps on screen."""

    def __init__(self, parent=None, history: int = 200):
        super().__init__("Captions and alerts", "Everything MaxSight said, as text, newest at the bottom", parent)
        enlarge(self)
        self.history = history
        self.lines: list[str] = []

    def add_line(self, text: str, when: float | None = None) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(when or time.time()))
        line = f"{stamp}  {text}"
        self.lines = (self.lines + [line])[-self.history:]
        item = QtWidgets.QListWidgetItem(line)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        item.setData(Qt.ItemDataRole.AccessibleTextRole, text)
        self.addItem(item)
        while self.count() > self.history:
            self.takeItem(0)
        if not self.hasFocus():                     # a reader's place is kept while they read
            self.setCurrentRow(self.count() - 1)
            self.scrollToBottom()

    SHOWN_LINES = 3          # the newest caption, wrapped onto this many lines, is shown whole

    def minimumSizeHint(self) -> QtCore.QSize:
        """Room for the newest caption wrapped onto SHOWN_LINES lines: at large text sizes the list
        was shorter than one caption, and the newest was cut."""
        hint = super().minimumSizeHint()
        return QtCore.QSize(hint.width(), self.SHOWN_LINES * self.fontMetrics().lineSpacing() + 2 * WrapDelegate.PAD
                            + 2 * self.frameWidth() + 4)

    def text(self) -> str:
        return "\n".join(self.lines)

    toPlainText = text


class SoundTimeline(RowList):
    """Environmental sounds heard, newest first (filled by the Stage B sound processor)."""
    EMPTY = "No sounds heard yet"

    def __init__(self, parent=None):
        super().__init__("Sounds", "Doorbells, alarms, sirens and other sounds heard, newest first", parent)
        self.set_rows([(self.EMPTY, self.EMPTY, None)])

    def add_event(self, name: str, direction: str = "") -> None:
        rows = [] if self.texts() == [self.EMPTY] else \
            [(self.item(i).text(), self.item(i).data(Qt.ItemDataRole.AccessibleTextRole), None) for i in range(self.count())]
        line = f"{time.strftime('%H:%M:%S')}  {name}{', ' + direction if direction else ''}"
        self.set_rows([(line, line, None)] + rows[:99])
