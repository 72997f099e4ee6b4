"""Settings bound to the SQLite profile. The form is generated from schema.PREFERENCES, so every
field carries the same type, bounds and choices the store enforces; saving is all or nothing and a
bad value is reported next to the buttons with its field name.

One scrolling page with a titled section per group, not tabs: every field is reached by Tab in
reading order, nothing hides behind tab-bar scroll arrows, and the page reflows at any text size.
Choices read as words ("Dangers only"), not identifiers; ticking an object or a sound is announced."""
from __future__ import annotations

import enum
from typing import Callable

from engine.models.registry import load_labels
from maxsight_app.profile.schema import PREFERENCES
from maxsight_app.profile.store import ProfileStore
from maxsight_app.profile.words import choice_words
from maxsight_app.ui.qt import Qt, QtWidgets, Signal

GROUPS = {
    "Speech and sound": ("speech", "speech_output", "voice", "speech_rate", "volume", "earcons", "tone_volume"),
    "What is said": ("verbosity", "units", "cooldown_s", "max_unsolicited", "hedge_below", "watching_tick",
                     "obstacle_warnings", "watch_for"),
    "Vibration": ("haptic", "haptic_port", "haptic_strength"),
    "Seeing and hearing": ("vision_condition", "vision_severity", "hearing", "screen_alerts", "captions", "name_alert",
                           "text_scale", "high_contrast"),
    "Near-miss log": ("near_miss_log", "near_miss_days", "near_miss_max"),     # kept on this machine only
}
HAZARD_FIRST = ("person", "car", "bicycle", "motorcycle", "bus", "truck", "dog", "traffic light", "stop sign", "chair", "bench")


