"""Launch the desktop window: `maxsight` or `maxsight --source FILE`."""
from __future__ import annotations

import os
import sys

from engine.config import EngineConfig


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def run_app(store, user_id, registry, config: EngineConfig, source: str | None, find: str | None = None) -> int:
    from maxsight_app.ui.main_window import MainWindow
    from maxsight_app.ui.qt import QtWidgets
    from maxsight_app.ui.theme import apply_theme
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("MaxSight")
    prefs = store.preferences(user_id)
    apply_theme(app, prefs["high_contrast"], prefs["text_scale"])
    window = MainWindow(store, user_id, registry, config, source=source)
    window.resize(1280, 760)
    window.show()
    if find:
        window.find_mode.start_words(find)      # `maxsight run --source FILE --find door`
    from maxsight_app.ui.first_run import needs_first_run
    if needs_first_run(store, user_id):
        window.setup.open()              # spoken, keyboard-only; sets first_run_done when finished or skipped
    code = app.exec()
    window.shutdown()
    return code
