"""`maxsight eval name-alert`: does "someone said your name" survive speech to text? Sentences that
call a name are spoken by espeak-ng (two speaking rates), captioned by the same Whisper tiny.en the
Stage B caption worker runs, and matched by the name alert (maxsight_app.cues.hearing). Reported:
sentences alerted by the fuzzy matcher against an exact, case-insensitive word match of the same
captions; and false alerts, where a name is looked for in captions that do not say it (the other
names' sentences and the read speech of asr_speech_refs)."""
from __future__ import annotations

import re
from pathlib import Path


from maxsight_app.cues.hearing import mentions, terms
from maxsight_app.measure.media import resample

NAMES = ("Ada", "Maria", "Jonathan", "Priya", "Siobhan", "Mohammed", "Katherine", "Luis", "Olga", "Nkechi")
TEMPLATES = ("Excuse me, {n}, your coffee is ready.", "{n}, can you come here please?",
             "I think {n} left the keys on the table.", "Has anyone seen {n} today?")
RATES = (150, 200)


def evaluate(speech_folder: Path | None = None, threads: int = 1) -> dict:
    from engine.stage_b.captions import CaptionStreamer
    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.measure.sounds import speech_files
    from maxsight_app.outputs.speech import SpeechSynth, Voice
    from maxsight_app.outputs.tones import SAMPLE_RATE
    asr = CaptionStreamer(threads=threads)
    rows = []
    for rate in RATES:
        synth = SpeechSynth(Voice(rate_wpm=rate))
        if synth.check():
            raise ValueError(f"cannot speak the test sentences: {synth.check()}")
        for name in NAMES:
            for tpl in TEMPLATES:
                said = tpl.format(n=name)
                heard = asr.transcribe(resample(synth.render(said), SAMPLE_RATE))
                rows.append({"name": name, "rate": rate, "said": said, "heard": heard,
                             "fuzzy": mentions(heard, terms(name)[0]),
                             "exact": name.lower() in re.findall(r"[a-z]+", heard.lower())})
    others = [r["heard"] for r in rows]
    lj = [asr.transcribe(load_audio(f)) for f in speech_files(speech_folder)] if speech_folder else []
    false, checks = [], 0
    for name in NAMES:
        for r in rows:
            if r["name"] == name:
                continue
            checks += 1
            if mentions(r["heard"], terms(name)[0]):
                false.append({"name": name, "heard": r["heard"]})
        for text in lj:
            checks += 1
            if mentions(text, terms(name)[0]):
                false.append({"name": name, "heard": text})
    n = len(rows)
    return {"sentences": n, "fuzzy": sum(r["fuzzy"] for r in rows), "exact": sum(r["exact"] for r in rows),
            "per_name": {nm: {"fuzzy": sum(r["fuzzy"] for r in rows if r["name"] == nm),
                              "exact": sum(r["exact"] for r in rows if r["name"] == nm),
                              "of": sum(r["name"] == nm for r in rows)} for nm in NAMES},
            "false_alerts": len(false), "false_checks": checks, "false_detail": false[:20],
            "read_speech_recordings": len(lj), "missed": [r for r in rows if not r["fuzzy"]][:20], "rows": rows,
            "read_speech_captions": lj}


def table(r: dict) -> str:
    lines = [f"Name alert on {r['sentences']} spoken sentences (espeak-ng at {', '.join(map(str, RATES))} wpm, captioned by "
             f"Whisper tiny.en): alerted {r['fuzzy']}/{r['sentences']} ({100 * r['fuzzy'] / r['sentences']:.0f}%); an exact word "
             f"match would have caught {r['exact']}/{r['sentences']} ({100 * r['exact'] / r['sentences']:.0f}%)"]
    lines.append("  " + ", ".join(f"{k} {v['fuzzy']}/{v['of']}" for k, v in r["per_name"].items()))
    lines.append(f"  false alerts: {r['false_alerts']} in {r['false_checks']} checks of captions that do not say the name "
                 f"(other names' sentences and {r['read_speech_recordings']} read-speech recordings)")
    for m in r["missed"][:8]:
        lines.append(f"  missed: {m['name']} ({m['rate']} wpm): heard {m['heard']!r}")
    return "\n".join(lines)
