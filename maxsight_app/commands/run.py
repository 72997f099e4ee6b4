"""`maxsight run`: a source through the whole runtime (Stage A, Stage B per the tier, cue policy,
outputs per the profile) without a window, writing one JSON line per frame, a progress bar and a
summary; or, without --headless, the window on that source."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.capture.feed import Feed
from maxsight_app.commands.common import CommandError, check_outputs, engine_config, engine_options, note, open_profile
from maxsight_app.compose import build_runtime, make_registry
from maxsight_app.files import temp_for, why_not_written
from maxsight_app.find import resolve, seeable_labels, why_not
from maxsight_app.measure.quantiles import StreamingQuantiles
from maxsight_app.session import Session

log = logging.getLogger(__name__)
SUMMARY_STEPS = ("decode", "quality", "preprocess", "inference", "postprocess", "tracking", "geometry", "stage_a")


def add_parser(sub) -> None:
    r = sub.add_parser("run", help="run MaxSight on a video file or camera (headless, or the window)")
    r.add_argument("--source", required=True, help="video file path or camera index (0, 1, ...)")
    r.add_argument("--headless", action="store_true", help="no window: write results and a summary")
    r.add_argument("--out", help="write one JSON line per frame here")
    r.add_argument("--realtime", action="store_true", help="play files at their own speed, dropping late frames")
    r.add_argument("--max-frames", type=int, help="stop after this many frames")
    r.add_argument("--quiet", action="store_true", help="no progress bar or alert lines")
    r.add_argument("--speak", action="store_true", help="speak, play earcons, vibrate and show alerts per the profile")
    r.add_argument("--audio-out", help="write speech and earcons to this WAV (with a .json of timings) instead of the sound card")
    r.add_argument("--profile", help="user profile to use (default: 'default')")
    r.add_argument("--find", metavar="WHAT", help="find mode: guide to WHAT by a spatial tone and speech (an object such as "
                                                 "cup, door, stairs, or one of your own taught objects)")
    r.add_argument("--watch-for", metavar="WORDS", help="watch for these words or numbers, comma-separated (\"75, Gate C3\"): "
                                                        "said once each time the text reader sees one, with where it is")
    engine_options(r)
    r.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    if not args.headless:
        from maxsight_app.commands.app import cmd_app
        return cmd_app(args)
    if args.max_frames is not None and args.max_frames < 1:
        raise CommandError(f"--max-frames must be at least 1, got {args.max_frames}")
    out = Path(args.out) if args.out else None
    audio_out = Path(args.audio_out) if args.audio_out else None
    check_outputs({"--out": out, "--audio-out": audio_out,
                   "the --audio-out timings file": audio_out.with_suffix(".json") if audio_out else None},
                  {"--source": Path(args.source)})
    target = find_target(args) if getattr(args, "find", None) else None       # words checked before anything loads
    watch = watch_words(args)
    from maxsight_app.capture.video import open_source
    source = open_source(args.source)
    try:
        rt = make_runtime(args, audio_out)
    except Exception:
        source.close()
        raise
    for n in rt.notes:
        note(n)
    if target is not None:
        reason = why_not(target, seeable_labels(rt.pipeline), "recognition" in rt.stage_b_tasks)
        if reason:
            source.close()
            rt.close()
            raise CommandError(f"--find {args.find}: {reason}")
        rt.session.start_find(target)
    if watch:
        if "ocr" not in rt.stage_b_tasks:
            source.close()
            rt.close()
            raise CommandError(f"--watch-for needs the text reader, which is off at tier {rt.config.tier.value}; "
                               "use --tier T3 or T4")
        rt.session.start_watch(watch)
    if not args.quiet:
        from tqdm import tqdm

        from maxsight_app.outputs.screen import ScreenOutput
        for o in rt.session.outputs:
            if isinstance(o, ScreenOutput):
                o.listeners.append(lambda a: a and tqdm.write(f"{'!! ' if a.flash else '   '}{a.urgency.word.upper():<8} {a.text}"))
    feed = Feed(source, realtime=args.realtime, audio=rt.stage_b is not None, max_frames=args.max_frames)
    for n in feed.stats.notes:
        log.info("%s", n)
    sink = _wav_sink(rt.session)          # kept: closing the runtime lets go of its outputs
    if audio_out is not None and sink is None:
        rt.close()
        feed.close()
        off = next((n for n in rt.notes if n.startswith("Sound is off: ")), None)
        if off:
            raise CommandError(f"--audio-out {audio_out}: {off[len('Sound is off: '):].rstrip('.')}")
        raise CommandError(f"--audio-out {audio_out}: the profile has speech and direction tones off, so nothing would be "
                           f"heard; turn one on (maxsight profile set NAME speech true) or leave out --audio-out")
    try:
        summary = run(rt.session, feed, out, progress=not args.quiet)
    finally:
        rt.close()
    if sink is not None and sink.error:            # closing writes the last of the audio: it may fail there too
        raise CommandError(f"--audio-out: {sink.error}")
    print(summary_table(summary))
    if out:
        print(f"  results: {out} ({summary['lines']} lines)")
    if audio_out:
        print(f"  what a user would have heard: {audio_out} (+ {audio_out.with_suffix('.json').name})")
    if summary["ended_early"]:
        note(summary["ended_early"])
        return 1
    return 0


def make_runtime(args, audio_out: Path | None = None):
    """The runtime a headless run uses: the profile's and the options' choices, through the
    composition root the window uses too."""
    from maxsight_app.personal_objects import index_path
    cfg = engine_config(args, follow_profile=True)
    store, uid = open_profile(args.profile)
    try:
        profile, personal = store.profile(uid), index_path(store, uid)
    finally:
        store.close()
    return build_runtime(profile, cfg, registry=make_registry(), personal_index=personal,
                         with_outputs=args.speak or audio_out is not None, audio_out=audio_out,
                         near_miss_log=(store.path, uid))


def watch_words(args) -> tuple[str, ...]:
    """--watch-for WORDS, checked (CommandError, one sentence, for a bad word)."""
    from maxsight_app.cues.watch import parse_words
    if getattr(args, "watch_for", None) is None:
        return ()
    try:
        return parse_words(args.watch_for)
    except ValueError as exc:
        raise CommandError(f"--watch-for: {exc}") from None


def find_target(args):
    """--find WHAT as a target (the profile's own objects included): CommandError (one sentence)
    for words that name nothing to find."""
    store, uid = open_profile(args.profile)
    try:
        personal = sorted(set(store.personal_items(uid).values()))
    finally:
        store.close()
    try:
        return resolve(args.find, personal)
    except ValueError as exc:
        raise CommandError(f"--find: {exc}") from None


def _wav_sink(session: Session):
    from maxsight_app.outputs.audio import WavFileSink
    for o in session.outputs:
        if isinstance(getattr(o, "sink", None), WavFileSink):
            return o.sink
    return None


def audio_problem(session: Session) -> str | None:
    """Why --audio-out could not be written (one sentence), or None."""
    sink = _wav_sink(session)
    return sink.error if sink is not None else None


def run(session: Session, feed: Feed, out_path: Path | None, progress: bool = True) -> dict:
    """The headless loop. Memory stays flat however long it runs: timings go into fixed-size
    histograms, and track ids into a bounded window."""
    from tqdm import tqdm
    source = feed.source
    stats: Counter = Counter()
    steps = {k: StreamingQuantiles() for k in SUMMARY_STEPS}
    tracks_by_class: Counter = Counter()
    seen: set[int] = set()
    worst: Counter = Counter()
    find: Counter = Counter()
    watched: Counter = Counter()           # watched-for word -> sightings said
    findability: list[float] = []
    problems: list[str] = []               # every problem the run met, in order, each once
    last_problems: frozenset[str] = frozenset()
    # --out is written beside itself under a temporary name and renamed when the run ends (or is
    # stopped: its lines are whole); a write error removes it, so no truncated file is left.
    partial = temp_for(out_path) if out_path else None
    try:
        out = open(partial, "w") if partial else None
    except OSError as exc:
        raise CommandError(f"cannot write --out {out_path} ({why_not_written(exc)})") from None
    keep = False
    total = source.frame_count if feed.max_frames is None else min(feed.max_frames, source.frame_count or feed.max_frames)
    bar = tqdm(total=total, unit="frame", desc=source.description, disable=not progress, file=sys.stderr)
    wall0 = time.perf_counter()

    def take(tick, a_frame: bool = True) -> None:
        """One result's line, counts and checks (a_frame: False for the end-of-file line)."""
        nonlocal seen, last_problems
        result = tick.result
        # A problem (a Stage B worker that crashed, restarted or hung; a model that failed) is told
        # once when it appears, as the window does: one line here, and said when the run speaks.
        for text in result.problems:
            if text not in last_problems:
                note(text)
                session.say(Cue(text, CueKind.SYSTEM, Priority.NEXT, Urgency.SAFE, result.timestamp))
                if text not in problems:
                    problems.append(text)
        last_problems = frozenset(result.problems)
        stats["cues"] += sum(c.kind is not CueKind.TICK for c in tick.cues)
        stats["sounds"] += len(result.sounds)
        stats["captions"] += len(result.captions)
        stats["texts"] += len(result.texts)
        for c in tick.cues:
            if c.kind is CueKind.WATCH:
                watched[c.label] += 1
        for k, v in result.timings_ms.items():
            if k in steps:
                steps[k].add(v)
        for h in result.hazards:
            if h.track_id not in seen:
                seen.add(h.track_id)
                tracks_by_class[h.label] += 1
        if len(seen) > 5000:       # ids only grow: forget the oldest half
            seen = {i for i in seen if i > max(seen) - 2500}
        if a_frame:
            worst[(max((h.urgency for h in result.hazards), default=Urgency.SAFE)).word] += 1
        g = tick.guidance
        if g is not None:
            find["frames"] += 1
            find["in_view"] += g.in_view
            for event in g.events:
                find[event] += 1
            if g.in_view and g.findability is not None:
                findability.append(g.findability.score)
        if out:
            line = result.to_json()
            line["cues"] = [{"text": c.text, "kind": c.kind.value, "priority": c.priority.name.lower(),
                             "urgency": c.urgency.word, "track_id": c.track_id, "latency_ms": round(ms, 2)}
                            for c, ms in zip(tick.cues, tick.latency_ms)]
            if tick.guidance is not None:
                line["find"] = tick.guidance.to_json()
            if not a_frame:
                line["end_of_file"] = True      # Stage B's late answers on the last frame's index, no new picture
            try:
                out.write(json.dumps(line) + "\n")
                out.flush()
                stats["lines"] += 1
            except OSError as exc:
                raise CommandError(f"cannot write --out {out_path} ({why_not_written(exc)}) after "
                                   f"{feed.stats.frames} frames; the run was stopped and nothing was kept there") from None
        problem = audio_problem(session)
        if problem:
            raise CommandError(f"--audio-out: {problem}; the run was stopped")

    try:
        last = None
        for frame, audio in feed:
            tick = session.handle(frame, audio)
            tick.result.timings_ms["decode"] = feed.stats.decode_ms
            take(tick)
            last = tick.result
            bar.update(1)
        if last is not None and feed.max_frames is None and not feed.stats.ended_early:
            # The file ended: what Stage B still owed for it (its last words' captions) as one more line.
            end = session.finish(last)
            if end is not None:
                take(end, a_frame=False)
        keep = True
    except KeyboardInterrupt:
        keep = True                                # stopped by the user: the results so far are whole lines
        raise
    finally:
        bar.close()
        feed.close()
        if out:
            try:
                out.close()
                if keep:
                    os.replace(partial, out_path)
            except OSError as exc:
                keep = False
                raise CommandError(f"cannot write --out {out_path} ({why_not_written(exc)}); nothing was kept there") from None
            finally:
                if not keep:
                    with contextlib.suppress(OSError):
                        partial.unlink()
    wall = time.perf_counter() - wall0
    frames = feed.stats.frames
    return {
        "source": source.description,
        "frames": frames,
        "lines": stats["lines"],                 # written to --out: the frames, and an end-of-file line when Stage B owed one
        "dropped": feed.stats.dropped,
        "ended_early": feed.stats.ended_early,
        "wall_s": wall,
        "fps": frames / wall if wall > 0 else 0.0,
        "median_ms": {k: q.median for k, q in steps.items() if q.n},
        "p95_ms": {k: q.quantile(0.95) for k, q in steps.items() if q.n},
        "tracks_by_class": dict(tracks_by_class.most_common()),
        "frames_by_worst_urgency": dict(worst),
        "model": session.pipeline.detector.name,
        "device": getattr(session.pipeline, "runs_on", session.pipeline.device),
        "cues": stats["cues"],
        "problems": problems,
        "watch_for": None if session.watch is None else {w: watched[w] for w in session.watch.words},
        "stage_b": {"sounds": stats["sounds"], "captions": stats["captions"], "texts_read": stats["texts"]},
        "find": None if session.find is None else {
            "target": session.find.target.shown, **{k: find[k] for k in ("frames", "in_view", "found", "lost", "chime",
                                                                        "low_contrast")},
            "findability_median": float(sorted(findability)[len(findability) // 2]) if findability else None},
    }


def summary_table(s: dict) -> str:
    lines = [f"MaxSight: {s['source']} with {s['model']}" + (f" on {s['device']}" if s.get("device") else ""),
             f"  frames processed {s['frames']}  dropped {s['dropped']}  wall {s['wall_s']:.1f} s  ({s['fps']:.1f} frames/s)",
             "  step          median ms    p95 ms"]
    for k in SUMMARY_STEPS:
        if k in s["median_ms"]:
            lines.append(f"  {k:<12} {s['median_ms'][k]:>10.1f} {s['p95_ms'][k]:>9.1f}")
    lines.append("  confirmed tracks by class: " + (", ".join(f"{k} {v}" for k, v in s["tracks_by_class"].items()) or "none"))
    lines.append(f"  cues decided: {s['cues']}")
    b = s.get("stage_b", {})
    if any(b.values()):
        lines.append(f"  Stage B: {b['sounds']} sound event(s), {b['captions']} caption(s), {b['texts_read']} text(s) read")
    f = s.get("find")
    if f:
        fd = f"{f['findability_median']:.2f}" if f["findability_median"] is not None else "not measured"
        lines.append(f"  find {f['target']}: in view on {f['in_view']} of {f['frames']} frames; said found {f['found']}, "
                     f"lost it {f['lost']}, low in contrast {f['low_contrast']}; chimes {f['chime']}; "
                     f"findability median {fd}")
    lines.append("  frames by most urgent hazard: " + ", ".join(f"{u} {s['frames_by_worst_urgency'].get(u, 0)}"
                                                            for u in ("danger", "warning", "caution", "safe")))
    if s.get("watch_for") is not None:
        lines.append("  watched for: " + ", ".join(f"{w!r} seen {n} time{'s' if n != 1 else ''}" for w, n in s["watch_for"].items()))
    for text in s.get("problems") or ():
        lines.append(f"  problem: {text}")
    if s.get("ended_early"):
        lines.append(f"  ended early: {s['ended_early']}")
    return "\n".join(lines)
