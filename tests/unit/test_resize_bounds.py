"""Every resize in the engine is bounded by both sides: a 2 x 6000-pixel frame (or 6000 x 2) never
becomes a 320 x 960000 copy (3.9 GB and seconds per frame before the bound)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

MAX_PIXELS = 2_000_000          # far above any measuring copy, far below the unbounded 307 M


@pytest.fixture
def bounded_resize(monkeypatch):
    """cv2.resize that refuses (before allocating) a destination over MAX_PIXELS."""
    real = cv2.resize
    asked = []

    def resize(src, dsize, *a, **kw):
        asked.append(tuple(dsize))
        assert dsize[0] * dsize[1] <= MAX_PIXELS, f"unbounded resize of {src.shape[:2]} to {dsize}"
        return real(src, dsize, *a, **kw)
    monkeypatch.setattr(cv2, "resize", resize)
    return asked


@pytest.mark.parametrize("shape", [(6000, 2, 3), (2, 6000, 3), (6000, 1, 3)])
def test_frame_quality_of_a_thin_frame_is_bounded(bounded_resize, shape):
    from engine.stage_a.quality import measure
    rng = np.random.default_rng(0)
    q = measure(rng.integers(0, 255, shape, dtype=np.uint8))
    assert bounded_resize and 0.0 <= q.score <= 1.0


def test_frame_quality_of_an_ordinary_frame_is_unchanged(bounded_resize):
    from engine.stage_a.quality import measure
    measure(np.zeros((480, 640, 3), np.uint8))
    measure(np.zeros((640, 480, 3), np.uint8))          # portrait: still 320 wide
    assert bounded_resize == [(320, 240), (320, 427)]


@pytest.mark.parametrize("shape", [(6000, 2, 3), (2, 6000, 3)])
def test_page_finding_on_a_thin_frame_is_bounded(bounded_resize, shape):
    from engine.stage_a.page import find_page
    assert find_page(np.full(shape, 200, np.uint8)) is None
    assert bounded_resize


@pytest.mark.parametrize("shape", [(6000, 2, 3), (2, 6000, 3), (3000, 40, 3)])
def test_embedding_preprocess_of_a_thin_crop_is_bounded(bounded_resize, shape):
    from engine.models.mobilenet_v2 import preprocess
    x = preprocess(np.full(shape, 128, np.uint8))
    assert x.shape == (1, 3, 224, 224)


def test_embedding_preprocess_of_an_ordinary_crop_is_unchanged():
    from engine.models.mobilenet_v2 import preprocess
    img = np.random.default_rng(1).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    h, w = img.shape[:2]
    scale = 256 / 200
    ref = cv2.resize(img, (max(224, round(w * scale)), max(224, round(h * scale))), interpolation=cv2.INTER_AREA)
    y0, x0 = (ref.shape[0] - 224) // 2, (ref.shape[1] - 224) // 2
    from engine.models.mobilenet_v2 import imagenet_chw
    assert np.array_equal(preprocess(img), imagenet_chw(ref[y0:y0 + 224, x0:x0 + 224])[None])
