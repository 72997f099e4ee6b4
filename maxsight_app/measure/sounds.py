"""`maxsight eval sounds`: labelled clips through the streaming sound-event pipeline, and through
the raw model used without it (max over the clip's patches, no smoothing or hysteresis), so the
pipeline is shown not to lose accuracy; false events per hour of the clips that should stay silent
(background, room noise: an empty maxsight_class) and of read speech. Counts beside every figure:
the sets are small.

Halves: a clip is `dev` when the first 8 hex digits of the SHA-256 of its file name are below
0x80000000, else `test` (the same rule as `maxsight eval ocr`)."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from engine.models.registry import Registry, verified_path
from engine.stage_b.audio_features import SAMPLE_RATE, log_mel, patches
from engine.stage_b.sound_events import ON, SOUND_CLASSES, SoundEventDetector
from maxsight_app.capture.audio_file import load_audio
from maxsight_app.measure.ocr import in_split

CHUNK = SAMPLE_RATE // 10


def detector(registry: Registry, head: bool = False) -> SoundEventDetector:
    """YAMNet, with the trained sound head for its classes when `head` (refused in one sentence,
    ModelError, when its file is missing or damaged: an evaluation never silently falls back)."""
    path = verified_path(registry.get("yamnet"))
    det = SoundEventDetector(path, path.parent / "yamnet_class_map.csv")
    if head:
        from engine.stage_b.sound_head import SoundHead
        hp = verified_path(registry.get("sound_head"))
        det.set_head(SoundHead.load(hp, hp.with_suffix(".json")))
    return det


def stream(det: SoundEventDetector, x: np.ndarray) -> list:
    """A clip from a fresh start, in 0.1 s chunks as the microphone ring buffer delivers it, with
    1 s of silence after it so a sound at the very end still fills a patch."""
    det.reset()
    s = np.concatenate([x, np.zeros(SAMPLE_RATE, np.float32)])
    events = []
    for i in range(0, len(s), CHUNK):
        events += det.feed(s[i:i + CHUNK])
    return events


def clip_rows(folder: Path, split: str = "all") -> list[dict]:
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise ValueError(f"{folder} holds no labels.csv (file,label,maxsight_class,...)")
    rows = list(csv.DictReader(open(labels, encoding="utf-8")))
    for n, r in enumerate(rows, 2):
        if not r.get("file") or "maxsight_class" not in r:
            raise ValueError(f"{labels.name} line {n}: needs file and maxsight_class columns")
    return [r for r in rows if in_split(r["file"], split)]


def per_hour(events: int, seconds: float) -> float | None:
    return events * 3600.0 / seconds if seconds > 0 else None


def evaluate(registry: Registry, folder: Path, split: str = "all", det: SoundEventDetector | None = None) -> dict:
    rows = clip_rows(folder, split)
    det = det or detector(registry)
    per_class = defaultdict(lambda: {"clips": 0, "pipeline_hit": 0, "raw_hit": 0})
    false_pipeline = false_raw = 0
    other_clips = 0
    silent = {"clips": 0, "seconds": 0.0, "events": 0, "raw_events": 0}
    clips = []
    for r in rows:
        x = load_audio(folder / "audio" / r["file"])
        truth = r["maxsight_class"] if r["maxsight_class"] in SOUND_CLASSES else None
        fired = {e.label for e in stream(det, x)}
        p = patches(log_mel(np.concatenate([x, np.zeros(SAMPLE_RATE, np.float32)])))
        raw = {cls: 0.0 for cls in SOUND_CLASSES}
        raw_head = {cls: 0.0 for cls in (det.head.classes if det.head else ())}
        for patch in p:
            probs, emb = det.infer(patch)
            for cls, s in det.class_scores(probs).items():
                raw[cls] = max(raw[cls], s)
            for cls, s in det.head_scores(emb).items():
                raw_head[cls] = max(raw_head[cls], s)
        raw_fired = {cls for cls, s in raw.items() if s >= ON} | {cls for cls, s in raw_head.items()
                                                                  if s >= det.head.thresholds[cls][0]}
        if truth:
            c = per_class[truth]
            c["clips"] += 1
            c["pipeline_hit"] += truth in fired
            c["raw_hit"] += truth in raw_fired
        else:
            other_clips += 1
        # A false event: a class fired that is not the clip's own (speech in a crying clip is not counted:
        # babies' cries are often labelled speech-like, and the clips carry one label only).
        false_pipeline += len(fired - {truth, "speech"})
        false_raw += len(raw_fired - {truth, "speech"})
        if truth is None:                  # should stay silent: background, room noise, music, rain...
            silent["clips"] += 1
            silent["seconds"] += len(x) / SAMPLE_RATE
            silent["events"] += len(fired - {"speech"})
            silent["raw_events"] += len(raw_fired - {"speech"})
        clips.append({"file": r["file"], "label": r["label"], "class": truth, "events": sorted(fired), "raw": sorted(raw_fired)})
    silent["per_hour"] = per_hour(silent["events"], silent["seconds"])
    return {"folder": folder.name, "split": split, "head": det.head is not None, "clips": len(rows), "clips_without_maxsight_class": other_clips,
            "per_class": dict(per_class), "false_events_pipeline": false_pipeline, "false_events_raw": false_raw,
            "background": silent, "detail": clips}


def speech_files(folder: Path) -> list[Path]:
    """The read-speech recordings of asr_speech_refs (LJ Speech and the JFK clip)."""
    files = sorted((folder / "ljspeech").glob("*.flac")) + sorted((folder / "other").glob("*.flac"))
    if not files:
        raise ValueError(f"{folder} holds no speech recordings (ljspeech/*.flac, other/*.flac)")
    return files


def evaluate_speech(registry: Registry, folder: Path, det: SoundEventDetector | None = None, split: str = "all") -> dict:
    """False events per hour of read speech: any class but speech that fires is false. `split`
    picks recordings by the same file-name hash as the clips (the sound head trained on the dev half)."""
    det = det or detector(registry)
    seconds, events, detail = 0.0, 0, []
    files = [f for f in speech_files(folder) if in_split(f.name, split)]
    for f in files:
        x = load_audio(f)
        seconds += len(x) / SAMPLE_RATE
        fired = [e.label for e in stream(det, x) if e.label != "speech"]
        events += len(fired)
        if fired:
            detail.append({"file": f.name, "events": fired})
    return {"folder": folder.name, "split": split, "recordings": len(files), "seconds": seconds, "events": events,
            "per_hour": per_hour(events, seconds), "detail": detail}


def _ph(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def table(res: dict) -> str:
    lines = []
    for r in res.get("clips", []):
        lines += [f"Sound events, {r['folder']} ({r['split']}, {'with the sound head' if r.get('head') else 'YAMNet alone'}): "
                  f"{r['clips']} clips ({r['clips_without_maxsight_class']} without a MaxSight class)", f"{'class':<14} {'clips':>5} {'pipeline':>14} {'raw model':>14}"]
        for cls, c in sorted(r["per_class"].items()):
            lines.append(f"{cls:<14} {c['clips']:>5} {c['pipeline_hit']:>5}/{c['clips']:<2} {100 * c['pipeline_hit'] / c['clips']:>5.0f}% "
                         f"{c['raw_hit']:>5}/{c['clips']:<2} {100 * c['raw_hit'] / c['clips']:>5.0f}%")
        lines.append(f"  false events (another class fired; speech not counted): pipeline {r['false_events_pipeline']}, "
                     f"raw model {r['false_events_raw']}")
        b = r["background"]
        if b["clips"]:
            lines.append(f"  clips that should stay silent: {b['clips']} ({b['seconds']:.0f} s): {b['events']} false events "
                         f"= {_ph(b['per_hour'])} per hour (raw model {b['raw_events']})")
    s = res.get("speech")
    if s:
        lines.append(f"Read speech, {s['folder']} ({s.get('split', 'all')}): {s['recordings']} recordings, {s['seconds']:.0f} s: {s['events']} events "
                     f"other than speech = {_ph(s['per_hour'])} per hour")
    return "\n".join(lines)
