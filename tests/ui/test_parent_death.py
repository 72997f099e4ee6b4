"""When the window's process dies, however it dies, its Stage B process and every other child
(multiprocessing's resource tracker included) end too: nothing is left running without a parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def descendants(pid: int) -> set[int]:
    kids, out, todo = _children(), set(), [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait(check, timeout: float, what: str):
    end = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > end:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(0.2)
    return value


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV], ids=["kill", "term", "segfault"])
def test_children_end_when_the_window_dies(tmp_path, installed_models, eval_data, how):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MAXSIGHT_DATA=str(tmp_path))
    log = open(tmp_path / "app.log", "wb")
    app = subprocess.Popen([sys.executable, "-m", "maxsight_app", "--source",
                            str(eval_data / "videos_walking_driving" / "opencv_vtest.avi")],
                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # The Stage B worker and multiprocessing's resource tracker are running.
        kids = wait(lambda: (d := descendants(app.pid)) and len(d) >= 2 and d, 180, "Stage B did not start")
        time.sleep(3)
        kids = descendants(app.pid) | kids
        os.kill(app.pid, how)
        app.wait(60)
        assert app.returncode == -how
        wait(lambda: not [p for p in kids if running(p)], 60,
             f"children {[p for p in kids if running(p)]} still ran after the window died by {signal.Signals(how).name}")
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait(30)
        log.close()