class SettingsDialog(QtWidgets.QDialog):
    saved = Signal()

    def __init__(self, store: ProfileStore, user_id: int, voices: list[tuple[str, str]] | None = None, parent=None,
                 announce: Callable[[str], None] | None = None):
        super().__init__(parent)
        self.store, self.user_id = store, user_id
        self.announce = announce or (lambda text: None)
        self.setWindowTitle("MaxSight settings")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)      # a closed dialog leaves the accessibility tree
        self.fields: dict[str, QtWidgets.QWidget] = {}
        self.sections: dict[str, QtWidgets.QGroupBox] = {}
        prefs = store.preferences(user_id)
        content = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(content)
        for title, names in GROUPS.items():
            box = self._section(title)
            form = QtWidgets.QFormLayout(box)
            form.setRowWrapPolicy(QtWidgets.QFormLayout.RowWrapPolicy.WrapLongRows)
            form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for name in names:
                w = self._widget(name, prefs[name], voices)
                w.setAccessibleName(PREFERENCES[name].label)
                w.setAccessibleDescription(PREFERENCES[name].doc)
                w.setToolTip(PREFERENCES[name].doc)
                label = QtWidgets.QLabel(PREFERENCES[name].label + ":")
                label.setWordWrap(True)
                label.setBuddy(w)
                form.addRow(label, w)
                self.fields[name] = w
            column.addWidget(box)
        self.classes = self._classes_list()
        self._list_section("Objects to announce", self.classes, column)
        self.sounds = self._sounds_list(prefs["sound_alerts"])
        self._list_section(PREFERENCES["sound_alerts"].label, self.sounds, column)
        column.addStretch(1)
        self.page = QtWidgets.QScrollArea()
        self.page.setObjectName("page")
        self.page.setWidget(content)
        self.page.setWidgetResizable(True)
        self.page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.page.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.error = QtWidgets.QLabel("")
        self.error.setObjectName("error")
        self.error.setAccessibleName("Settings error")
        self.error.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Save | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(self.page, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._fit_to_screen()

    def _section(self, title: str) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox(title)
        box.setAccessibleName(title)
        self.sections[title] = box
        return box

    def _list_section(self, title: str, widget: QtWidgets.QListWidget, column: QtWidgets.QVBoxLayout) -> None:
        box = self._section(title)
        lay = QtWidgets.QVBoxLayout(box)
        hint = QtWidgets.QLabel(widget.accessibleDescription() + ". Space ticks or unticks the object under the cursor.")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        lay.addWidget(widget)
        widget.setMinimumHeight(widget.fontMetrics().height() * 8)
        column.addWidget(box)

    def _fit_to_screen(self) -> None:
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        want = self.sizeHint().expandedTo(self.minimumSizeHint())
        w, h = max(560, want.width()), max(480, want.height())
        if screen is not None:
            w, h = min(w, int(screen.width() * 0.9)), min(h, int(screen.height() * 0.9))
        self.resize(w, h)

    def _widget(self, name, value, voices):
        p = PREFERENCES[name]
        if p.kind is bool:
            w = QtWidgets.QCheckBox()
            w.setChecked(bool(value))
        elif isinstance(p.kind, type) and issubclass(p.kind, enum.Enum) or p.choices:
            w = QtWidgets.QComboBox()
            values = list(p.kind) if isinstance(p.kind, type) and issubclass(p.kind, enum.Enum) else list(p.choices)
            for v in values:
                w.addItem(choice_words(v), v.value if isinstance(v, enum.Enum) else v)
            w.setCurrentIndex(max(0, w.findData(value.value if isinstance(value, enum.Enum) else value)))
        elif name == "voice" and voices:
            w = QtWidgets.QComboBox()
            w.addItem("English (default)", "")
            for vid, vname in voices:
                w.addItem(vname, vid)
            w.setCurrentIndex(max(0, w.findData(value)))
        elif name == "vision_severity":          # in percent, as therapist mode and the set-up show it ("30%", not "0.30")
            w = QtWidgets.QSpinBox()
            w.setRange(round(p.low * 100), round(p.high * 100))
            w.setSingleStep(10)
            w.setSuffix("%")
            w.setValue(round(float(value) * 100))
            w.setProperty("percent", True)
        elif p.kind is int:
            w = QtWidgets.QSpinBox()
            w.setRange(int(p.low), int(p.high))
            w.setValue(int(value))
        elif p.kind is float:
            w = QtWidgets.QDoubleSpinBox()
            w.setRange(p.low, p.high)
            w.setSingleStep(0.05 if p.high <= 3 else 1.0)
            w.setDecimals(2)
            w.setValue(float(value))
        else:
            w = QtWidgets.QLineEdit(str(value))
        return w

    def _checkable(self, name: str, description: str) -> QtWidgets.QListWidget:
        lw = QtWidgets.QListWidget()
        lw.setAccessibleName(name)
        lw.setAccessibleDescription(description)
        lw.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lw.setWordWrap(True)
        lw.itemChanged.connect(self._ticked)
        return lw

    def _ticked(self, item: QtWidgets.QListWidgetItem) -> None:
        state = "ticked" if item.checkState() == Qt.CheckState.Checked else "not ticked"
        self.announce(f"{item.text()}, {state}")

    def _classes_list(self) -> QtWidgets.QListWidget:
        labels, _ = load_labels("coco80")
        ordered = list(HAZARD_FIRST) + sorted(set(labels) - set(HAZARD_FIRST))
        weights = self.store.class_weights(self.user_id)
        lw = self._checkable("Objects to announce", "Unticked objects are only announced when they are a danger")
        lw.blockSignals(True)
        for label in ordered:
            item = QtWidgets.QListWidgetItem(label)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if weights.get(label, 1.0) == 0 else Qt.CheckState.Checked)
            lw.addItem(item)
        lw.blockSignals(False)
        return lw

    def _sounds_list(self, current: str) -> QtWidgets.QListWidget:
        chosen = set(current.split(","))
        lw = self._checkable("Sounds to show", "Environmental sounds that get a visual alert")
        lw.blockSignals(True)
        for s in PREFERENCES["sound_alerts"].choices:
            item = QtWidgets.QListWidgetItem(s.replace("_", " "))
            item.setData(Qt.ItemDataRole.UserRole, s)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if s in chosen else Qt.CheckState.Unchecked)
            lw.addItem(item)
        lw.blockSignals(False)
        return lw

    def values(self) -> dict:
        out = {}
        for name, w in self.fields.items():
            if isinstance(w, QtWidgets.QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QtWidgets.QComboBox):
                out[name] = w.currentData() if w.currentData() is not None else w.currentText()
            elif isinstance(w, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
                out[name] = w.value() / 100 if w.property("percent") else w.value()
            else:
                out[name] = w.text()
        out["sound_alerts"] = ",".join(self.sounds.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.sounds.count())
                                       if self.sounds.item(i).checkState() == Qt.CheckState.Checked)
        return out

    def save(self) -> bool:
        try:
            self.store.set_preferences(self.user_id, self.values())
        except ValueError as exc:
            self.error.setText(str(exc))
            self.announce(str(exc))
            return False
        weights = self.store.class_weights(self.user_id)
        for i in range(self.classes.count()):
            item = self.classes.item(i)
            on = item.checkState() == Qt.CheckState.Checked
            old = weights.get(item.text(), 1.0)
            if not on and old != 0:
                self.store.set_class_weight(self.user_id, item.text(), 0.0)
            elif on and old == 0:
                self.store.set_class_weight(self.user_id, item.text(), 1.0)
        self.error.setText("")
        self.saved.emit()
        self.accept()
        return True
