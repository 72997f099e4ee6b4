"""`maxsight eval custom-sounds`: the user's own sounds, as a user would teach them. For each sound
with enough labelled clips in a half (glass breaking, fire-alarm beeps, a crying baby: stand-ins
for "my doorbell"), teach it from `shots` clips and stream the other clips of that half through the
detector: a held-out clip is recognised when the taught sound fires on it. Then count the events it
fires on the clips that should stay silent (no MaxSight class: background, room noise, rain,
music...), on every other labelled sound, and on read speech (per hour). Several teaching sets per sound (consecutive groups of
`shots` clips in file-name-hash order), each tested on the rest of its half; counts are summed.

The similarity thresholds (engine.stage_b.sound_events CUSTOM_ON, CUSTOM_STRONG, CUSTOM_OFF) are
chosen with --sweep on the dev half: the highest held-out recall with no false event on dev
background, other sounds or speech; the test half is then reported through the real streaming
detector with those constants."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from engine.stage_b import sound_events as se
from maxsight_app.capture.audio_file import load_audio
from maxsight_app.measure.sounds import clip_rows, per_hour, speech_files, stream

MAX_SETS = 5


def _order(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


class _Clip:
    def __init__(self, det, path: Path, label: str, silent: bool):
        self.name, self.label, self.silent = path.name, label, silent
        self.x = load_audio(path)
        self.seconds = len(self.x) / se.SAMPLE_RATE
        det.trace = []
        stream(det, self.x)
        self.patches = det.trace                 # (embedding, loud) per streamed patch
        det.trace = None
        try:
            self.teach = det.teaching_embeddings(self.x)
        except ValueError:
            self.teach = None


def _events(clip: _Clip, taught: np.ndarray, on: float, off: float, strong: float) -> int:
    st = se._ClassState()
    n = 0
    for emb, loud in clip.patches:
        sim = float((taught @ emb).max()) if loud else 0.0
        n += se.fire(st, sim, on, off, strong)
    return n


def _trials(clips: list[_Clip], shots: int) -> list[tuple[str, list[_Clip], list[_Clip]]]:
    """(sound, teaching clips, held-out clips of that sound) for every teaching set."""
    by = defaultdict(list)
    for c in clips:
        if not c.silent and c.teach is not None:
            by[c.label].append(c)
    out = []
    for label, cs in sorted(by.items()):
        cs = sorted(cs, key=lambda c: _order(c.name))
        if len(cs) < shots + 1:
            continue
        for k in range(min(MAX_SETS, len(cs) // shots)):
            teach = cs[k * shots:(k + 1) * shots]
            rest = [c for c in cs if c not in teach]
            if rest:
                out.append((label, teach, rest))
    return out


def _score(trials, clips, speech, on, off, strong) -> dict:
    per = defaultdict(lambda: {"sets": 0, "held_out": 0, "recognised": 0, "background_events": 0, "other_events": 0,
                               "speech_events": 0})
    bg_s = sum(c.seconds for c in clips if c.silent)
    sp_s = sum(c.seconds for c in speech)
    for label, teach, rest in trials:
        taught = np.concatenate([c.teach for c in teach])
        p = per[label]
        p["sets"] += 1
        p["held_out"] += len(rest)
        p["recognised"] += sum(_events(c, taught, on, off, strong) > 0 for c in rest)
        p["background_events"] += sum(_events(c, taught, on, off, strong) for c in clips if c.silent)
        p["other_events"] += sum(_events(c, taught, on, off, strong) for c in clips if not c.silent and c.label != label)
        p["speech_events"] += sum(_events(c, taught, on, off, strong) for c in speech)
    tot = {k: sum(p[k] for p in per.values()) for k in ("sets", "held_out", "recognised", "background_events",
                                                         "other_events", "speech_events")}
    return {"per_sound": dict(per), "total": tot, "background_s": bg_s, "speech_s": sp_s,
            "background_per_hour": per_hour(tot["background_events"], bg_s * max(tot["sets"], 1)),
            "speech_per_hour": per_hour(tot["speech_events"], sp_s * max(tot["sets"], 1))}


def _live(det, trials, clips, speech) -> dict:
    """The same trials through the real streaming detector (taught sounds set as in the app)."""
    per = defaultdict(lambda: {"sets": 0, "held_out": 0, "recognised": 0, "background_events": 0, "other_events": 0,
                               "speech_events": 0})
    for label, teach, rest in trials:
        det.set_custom({label: np.concatenate([c.teach for c in teach])})
        p = per[label]
        p["sets"] += 1
        p["held_out"] += len(rest)

        def own(c):
            return sum(e.own for e in stream(det, c.x))
        p["recognised"] += sum(own(c) > 0 for c in rest)
        p["background_events"] += sum(own(c) for c in clips if c.silent)
        p["other_events"] += sum(own(c) for c in clips if not c.silent and c.label != label)
        p["speech_events"] += sum(own(c) for c in speech)
    det.set_custom(None)
    tot = {k: sum(p[k] for p in per.values()) for k in ("sets", "held_out", "recognised", "background_events",
                                                         "other_events", "speech_events")}
    bg_s = sum(c.seconds for c in clips if c.silent)
    sp_s = sum(c.seconds for c in speech)
    return {"per_sound": dict(per), "total": tot, "background_s": bg_s, "speech_s": sp_s,
            "background_per_hour": per_hour(tot["background_events"], bg_s * max(tot["sets"], 1)),
            "speech_per_hour": per_hour(tot["speech_events"], sp_s * max(tot["sets"], 1)),
            "thresholds": {"on": se.CUSTOM_ON, "off": se.CUSTOM_OFF, "strong": se.CUSTOM_STRONG}}


def sweep(trials, clips, speech) -> list[dict]:
    rows = []
    for on in np.arange(0.60, 0.96, 0.025):
        for extra in (0.05, 0.1):
            strong = min(0.99, on + extra)
            off = on - 0.2
            r = _score(trials, clips, speech, on, off, strong)["total"]
            rows.append({"on": round(float(on), 3), "off": round(float(off), 3), "strong": round(float(strong), 3), **r})
    return rows


def best(rows: list[dict]) -> dict | None:
    ok = [r for r in rows if r["background_events"] == 0 and r["other_events"] == 0 and r["speech_events"] == 0]
    return max(ok, key=lambda r: (r["recognised"], -r["other_events"] - r["speech_events"], r["on"])) if ok else None


def evaluate(det, folders: list[Path], speech_folder: Path, splits=("dev", "test"), shots: int = 3, do_sweep: bool = False) -> dict:
    if shots < 1:
        raise ValueError("shots must be at least 1")
    speech = [_Clip(det, f, "speech", False) for f in speech_files(speech_folder)]
    out = {"shots": shots, "halves": {}}
    for split in splits:
        clips = [_Clip(det, f / "audio" / r["file"], r["label"], r["maxsight_class"] not in se.SOUND_CLASSES)
                 for f in folders for r in clip_rows(f, split)]
        trials = _trials(clips, shots)
        res = {"clips": len(clips), "background_clips": sum(c.silent for c in clips),
               "unteachable": [c.name for c in clips if c.teach is None and not c.silent],
               "live": _live(det, trials, clips, speech)}
        if do_sweep:
            rows = sweep(trials, clips, speech)
            res["sweep"], res["best"] = rows, best(rows)
        out["halves"][split] = res
    return out


def _pct(n, d):
    return f"{100.0 * n / d:.0f}%" if d else "n/a"


def table(r: dict) -> str:
    lines = [f"Your own sounds, taught from {r['shots']} examples each (several teaching sets per sound; held-out = the "
             "other clips of that sound in the same half)"]
    for split, h in r["halves"].items():
        lv = h["live"]
        t = lv["thresholds"]
        lines.append(f"{split} half: {h['clips']} clips, {h['background_clips']} background ({lv['background_s']:.0f} s), "
                     f"speech {lv['speech_s']:.0f} s; thresholds on {t['on']:.3f} strong {t['strong']:.3f} off {t['off']:.3f}")
        for label, p in sorted(lv["per_sound"].items()):
            lines.append(f"  {label:<18} {p['sets']} sets: held-out recognised {p['recognised']}/{p['held_out']} "
                         f"({_pct(p['recognised'], p['held_out'])}); false events: background {p['background_events']}, "
                         f"other sounds {p['other_events']}, speech {p['speech_events']}")
        tt = lv["total"]
        bph = "n/a" if lv["background_per_hour"] is None else f"{lv['background_per_hour']:.1f}"
        sph = "n/a" if lv["speech_per_hour"] is None else f"{lv['speech_per_hour']:.1f}"
        lines.append(f"  all: recognised {tt['recognised']}/{tt['held_out']} ({_pct(tt['recognised'], tt['held_out'])}); "
                     f"background events {tt['background_events']} ({bph} per hour of background per taught sound), "
                     f"speech events {tt['speech_events']} ({sph} per hour)")
        if h.get("unteachable"):
            lines.append(f"  refused as too short or silent to teach: {len(h['unteachable'])} clips")
        if h.get("best"):
            b = h["best"]
            lines.append(f"  sweep: best with no false event: on {b['on']} strong {b['strong']} off {b['off']}: "
                         f"recognised {b['recognised']}/{b['held_out']}, other-sound events {b['other_events']}, "
                         f"speech events {b['speech_events']}")
    return "\n".join(lines)
