"""Read a sound file (any format ffmpeg knows, through PyAV's bundled ffmpeg) as 16 kHz mono
float32, the rate Stage B's sound and caption models take. A file that cannot be decoded, or holds
no audio, is a SourceError in one sentence."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from maxsight_app.capture.video import SourceError

SAMPLE_RATE = 16000


def load_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[N] float32 mono in -1..1."""
    import av
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"the sound file {path} does not exist")
    try:
        with av.open(str(path)) as c:
            if not c.streams.audio:
                raise SourceError(f"{path.name} holds no sound")
            res = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            parts = [o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in res.resample(f)]
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds for damaged files
        raise SourceError(f"{path.name} cannot be read as sound ({type(exc).__name__})") from None
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
