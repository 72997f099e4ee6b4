"""The window's accessibility tree, read through AT-SPI the way a screen reader reads it, while a real
video plays under a real X server: names, roles, descriptions and relations; labels read as their
text; closed dialogs gone from the tree; the status numbers not flooding the bus, the hazard list
sending change signals."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.desktop.conftest import PROBE, SAMPLE, find, start_app, wait_tree
from tests.desktop.xsession import SYSTEM_PYTHON, wait_for

pytestmark = pytest.mark.slow
VIDEO = SAMPLE.name


@pytest.fixture(scope="module")
def app(desktop, window_models, tmp_path_factory):
    a = start_app(desktop, tmp_path_factory.mktemp("atspi"), SAMPLE, name="atspi-app")
    yield a
    a.stop()
    assert a.errors() == []


def _frame(tree: dict) -> dict:
    frames = [c for c in tree["children"] if c["role"] == "frame"]
    assert [f["name"] for f in frames] == ["MaxSight"]
    return frames[0]


def test_names_roles_relations_and_labels(app):
    tree = wait_tree(app, lambda t: any(n["name"].startswith("File: ") for n in find(t, lambda n: n["role"] == "combo box")),
                     120, "the Source box naming the video")
    frame = _frame(tree)
    buttons = {n["name"] for n in find(frame, lambda n: n["role"] == "push button")}
    assert {"Open video", "Pause", "Settings", "Therapist mode"} <= buttons and ("Stop" in buttons or "Start" in buttons)
    assert not find(frame, lambda n: n["role"] in ("check box", "toggle button"))      # Pause is a button that says what it does
    start = find(frame, lambda n: n["role"] == "push button" and n["name"] in ("Start", "Stop"))[0]
    assert start["description"].startswith("Start watching")
    # Combo boxes: AT-SPI gives their value as the name; the label relation gives what they are.
    combos = {r[1][0]: n for n in find(frame, lambda n: n["role"] == "combo box") for r in n["relations"]
              if r[0] == "labelled by"}
    assert set(combos) >= {"Source:", "Profile:"}
    assert combos["Source:"]["name"] == f"File: {VIDEO}"                             # the file, not "Video file…"
    # The lists are named by their titles; focus lands on rows a screen reader reads as sentences.
    for title in ("Hazards", "Captions and alerts", "Sounds"):
        lists = find(frame, lambda n, t=title: n["role"] == "list" and n["name"] == t)
        assert lists, f"no list named {title}"
        assert lists[0]["children"] and all(item["name"] for item in lists[0]["children"]), f"{title} has an unnamed row"
    # Labels are read as their text (no name laid over it), except the engine numbers, which keep one name.
    for lab in find(frame, lambda n: n["role"] == "label" and n["text"]):
        if lab["name"] not in ("Engine status",):
            assert lab["name"] == lab["text"], f"label {lab['text']!r} is announced as {lab['name']!r}"
    # The screen reader's own channel: notifications named by what they announced, a few at most
    # (a new one while an earlier one may still be unread: ui/announcer.py).
    from maxsight_app.ui.announcer import MAX_LABELS
    notes = find(frame, lambda n: n["role"] == "notification")
    assert 1 <= len(notes) <= MAX_LABELS
    assert all(n["name"] for n in notes if "showing" in n["states"])
    # Nothing focusable without a name.
    unnamed = [n["role"] for n in find(frame, lambda n: "focusable" in n["states"] and "showing" in n["states"]
                                       and not n["name"] and n["role"] not in ("list item",))]
    assert unnamed == []


def test_closed_dialogs_leave_the_tree(app, desktop):
    for key, title in (("ctrl+comma", "MaxSight settings"), ("ctrl+t", "MaxSight therapist mode")):
        for _ in range(3):
            app.key(key)
            wid = desktop.window_id(f"^{title}$", timeout=60)
            desktop.activate(wid)
            desktop.key("Escape")
            wait_for(lambda t=title: not desktop._out(["xdotool", "search", "--onlyvisible", "--name", f"^{t}$"]).strip(),
                     30, f"{title} closing")
    tree = wait_tree(app, lambda t: not [c for c in t["children"] if c["role"] == "dialog"], 60,
                     "closed dialogs leaving the accessibility tree")
    assert [c["role"] for c in tree["children"]] == ["frame"]


def test_status_numbers_do_not_flood_the_bus_and_the_hazard_list_signals_changes(app, desktop, tmp_path):
    if not find(app.tree(), lambda n: n["role"] == "push button" and n["name"] == "Stop"):
        app.key("F5")                           # the video ended: play it again
    out = tmp_path / "events.jsonl"
    seconds = 30
    lis = subprocess.Popen([SYSTEM_PYTHON, str(PROBE), "listen", "maxsight", str(seconds), str(out)], env=desktop.env,
                           stdout=subprocess.PIPE, text=True)
    assert lis.stdout.readline().strip() == "ready"
    lis.wait(seconds + 60)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    names = [e for e in events if e["type"] == "object:property-change:accessible-name" and e["role"] == "label"]
    per_minute = len(names) * 60 / seconds
    assert per_minute <= 30, f"{per_minute:.0f} label name changes a minute: {[e['name'] for e in names][:20]}"
    listed = [e for e in events if e["role"] in ("list", "list item") and e["type"].startswith(
        ("object:children-changed", "object:property-change:accessible-name", "object:state-changed"))]
    assert listed, "the hazard list sent no change signal in 30 s of video"
    from tests.desktop.conftest import OUT
    OUT.mkdir(exist_ok=True)
    (OUT / "atspi-events.json").write_text(json.dumps({
        "seconds": seconds, "events": len(events), "label_name_changes": len(names),
        "list_changes": len(listed), "by_type": {t: sum(e["type"] == t for e in events) for t in sorted({e["type"] for e in events})},
    }, indent=1))
