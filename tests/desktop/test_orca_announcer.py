"""The announcer under a real Orca (issue 27): a danger followed at once by a warning and a notice
is spoken in full, each of them (a danger was lost when the same notification object got new
words before Orca read it), arrowing through a drop-down is spoken, and an empty text field is read
by its name when Tab reaches it. A small window
(announce_app.py), so no model or video is needed."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import _missing
from tests.desktop.announce_app import DANGER, NOTICE, WARNING
from tests.desktop.conftest import ROOT
from tests.desktop.test_orca import Orca
from tests.desktop.xsession import wait_for

pytestmark = pytest.mark.slow


def test_a_danger_then_a_warning_then_a_notice_are_each_spoken_in_full(desktop, tmp_path):
    if shutil.which("orca") is None:
        _missing("the screen-reader test needs Debian's orca (scripts/setup.sh --dev installs it)")
    orca = Orca(desktop, tmp_path / "orca")
    proc = desktop.spawn("announce-app", [sys.executable, str(Path(__file__).with_name("announce_app.py"))],
                         cwd=str(ROOT), env={"PYTHONPATH": str(ROOT)})
    try:
        wid = desktop.window_id("^Announcer test$")
        desktop.activate(wid)
        wait_for(lambda: any("Voice" in w for w in orca.words()), 60, "Orca reading the window")
        n = len(orca.said())
        desktop.key("ctrl+d")

        def heard(text):
            return any(text in w for w in orca.words(n))
        wait_for(lambda: heard(NOTICE), 60, "Orca saying the notice")
        assert heard(DANGER) and heard(f"Warning: {WARNING}"), orca.words(n)
        # Arrowing through the drop-down: each choice is said.
        n = len(orca.said())
        desktop.key("Down")
        wait_for(lambda: any("Bartholomew" in w for w in orca.words(n)), 30, "Orca saying the new choice")
        # Tab to an empty text field: its name is said (it was nothing, or "Text unselected").
        n = len(orca.said())
        desktop.key("Tab")
        wait_for(lambda: any(w.startswith("Name") for w in orca.words(n)), 30, "Orca saying the field's name")
    finally:
        desktop.end(proc)
        desktop.end(orca.proc)
