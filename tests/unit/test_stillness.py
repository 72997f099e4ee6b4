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


def _noisy(img, seed, sigma=2.0):
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _plain_person(back, s):
    """A person in a plain coat cut at the left and the bottom, grown s times about the bottom-left
    corner; their box holds some background beside the head."""
    f, mask = back.copy(), np.zeros((H, W), np.uint8)

    def p(x, y):
        return int(round(x * s)), int(round(H - (H - y) * s))
    cv2.circle(mask, p(60, 150), int(round(45 * s)), 255, -1)
    cv2.rectangle(mask, p(-100, 200), p(130, H + 50), 255, -1)
    f[mask > 0] = (55, 50, 60)
    return f, (0.0, max(0.0, H - (H - 105) * s), min(float(W), 160 * s), float(H))


def _thin_chair(s):
    """Dark bars of a chair's back, seat and legs, s times its size at 1.4 m (about the centre)."""
    m, c = np.zeros((H, W), np.uint8), np.array([W / 2, H / 2])

    def p(x, y):
        return tuple(int(round(v)) for v in c + s * (np.array([x, y]) - c))
    for a, b in [((-80, 260), (200, 260)), ((-80, 330), (200, 330)), ((200, 260), (200, 470)),
                 ((-80, 470), (200, 470)), ((200, 470), (200, 640)), ((60, 470), (60, 640))]:
        cv2.line(m, p(*a), p(*b), 255, max(1, int(round(10 * s))))
    ys, xs = np.nonzero(m)
    return m, (0.0, float(ys.min()), float(xs.max()), float(ys.max()))


def test_a_plain_thing_coming_nearer_is_not_still_though_its_box_is_mostly_background():
    """Corners on a thing coming nearer are the ones tracking loses: they count against the box
    (found by a review: counted as dropped, the background left in the box said 'still')."""
    for growth in (1.03, 1.05, 1.10, 1.15):
        for seed in range(3):
            frames = []
            for i in range(5):
                f, box = _plain_person(_texture(seed), growth ** i)
                frames.append(_noisy(f, i))
            assert not _push_all(frames).box_still(box), (growth, seed)


def test_walking_at_a_thin_chair_with_far_background_is_not_still():
    for speed, far in ((0.3, 6.0), (0.6, 10.0), (1.0, 20.0), (1.2, 30.0)):
        for seed in range(3):
            frames = []
            for i in range(5):
                walked = speed * i / 10
                f = _warp(_texture(seed), far / (far - walked))
                m, box = _thin_chair(1.4 / (1.4 - walked))
                f[m > 0] = (30, 30, 30)
                frames.append(_noisy(f, 10 * seed + i))
            assert not _push_all(frames).box_still(box), (speed, far, seed)


def test_a_frozen_picture_or_a_repeated_clock_says_nothing_new():
    img = _texture()
    walking = [_warp(img, 1.04 ** i) for i in range(5)]
    frozen = _push_all(walking + [walking[-1]] * 5)          # the camera stalls: the same picture 0.5 s
    assert not frozen.box_still(FRIDGE)
    s = _push_all(walking)
    s.push(walking[-1], 0.4)                                  # the same moment again: the past is kept
    assert len(s._frames) == 5 and not s.box_still(FRIDGE)


def test_odd_pictures_and_boxes_cannot_tell_and_never_raise():
    s = _push_all(_held(_texture()))
    for box in [(0, 0, 0, 0), (300, 300, 100, 100), (-50, -50, -10, -10), (float("nan"), 0, 10, 10)]:
        assert s.box_still(box) in (True, False)
    assert not s.box_still((float("nan"), 0, 10, 10))
    for odd in (np.zeros((0, 0, 3), np.uint8), np.zeros((1, 20000, 3), np.uint8), np.zeros((64, 64, 3), np.float32)):
        s.push(odd, 0.6)
        assert not s.box_still(FRIDGE)
    s.push(_texture(), float("nan"))
    assert not s.box_still(FRIDGE)
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in _held(_texture())]
    assert _push_all(grey).box_still(FRIDGE)                  # a grey camera works as well


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
