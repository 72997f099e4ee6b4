"""Find mode's guidance tone (outputs/guide.py) and how the sinks play it: continuous while renewed,
on the target's side, throbbing at its rate, a distinct chime; in the WAV timeline ducked under
speech, paused under a warning, and "found" cutting a caution but never a warning."""
from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs.audio import WavFileSink
from maxsight_app.outputs.guide import CHIME_HZ, DUCK_SPEECH, HOLD_S, GuideSynth, Tone, render_chime
from maxsight_app.outputs.sound import SoundOutput
from maxsight_app.outputs.tones import SAMPLE_RATE

SR = SAMPLE_RATE


def rms(x):
    return float(np.sqrt((np.asarray(x, np.float64) ** 2).mean()))


def frames_of(synth, tone, seconds, step=0.1):
    """The tone renewed every `step` seconds, as the session does once per frame."""
    n = int(step * SR)
    return np.concatenate([synth.render(n, tone) for _ in range(int(seconds / step))])


def test_the_tone_never_drops_out_while_renewed_and_throbs_at_its_rate():
    out = frames_of(GuideSynth(), Tone(pan=0.0, pitch_hz=500, pulse_hz=4.0), 2.0)
    win = int(0.02 * SR)
    levels = [rms(out[i:i + win]) for i in range(int(0.05 * SR), len(out) - win, win)]
    assert min(levels) > 0.25 * max(levels)              # the quiet part of a throb is still heard: continuous
    env = np.abs(out[:, 0])
    env = env[: len(env) // 441 * 441].reshape(-1, 441).max(axis=1)       # 20 ms envelope
    spec = np.abs(np.fft.rfft(env - env.mean()))
    assert np.fft.rfftfreq(len(env), 0.02)[np.argmax(spec)] == pytest.approx(4.0, abs=0.3)


@pytest.mark.parametrize("pan", [-0.8, -0.3, 0.3, 0.8])
def test_the_tone_is_louder_and_earlier_in_the_near_ear(pan):
    out = GuideSynth().render(4410, Tone(pan=pan, pitch_hz=400, pulse_hz=0))
    left, right = rms(out[:, 0]), rms(out[:, 1])
    onset = [int(np.argmax(np.abs(out[:, c]) > 1e-3)) for c in (0, 1)]
    if pan < 0:
        assert left > 1.3 * right and onset[0] < onset[1]
    else:
        assert right > 1.3 * left and onset[1] < onset[0]


def test_a_new_frame_glides_without_a_click():
    synth = GuideSynth()
    a = synth.render(2205, Tone(pan=-0.6, pitch_hz=350, pulse_hz=0))
    b = synth.render(2205, Tone(pan=0.6, pitch_hz=800, pulse_hz=0))
    joined = np.concatenate([a, b])[:, 0]
    assert np.abs(np.diff(joined)).max() < 0.2            # no step at the boundary (a click would be ~1)


def test_the_chime_is_two_bell_notes_unlike_the_tone():
    chime = render_chime()
    spec = np.abs(np.fft.rfft(chime))
    freqs = np.fft.rfftfreq(len(chime), 1 / SR)
    top = sorted(freqs[np.argsort(spec)[-40:]])
    for f in CHIME_HZ:
        assert any(abs(x - f) < 15 for x in top), (f, top)
    synth = GuideSynth()
    tone = Tone(pan=0.0, pitch_hz=600, pulse_hz=0, chime=True)
    first = synth.render(int(0.5 * SR), tone)[:, 0]
    again = synth.render(int(0.5 * SR), tone)[:, 0]       # the same frame's tone does not chime twice

    def at(x, f):
        s, fr = np.abs(np.fft.rfft(x)), np.fft.rfftfreq(len(x), 1 / SR)
        return float(s[(fr > f - 20) & (fr < f + 20)].max())
    assert at(first, CHIME_HZ[0]) > 20 * at(again, CHIME_HZ[0]) and at(first, CHIME_HZ[1]) > 20 * at(again, CHIME_HZ[1])


def read(path):
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2).astype(np.float32) / 32768


def test_wav_timeline_ducks_the_tone_under_speech_and_pauses_it_under_a_warning(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "find.wav", clock=lambda: now[0])
    tone = Tone(pan=0.5, pitch_hz=500, pulse_hz=0)
    words = np.zeros((int(0.5 * SR), 2), np.float32)          # silent "speech", so only the tone is measured
    for i in range(40):
        now[0] = i / 10
        sink.guide(tone)
        if i == 10:
            sink.play(words, "door found, 1 o'clock", urgency=0)      # 1.0 .. 1.5 s
        if i == 20:
            sink.play(words, "Warning, chair, straight ahead", urgency=int(Urgency.WARNING))   # 2.0 .. 2.5 s
    now[0] = 4.0
    sink.guide(None)
    now[0] = 4.5
    sink.play(words, "Lost it", urgency=0)
    sink.close()
    x = read(tmp_path / "find.wav")
    free, under_speech, under_warning = (rms(x[int(a * SR):int(b * SR)]) for a, b in ((0.5, 0.95), (1.1, 1.4), (2.1, 2.4)))
    assert under_speech == pytest.approx(DUCK_SPEECH * free, rel=0.15)
    assert under_warning < 0.02 * free
    assert rms(x[int(4.1 * SR):int(4.5 * SR)]) < 1e-3              # gone once find mode stops
    log = json.loads((tmp_path / "find.json").read_text())
    assert log["tone"] == [{"start_s": 0.0, "end_s": 4.0, "side": "right"}]      # until find mode stopped


