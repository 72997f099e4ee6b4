"""A user at the keyboard, for the desktop run (tests/desktop/test_window_x11.py, 5 minutes) and the
soak (tests/desktop/soak_window.py, 30 minutes): on-demand cues, pause, snooze, text size, contrast,
settings and therapist mode opened and left by keyboard, Tab through the window, resizing, and F5
to play the video again when it ends. Nothing here imports Qt; keys go through xdotool."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.desktop.xsession import wait_for

# (keys, seconds to wait after) — one pass takes about a minute.
PASS = [
    (["w"], 2.0), (["r"], 1.5), (["d"], 2.0), (["t"], 1.5), (["Tab", "Tab", "Tab"], 1.0),
    (["p"], 2.0), (["p"], 1.5), (["s"], 1.5), (["Escape"], 1.0),
    (["ctrl+plus"], 1.5), (["ctrl+plus"], 1.5), (["ctrl+minus"], 1.5), (["ctrl+minus"], 1.5),
    (["ctrl+h"], 2.0), (["w"], 1.5), (["ctrl+h"], 2.0),
    (["ctrl+comma"], 2.5), (["Tab", "Tab", "Tab", "Tab"], 1.0), (["Escape"], 1.5),
    (["ctrl+t"], 3.0), (["Tab", "Tab", "Tab"], 1.0), (["Escape"], 1.5),
    (["ctrl+m"], 2.5), (["Escape"], 1.5),
    (["resize:800x600"], 3.0), (["Tab"] * 6, 1.5), (["resize:1280x760"], 3.0),
    (["shift+Tab", "shift+Tab"], 1.0), (["d"], 2.0),
]


@dataclass
class Run:
    samples: list = field(default_factory=list)      # (seconds since start, RSS MB)
    keys: int = 0
    replays: int = 0
    passes: int = 0


def playing(app) -> bool:
    """Whether the window says it is playing: its Start/Stop button reads "Stop"."""
    from tests.desktop.conftest import find
    tree = app.tree()
    return bool(find(tree, lambda n: n["role"] == "push button" and n["name"] == "Stop"))


def drive(app, seconds: float, sample_every: float = 10.0, check_every: float = 20.0, log=print,
          run: Run | None = None) -> Run:
    """Press keys for `seconds`; RSS sampled every `sample_every`; F5 when the video has ended (checked
    between passes). `run` collects what happened, so a caller keeps it when this raises."""
    run = run if run is not None else Run()
    t0 = time.monotonic()
    next_sample = next_check = 0.0
    step = 0
    while (now := time.monotonic() - t0) < seconds:
        if not app.alive():
            raise AssertionError(f"the window died after {now:.0f} s (exit {app.proc.returncode}); log:\n"
                                 + app.log.read_text(errors="replace")[-3000:])
        if now >= next_sample:
            run.samples.append((round(now, 1), round(app.rss_mb(), 1)))
            next_sample += sample_every
        if now >= next_check and step % len(PASS) == 0:       # between passes, when no dialog is open
            next_check = now + check_every
            if not playing(app):
                app.session.activate(app.wid)
                app.session.key("F5")
                run.replays += 1
                # a second F5 while it starts would stop it again
                wait_for(lambda: playing(app), 60, "the video playing again after F5", every=1.0)
        keys, pause = PASS[step % len(PASS)]
        if keys[0].startswith("resize:"):
            w, h = keys[0].split(":")[1].split("x")
            app.session.resize(app.wid, int(w), int(h))
        else:
            app.key(*keys)
            run.keys += len(keys)
        step += 1
        if step % len(PASS) == 0:
            run.passes += 1
            log(f"{now:6.0f} s  pass {run.passes}  RSS {app.rss_mb():.0f} MB  replays {run.replays}")
        time.sleep(pause)
    run.samples.append((round(time.monotonic() - t0, 1), round(app.rss_mb(), 1)))
    return run


def rss_growth(samples: list, warmup_s: float) -> tuple[float, float, float]:
    """(RSS after warm-up, RSS at the end, growth in %). Memory after warm-up is compared with the
    median of the last three samples, so one sample taken mid-allocation does not decide."""
    after = [mb for t, mb in samples if t >= warmup_s] or [mb for _, mb in samples]
    base = after[0]
    tail = sorted(mb for _, mb in samples[-3:])[len(samples[-3:]) // 2]
    return base, tail, 100.0 * (tail - base) / base
