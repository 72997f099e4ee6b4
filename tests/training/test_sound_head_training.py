"""The sound head's trainer (training/sound_head.py) on synthetic embeddings: it learns a
separable class, the exported layers run in the numpy head, the threshold fit prefers no false
event over one more clip heard, and folds keep each class spread across them."""
from __future__ import annotations

import numpy as np

from training.sound_head import Clip, HeadConfig, fit_thresholds, folds_of, head_probs, train


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_learns_a_separable_class_and_exports_to_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(1024), rng.standard_normal(1024)
    X = _unit(np.concatenate([a + 0.3 * rng.standard_normal((200, 1024)), b + 0.3 * rng.standard_normal((200, 1024))]))
    Y = np.concatenate([np.ones((200, 1)), np.zeros((200, 1))]).astype(np.float32)
    layers, state = train(X, Y, np.ones_like(Y), HeadConfig(hidden=0, epochs=40, lr=0.05, batch=64, classes=("glass_breaking",)))
    p = head_probs(layers, X)[:, 0]
    assert p[:200].min() > 0.9 and p[200:].max() < 0.1
    assert set(state) == {"1.weight", "1.bias"} and layers[0][0].shape == (1024, 1)


def test_thresholds_prefer_no_false_event():
    cfg = HeadConfig(classes=("smoke_alarm",))
    pos = [Clip(f"a{i}", "smoke_alarm", "event", None) for i in range(3)]
    neg = Clip("bg", None, "background", None)
    seq = lambda *v: np.array(v, np.float32)[:, None]  # noqa: E731
    oof = [(pos[0], seq(0.1, 0.97, 0.9)), (pos[1], seq(0.99, 0.2)), (pos[2], seq(0.6, 0.62, 0.1)), (neg, seq(0.1, 0.7, 0.72))]
    th = fit_thresholds(oof, cfg)["smoke_alarm"]
    assert th["dev_false_events"] == 0 and th["dev_hits"] == 2 and th["on"] > 0.72


def test_folds_spread_each_class():
    clips = [Clip(f"g{i}", "glass_breaking", "event", None) for i in range(8)] + \
            [Clip(f"b{i}", None, "background", None) for i in range(4)]
    f = folds_of(clips, 4)
    assert sorted(f[:8]) == [0, 0, 1, 1, 2, 2, 3, 3] and sorted(f[8:]) == [0, 1, 2, 3]