def test_a_tone_not_renewed_fades_out(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "stall.wav", clock=lambda: now[0])
    sink.guide(Tone(pan=0.0, pitch_hz=500, pulse_hz=0))
    now[0] = 3.0                                                  # the engine stalled: no frame for 3 s
    sink.play(np.zeros((SR, 2), np.float32), "x", urgency=0)
    sink.close()
    x = read(tmp_path / "stall.wav")
    assert rms(x[: int(0.4 * SR)]) > 0.05 and rms(x[int((HOLD_S + 0.1) * SR):int(2.9 * SR)]) < 1e-3


def test_found_cuts_a_caution_but_waits_for_a_warning(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "barge.wav", clock=lambda: now[0])
    two = np.zeros((2 * SR, 2), np.float32)
    sink.play(two, "chair, 2 o'clock, 3 metres", urgency=int(Urgency.CAUTION))
    now[0] = 0.5
    sink.play(two[:SR // 2], "door found, 1 o'clock", urgency=0, barge=True)
    now[0] = 1.5
    sink.play(two, "Warning, stairs going down", urgency=int(Urgency.WARNING))
    now[0] = 2.0
    sink.play(two[:SR // 2], "cup found, straight ahead", urgency=0, barge=True)
    sink.close()
    played = {p["text"]: (p["start_s"], p["end_s"]) for p in json.loads((tmp_path / "barge.json").read_text())["played"]}
    assert played["chair, 2 o'clock, 3 metres [interrupted]"][1] == pytest.approx(0.5)
    assert played["door found, 1 o'clock"][0] == pytest.approx(0.5)
    assert played["Warning, stairs going down"] == (pytest.approx(1.5), pytest.approx(3.5))     # never cut
    assert played["cup found, straight ahead"][0] == pytest.approx(3.5)                        # after it


class WordsTakeTime:
    """Stands in for espeak-ng (the speech engine, outside MaxSight): 0.4 s of sound per word."""

    def check(self):
        return None

    def render(self, text, rate_factor=1.0):
        return np.full(int(0.4 * SR * len(text.split())), 0.1, np.float32)


def test_the_sound_output_lets_only_finds_found_barge_in(tmp_path):
    synth = WordsTakeTime()
    now = [0.0]
    sink = WavFileSink(tmp_path / "out.wav", clock=lambda: now[0])
    out = SoundOutput(sink, synth, earcons=False)
    out.emit(Cue("chair, 2 o'clock, 3 metres", CueKind.HAZARD, Priority.NORMAL, Urgency.CAUTION, 0.0))
    now[0] = 0.3
    out.emit(Cue("It is there but low in contrast.", CueKind.FIND, Priority.NORMAL, Urgency.SAFE, 0.3))
    out.emit(Cue("door found, 1 o'clock", CueKind.FIND, Priority.NOW, Urgency.SAFE, 0.3))
    sink.close()
    texts = [p["text"] for p in json.loads((tmp_path / "out.json").read_text())["played"]]
    assert texts == ["chair, 2 o'clock, 3 metres [interrupted]", "door found, 1 o'clock"]


ALSA_FILE = """pcm.!default {{
    type file
    slave.pcm "null"
    file "{path}"
    format "raw"
}}
"""


def test_the_sound_card_plays_the_tone_on_its_own_stream(tmp_path):
    """A real PortAudio/ALSA device whose output is a file (float32 stereo): the tone plays, on the left."""
    import os
    import subprocess
    import sys
    raw = tmp_path / "out.raw"
    (tmp_path / ".asoundrc").write_text(ALSA_FILE.format(path=raw))
    code = ("import time\n"
            "from maxsight_app.outputs.audio import SoundDeviceSink\n"
            "from maxsight_app.outputs.guide import Tone\n"
            "sink = SoundDeviceSink(); assert sink.check() is None, sink.check()\n"
            "for _ in range(5):\n"
            "    sink.guide(Tone(pan=-0.8, pitch_hz=500, pulse_hz=0)); time.sleep(0.1)\n"
            "assert sink.guide_problem is None, sink.guide_problem\n"
            "sink.close(); print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, HOME=str(tmp_path)), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
    x = np.fromfile(raw, "<f4")
    x = x[: len(x) // 2 * 2].reshape(-1, 2)[: 5 * SR]           # the null device takes samples as fast as they come
    assert rms(x[:, 0]) > 0.05 and rms(x[:, 0]) > 3 * rms(x[:, 1])
