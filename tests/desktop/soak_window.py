"""Soak: the window under a real X server, driven by the keyboard for a long time on a replayed
video (F5 when it ends), with the process's memory sampled every 10 s. A benchmark, not a CI test.

    .venv/bin/python -m tests.desktop.soak_window --minutes 30 [--video FILE] [--out test-output/soak-window.json]

Writes the samples, a plot (…png beside the JSON) and one line: PASS when the window never died,
logged no traceback, and RSS grew less than 5 % between the end of the warm-up and the end."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.desktop.conftest import OUT, SAMPLE, start_app
from tests.desktop.keyboard import Run, drive, playing, rss_growth
from tests.desktop.xsession import XSession, missing_tools, wait_for


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup-minutes", type=float, default=3.0)
    ap.add_argument("--video", type=Path, default=SAMPLE)
    ap.add_argument("--out", type=Path, default=OUT / "soak-window.json")
    args = ap.parse_args(argv)
    missing = missing_tools()
    if missing:
        print(f"the soak needs {', '.join(missing)} (scripts/setup.sh --dev installs them)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="maxsight-soak-"))
    with XSession(workdir=work) as session:
        app = start_app(session, work, args.video, name="soak-app")
        wait_for(lambda: playing(app), 180, "the video playing")
        t0 = time.time()
        run = Run()
        try:
            drive(app, args.minutes * 60, log=lambda line: print(line, flush=True), run=run)
            died = None
        except (AssertionError, TimeoutError) as exc:      # the window died, or stopped answering the keyboard
            died = str(exc)
        errors = app.errors()
        samples = run.samples if run else []
        base, end, growth = rss_growth(samples, args.warmup_minutes * 60) if samples else (0.0, 0.0, float("nan"))
        app.key("ctrl+q")
        try:
            wait_for(lambda: not app.alive(), 60, "the window quitting")
        except TimeoutError:
            app.stop()
    ok = died is None and not errors and growth < 5.0
    report = {"minutes": args.minutes, "video": str(args.video), "started": t0, "died": died, "errors": errors[:20],
              "keys": run.keys if run else 0, "passes": run.passes if run else 0, "replays": run.replays if run else 0,
              "rss_mb": samples, "rss_after_warmup_mb": base, "rss_end_mb": end, "growth_percent": round(growth, 2),
              "exit_code": app.proc.returncode, "pass": ok}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.plot([t / 60 for t, _ in samples], [mb for _, mb in samples], ".-")
        ax.axvline(args.warmup_minutes, color="#888888", linestyle="--", label="end of warm-up")
        ax.set(xlabel="minutes", ylabel="RSS (MB)", title=f"MaxSight window soak: {growth:+.1f} % after warm-up")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out.with_suffix(".png"), dpi=100)
    except ImportError:
        pass
    print(f"{'PASS' if ok else 'FAIL'}: {args.minutes:.0f} min, {report['keys']} keys, {report['replays']} replays, "
          f"RSS {base:.0f} -> {end:.0f} MB ({growth:+.1f} % after {args.warmup_minutes:.0f} min warm-up)"
          + (f"; died: {died.splitlines()[0]}" if died else "") + (f"; {len(errors)} traceback line(s)" if errors else ""))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
