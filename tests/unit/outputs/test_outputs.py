"""Outputs with real backends: espeak-ng speech to a WAV, the WAV timeline with barge-in, the
serial haptic protocol on a pseudo-terminal, the sound card path through an ALSA file device,
screen alerts, and the fallback chain when no device exists."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import wave

import numpy as np
import pytest

from engine.types import Urgency
from maxsight_app.cues.types import Cue, CueKind, Priority
from maxsight_app.outputs import haptic
from maxsight_app.outputs.audio import WavFileSink, no_output_device_reason
from maxsight_app.outputs.base import SilentOutput
from maxsight_app.outputs.factory import build_outputs
from maxsight_app.profile.schema import Profile
from maxsight_app.outputs.screen import ScreenOutput
from maxsight_app.outputs.sound import SoundOutput
from maxsight_app.outputs.speech import TAIL_S, SpeechSynth, Voice, tighten
from maxsight_app.outputs.tones import SAMPLE_RATE


def cue(text, urgency=Urgency.WARNING, interrupt=False, bearing=40.0, distance=3.0, kind=CueKind.HAZARD):
    from engine.stage_a.geometry import clock_from_bearing
    return Cue(text, kind, Priority.NOW if interrupt else Priority.NEXT, urgency, 0.0, track_id=1, label="car",
               bearing_deg=bearing, distance_m=distance, interrupt=interrupt,
               clock=None if bearing is None else clock_from_bearing(bearing))


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels()).astype(np.float32) / 32768
        return x, w.getframerate()


def test_speech_renders_audible_words_of_plausible_length():
    synth = SpeechSynth(Voice(rate_wpm=175))
    assert synth.check() is None, synth.check()
    short = synth.render("car")
    long = synth.render("car, 2 o'clock, 4 metres, approaching")
    assert np.sqrt((long ** 2).mean()) > 0.02                  # not silence
    assert 1.2 < len(long) / SAMPLE_RATE < 4.5                  # about 2.5 s at 175 words a minute
    assert len(long) > 2 * len(short)
    fast = SpeechSynth(Voice(rate_wpm=300)).render("car, 2 o'clock, 4 metres, approaching")
    assert len(fast) < 0.8 * len(long)                          # rate from the profile is applied


def test_a_phrase_loses_its_trailing_silence_but_no_sound_and_no_pause():
    """Two "words" (tones) with 0.1 s of silence before, a 0.5 s pause between and 0.3 s after, as
    espeak-ng pads them: the tail goes down to TAIL_S; the lead, the pause and every sound stay."""
    sr = SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(int(0.3 * sr)) / sr)).astype(np.float32)
    gap = lambda s: np.zeros(int(s * sr), np.float32)     # noqa: E731
    x = np.concatenate([gap(0.1), tone, gap(0.5), tone, gap(0.3)])
    y = tighten(x)
    assert abs(len(y) / sr - (0.1 + 0.3 + 0.5 + 0.3 + TAIL_S)) < 0.02
    assert np.array_equal(y[:len(x) - int(0.3 * sr)], x[:len(x) - int(0.3 * sr)])
    soft = np.concatenate([tone, 0.01 * tone, gap(0.3)])                 # a soft last sound (an "s") stays
    assert np.sum(np.abs(tighten(soft)) > 1e-3) == np.sum(np.abs(soft) > 1e-3)
    assert tighten(gap(0.5)).shape == (int(0.5 * sr),)                  # silence alone is left alone
    late = np.concatenate([tone, gap(1.0), tone[:100]])                  # a sound in the last, short 10 ms
    assert len(tighten(late)) == len(late)


def test_wav_timeline_queues_and_barge_in_cuts(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "heard.wav", clock=lambda: now[0])
    out = SoundOutput(sink, SpeechSynth(), earcons=True)
    out.emit(cue("person, 12 o'clock, 3 metres", urgency=Urgency.CAUTION, bearing=0.0))
    now[0] = 0.5
    out.emit(cue("car, 2 o'clock, 6 metres", urgency=Urgency.CAUTION))      # queued after the first
    now[0] = 1.0
    out.emit(cue("bus, 1 o'clock, 3 metres, approaching", urgency=Urgency.DANGER, interrupt=True))
    sink.close()
    data = json.loads((tmp_path / "heard.json").read_text())
    clips = data["played"]
    assert [c["text"] for c in clips] == ["person, 12 o'clock, 3 metres [interrupted]", "bus, 1 o'clock, 3 metres, approaching"]
    assert clips[0]["end_s"] == pytest.approx(1.0, abs=0.01) and clips[1]["start_s"] == pytest.approx(1.0)
    assert [d["text"] for d in data["dropped_stale"]] == ["car, 2 o'clock, 6 metres"]   # would have waited > 2 s
    x, sr = read_wav(tmp_path / "heard.wav")
    assert sr == SAMPLE_RATE and x.shape[1] == 2
    assert len(x) / sr == pytest.approx(clips[1]["end_s"], abs=0.01)
    # The danger earcon is panned right (1 o'clock): more energy in the right channel just after 1 s.
    seg = x[int(1.0 * sr): int(1.4 * sr)]
    assert (seg[:, 1] ** 2).sum() > 1.5 * (seg[:, 0] ** 2).sum()


def test_a_danger_never_cuts_another_danger_and_warnings_go_before_cautions(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "busy.wav", clock=lambda: now[0])
    one = np.zeros((SAMPLE_RATE, 2), np.float32)
    sink.play(one, "caution 1", urgency=1)
    sink.play(one, "caution 2", urgency=1)                     # waits until 1 s
    now[0] = 0.2
    sink.play(one, "danger A", urgency=3)                      # cuts caution 1, caution 2 yields
    now[0] = 0.4
    sink.play(one, "danger B", urgency=3)                      # after A, whole
    sink.play(one, "warning", urgency=2)                       # after the dangers
    for i in range(5):
        sink.play(one, f"late caution {i}", urgency=1)         # waits over 2 s: stale
    sink.close()
    data = json.loads((tmp_path / "busy.json").read_text())
    played = {c["text"]: (c["start_s"], c["end_s"]) for c in data["played"]}
    assert played["danger A"] == pytest.approx((0.2, 1.2)) and played["danger B"] == pytest.approx((1.2, 2.2))
    assert played["warning"] == pytest.approx((2.2, 3.2))
    assert "caution 1 [interrupted]" in played and "caution 2" not in played
    dropped = [d["text"] for d in data["dropped_stale"]]
    assert "caution 2 [yielded]" in dropped and all(not d.startswith(("danger", "warning")) for d in dropped)


def test_the_wav_is_written_as_it_goes_so_a_killed_run_keeps_what_was_heard(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "live.wav", clock=lambda: now[0])
    assert sink.check() is None
    tone = np.full((SAMPLE_RATE // 2, 2), 0.25, np.float32)
    for i in range(6):                       # a half-second clip every 2 s, never closed (a kill)
        now[0] = 2.0 * i
        sink.play(tone, label=f"cue {i}")
    x, sr = read_wav(tmp_path / "live.wav")  # readable without close(): the header is kept current
    assert len(x) / sr == pytest.approx(10.0, abs=0.01)
    assert abs(x[int(8.1 * sr), 0] - 0.25) < 1e-3 and abs(x[int(9.0 * sr), 0]) < 1e-6
    played = json.loads((tmp_path / "live.json").read_text())["played"]
    assert [c["text"] for c in played] == [f"cue {i}" for i in range(6)]


def test_an_unwritable_wav_is_one_sentence(tmp_path):
    (tmp_path / "folder.wav").mkdir()
    assert "is a folder" in WavFileSink(tmp_path / "folder.wav", clock=lambda: 0.0).check()
    assert "does not exist" in WavFileSink(tmp_path / "no" / "x.wav", clock=lambda: 0.0).check()


def test_stale_clips_are_dropped_not_queued_for_ever(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "q.wav", clock=lambda: now[0])
    one_second = np.zeros((SAMPLE_RATE, 2), np.float32)
    for i in range(5):                      # five 1 s clips asked for at once
        sink.play(one_second, label=f"clip {i}")
    sink.close()
    data = json.loads((tmp_path / "q.json").read_text())
    assert [c["text"] for c in data["played"]] == ["clip 0", "clip 1", "clip 2"]   # started within 2 s
    assert [c["text"] for c in data["dropped_stale"]] == ["clip 3", "clip 4"]


def test_serial_haptic_protocol_on_a_pseudo_terminal():
    master, slave = os.openpty()
    try:
        dev = haptic.SerialHaptic(os.ttyname(slave))
        assert dev.check() is None
        dev.emit(cue("danger", urgency=Urgency.DANGER))
        dev.emit(cue("caution", urgency=Urgency.CAUTION))
        dev.emit(cue("nothing", urgency=Urgency.SAFE))         # safe cues do not vibrate
        dev.cancel()
        data = b""
        while len(data) < 21:
            data += os.read(master, 64)
        frames = [data[i:i + 7] for i in range(0, len(data), 7)]
        decoded = [haptic.decode(f) for f in frames]
        assert decoded[0] == (haptic.CMD_PLAY, haptic.Pattern(1.0, 250, 80, 3))
        assert decoded[1][0] == haptic.CMD_PLAY and decoded[1][1].repeats == 1 and decoded[1][1].intensity == pytest.approx(0.4, abs=0.01)
        assert decoded[2] == (haptic.CMD_STOP, None)
        dev.close()
    finally:
        os.close(master)
        os.close(slave)


def test_haptic_frame_checksum_is_checked():
    frame = bytearray(haptic.encode(haptic.CMD_PLAY, haptic.PATTERNS[Urgency.WARNING]))
    frame[2] ^= 0xFF
    with pytest.raises(ValueError, match="checksum"):
        haptic.decode(bytes(frame))


def test_missing_serial_device_is_one_sentence(tmp_path):
    dev = haptic.SerialHaptic(str(tmp_path / "ttyNOPE"))
    assert dev.check().startswith(f"the vibration device at {tmp_path / 'ttyNOPE'} cannot be opened")


def test_screen_alerts_flash_for_warnings_and_quality():
    screen = ScreenOutput()
    seen = []
    screen.listeners.append(seen.append)
    screen.emit(cue("car, 2 o'clock, 4 metres", urgency=Urgency.WARNING, bearing=55.0))
    screen.emit(cue("bench, ahead, 2 metres", urgency=Urgency.CAUTION, bearing=0.0))
    screen.emit(cue("I can't see well: it is too dark", urgency=Urgency.CAUTION, kind=CueKind.QUALITY, bearing=None))
    screen.cancel()
    assert [a.flash for a in seen[:3]] == [True, False, True]
    assert seen[0].direction == "2 o'clock" and seen[1].direction == "straight ahead"
    assert seen[3] is None


def test_fallback_chain_reports_a_missing_sound_card(tmp_path):
    outputs, notes = build_outputs(Profile(haptic=True, haptic_port=str(tmp_path / "ttyNOPE")))
    reason = no_output_device_reason()
    if reason:   # CI and this machine: no sound card
        assert f"Sound is off: {reason}." in notes and any(isinstance(o, SilentOutput) for o in outputs)
    else:
        assert any(isinstance(o, SoundOutput) for o in outputs)
    assert any("Vibration via serial vibration is off" in n for n in notes)
    assert any(isinstance(o, ScreenOutput) for o in outputs)
    assert all(len(n.splitlines()) == 1 for n in notes)


def test_audio_out_replaces_the_sound_card(tmp_path):
    outputs, notes = build_outputs(Profile(), audio_out=tmp_path / "x.wav")
    assert any(isinstance(o, SoundOutput) and isinstance(o.sink, WavFileSink) for o in outputs)
    assert not any(n.startswith("Sound is off") for n in notes)


ALSA_FILE = """pcm.!default {{
    type file
    slave.pcm "null"
    file "{path}"
    format "raw"
}}
"""


def test_sound_card_path_plays_through_alsa(tmp_path):
    """A real PortAudio/ALSA device whose output is a file: the sound-card sink plays for real."""
    raw = tmp_path / "out.raw"
    (tmp_path / ".asoundrc").write_text(ALSA_FILE.format(path=raw))
    code = (
        "from maxsight_app.outputs.audio import SoundDeviceSink\n"
        "from maxsight_app.outputs.sound import SoundOutput\n"
        "from maxsight_app.outputs.speech import SpeechSynth\n"
        "from maxsight_app.cues.types import Cue, CueKind, Priority\n"
        "from engine.types import Urgency\n"
        "import time\n"
        "sink = SoundDeviceSink(); assert sink.check() is None, sink.check()\n"
        "out = SoundOutput(sink, SpeechSynth())\n"
        "out.emit(Cue('car, 2 o clock', CueKind.HAZARD, Priority.NEXT, Urgency.WARNING, 0.0, bearing_deg=40.0, distance_m=3.0))\n"
        "time.sleep(2.5); out.close(); print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, HOME=str(tmp_path)), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr
    assert raw.stat().st_size > 20_000
    assert np.frombuffer(raw.read_bytes()[: raw.stat().st_size // 2 * 2], "<i2").std() > 100   # not silence


class _FakeSoundDevice:
    """The sounddevice library as the sink uses it, without a sound card: play() starts a clip and
    returns, stop() cuts it; what started and how often it was stopped is recorded."""

    def __init__(self):
        import threading
        self.played, self.stops = [], 0
        self.started = threading.Semaphore(0)

    def play(self, clip, _rate):
        self.played.append(len(clip))
        self.started.release()

    def wait(self):
        pass                      # the sink calls it once the clip's time is over: nothing is left

    def stop(self):
        self.stops += 1


def test_on_the_sound_card_a_warning_cuts_a_caution_as_on_the_wav_timeline(monkeypatch):
    """The sound-card sink does what `eval safety` measures on the WAV timeline: a warning cuts a
    caution that is playing and plays next (the caution waiting behind it yields); a caution never
    cuts a caution; a danger cuts a warning."""
    from maxsight_app.outputs.audio import SoundDeviceSink
    fake = _FakeSoundDevice()
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    sink = SoundDeviceSink()
    caution, other, warning, danger = (np.zeros((n * SAMPLE_RATE, 2), np.float32) for n in (30, 20, 10, 5))
    sink.play(caution, "chair", urgency=1)
    assert fake.started.acquire(timeout=10)
    sink.play(other, "table", urgency=1)                       # waits behind the chair: no cut
    sink.play(warning, "Warning, person", urgency=2)           # cuts the chair; the table yields
    assert fake.started.acquire(timeout=10)                    # the next clip started: the warning
    assert fake.stops == 1 and fake.played == [30 * SAMPLE_RATE, 10 * SAMPLE_RATE]
    sink.play(danger, "Stop! car", urgency=3, key=9)           # cuts the warning (another object)
    assert fake.started.acquire(timeout=10)
    assert fake.stops == 2 and fake.played[-1] == 5 * SAMPLE_RATE
    sink.close()


def test_a_nearly_said_warning_about_the_same_object_finishes_before_its_danger(tmp_path):
    now = [0.0]
    sink = WavFileSink(tmp_path / "same.wav", clock=lambda: now[0])
    two = np.zeros((2 * SAMPLE_RATE, 2), np.float32)
    sink.play(two, "Warning, bus", urgency=2, key=7)
    now[0] = 1.0                                                  # 1 s left of the warning about bus 7
    sink.play(two, "Stop! bus", urgency=3, key=7)
    now[0] = 4.5
    sink.play(two, "Warning, car", urgency=2, key=8)              # plays 4.5-6.5
    now[0] = 5.0                                                  # 1.5 s left: cut by a danger, even its own
    sink.play(two, "Stop! car", urgency=3, key=8)
    sink.close()
    played = {c["text"]: (c["start_s"], c["end_s"]) for c in json.loads((tmp_path / "same.json").read_text())["played"]}
    assert played["Warning, bus"] == pytest.approx((0.0, 2.0)) and played["Stop! bus"] == pytest.approx((2.0, 4.0))
    assert played["Warning, car [interrupted]"] == pytest.approx((4.5, 5.0)) and played["Stop! car"] == pytest.approx((5.0, 7.0))


def test_a_caution_about_the_same_object_is_cut_by_its_danger_however_near_its_end(tmp_path):
    """Only a warning is let finish: "person, 9.5 metres" with 1 s left is stale once "Stop!" is due."""
    now = [0.0]
    sink = WavFileSink(tmp_path / "caution.wav", clock=lambda: now[0])
    two = np.zeros((2 * SAMPLE_RATE, 2), np.float32)
    sink.play(two, "person, 9.5 metres", urgency=1, key=7)
    now[0] = 1.0
    sink.play(two, "Stop! person", urgency=3, key=7)
    sink.close()
    played = {c["text"]: (c["start_s"], c["end_s"]) for c in json.loads((tmp_path / "caution.json").read_text())["played"]}
    assert played["person, 9.5 metres [interrupted]"] == pytest.approx((0.0, 1.0))
    assert played["Stop! person"] == pytest.approx((1.0, 3.0))


class _EspeakThatSkipsOnce:
    """pyttsx3's espeak engine as it behaves now and then on a busy machine: the first save leaves
    the file empty; later saves write what the real engine wrote."""

    def __init__(self, real):
        self.real, self.saves, self._path = real, 0, None

    def setProperty(self, *a):
        self.real.setProperty(*a)

    def getProperty(self, *a):
        return self.real.getProperty(*a)

    def save_to_file(self, text, path):
        self.saves += 1
        self._path = path
        if self.saves > 1:
            self.real.save_to_file(text, path)

    def runAndWait(self):
        if self.saves > 1:
            self.real.runAndWait()


def test_an_empty_file_from_espeak_is_tried_again_not_a_crash():
    synth = SpeechSynth(Voice(rate_wpm=175))
    if synth.check():
        pytest.skip(synth.check())
    flaky = _EspeakThatSkipsOnce(synth._engine)
    synth._engine = flaky
    audio = synth.render("door, 1 o'clock, 3 metres")
    assert flaky.saves == 2 and len(audio) > 1000           # the second try was heard
    flaky.saves = -10                                        # every save now leaves the file empty
    with pytest.raises(RuntimeError, match="espeak-ng wrote no audio"):
        synth.render("door")
