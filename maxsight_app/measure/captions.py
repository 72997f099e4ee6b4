"""`maxsight eval captions`: word error rate of live captions on read speech with transcripts, for
the streaming pipeline and for the raw model on the whole file (offline), and caption latency:
from the end of speech to the caption being ready, in stream time plus compute, with the audio
fed in 0.1 s chunks as the microphone ring buffer delivers it."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.stage_b.captions import CaptionStreamer, normalise, word_errors
from maxsight_app.capture.audio_file import load_audio

CHUNK = 1600


def utterances(folder: Path) -> list[tuple[Path, str]]:
    out = []
    psv = folder / "ljspeech" / "transcripts.psv"
    if psv.exists():
        for row in csv.DictReader(open(psv, encoding="utf-8"), delimiter="|"):
            p = folder / "ljspeech" / row["file"]
            if p.exists():
                out.append((p, row["text"]))
    jfk = folder / "other" / "jfk.flac"
    if jfk.exists():
        out.append((jfk, (folder / "other" / "jfk.txt").read_text().strip()))
    return out


def evaluate(folder: Path, threads: int = 1, limit: int | None = None) -> dict:
    streamer = CaptionStreamer(threads=threads)
    rows, latencies = [], []
    for path, ref in utterances(folder)[:limit]:
        x = load_audio(path)
        offline = streamer.transcribe(x)
        streamer.reset()
        stream = np.concatenate([x, np.zeros(int(1.5 * 16000), np.float32)])
        caps = []
        for i in range(0, len(stream), CHUNK):
            for c in streamer.feed(stream[i:i + CHUNK]):
                ready = (i + CHUNK) / 16000 + c.compute_s
                latencies.append(ready - c.end_s)
                caps.append(c.text)
        ref_w = normalise(ref)
        rows.append({"file": path.name, "ref_words": len(ref_w),
                     "stream_errors": word_errors(ref_w, normalise(" ".join(caps))),
                     "offline_errors": word_errors(ref_w, normalise(offline)), "captions": caps, "offline": offline})
    lj = [r for r in rows if r["file"].startswith("LJ")]
    def wer(rs, key):
        words = sum(r["ref_words"] for r in rs)
        return (100.0 * sum(r[key] for r in rs) / words) if words else None
    return {"utterances": len(lj), "ref_words": sum(r["ref_words"] for r in lj),
            "wer_stream": wer(lj, "stream_errors"), "wer_offline": wer(lj, "offline_errors"),
            "errors_stream": sum(r["stream_errors"] for r in lj), "errors_offline": sum(r["offline_errors"] for r in lj),
            "jfk": next(({"stream_errors": r["stream_errors"], "offline_errors": r["offline_errors"], "ref_words": r["ref_words"]}
                         for r in rows if r["file"] == "jfk.flac"), None),
            "latency_s_median": float(np.median(latencies)) if latencies else None,
            "latency_s_p95": float(np.percentile(latencies, 95)) if latencies else None,
            "captions": len(latencies), "detail": rows}


def table(r: dict) -> str:
    lines = [f"Captions (Whisper tiny.en int8, 1 thread) on {r['utterances']} LJ Speech utterances, {r['ref_words']} reference words",
             f"  WER streaming pipeline {r['wer_stream']:.1f}% ({r['errors_stream']}/{r['ref_words']} words)   "
             f"raw model on whole files {r['wer_offline']:.1f}% ({r['errors_offline']}/{r['ref_words']})",
             f"  caption latency after speech ends: median {r['latency_s_median']:.2f} s, p95 {r['latency_s_p95']:.2f} s "
             f"({r['captions']} captions)"]
    if r["jfk"]:
        j = r["jfk"]
        lines.append(f"  JFK smoke test: streaming {j['stream_errors']}/{j['ref_words']} word errors, whole file {j['offline_errors']}/{j['ref_words']}")
    return "\n".join(lines)
