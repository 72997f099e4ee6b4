"""`maxsight eval sounds`: labelled clips through the streaming sound-event pipeline, and through
the raw model used without it (max over the clip's patches, no smoothing or hysteresis), so the
pipeline is shown not to lose accuracy. Counts beside every figure: the set is small."""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from engine.models.registry import Registry, verified_path
from engine.stage_b.audio_features import SAMPLE_RATE, log_mel, patches
from engine.stage_b.sound_events import ON, SOUND_CLASSES, SoundEventDetector
from maxsight_app.capture.audio_file import load_audio


def detector(registry: Registry) -> SoundEventDetector:
    path = verified_path(registry.get("yamnet"))
    return SoundEventDetector(path, path.parent / "yamnet_class_map.csv")


def evaluate(registry: Registry, folder: Path) -> dict:
    rows = list(csv.DictReader(open(folder / "labels.csv", encoding="utf-8")))
    det = detector(registry)
    per_class = defaultdict(lambda: {"clips": 0, "pipeline_hit": 0, "raw_hit": 0})
    false_pipeline = false_raw = 0
    other_clips = 0
    clips = []
    for r in rows:
        x = load_audio(folder / "audio" / r["file"])
        truth = r["maxsight_class"] if r["maxsight_class"] in SOUND_CLASSES else None
        det.reset()
        # Stream in 0.1 s chunks, as the microphone ring buffer would deliver it; pad 1 s of silence
        # so a sound at the very end still fills a patch.
        stream = np.concatenate([x, np.zeros(SAMPLE_RATE, np.float32)])
        events = []
        for i in range(0, len(stream), SAMPLE_RATE // 10):
            events += det.feed(stream[i:i + SAMPLE_RATE // 10])
        fired = {e.label for e in events}
        p = patches(log_mel(stream))
        raw = {cls: 0.0 for cls in SOUND_CLASSES}
        for patch in p:
            for cls, s in det.class_scores(det.scores(patch)).items():
                raw[cls] = max(raw[cls], s)
        raw_fired = {cls for cls, s in raw.items() if s >= ON}
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
        clips.append({"file": r["file"], "label": r["label"], "class": truth, "events": sorted(fired), "raw": sorted(raw_fired)})
    return {"clips": len(rows), "clips_without_maxsight_class": other_clips, "per_class": dict(per_class),
            "false_events_pipeline": false_pipeline, "false_events_raw": false_raw, "detail": clips}


def table(res: dict) -> str:
    lines = [f"Sound events on {res['clips']} clips ({res['clips_without_maxsight_class']} without a MaxSight class: "
             "music, rain, applause, ...)", f"{'class':<14} {'clips':>5} {'pipeline':>14} {'raw model':>14}"]
    for cls, c in sorted(res["per_class"].items()):
        lines.append(f"{cls:<14} {c['clips']:>5} {c['pipeline_hit']:>5}/{c['clips']:<2} {100 * c['pipeline_hit'] / c['clips']:>5.0f}% "
                     f"{c['raw_hit']:>5}/{c['clips']:<2} {100 * c['raw_hit'] / c['clips']:>5.0f}%")
    lines.append(f"false events (another class fired; speech not counted): pipeline {res['false_events_pipeline']}, "
                 f"raw model {res['false_events_raw']}")
    return "\n".join(lines)
