"""Earcons: panning puts more energy (and the earlier onset) in the correct ear; pitch and beep
rate rise as distance falls; each urgency sounds different."""
from __future__ import annotations

import numpy as np
import pytest

from engine.types import Urgency
from maxsight_app.outputs.tones import SAMPLE_RATE, render_earcon


def energy(x):
    return float((x.astype(np.float64) ** 2).sum())


def onset(ch):
    return int(np.argmax(np.abs(ch) > 1e-3))


@pytest.mark.parametrize("bearing", [-60, -25, 25, 60])
def test_panning_puts_more_energy_and_the_first_sound_in_the_near_ear(bearing):
    s = render_earcon(Urgency.WARNING, bearing, 3.0)
    left, right = energy(s[:, 0]), energy(s[:, 1])
    if bearing < 0:
        assert left > 2 * right and onset(s[:, 0]) < onset(s[:, 1])
    else:
        assert right > 2 * left and onset(s[:, 1]) < onset(s[:, 0])


def test_centre_is_balanced():
    s = render_earcon(Urgency.CAUTION, 0.0, 3.0)
    assert energy(s[:, 0]) == pytest.approx(energy(s[:, 1]), rel=1e-3)


def dominant_hz(x):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)[np.argmax(spec)])


def count_beeps(ch):
    on = (np.abs(ch) > 0.05).astype(np.int8)
    # Merge samples into beeps: a beep is a run of "on" with gaps < 10 ms inside it.
    k = int(0.01 * SAMPLE_RATE)
    smoothed = np.convolve(on, np.ones(k), "same") > 0
    return int(np.sum(np.diff(np.concatenate([[0], smoothed.astype(np.int8)])) == 1))


def test_pitch_and_rate_rise_as_distance_falls():
    pitches, beeps = [], []
    for d in (12.0, 6.0, 2.5, 1.0):
        s = render_earcon(Urgency.CAUTION, 0.0, d)
        beep = s[: int(0.07 * SAMPLE_RATE), 0]
        pitches.append(dominant_hz(beep))
        beeps.append(count_beeps(s[:, 0]))
    assert pitches == sorted(pitches) and pitches[-1] > 2 * pitches[0]
    assert beeps == sorted(beeps) and beeps[0] == 1 and beeps[-1] == 5


def test_urgencies_have_distinct_timbres():
    spectra = {}
    for u in (Urgency.CAUTION, Urgency.WARNING, Urgency.DANGER):
        beep = render_earcon(u, 0.0, 4.0)[: int(0.07 * SAMPLE_RATE), 0]
        spec = np.abs(np.fft.rfft(beep))
        spectra[u] = spec / spec.sum()
    # Share of energy above 1.5x the fundamental: pure for caution, richer for warning, most for danger.
    f0 = dominant_hz(render_earcon(Urgency.CAUTION, 0.0, 4.0)[: int(0.07 * SAMPLE_RATE), 0])
    freqs = np.fft.rfftfreq(int(0.07 * SAMPLE_RATE), 1 / SAMPLE_RATE)
    rich = {u: float(s[freqs > 1.5 * f0].sum()) for u, s in spectra.items()}
    assert rich[Urgency.CAUTION] < rich[Urgency.WARNING] < rich[Urgency.DANGER]


def test_levels_stay_in_range():
    s = render_earcon(Urgency.DANGER, -90, 0.5, volume=1.0)
    assert s.dtype == np.float32 and s.shape[1] == 2 and np.abs(s).max() <= 1.0
