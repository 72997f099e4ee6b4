"""A near thing cut at a side of the picture cannot be sized: whether it is getting nearer is told
from the picture holding still (engine/stage_a/stillness.py). Hand-made pictures whose answer is
known: a held camera in front of a fridge (still), walking up to it (the picture grows), a thing
coming nearer in front of a still camera, no past frame, a blank picture."""
from __future__ import annotations

import cv2
import numpy as np

from engine.stage_a.stillness import PictureStillness
from engine.types import Frame, Urgency

W, H = 480, 640
FRIDGE = (0.0, 10.0, 481.0, 636.0)          # fills the picture's width, 1.4 m ahead (a val-dev photo's box)
LEFT = (0.0, 200.0, 200.0, 600.0)           # cut at the left side


def _texture(seed=0, w=W, h=H) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST), (3, 3), 0)


def _warp(img, scale=1.0, dx=0.0, dy=0.0, centre=None):
    h, w = img.shape[:2]
    cx, cy = centre or (w / 2, h / 2)
    m = np.float32([[scale, 0, dx + (1 - scale) * cx], [0, scale, dy + (1 - scale) * cy]])
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def _held(img, n=5, seed=1):
    """A hand-held camera: a pixel or two of shake and 1% of zoom breathing, as `eval safety` shows a photo."""
    rng = np.random.default_rng(seed)
    return [_warp(img, 1 + rng.uniform(-0.01, 0.01), *rng.uniform(-2, 2, 2)) for _ in range(n - 1)] + [img]


def _push_all(frames, fps=10.0) -> PictureStillness:
    s = PictureStillness()
    for i, f in enumerate(frames):
        s.push(f, i / fps)
    return s


def test_a_held_camera_in_front_of_a_fridge_is_still():
    s = _push_all(_held(_texture()))
    assert s.box_still(FRIDGE) and s.box_still(LEFT)


def test_walking_up_to_it_is_not_still():
    img = _texture()
    frames = [_warp(img, 1.04 ** i) for i in range(5)]      # 4% a frame: 1.4 m away at 0.6 m/s, 10 fps
    s = _push_all(frames)
    assert not s.box_still(FRIDGE) and not s.box_still(LEFT)


def test_a_thing_coming_nearer_in_front_of_a_still_camera_is_not_still():
    """The background holds still; a textured thing at the left edge grows 6% a frame."""
    back, thing = _texture(0), _texture(7, 200, 400)
    frames = []
    for i in range(5):
        f = back.copy()
        s = 1.06 ** i
        grown = cv2.resize(thing, (round(200 * s), round(400 * s)))
        f[200:200 + min(grown.shape[0], 440), 0:grown.shape[1]] = grown[:440]
        frames.append(f)
    s = _push_all(frames)
    grown_box = (0.0, 200.0, 200.0 * 1.06 ** 4, 600.0)
    assert not s.box_still(grown_box)
    assert s.box_still((300.0, 20.0, 470.0, 180.0))          # the wall beside it did hold still


def test_no_past_frame_or_no_texture_cannot_tell():
    s = _push_all([_texture()])
    assert not s.box_still(FRIDGE)
    blank = np.full((H, W, 3), 128, np.uint8)
    assert not _push_all(_held(blank)).box_still(FRIDGE)


def test_a_new_source_starts_afresh():
    s = _push_all(_held(_texture()))
    s.reset()
    s.push(_texture(), 0.0)
    assert not s.box_still(FRIDGE)
    s = _push_all(_held(_texture()))
    s.push(_texture(3), 0.05)                               # the clock went back: another source
    assert not s.box_still(FRIDGE)


def _fridge_urgency(frames, installed_models) -> list[Urgency]:
    from engine.config import EngineConfig
    from engine.pipeline import Pipeline
    from tests.fakes.detectors import ScriptedDetector
    det = ScriptedDetector(None, lambda call: [(FRIDGE, 0, 0.8)], labels=["refrigerator"])
    pipe = Pipeline(EngineConfig(detector="nanodet"), installed_models, detector=det)
    out = []
    for i, f in enumerate(frames):
        r = pipe.step(Frame(i, i / 10, f))
        out += [h.urgency for h in r.hazards if h.label == "refrigerator"]
    return out


def test_standing_at_the_fridge_is_a_caution_walking_up_to_it_a_warning(installed_models):
    img = _texture()
    still = _fridge_urgency(_held(img, 6), installed_models)
    walking = _fridge_urgency([_warp(img, 1.04 ** i) for i in range(6)], installed_models)
    assert still and all(u == Urgency.CAUTION for u in still)
    assert walking and all(u == Urgency.WARNING for u in walking)
