"""The log-mel front end (engine/stage_b/audio_features.py, YAMNet's input) is librosa's: the same HTK
mel filters and, on a real clip, the same log-mel frames once librosa's framing is aligned (it centres
the 400-sample window in its 512-point frame; ours zero-pads at the end). librosa is a test tool
here (the dev extra): the app keeps the numpy front end, which needs no numba compilation at start."""
from __future__ import annotations

import numpy as np
import pytest

from engine.stage_b.audio_features import HOP, N_FFT, N_MELS, SAMPLE_RATE, WIN, log_mel, mel_filterbank
from tests.conftest import _missing


@pytest.fixture(scope="module")
def librosa():
    try:
        import librosa
    except ImportError:
        _missing("librosa is not installed (pip install 'maxsight[dev]')")
    return librosa


def test_mel_filters_are_librosas_htk_filters(librosa):
    theirs = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=125.0, fmax=7500.0, htk=True, norm=None)
    assert theirs.shape == mel_filterbank().shape == (64, 257)
    assert np.abs(mel_filterbank() - theirs).max() < 1e-6


def test_log_mel_frames_are_librosas_on_a_real_clip(librosa, eval_data):
    from maxsight_app.capture.audio_file import load_audio
    x = load_audio(eval_data / "sound_events_small" / "audio" / "esc10_crying_baby_test_1-60997-B.mp3")
    shift = (N_FFT - WIN) // 2
    S = librosa.feature.melspectrogram(y=np.concatenate([np.zeros(shift, np.float32), x]), sr=SAMPLE_RATE, n_fft=N_FFT,
                                       hop_length=HOP, win_length=WIN, window=np.hanning(WIN), center=False, power=1.0,
                                       n_mels=N_MELS, fmin=125.0, fmax=7500.0, htk=True, norm=None)
    theirs = np.log(S.T + 1e-6)
    ours = log_mel(x)
    assert ours.shape == theirs.shape and len(ours) > 400
    assert np.abs(ours - theirs).max() < 1e-3
    # Magnitude, not power (audio_features.py says why): librosa's power spectrogram is a different feature.
    P = librosa.feature.melspectrogram(y=np.concatenate([np.zeros(shift, np.float32), x]), sr=SAMPLE_RATE, n_fft=N_FFT,
                                       hop_length=HOP, win_length=WIN, window=np.hanning(WIN), center=False, power=2.0,
                                       n_mels=N_MELS, fmin=125.0, fmax=7500.0, htk=True, norm=None)
    assert np.abs(ours - np.log(P.T + 1e-6)).max() > 1.0
