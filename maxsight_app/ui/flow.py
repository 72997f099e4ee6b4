"""A layout that wraps its items onto new rows, as text does, so a row of controls never forces the
window wider than the screen or hides its last controls (Qt's flow layout example, in Python)."""
from __future__ import annotations

from maxsight_app.ui.qt import QtCore, QtWidgets


class FlowLayout(QtWidgets.QLayout):
    def __init__(self, parent: QtWidgets.QWidget | None = None, spacing: int = 6):
        super().__init__(parent)
        self._items: list[QtWidgets.QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    # -- QLayout ------------------------------------------------------------------------------
    def addItem(self, item: QtWidgets.QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):
        return QtCore.Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QtCore.QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QtCore.QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QtCore.QSize:
        return self.minimumSize()

    def minimumSize(self) -> QtCore.QSize:
        size = QtCore.QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QtCore.QSize(m.left() + m.right(), m.top() + m.bottom())

    # -- arranging ----------------------------------------------------------------------------
    def _arrange(self, rect: QtCore.QRect, move: bool) -> int:
        m = self.contentsMargins()
        r = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, row_h = r.x(), r.y(), 0
        for item in self._items:
            w = item.widget()
            if w is not None and not w.isVisibleTo(w.parentWidget() or w):
                continue
            hint = item.sizeHint()
            width = min(hint.width(), max(r.width(), item.minimumSize().width()))
            height = item.heightForWidth(width) if item.hasHeightForWidth() else hint.height()
            if x + width > r.right() + 1 and row_h > 0:
                x, y, row_h = r.x(), y + row_h + self._spacing, 0
            if move:
                item.setGeometry(QtCore.QRect(QtCore.QPoint(x, y), QtCore.QSize(width, height)))
            x += width + self._spacing
            row_h = max(row_h, height)
        return y + row_h - rect.y() + m.bottom()


class FlowRow(QtWidgets.QWidget):
    """A widget holding a FlowLayout, with a height that follows its width."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, spacing: int = 6):
        super().__init__(parent)
        self.flow = FlowLayout(self, spacing)
        policy = QtWidgets.QSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def add(self, *widgets: QtWidgets.QWidget) -> None:
        for w in widgets:
            self.flow.addWidget(w)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self.flow.heightForWidth(width)

    def sizeHint(self) -> QtCore.QSize:
        w = self.width() if self.width() > 0 else 800
        return QtCore.QSize(self.flow.minimumSize().width(), self.flow.heightForWidth(w))

    def minimumSizeHint(self) -> QtCore.QSize:
        return QtCore.QSize(self.flow.minimumSize().width(), self.flow.heightForWidth(max(1, self.width())))


def pair(label_text: str, widget: QtWidgets.QWidget) -> QtWidgets.QWidget:
    """A label and its control kept together on one row (a wrap never separates them)."""
    box = QtWidgets.QWidget()
    lay = QtWidgets.QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    lab = QtWidgets.QLabel(label_text)
    lab.setBuddy(widget)
    lay.addWidget(lab)
    lay.addWidget(widget, 1)
    box.label = lab
    return box
