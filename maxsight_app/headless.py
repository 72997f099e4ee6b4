"""`maxsight run --headless`: source -> Session (Stage A, cue policy, outputs) -> JSON lines, a
progress bar and a summary."""
from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import numpy as np

from engine.types import Frame, Urgency
from maxsight_app.capture.video import FrameSource
from maxsight_app.session import Session

log = logging.getLogger(__name__)


def paced(source: FrameSource, realtime: bool, stats: Counter) -> Iterator[tuple[Frame, float]]:
    """Yield (frame, decode_ms). In real time, a file plays at its own speed and frames that
    arrive after their successor is due are dropped, as a live camera would drop them."""
    start = time.monotonic()
    it = iter(source)
    while True:
        t0 = time.perf_counter()
        try:
            frame = next(it)
        except StopIteration:
            return
        decode_ms = (time.perf_counter() - t0) * 1e3
        if realtime and source.frame_count is not None:
            due = start + frame.timestamp
            now = time.monotonic()
            if now > due + 1.0 / source.fps:
                stats["dropped"] += 1
                continue
            if now < due:
                time.sleep(due - now)
        yield frame, decode_ms


def run(session: Session, source: FrameSource, out_path: Path | None, realtime: bool, max_frames: int | None,
        progress: bool = True) -> dict:
    from tqdm import tqdm
    stats: Counter = Counter()
    step_ms: dict[str, list[float]] = {}
    hazard_tracks: dict[str, set[int]] = {}
    worst: Counter = Counter()
    out = open(out_path, "w") if out_path else None
    total = source.frame_count if max_frames is None else min(max_frames, source.frame_count or max_frames)
    bar = tqdm(total=total, unit="frame", desc=source.description, disable=not progress, file=sys.stderr)
    wall0 = time.perf_counter()
    # Stage B hears the video's sound track, released in step with video time.
    track = None
    if session.pipeline.stage_b is not None and hasattr(source, "path"):
        from maxsight_app.capture.video_audio import VideoAudioTrack
        track = VideoAudioTrack.open(source.path)
    heard = 0
    try:
        for frame, decode_ms in paced(source, realtime, stats):
            if max_frames is not None and stats["frames"] >= max_frames:
                break
            audio = None
            if track is not None:
                track.feed_until(frame.timestamp)
                new, heard = track.buffer.written - heard, track.buffer.written
                audio = track.buffer.latest(new) if new > 0 else None
            tick = session.handle(frame, audio)
            result = tick.result
            result.timings_ms["decode"] = decode_ms
            stats["frames"] += 1
            stats["cues"] += len(tick.cues)
            stats["sounds"] += len(result.sounds)
            stats["captions"] += len(result.captions)
            stats["texts"] += len(result.texts)
            for k, v in result.timings_ms.items():
                step_ms.setdefault(k, []).append(v)
            for h in result.hazards:
                hazard_tracks.setdefault(h.label, set()).add(h.track_id)
            worst[(max((h.urgency for h in result.hazards), default=Urgency.SAFE)).word] += 1
            if out:
                line = result.to_json()
                line["cues"] = [{"text": c.text, "kind": c.kind.value, "priority": c.priority.name.lower(),
                                 "urgency": c.urgency.word, "track_id": c.track_id, "latency_ms": round(ms, 2)}
                                for c, ms in zip(tick.cues, tick.latency_ms)]
                out.write(json.dumps(line) + "\n")
            bar.update(1)
    finally:
        bar.close()
        if track is not None:
            track.close()
        if out:
            out.close()
        source.close()
    wall = time.perf_counter() - wall0
    return {
        "source": source.description,
        "frames": stats["frames"],
        "dropped": stats["dropped"],
        "wall_s": wall,
        "fps": stats["frames"] / wall if wall > 0 else 0.0,
        "median_ms": {k: float(np.median(v)) for k, v in step_ms.items()},
        "p95_ms": {k: float(np.percentile(v, 95)) for k, v in step_ms.items()},
        "tracks_by_class": {k: len(v) for k, v in sorted(hazard_tracks.items(), key=lambda kv: -len(kv[1]))},
        "frames_by_worst_urgency": dict(worst),
        "model": session.pipeline.detector.name,
        "cues": stats["cues"],
        "stage_b": {"sounds": stats["sounds"], "captions": stats["captions"], "texts_read": stats["texts"]},
    }


def summary_table(s: dict) -> str:
    lines = [f"MaxSight Stage A: {s['source']} with {s['model']}",
             f"  frames processed {s['frames']}  dropped {s['dropped']}  wall {s['wall_s']:.1f} s  ({s['fps']:.1f} frames/s)",
             "  step          median ms    p95 ms"]
    for k in ("decode", "quality", "preprocess", "inference", "postprocess", "tracking", "geometry", "stage_a"):
        if k in s["median_ms"]:
            lines.append(f"  {k:<12} {s['median_ms'][k]:>10.1f} {s['p95_ms'][k]:>9.1f}")
    lines.append("  confirmed tracks by class: " + (", ".join(f"{k} {v}" for k, v in s["tracks_by_class"].items()) or "none"))
    lines.append(f"  cues decided: {s['cues']}")
    b = s.get("stage_b", {})
    if any(b.values()):
        lines.append(f"  Stage B: {b['sounds']} sound event(s), {b['captions']} caption(s), {b['texts_read']} text(s) read")
    lines.append("  frames by most urgent hazard: " + ", ".join(f"{u} {s['frames_by_worst_urgency'].get(u, 0)}"
                                                            for u in ("danger", "warning", "caution", "safe")))
    return "\n".join(lines)
