"""Undoing a pan's sideways smear before reading: the smear's length is found from the picture
alone, a sharp or otherwise blurred picture is left as it is, and a smeared word is read again."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.stage_b.unsmear import smear_length, steady, unsmear


def sign(text="PHARMACY 75", width=640, height=360, seed=0):
    """A street-like picture: textured background, a light sign with dark letters."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    img += np.linspace(60, 160, width, dtype=np.float32)[None, :, None]          # light across a wall
    for _ in range(12):                                                           # windows, bricks, posts
        x, y = int(rng.integers(0, width - 60)), int(rng.integers(0, height - 60))
        img[y:y + int(rng.integers(10, 60)), x:x + int(rng.integers(10, 60))] = rng.integers(20, 230, 3)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    cv2.rectangle(img, (120, 140), (540, 220), (235, 235, 235), -1)
    cv2.putText(img, text, (140, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 20), 2, cv2.LINE_AA)
    return img


def smeared(img, length, vertical=False):
    k = np.full((length, 1) if vertical else (1, length), 1.0 / length, np.float32)
    return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("length", [5, 9, 14, 20])
def test_the_smear_is_measured_from_the_picture_alone(length):
    gray = cv2.cvtColor(smeared(sign(), length), cv2.COLOR_BGR2GRAY)
    assert smear_length(gray) == pytest.approx(length, abs=1)


def test_a_sharp_picture_or_an_up_and_down_blur_is_left_as_it_is():
    img = sign()
    out, length = steady(img)
    assert length is None and out is img
    assert steady(smeared(img, 9, vertical=True))[1] is None
    assert steady(cv2.GaussianBlur(img, (0, 0), 2.5))[1] is None            # out of focus is not a pan
    flat = np.full((360, 640, 3), 128, np.uint8)
    assert steady(flat)[1] is None and steady(flat[:20, :40])[1] is None      # nothing to measure: no error


def test_unsmearing_brings_the_picture_back_near_the_sharp_one():
    img = sign()
    blurred = smeared(img, 11)
    fixed = unsmear(blurred, 11)
    assert fixed.shape == img.shape and fixed.dtype == np.uint8
    def edges(a):                     # the letters' upright strokes, on the sign
        gray = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY).astype(np.float32)
        g = cv2.Sobel(gray, cv2.CV_32F, 1, 0)[140:220, 120:540].ravel()
        return g - g.mean()
    like_sharp = lambda a: float(edges(a) @ edges(img) / np.linalg.norm(edges(a)) / np.linalg.norm(edges(img)))
    assert like_sharp(blurred) < 0.3 and like_sharp(fixed) > 0.8, (like_sharp(blurred), like_sharp(fixed))
    # the smear is undone where it is, not shifted: the sign's left edge stays put
    col = lambda a: int(np.argmax(np.abs(np.diff(a[180, 100:160].astype(np.float32).mean(axis=1)))))
    assert abs(col(fixed) - col(img)) <= 1


@pytest.mark.slow
def test_a_word_smeared_by_a_pan_is_read():
    from engine.stage_b.ocr import BACKGROUND, TextReader
    from dataclasses import replace
    reader = TextReader()
    blurred = smeared(sign(), 11)
    read = lambda options: " ".join(t.text for t in reader.read(blurred, options=options)).upper()
    assert "PHARMACY" in read(BACKGROUND), read(BACKGROUND)
    assert "PHARMACY" not in read(replace(BACKGROUND, unsmear=False))      # what the reader did before


def _line(text, score, x0, x1, y0=10, y1=30):
    return (np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), text, score, ())


def test_the_unsmeared_reading_only_adds_or_betters_lines():
    from engine.stage_b.ocr import better_lines
    plain = [_line("SMUS", 0.6, 0, 100), _line("EXIT", 0.97, 200, 300)]
    fixed = [_line("NUS", 0.95, 5, 95), _line("IEXT", 0.9, 200, 300), _line("75", 0.8, 400, 440)]
    assert [t for _, t, _, _ in better_lines(plain, fixed)] == ["NUS", "EXIT", "75"]
    assert better_lines(plain, []) == plain
    # one better line over two weaker ones of the first reading replaces both
    two = [_line("GA", 0.5, 0, 50), _line("TE", 0.5, 50, 100)]
    assert [t for _, t, _, _ in better_lines(two, [_line("GATE", 0.9, 0, 100)])] == ["GATE"]


@pytest.mark.slow
def test_a_large_sharp_sign_the_cepstrum_takes_for_a_smear_is_still_read():
    """Letters of even stroke width leave a box's cepstral peak too: the picture as it is is read
    as well, so "read text now" held up to an EXIT sign still says EXIT."""
    from engine.stage_b.ocr import TextReader
    img = np.full((360, 640, 3), 235, np.uint8)
    cv2.putText(img, "EXIT", (110, 250), cv2.FONT_HERSHEY_SIMPLEX, 4.0, (20, 20, 20), 16, cv2.LINE_AA)
    assert steady(img)[1] is not None                    # taken for a smear...
    reader = TextReader()
    assert [t.text for t in reader.read(img)] == ["EXIT"]
    assert [t.text for t in reader.read(img, asked=True)] == ["EXIT"]
