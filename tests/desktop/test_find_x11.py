"""Find mode under a real X server, read through AT-SPI as a screen reader reads it: F opens a dialog
named Find whose focused field is named and says what to do; typing and Enter start find mode, the
status line reads "Finding: person"; F stops it and the chooser leaves the tree."""
from __future__ import annotations

import pytest

from tests.desktop.conftest import OUT, SAMPLE, find, start_app, wait_tree
from tests.desktop.xsession import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(desktop, window_models, tmp_path_factory):
    a = start_app(desktop, tmp_path_factory.mktemp("find"), SAMPLE, name="find-app",
                  prefs={"speech": False, "earcons": False, "first_run_done": True})
    yield a
    a.stop()
    assert a.errors() == []


def test_find_by_keyboard_under_x11(app, desktop):
    wait_tree(app, lambda t: find(t, lambda n: n["role"] == "push button" and n["name"] == "Stop"), 120,
              "the video playing")
    app.key("f")
    wid = desktop.window_id("^Find$", timeout=60)
    desktop.activate(wid)
    tree = wait_tree(app, lambda t: [c for c in t["children"] if c["role"] == "dialog" and c["name"] == "Find"], 60,
                     "the Find dialog in the accessibility tree")
    dialog = next(c for c in tree["children"] if c["role"] == "dialog" and c["name"] == "Find")
    field = find(dialog, lambda n: n["role"] == "text" and n["name"] == "What to find")
    assert field and "Escape cancels" in field[0]["description"]
    assert any(r[0] == "labelled by" and r[1] == ["Find:"] for r in field[0]["relations"]), field[0]["relations"]
    assert find(dialog, lambda n: n["role"] == "list" and n["name"] == "Things you can find")
    wait_tree(app, lambda t: find(t, lambda n: n["role"] == "text" and n["name"] == "What to find"
                                  and "focused" in n["states"]), 30, "the focus in the field")
    OUT.mkdir(exist_ok=True)
    desktop.screenshot(OUT / "x11-find-chooser.png", window=wid)
    desktop.type("person")
    desktop.key("Return")
    wait_for(lambda: not desktop._out(["xdotool", "search", "--onlyvisible", "--name", "^Find$"]).strip(), 30,
             "the Find dialog closing")
    tree = wait_tree(app, lambda t: find(t, lambda n: n["role"] == "label" and n["name"] == "Finding: person"), 60,
                     "the status line reading Finding: person")
    assert [c["role"] for c in tree["children"]] == ["frame"]          # the chooser left the tree
    desktop.screenshot(OUT / "x11-find-mode.png")
    app.key("f")
    wait_tree(app, lambda t: not find(t, lambda n: n["role"] == "label" and n["name"] == "Finding: person"), 60,
              "the status line clearing when F stops find mode")
