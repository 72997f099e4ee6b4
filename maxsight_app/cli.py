"""`maxsight ...`: the parser and the dispatch, nothing else. Each command group lives in
maxsight_app/commands/ (one module per group); what they build comes from maxsight_app/compose.py.

Every error a user can act on (missing model, bad path, no camera, bad option) ends as one
sentence on stderr and exit status 2, never a traceback (--debug shows it).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from maxsight_app.commands import GROUPS

log = logging.getLogger("maxsight")
# Camera probing makes OpenCV print a warning per missing index; our own messages say it better.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


def build_parser() -> argparse.ArgumentParser:
    from maxsight_app.commands.common import engine_options
    p = argparse.ArgumentParser(prog="maxsight", description="Offline assistive perception. With no command, opens the window.")
    p.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    p.add_argument("--source", dest="app_source", help="open the window on this video file or camera index")
    p.add_argument("--profile", dest="app_profile", help="user profile for the window (default: 'default')")
    window = p.add_argument_group("the window's engine")
    engine_options(window)
    p.set_defaults(func=None)
    sub = p.add_subparsers(dest="command")
    for module in GROUPS:
        module.add_parser(sub)
    return p


def _user_errors() -> tuple[type[BaseException], ...]:
    from engine.models.registry import ModelError
    from maxsight_app.capture.video import SourceError
    from maxsight_app.commands.common import CommandError
    from maxsight_app.profile.store import ProfileError
    errors: list[type[BaseException]] = [CommandError, ModelError, SourceError, ProfileError, ValueError, FileNotFoundError]
    # Only from modules the command already loaded: an error can only be theirs then, and importing
    # training.export here would load torch (3-8 s, ~860 MB) just to print one line.
    for module, name in (("training.evaluate", "EvalDataError"), ("training.export", "ExportError")):
        loaded = sys.modules.get(module)
        if loaded is not None and hasattr(loaded, name):
            errors.append(getattr(loaded, name))
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.func is None:        # no command: the desktop window
        from maxsight_app.commands.app import cmd_app
        args.func, args.source, args.profile = cmd_app, args.app_source, args.app_profile
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except _user_errors() as exc:
        if args.debug:
            raise
        print(f"maxsight: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # The disk, not the command: full, read-only, no permission. One sentence, as for the
        # errors above, naming the file (commands that write say more where they can).
        if args.debug:
            raise
        from maxsight_app.files import why_not_written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"maxsight: {where}{why_not_written(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("maxsight: stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
