"""`maxsight eval find` on two door clips: the tone on the door's side, "door found" in time,
"lost it" after turning away, and the detector used named in the result."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from maxsight_app.measure.find import heard_side, true_side


@pytest.mark.slow
def test_eval_find_on_door_clips(tmp_path, eval_data, installed_models):
    out = tmp_path / "find.json"
    # --scripted: find mode itself, on the photos' true door boxes; the door model's own misses are
    # the access detector's measure (its model card), not find mode's.
    r = subprocess.run([sys.executable, "-m", "maxsight_app", "eval", "find", "--limit", "2", "--scripted", "--json", str(out),
                        "--keep-audio", str(tmp_path)], capture_output=True, text=True, timeout=900, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert "tone on the door's side" in r.stdout and "detector:" in r.stdout
    s = json.loads(out.read_text())
    assert s["clips"] == 2 and s["detector"] and "scripted; asked for" in s["detector"][0]
    # The behaviour, not the score: the tone follows the door (a tone that ignored it would land on
    # the door's side about one frame in three). How often exactly is `maxsight eval find`'s figure
    # (98.9% over all 26 clips); on a busy machine 94.7% of these two clips' frames was seen.
    assert s["pan"]["of"] >= 100 and s["pan"]["pct"] >= 75.0, s["pan"]
    assert s["found"]["said"] == 2 and s["found"]["max_s"] <= 2.0, s["found"]
    assert s["lost"]["said"] == 2
    for o in s["outcomes"]:
        assert (tmp_path / f"{o['clip']}.wav").stat().st_size > 100_000 and (tmp_path / f"{o['clip']}-tone.wav").exists()


def test_sides_heard_and_true():
    t = np.arange(2205) / 22050
    tone = np.sin(2 * np.pi * 500 * t)
    assert heard_side(np.stack([tone, 0.5 * tone], 1)) == "left"
    assert heard_side(np.stack([0.5 * tone, tone], 1)) == "right"
    assert heard_side(np.stack([tone, tone], 1)) == "centre"
    assert heard_side(np.zeros((2205, 2))) is None
    assert (true_side(-7), true_side(0), true_side(5.9), true_side(6.1)) == ("left", "centre", "centre", "right")
