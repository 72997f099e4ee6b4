"""`maxsight eval cues`: replay a video through Stage A and the cue policy into the spy output and
measure what a user would have experienced.

Definitions (all on media time, i.e. the video's clock):
  alert latency          wall time from the frame being in hand to the cue reaching the outputs
  overload events/min    cues_policy.overload_events (more than 4 cues inside any 10 s) per minute
  silence correctness    share of quiet seconds (no cue) in which no track was at warning or danger
                         without having been told about within the profile's cooldown
  false reassurance      (a) a track reaching warning or danger (or rising to danger) with no cue
                         about it within 1 s; (b) any cue that says the way is clear
  Stage A availability   share of frames whose Stage A finished within the frame interval
"""
from __future__ import annotations

import math
import re
from collections import defaultdict

import numpy as np

from engine.types import Urgency
from maxsight_app.capture.feed import Feed
from maxsight_app.capture.video import FrameSource
from maxsight_app.cues.policy import overload_events
from maxsight_app.cues.types import CueKind
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.session import Session

ONSET_GRACE_S = 1.0
_ALL_CLEAR = re.compile(r"\b(all clear|clear path|path is clear|nothing ahead|it is safe)\b", re.I)


def evaluate(session: Session, source: FrameSource, max_frames: int | None = None) -> dict:
    """Replay `source` (no audio, as fast as it goes) through the session into its spy output."""
    spy = next((o for o in session.outputs if isinstance(o, SpyOutput)), None)
    if spy is None:
        spy = SpyOutput()
        session.outputs.append(spy)
    interval_ms = 1000.0 / source.fps
    frames = in_budget = 0
    latencies: list[float] = []
    cue_times: list[float] = []                     # media time of every cue
    cued_at: dict[int, list[float]] = defaultdict(list)
    level: dict[int, Urgency] = {}
    onsets: list[tuple[int, float, Urgency]] = []   # (track, time, level reached)
    urgent_seconds: dict[int, set[int]] = defaultdict(set)   # second -> tracks at warning+
    last_t = 0.0
    feed = Feed(source, realtime=False, audio=False, max_frames=max_frames)
    try:
        for frame, _ in feed:
            tick = session.handle(frame)
            r = tick.result
            frames += 1
            last_t = r.timestamp
            in_budget += r.timings_ms["stage_a"] <= interval_ms
            for c, ms in zip(tick.cues, tick.latency_ms):
                latencies.append(ms)
                cue_times.append(r.timestamp)
                if c.track_id is not None:
                    cued_at[c.track_id].append(r.timestamp)
            for h in r.hazards:
                prev = level.get(h.track_id, Urgency.SAFE)
                if h.urgency >= Urgency.WARNING and h.urgency > prev:
                    onsets.append((h.track_id, r.timestamp, h.urgency))
                level[h.track_id] = h.urgency
                if h.urgency >= Urgency.WARNING:
                    urgent_seconds[int(r.timestamp)].add(h.track_id)
    finally:
        feed.close()
    duration_s = max(last_t, 1e-6)
    minutes = duration_s / 60
    missed_onsets = [(tid, t, u) for tid, t, u in onsets
                     if not any(t - 1e-6 <= ct <= t + ONSET_GRACE_S for ct in cued_at.get(tid, []))]
    said_clear = [c for c in spy.cues if _ALL_CLEAR.search(c.text)]
    cue_seconds = {int(t) for t in cue_times}
    quiet = [s for s in range(int(math.ceil(duration_s))) if s not in cue_seconds]
    def warranted(second: int) -> bool:
        return any(not any(second - session.profile.cooldown_s <= ct < second + 1 for ct in cued_at.get(tid, []))
                   for tid in urgent_seconds.get(second, ()))
    quiet_wrong = [s for s in quiet if warranted(s)]
    kinds = defaultdict(int)
    for c in spy.cues:
        kinds[c.kind.value] += 1
    return {
        "frames": frames, "duration_s": duration_s,
        "cues": len(spy.cues), "cues_per_min": len(spy.cues) / minutes if minutes else 0.0,
        "cue_kinds": dict(kinds),
        "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else None,
        "latency_ms_p95": float(np.percentile(latencies, 95)) if latencies else None,
        "latency_n": len(latencies),
        "overload_events": overload_events(cue_times), "overload_per_min": overload_events(cue_times) / minutes if minutes else 0.0,
        "quiet_seconds": len(quiet), "quiet_seconds_correct": len(quiet) - len(quiet_wrong),
        "silence_correctness": (len(quiet) - len(quiet_wrong)) / len(quiet) if quiet else None,
        "urgent_onsets": len(onsets), "missed_onsets": len(missed_onsets),
        "false_all_clear": len(said_clear),
        "false_reassurance": len(missed_onsets) + len(said_clear),
        "stage_a_budget_ms": interval_ms, "stage_a_in_budget": in_budget,
        "stage_a_availability": in_budget / frames if frames else None,
        "first_cues": [c.text for c in spy.cues if c.kind is CueKind.HAZARD][:5],
    }


def table(rows: list[tuple[str, dict]]) -> str:
    lines = ["Cue evaluation (spy output; media time)",
             f"{'video':<42} {'min':>5} {'cues':>5} {'/min':>5} {'lat p50':>8} {'lat p95':>8} {'overload/min':>12} "
             f"{'silence ok':>16} {'false reassur.':>15} {'Stage A in budget':>22}"]
    for name, m in rows:
        sil = f"{100 * m['silence_correctness']:.1f}% ({m['quiet_seconds_correct']}/{m['quiet_seconds']})" if m["silence_correctness"] is not None else "n/a"
        fr = f"{m['false_reassurance']} ({m['missed_onsets']}/{m['urgent_onsets']} onsets)"
        avail = f"{100 * m['stage_a_availability']:.1f}% ({m['stage_a_in_budget']}/{m['frames']}, {m['stage_a_budget_ms']:.0f} ms)"
        p50 = f"{m['latency_ms_p50']:.1f}" if m["latency_ms_p50"] is not None else "n/a"
        p95 = f"{m['latency_ms_p95']:.1f}" if m["latency_ms_p95"] is not None else "n/a"
        lines.append(f"{name:<42} {m['duration_s'] / 60:>5.2f} {m['cues']:>5} {m['cues_per_min']:>5.1f} {p50:>8} {p95:>8} "
                     f"{m['overload_per_min']:>12.2f} {sil:>16} {fr:>15} {avail:>22}")
    lines.append("latency: frame in hand -> outputs, ms (wall clock); overload: > 4 cues in 10 s; silence ok: quiet seconds with no "
                 "untold warning/danger; false reassurance: warning/danger onsets with no cue within 1 s + any 'all clear'")
    return "\n".join(lines)
