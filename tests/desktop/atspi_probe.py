"""Reads the AT-SPI accessibility bus the way a screen reader does. Runs under Debian's
/usr/bin/python3 (python3-pyatspi), never the project's venv; prints JSON.

    atspi_probe.py tree APP                 the app's tree: role, name, description, states, text
    atspi_probe.py focus APP                the focused object, as `tree` describes one node
    atspi_probe.py listen APP SECONDS OUT   every event from APP for SECONDS, one JSON line each, to OUT
                                            (prints "ready" once the listeners are registered)
"""
import json
import sys
import threading
import time

import pyatspi

KEEP_STATES = ("focused", "focusable", "checked", "checkable", "pressed", "selected", "showing", "visible",
               "sensitive", "editable", "expanded", "expandable", "multi_line", "active", "modal")


def _text(acc):
    try:
        t = acc.queryText()
        return t.getText(0, t.characterCount)
    except Exception:  # noqa: BLE001 - most objects have no text interface
        return None


def _value(acc):
    try:
        return acc.queryValue().currentValue
    except Exception:  # noqa: BLE001
        return None


def node(acc, depth=0, recurse=True, max_children=400):
    states = acc.getState()
    d = {
        "role": acc.getRoleName(),
        "name": acc.name or "",
        "description": acc.description or "",
        "states": [s for s in KEEP_STATES if states.contains(getattr(pyatspi, "STATE_" + s.upper()))],
        "text": _text(acc),
        "value": _value(acc),
        "relations": [],
        "extents": None,
    }
    try:
        for rel in acc.getRelationSet():
            targets = [rel.getTarget(i) for i in range(rel.getNTargets())]
            d["relations"].append([pyatspi.relationToString(rel.getRelationType()) if hasattr(pyatspi, "relationToString")
                                   else str(rel.getRelationType()), [t.name for t in targets if t is not None]])
    except Exception:  # noqa: BLE001
        pass
    try:
        e = acc.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
        d["extents"] = [e.x, e.y, e.width, e.height]
    except Exception:  # noqa: BLE001
        pass
    if recurse:
        kids = []
        for i in range(min(acc.childCount, max_children)):
            try:
                c = acc.getChildAtIndex(i)
                if c is not None:
                    kids.append(node(c, depth + 1, recurse, max_children))
            except Exception:  # noqa: BLE001 - a live window: a row or notification went away while it was read
                continue
        d["children"] = kids
    return d


def app_named(name):
    desktop = pyatspi.Registry.getDesktop(0)
    for i in range(desktop.childCount):
        a = desktop.getChildAtIndex(i)
        if a is not None and (a.name or "").lower() == name.lower():
            return a
    return None


def find_focused(acc):
    states = acc.getState()
    if states.contains(pyatspi.STATE_FOCUSED):
        return acc
    if not states.contains(pyatspi.STATE_SHOWING) and acc.getRole() not in (pyatspi.ROLE_APPLICATION,):
        return None
    for i in range(acc.childCount):
        c = acc.getChildAtIndex(i)
        if c is not None:
            f = find_focused(c)
            if f is not None:
                return f
    return None


def main(argv):
    cmd, app_name = argv[1], argv[2]
    if cmd == "tree":
        app = app_named(app_name)
        print(json.dumps(node(app) if app is not None else None))
    elif cmd == "focus":
        app = app_named(app_name)
        f = find_focused(app) if app is not None else None
        print(json.dumps(node(f, recurse=False) if f is not None else None))
    elif cmd == "listen":
        seconds, out = float(argv[3]), open(argv[4], "w", buffering=1)
        t0 = time.time()

        def on_event(ev):
            try:
                app = ev.source.getApplication()
                if app is None or (app.name or "").lower() != app_name.lower():
                    return
                role = ev.source.getRoleName()
                name = ev.source.name
            except Exception:  # noqa: BLE001 - the source may be gone already
                role, name = "", ""
            any_data = ev.any_data
            if not isinstance(any_data, (str, int, float, bool, type(None))):
                any_data = str(any_data)
            out.write(json.dumps({"t": time.time(), "type": ev.type, "role": role, "name": name, "detail1": ev.detail1,
                                  "detail2": ev.detail2, "data": any_data}) + "\n")
        kinds = ["object:announcement", "object:property-change", "object:state-changed", "object:children-changed",
                 "object:text-changed", "object:active-descendant-changed", "object:selection-changed",
                 "object:visible-data-changed", "window", "focus"]
        for k in kinds:
            pyatspi.Registry.registerEventListener(on_event, k)
        print("ready", flush=True)
        threading.Timer(max(0.0, seconds - (time.time() - t0)), pyatspi.Registry.stop).start()
        pyatspi.Registry.start()
        out.close()
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv)
