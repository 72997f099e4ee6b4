"""`maxsight` with no command (or `maxsight run` without --headless): the desktop window."""
from __future__ import annotations

from maxsight_app.commands.common import CommandError, engine_config, open_profile


def cmd_app(args) -> int:
    from maxsight_app.ui.app import has_display, run_app
    if not has_display():
        raise CommandError("no display was found for the window; start a desktop session, or process a video without "
                           "a window: maxsight run --source FILE --headless")
    from maxsight_app.compose import make_registry
    cfg = engine_config(args, follow_profile=True)
    store, uid = open_profile(getattr(args, "profile", None))
    try:
        return run_app(store, uid, make_registry(), cfg, getattr(args, "source", None), find=getattr(args, "find", None))
    finally:
        store.close()
