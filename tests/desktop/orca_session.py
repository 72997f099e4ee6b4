"""A long keyboard session with Orca (issue 27): the window under a real X server and Orca, driven by
the keyboard for a long time (tests/desktop/keyboard.py, F5 when the video ends), with other work
running beside it. A benchmark, not a CI test.

    .venv/bin/python -m tests.desktop.orca_session --minutes 30 [--load 1] [--video FILE] [--out test-output/orca-session.json]

What it measures, from Orca's own speech log and an AT-SPI listener on the app:
  * every warning and danger the window raised (a notification whose name starts "Warning",
    "Danger" or "Stop!"): was it spoken by Orca, and how long after it was raised;
  * key answers: for each press of P, S, T, W, R or D, the time from the key to the first thing Orca
    said in answer (not the key's echo, not a hazard cue), p50/p95/max, and the presses never
    answered within 5 s;
  * stale speech: anything the window raised that Orca spoke more than 2 s after it was raised.
Prints a table and writes the JSON; PASS when every warning and danger was spoken, key answers
p95 <= 0.5 s and nothing was spoken more than 2 s late."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.desktop.conftest import OUT, PROBE, SAMPLE, start_app
from tests.desktop.keyboard import Run, drive, playing
from tests.desktop.xsession import SYSTEM_PYTHON, XSession, missing_tools, wait_for

URGENT = re.compile(r"^(Warning|Danger)\b|^Stop!")
# The words of each key's own answer, where they are known; W and R answer with what is around
# (any notification raised after the key that is not a warning or danger).
ANSWER_WORDS = {"p": re.compile(r"Paused|Resumed"), "s": re.compile(r"Quiet for"),
                "t": re.compile(r"Reading|[Tt]ext|text reader"), "d": re.compile(r"I see|I have not seen|I can't see|I don't see"),
                "w": None, "r": None}
ANSWERED_KEYS = set(ANSWER_WORDS)
ANSWER_WITHIN_S = 5.0
KEY_TARGET_S = 0.5
STALE_S = 2.0
CLOCK_SLACK_S = 0.25   # the listener's event stamp can come after Orca's log stamp of the same words


def _day_seconds(epoch: float) -> float:
    """Orca's log stamps are local wall-clock times of day."""
    t = dt.datetime.fromtimestamp(epoch)
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _burn(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


def _quantile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def analyse(said, events: list[dict], presses: list[tuple[float, str]]) -> dict:
    """said: Orca's utterances (t = seconds of the day); events: the listener's JSON lines;
    presses: (epoch, key) for every key pressed."""
    notes = [e for e in events if e.get("type") == "object:state-changed:showing" and e.get("role") == "notification"
             and e.get("detail1")]
    # What Orca read out as a notification (the window's announcer): not a list row read on Tab
    # later, which holds the same words, nor a key's echo.
    spoken_text = [(s.t, s.text) for s in said if s.text.startswith("notification ")]
    urgent, delays = [], []
    for e in notes:
        t0 = _day_seconds(e["t"])
        heard = [t - t0 for t, text in spoken_text if e["name"] and e["name"] in text and t >= t0 - CLOCK_SLACK_S]
        delay = round(max(0.0, min(heard)), 3) if heard else None
        if delay is not None:
            delays.append((e["name"], delay))
        if URGENT.match(e["name"] or ""):
            urgent.append({"name": e["name"], "spoken_after_s": delay})
    answers, unanswered = [], []
    urgent_texts = [u["name"] for u in urgent]
    for epoch, key in presses:
        if key not in ANSWERED_KEYS:
            continue
        t0 = _day_seconds(epoch)
        # The answer is a notification the window raised after the key (not one queued before it,
        # and not a warning or danger), as Orca spoke it.
        # (R repeats the last cue, a warning or danger included)
        raised = {e["name"] for e in notes if e["name"] and t0 - 0.02 <= _day_seconds(e["t"]) <= t0 + ANSWER_WITHIN_S
                  and (key == "r" or not URGENT.match(e["name"]))}
        words = ANSWER_WORDS[key]
        after = [(t - t0, text) for t, text in spoken_text
                 if t0 <= t <= t0 + ANSWER_WITHIN_S and any(n in text for n in raised)
                 and (words is None or words.search(text))]
        if after:
            answers.append({"key": key, "after_s": round(after[0][0], 3), "said": after[0][1][:80]})
        else:
            unanswered.append({"key": key, "at": round(t0, 1)})
    lat = [a["after_s"] for a in answers]
    stale = [(n, d) for n, d in delays if d > STALE_S]
    return {
        "warnings_and_dangers": len(urgent),
        "spoken": sum(u["spoken_after_s"] is not None for u in urgent),
        "urgent_delay_p50_s": _quantile([u["spoken_after_s"] for u in urgent if u["spoken_after_s"] is not None], 0.5),
        "urgent_delay_max_s": max((u["spoken_after_s"] for u in urgent if u["spoken_after_s"] is not None), default=None),
        "not_spoken": [u["name"] for u in urgent if u["spoken_after_s"] is None],
        "key_presses_answered": len(answers), "key_presses_unanswered": unanswered,
        "key_answer_p50_s": _quantile(lat, 0.5), "key_answer_p95_s": _quantile(lat, 0.95),
        "key_answer_max_s": max(lat, default=None),
        "key_answer_by_key": {k: {"n": len(v), "p95_s": _quantile(v, 0.95)}
                              for k in sorted(ANSWERED_KEYS) if (v := [a["after_s"] for a in answers if a["key"] == k])},
        "notifications": len(notes), "notifications_spoken": len(delays),
        "stale": stale[:50], "stale_count": len(stale),
        "answers": answers,
    }


def table(r: dict) -> str:
    def f(x):
        return "-" if x is None else f"{x:.2f} s"
    ok = r["pass"]
    return "\n".join([
        f"Orca session: {r['minutes']:.0f} min, {r['keys']} keys, {r['replays']} replays, load {r['load']} "
        f"(other work: {r['load']} busy process(es) on {multiprocessing.cpu_count()} cores)",
        f"  warnings and dangers raised {r['warnings_and_dangers']}, spoken by Orca {r['spoken']} "
        f"(delay median {f(r['urgent_delay_p50_s'])}, max {f(r['urgent_delay_max_s'])})",
        f"  key answers: {r['key_presses_answered']} answered, {len(r['key_presses_unanswered'])} not within "
        f"{ANSWER_WITHIN_S:.0f} s; p50 {f(r['key_answer_p50_s'])}, p95 {f(r['key_answer_p95_s'])} (target <= "
        f"{KEY_TARGET_S} s), max {f(r['key_answer_max_s'])}",
        "  by key: " + ", ".join(f"{k} n={v['n']} p95 {f(v['p95_s'])}" for k, v in r["key_answer_by_key"].items()),
        f"  notifications {r['notifications']}, spoken {r['notifications_spoken']}; spoken more than {STALE_S:.0f} s "
        f"after raised: {r['stale_count']}",
        f"  window: died {r['died'] or 'no'}, tracebacks {len(r['errors'])}, exit {r['exit_code']}",
        "PASS" if ok else "FAIL"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--load", type=int, default=1, help="busy processes beside the window (other work; default 1)")
    ap.add_argument("--video", type=Path, default=SAMPLE)
    ap.add_argument("--out", type=Path, default=OUT / "orca-session.json")
    ap.add_argument("--reanalyse", type=Path, help="analyse the raw log kept in an earlier run's JSON again")
    args = ap.parse_args(argv)
    if args.reanalyse:
        from tests.desktop.test_orca import Said
        old = json.loads(args.reanalyse.read_text())
        raw = old["raw"]
        r = {**old, **analyse([Said(t, x) for t, x in raw["said"]], raw["notifications"], [tuple(p) for p in raw["presses"]])}
        p95 = r["key_answer_p95_s"]
        r["pass"] = (r["died"] is None and not r["errors"] and r["warnings_and_dangers"] > 0
                     and r["spoken"] == r["warnings_and_dangers"] and p95 is not None and p95 <= KEY_TARGET_S
                     and r["stale_count"] == 0)
        print(table(r))
        return 0 if r["pass"] else 1
    missing = missing_tools()
    if missing:
        print(f"the session needs {', '.join(missing)} (scripts/setup.sh --dev installs them)", file=sys.stderr)
        return 2
    from tests.desktop.test_orca import Orca
    work = Path(tempfile.mkdtemp(prefix="maxsight-orca-session-"))
    seconds = args.minutes * 60
    with XSession(workdir=work) as session:
        orca = Orca(session, work)
        app = start_app(session, work, args.video, name="orca-session-app")
        wait_for(lambda: playing(app), 180, "the video playing")
        events_file = work / "events.jsonl"
        lis = subprocess.Popen([SYSTEM_PYTHON, str(PROBE), "listen", "maxsight", str(int(seconds + 30)), str(events_file)],
                               env=session.env, stdout=subprocess.PIPE, text=True)
        assert lis.stdout.readline().strip() == "ready"
        burners = [multiprocessing.Process(target=_burn, args=(time.time() + seconds + 30,), daemon=True)
                   for _ in range(args.load)]
        for b in burners:
            b.start()
        presses: list[tuple[float, str]] = []
        key = app.key

        def pressed(*keys):
            presses.extend((time.time(), k) for k in keys)
            return key(*keys)
        app.key = pressed
        run = Run()
        try:
            drive(app, seconds, log=lambda line: print(line, flush=True), run=run)
            died = None
        except (AssertionError, TimeoutError) as exc:
            died = str(exc)[:2000]
        for b in burners:
            b.terminate()
        time.sleep(5)                      # what was raised last is spoken
        said = orca.said()
        lis.terminate()
        lis.wait(30)
        events = [json.loads(line) for line in events_file.read_text().splitlines()] if events_file.exists() else []
        errors = app.errors()
        app.key = key
        app.key("ctrl+q")
        try:
            wait_for(lambda: not app.alive(), 60, "the window quitting")
        except TimeoutError:
            app.stop()
        session.end(orca.proc)
    r = analyse(said, events, presses)
    r["raw"] = {"said": [[x.t, x.text] for x in said], "presses": presses,
                "notifications": [e for e in events if e.get("role") == "notification"]}
    r.update(minutes=args.minutes, load=args.load, video=str(args.video), keys=run.keys, replays=run.replays,
             died=died, errors=errors[:20], exit_code=app.proc.returncode)
    p95 = r["key_answer_p95_s"]
    r["pass"] = (died is None and not errors and r["warnings_and_dangers"] > 0 and r["spoken"] == r["warnings_and_dangers"]
                 and p95 is not None and p95 <= KEY_TARGET_S and r["stale_count"] == 0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=1))
    print(table(r))
    print(f"JSON written to {args.out}")
    return 0 if r["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
