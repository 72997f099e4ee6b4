"""'This is my…' (Ctrl+M): before anything is learnt, the dialog shows and says which object it
will take (the tracked object nearest the middle of the view, outlined on the picture, or the
middle of the picture when nothing is tracked), and the confirmation names it again."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.pipeline import crop_box
from maxsight_app.cues.phrasing import hazard_phrase
from maxsight_app.ui.qt import Qt, QtGui, QtWidgets, Signal


@dataclass(frozen=True)
class TeachTarget:
    crop: np.ndarray                   # [h, w, 3] uint8 BGR, what the embedder learns from
    words: str                         # "the person, ahead, 3 metres" / "the middle of the picture"
    box: tuple | None                  # preview pixels (x1, y1, x2, y2) of the object, when there is one


def teach_target(view, profile) -> TeachTarget:
    """What Ctrl+M would learn from this frame. ValueError when there is no picture."""
    if view is None:
        raise ValueError("there is no picture yet to learn from")
    img = cv2.cvtColor(view.rgb, cv2.COLOR_RGB2BGR)                   # the preview the user sees
    candidates = sorted(view.result.hazards, key=lambda h: abs(h.bearing_deg))
    for h in candidates:
        box = tuple(v * view.scale for v in h.box)
        crop = crop_box(img, box)
        if crop is not None:
            return TeachTarget(crop, "the " + hazard_phrase(h, profile.units, profile.hedge_below), box)
    h, w = img.shape[:2]
    return TeachTarget(img[h // 4: 3 * h // 4, w // 4: 3 * w // 4].copy(), "the middle of the picture", None)


class TeachDialog(QtWidgets.QDialog):
    """Shows the crop and names it; the user types what it is."""
    taught = Signal(str)

    def __init__(self, target: TeachTarget, parent=None):
        super().__init__(parent)
        self.target = target
        self.setWindowTitle("This is my…")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.what = QtWidgets.QLabel(f"I will remember {target.words}, outlined on the picture.")
        self.what.setWordWrap(True)
        self.what.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByKeyboard | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.what.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.picture = QtWidgets.QLabel()
        rgb = cv2.cvtColor(target.crop, cv2.COLOR_BGR2RGB)
        h, w, _ = rgb.shape
        img = QtGui.QImage(np.ascontiguousarray(rgb).data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
        self.picture.setPixmap(QtGui.QPixmap.fromImage(img).scaled(240, 240, Qt.AspectRatioMode.KeepAspectRatio,
                                                                     Qt.TransformationMode.SmoothTransformation))
        self.picture.setAccessibleName(f"Picture of {target.words}")
        self.name = QtWidgets.QLineEdit()
        self.name.setPlaceholderText("for example: my mug, my front door")
        self.name.setAccessibleDescription(f"What is {target.words}? For example: my mug, my front door")
        label = QtWidgets.QLabel("What is it?")
        label.setBuddy(self.name)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Ok).setText("Remember")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        for w in (self.what, self.picture, label, self.name, buttons):
            layout.addWidget(w)
        self.name.setFocus()

    def _accept(self) -> None:
        text = self.name.text().strip()
        if not text:
            self.name.setFocus()
            return
        self.taught.emit(text)
        self.accept()
