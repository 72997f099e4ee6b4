"""Start Debian's Orca for one test session even when another Orca runs on this machine.

/usr/bin/orca refuses to start while any process named "orca" belongs to the same user (its
otherOrcas() check: `pgrep -u UID -x orca`), whatever display or D-Bus session that Orca serves.
A developer's own Orca, or another test run's, then blocked every screen-reader test ("Orca starting
did not happen within 120 s"). The test's Orca has its own X display, D-Bus session, AT-SPI bus,
runtime folder and home, so it never touches another Orca: this runs the same launcher with that one
check answering "no other Orca in this session".

Usage (as tests/desktop/test_orca.py does): python3 orca_private.py [orca's own arguments]
"""
from __future__ import annotations

import sys

LAUNCHER = "/usr/bin/orca"


def main() -> int:
    with open(LAUNCHER, encoding="utf-8") as f:
        source = f.read()
    scope = {"__name__": "orca_launcher", "__file__": LAUNCHER}
    sys.argv = [LAUNCHER] + sys.argv[1:]
    exec(compile(source, LAUNCHER, "exec"), scope)      # defines main() and otherOrcas(); runs nothing
    if "otherOrcas" not in scope or "main" not in scope:
        print(f"{LAUNCHER} is not the Orca launcher this test knows (no otherOrcas/main)", file=sys.stderr)
        return 2
    scope["otherOrcas"] = lambda: []        # main() looks it up in this scope when it runs
    return scope["main"]()


if __name__ == "__main__":
    sys.exit(main())
