"""The window under a real X server with a window manager and an accessibility bus, driven by the
keyboard as a user drives it (tests/desktop/xsession.py). Slow; they skip with one line outside CI
when the desktop tools are missing and fail in CI (scripts/setup.sh --dev installs them)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.samples import sample_video
from tests.conftest import _missing
from tests.desktop.xsession import SYSTEM_PYTHON, XSession, missing_tools, wait_for

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-output"
PROBE = Path(__file__).with_name("atspi_probe.py")
# The clip shipped with MaxSight (the first 90 s of the evaluation set's intel_one-by-one-person-
# detection.mp4): the desktop tests need no evaluation data, so they run on a clone alone.
SAMPLE = sample_video()
OWN_WINDOWS = ("MaxSight", "This is my", "Therapy session", "Open a video file")


@pytest.fixture(scope="module")
def desktop(tmp_path_factory, request):
    missing = missing_tools()
    if missing:
        _missing(f"the desktop tests need {', '.join(missing)} (scripts/setup.sh --dev installs them)")
    session = XSession(workdir=tmp_path_factory.mktemp("x"))
    session.start()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def window_models(registry):
    """The window needs its detector; Stage B turns off (and says so) whatever else is missing."""
    from engine.config import EngineConfig
    from engine.models.registry import installed_path
    spec = registry.get(EngineConfig().detector)
    missing = [p.name for p in ([spec] + [registry.get(x) for x in spec.parts]) if not p.parts and installed_path(p) is None]
    if missing:
        _missing(f"models not installed ({', '.join(missing)}); run `maxsight models fetch`")
    return registry


@dataclass
class App:
    """MaxSight's window, started as `maxsight --source FILE` in the desktop session."""
    session: XSession
    proc: subprocess.Popen
    data: Path
    log: Path
    wid: str = ""

    def tree(self) -> dict:
        r = subprocess.run([SYSTEM_PYTHON, str(PROBE), "tree", "maxsight"], env=self.session.env, capture_output=True,
                           text=True, timeout=180)
        assert r.returncode == 0, r.stderr[-2000:]
        return json.loads(r.stdout)

    def focused(self) -> dict | None:
        r = subprocess.run([SYSTEM_PYTHON, str(PROBE), "focus", "maxsight"], env=self.session.env, capture_output=True,
                           text=True, timeout=60)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def errors(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if "Traceback" in line or "Fatal Python error" in line
                or "Exceptions caught" in line]

    def key(self, *keys: str, pause: float = 0.0) -> None:
        """Keys to whichever MaxSight window is active (a dialog, when one is open); to the main
        window when something else took the focus."""
        if not self.session.active_window_name().startswith(OWN_WINDOWS):
            self.session.activate(self.wid)
        self.session.key(*keys)
        if pause:
            time.sleep(pause)

    def stop(self) -> None:
        self.session.end(self.proc, grace=20)


def start_app(session: XSession, workdir: Path, source: Path | None, prefs: dict | None = None, name: str = "app",
              env: dict | None = None, timeout: float = 180) -> App:
    """A fresh profile (with `prefs`), then the window on `source`; waits until the window shows."""
    from maxsight_app.profile.store import ProfileStore
    data = workdir / f"{name}-data"
    data.mkdir(parents=True, exist_ok=True)
    store = ProfileStore(data / "profiles.db")
    if not store.users():
        store.create_user("default")
    # The first-run set-up (ui/first_run.py) opens over a fresh profile's window and pauses the video;
    # these tests are about the window, so their profiles have done it (tests/packaging runs the set-up).
    store.set_preferences(1, {"first_run_done": True, **(prefs or {})})
    store.close()
    log = session.workdir / f"{name}.log"
    argv = [sys.executable, "-m", "maxsight_app"] + (["--source", str(source)] if source else [])
    proc = session.spawn(name, argv, env=dict({"MAXSIGHT_DATA": str(data), "PYTHONUNBUFFERED": "1"}, **(env or {})),
                         cwd=str(ROOT), log=log)
    app = App(session, proc, data, log)

    def window():
        if not app.alive():
            raise RuntimeError(f"the window exited: {log.read_text(errors='replace')[-3000:]}")
        ids = session._out(["xdotool", "search", "--onlyvisible", "--name", "^MaxSight$"]).split()
        return ids[0] if ids else None
    app.wid = wait_for(window, timeout, "the MaxSight window appearing", every=0.5)
    session.activate(app.wid)
    return app


def find(node: dict, pred) -> list[dict]:
    out = [node] if pred(node) else []
    for c in node.get("children", ()):
        out += find(c, pred)
    return out


def wait_tree(app: App, pred, timeout: float, what: str) -> dict:
    """Poll the accessibility tree until pred(tree) is truthy."""
    def check():
        t = app.tree()
        return t if t and pred(t) else None
    return wait_for(check, timeout, what, every=1.0)
