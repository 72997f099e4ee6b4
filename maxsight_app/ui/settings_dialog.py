"""Settings bound to the SQLite profile. The form is generated from schema.PREFERENCES, so every
field carries the same type, bounds and choices the store enforces; saving is all or nothing and a
bad value is reported next to the buttons with its field name."""
from __future__ import annotations

from engine.models.registry import load_labels
import enum

from maxsight_app.profile.schema import PREFERENCES, word
from maxsight_app.profile.store import ProfileStore
from maxsight_app.ui.qt import Qt, QtWidgets, Signal

GROUPS = {
    "Speech and sound": ("speech", "speech_output", "voice", "speech_rate", "volume", "earcons", "tone_volume"),
    "What is said": ("verbosity", "units", "cooldown_s", "max_unsolicited", "hedge_below"),
    "Vibration": ("haptic", "haptic_port", "haptic_strength"),
    "Seeing and hearing": ("vision_condition", "vision_severity", "hearing", "screen_alerts", "captions", "name_alert",
                           "text_scale", "high_contrast"),
}
HAZARD_FIRST = ("person", "car", "bicycle", "motorcycle", "bus", "truck", "dog", "traffic light", "stop sign", "chair", "bench")


class SettingsDialog(QtWidgets.QDialog):
    saved = Signal()

    def __init__(self, store: ProfileStore, user_id: int, voices: list[tuple[str, str]] | None = None, parent=None):
        super().__init__(parent)
        self.store, self.user_id = store, user_id
        self.setWindowTitle("MaxSight settings")
        self.setAccessibleName("Settings")
        self.fields: dict[str, QtWidgets.QWidget] = {}
        prefs = store.preferences(user_id)
        tabs = QtWidgets.QTabWidget()
        tabs.setAccessibleName("Settings pages")
        for title, names in GROUPS.items():
            page = QtWidgets.QWidget()
            form = QtWidgets.QFormLayout(page)
            for name in names:
                w = self._widget(name, prefs[name], voices)
                w.setAccessibleName(PREFERENCES[name].label)
                w.setAccessibleDescription(PREFERENCES[name].doc)
                w.setToolTip(PREFERENCES[name].doc)
                label = QtWidgets.QLabel(PREFERENCES[name].label + ":")
                label.setBuddy(w)
                form.addRow(label, w)
                self.fields[name] = w
            tabs.addTab(page, title)
        tabs.addTab(self._classes_page(), "Objects to announce")
        tabs.addTab(self._sounds_page(prefs["sound_alerts"]), PREFERENCES["sound_alerts"].label)
        self.error = QtWidgets.QLabel("")
        self.error.setAccessibleName("Settings error")
        self.error.setStyleSheet("color: #ff4040; font-weight: bold;")
        self.error.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Save | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Save).setAccessibleName("Save settings")
        buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _widget(self, name, value, voices):
        p = PREFERENCES[name]
        if p.kind is bool:
            w = QtWidgets.QCheckBox()
            w.setChecked(bool(value))
        elif isinstance(p.kind, type) and issubclass(p.kind, enum.Enum) or p.choices:
            w = QtWidgets.QComboBox()
            words = [m.value for m in p.kind] if isinstance(p.kind, type) and issubclass(p.kind, enum.Enum) else list(p.choices)
            w.addItems(words)
            w.setCurrentText(word(value))
        elif name == "voice" and voices:
            w = QtWidgets.QComboBox()
            w.addItem("English (default)", "")
            for vid, vname in voices:
                w.addItem(vname, vid)
            w.setCurrentIndex(max(0, w.findData(value)))
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

    def _classes_page(self):
        labels, _ = load_labels("coco80")
        ordered = list(HAZARD_FIRST) + sorted(set(labels) - set(HAZARD_FIRST))
        weights = self.store.class_weights(self.user_id)
        self.classes = QtWidgets.QListWidget()
        self.classes.setAccessibleName("Objects to announce")
        self.classes.setAccessibleDescription("Unticked objects are only announced when they are a danger")
        for label in ordered:
            item = QtWidgets.QListWidgetItem(label)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if weights.get(label, 1.0) == 0 else Qt.CheckState.Checked)
            self.classes.addItem(item)
        return self.classes

    def _sounds_page(self, current: str):
        chosen = set(current.split(","))
        self.sounds = QtWidgets.QListWidget()
        self.sounds.setAccessibleName("Sounds to show")
        self.sounds.setAccessibleDescription("Environmental sounds that get a visual alert")
        for s in PREFERENCES["sound_alerts"].choices:
            item = QtWidgets.QListWidgetItem(s.replace("_", " "))
            item.setData(Qt.ItemDataRole.UserRole, s)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if s in chosen else Qt.CheckState.Unchecked)
            self.sounds.addItem(item)
        return self.sounds

    def values(self) -> dict:
        out = {}
        for name, w in self.fields.items():
            if isinstance(w, QtWidgets.QCheckBox):
                out[name] = w.isChecked()
            elif isinstance(w, QtWidgets.QComboBox):
                out[name] = w.currentData() if w.currentData() is not None else w.currentText()
            elif isinstance(w, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
                out[name] = w.value()
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
