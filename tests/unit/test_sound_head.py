"""The trained sound head (engine/stage_b/sound_head.py): the shipped files match their pinned
hashes and load without torch; a damaged file is refused in one sentence and the sound processor
falls back to YAMNet; on held-out (test-half) clips it hears what YAMNet alone missed and keeps a
background clip silent."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.models.spec import ModelError
from engine.stage_b.audio_features import SAMPLE_RATE
from engine.stage_b.sound_head import EMBEDDING_DIMS, SoundHead

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "assets" / "models" / "sound_head"


def test_shipped_head_matches_its_pins_and_loads_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"          # any `import torch` now raises ImportError
            "from engine.models.registry import default_registry, verified_path\n"
            "from engine.stage_b.sound_head import SoundHead\n"
            "p = verified_path(default_registry(include_user=False).get('sound_head'))\n"
            "h = SoundHead.load(p)\n"
            "import numpy as np\n"
            "print(h.classes, h(np.ones(1024, np.float32) / 32).shape)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-800:]
    assert "smoke_alarm" in out.stdout and "glass_breaking" in out.stdout


def test_a_damaged_head_is_refused_in_one_sentence(tmp_path):
    for name in ("head.npz", "head.json"):
        shutil.copy(SHIPPED / name, tmp_path / name)
    data = bytearray((tmp_path / "head.npz").read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\0" * 64
    (tmp_path / "head.npz").write_bytes(bytes(data))
    with pytest.raises(ModelError) as exc:
        SoundHead.load(tmp_path / "head.npz")
    msg = str(exc.value)
    assert "\n" not in msg and msg.count(". ") == 0 and "head.npz" in msg and "YAMNet" in msg


def test_a_sidecar_that_does_not_fit_the_weights_is_refused(tmp_path):
    shutil.copy(SHIPPED / "head.npz", tmp_path / "head.npz")
    meta = json.loads((SHIPPED / "head.json").read_text())
    meta["classes"] = meta["classes"][:-1]
    (tmp_path / "head.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="cannot be used"):
        SoundHead.load(tmp_path / "head.npz")


def test_thresholds_out_of_order_are_refused():
    w = (np.zeros((EMBEDDING_DIMS, 1), np.float32), np.zeros(1, np.float32))
    with pytest.raises(ValueError, match="off <= on <= strong"):
        SoundHead(("glass_breaking",), {"glass_breaking": (0.9, 0.2, 0.5)}, (w,))


def test_a_damaged_pinned_file_falls_back_to_yamnet(monkeypatch, tmp_path, installed_models):
    """The processor's loader: the registry refuses a file that does not match its pin, and
    sounds go on with YAMNet's own classes."""
    from engine.models import registry as reg_mod
    from engine.stage_b import processors
    for name in ("head.npz", "head.json"):
        shutil.copy(SHIPPED / name, tmp_path / name)
    (tmp_path / "head.json").write_text("{}")
    monkeypatch.setattr(reg_mod, "shipped_dir", lambda root: tmp_path if root == reg_mod.SOUND_HEAD_ROOT else Path(root))
    with pytest.raises(ModelError, match="pinned sha256"):
        reg_mod.verified_path(reg_mod.default_registry(include_user=False).get("sound_head"))
    assert processors.sound_head() is None


@pytest.fixture(scope="module")
def dets(installed_models):
    from maxsight_app.measure.sounds import detector
    return detector(installed_models, head=False), detector(installed_models, head=True)


def _events(det, path: Path) -> set[str]:
    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.measure.sounds import stream
    return {e.label for e in stream(det, load_audio(path))}


def test_on_held_out_clips(dets, eval_data):
    """Test-half clips (the head never trained on them): glass that YAMNet alone missed is heard,
    an alarm YAMNet heard is still heard (the head adds, never takes away), a crying baby is heard
    once, and a room-noise clip and silence stay silent."""
    from maxsight_app.capture.audio_file import load_audio
    from maxsight_app.measure.ocr import half
    from maxsight_app.measure.sounds import stream
    yamnet, head = dets
    more = eval_data / "sound_events_more" / "audio"
    glass, alarm, room = (more / "glass_2-000212-A-1.wav", more / "alarm_alarm.6gnktai4.ingestion-7f474ccdc-jxr84.s2.wav",
                          more / "alarm_noise.6gp4bu1q.ingestion-7f474ccdc-xbf9j.wav")
    cry = eval_data / "sound_events_small" / "audio" / "esc10_crying_baby_test_1-60997-B.mp3"
    for p in (glass, alarm, room, cry):
        assert half(p.name) == "test", p.name
    assert "glass_breaking" not in _events(yamnet, glass)
    assert "glass_breaking" in _events(head, glass)
    assert "smoke_alarm" in _events(yamnet, alarm) and "smoke_alarm" in _events(head, alarm)
    crying = [e for e in stream(head, load_audio(cry)) if e.label == "baby_crying"]
    assert len(crying) == 1
    assert _events(head, room) - {"speech"} == set()
    assert stream(head, np.zeros(SAMPLE_RATE * 3, np.float32)) == []
