"""Each simulation changes the image where it should and not elsewhere, on a real photo."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.conditions import CONDITIONS, MACHADO_2009, simulate


@pytest.fixture(scope="module")
def photo(eval_data):
    return cv2.resize(cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000000139.jpg")), (640, 480))


def region_mean(img, ys, xs):
    return float(img[ys, xs].astype(np.float32).mean())


CENTRE = (slice(200, 280), slice(280, 360))
BORDER_TOP = (slice(0, 30), slice(0, 640))
BORDER_BOTTOM = (slice(450, 480), slice(0, 640))
LEFT = (slice(0, 480), slice(0, 200))
RIGHT = (slice(0, 480), slice(440, 640))


def sharpness(img):
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var())


@pytest.mark.parametrize("name", sorted(CONDITIONS))
def test_zero_severity_is_identity_and_more_severity_changes_more(name, photo):
    assert np.array_equal(simulate(name, photo, 0.0, t=0.1), photo)
    diffs = [np.abs(simulate(name, photo, s, t=0.06).astype(np.int16) - photo).mean() for s in (0.3, 0.9)]
    assert 0 < diffs[0] < diffs[1], (name, diffs)
    out = simulate(name, photo, 0.5, t=0.06)
    assert out.shape == photo.shape and out.dtype == np.uint8


def test_glaucoma_darkens_the_periphery_lower_field_first_and_spares_the_centre(photo):
    out = simulate("glaucoma", photo, 1.0)
    assert region_mean(out, *BORDER_TOP) < 0.2 * region_mean(photo, *BORDER_TOP)
    assert np.array_equal(out[CENTRE], photo[CENTRE])
    mid = simulate("glaucoma", photo, 0.45)
    lost_top = 1 - region_mean(mid, slice(60, 100), slice(0, 640)) / region_mean(photo, slice(60, 100), slice(0, 640))
    lost_bottom = 1 - region_mean(mid, slice(380, 420), slice(0, 640)) / region_mean(photo, slice(380, 420), slice(0, 640))
    assert lost_bottom > lost_top + 0.1


def test_amd_darkens_the_centre_and_leaves_the_periphery(photo):
    out = simulate("amd", photo, 1.0)
    assert region_mean(out, *CENTRE) < 0.3 * region_mean(photo, *CENTRE)
    for corner in ((slice(0, 60), slice(0, 80)), (slice(420, 480), slice(560, 640))):
        assert np.array_equal(out[corner], photo[corner])
    mild = simulate("amd", photo, 0.3)
    assert np.array_equal(mild[BORDER_TOP], photo[BORDER_TOP])       # a small scotoma leaves the top edge


def test_retinitis_pigmentosa_tunnel_and_night_blindness(photo):
    out = simulate("retinitis_pigmentosa", photo, 0.8)
    assert region_mean(out, *BORDER_BOTTOM) < 0.1 * region_mean(photo, *BORDER_BOTTOM)
    assert region_mean(out, *CENTRE) > 0.8 * region_mean(photo, *CENTRE)
    dim = (photo * 0.3).astype(np.uint8)
    keep_bright = region_mean(out, *CENTRE) / region_mean(photo, *CENTRE)
    keep_dim = region_mean(simulate("retinitis_pigmentosa", dim, 0.8), *CENTRE) / region_mean(dim, *CENTRE)
    assert keep_dim < keep_bright - 0.2            # dim scenes lose more light


@pytest.mark.parametrize("side", ["left", "right"])
def test_hemianopia_loses_one_half(side, photo):
    out = simulate(f"hemianopia_{side}", photo, 1.0)
    lost, kept = (LEFT, RIGHT) if side == "left" else (RIGHT, LEFT)
    assert region_mean(out, *lost) < 0.05 * region_mean(photo, *lost)
    assert np.array_equal(out[kept], photo[kept])


def test_diabetic_retinopathy_spots_are_scattered_and_fixed(photo):
    a = simulate("diabetic_retinopathy", photo, 0.7)
    b = simulate("diabetic_retinopathy", photo, 0.7)
    assert np.array_equal(a, b)                                   # lesions do not move between frames
    ratio = (a.astype(np.float32).mean(2) + 1) / (cv2.GaussianBlur(photo, (0, 0), 2.25).astype(np.float32).mean(2) + 1)
    dark = ratio < 0.5
    assert 0.02 < dark.mean() < 0.6
    ys, xs = np.nonzero(dark)
    assert xs.std() > 100 and ys.std() > 80                       # scattered, not one blob


def test_cataracts_blur_yellow_and_lower_contrast(photo):
    out = simulate("cataracts", photo, 0.8)
    assert sharpness(out) < 0.2 * sharpness(photo)
    grey = lambda x: cv2.cvtColor(x, cv2.COLOR_BGR2GRAY).std()  # noqa: E731
    assert grey(out) < 0.7 * grey(photo)                           # contrast loss (measured 0.46x)
    b_ratio = out[..., 0].mean() / out[..., 2].mean()
    # Less blue relative to red (yellowing); the whitish veil dilutes it: measured 0.43 against 0.53.
    assert b_ratio < 0.85 * (photo[..., 0].mean() / photo[..., 2].mean())


def test_myopia_blurs_far_more_than_near(photo):
    out = simulate("myopia", photo, 0.8)
    top = sharpness(out[:160]) / sharpness(photo[:160])
    bottom = sharpness(out[320:]) / sharpness(photo[320:])
    assert top < bottom


def test_low_contrast_pulls_towards_grey(photo):
    out = simulate("low_contrast", photo, 0.8)
    assert out.std() < 0.4 * photo.std()
    assert abs(out.mean() - 128) < abs(photo.mean() - 128) + 5


def test_photophobia_blooms_around_bright_light():
    img = np.full((480, 640, 3), 60, np.uint8)
    cv2.circle(img, (320, 240), 20, (255, 255, 255), -1)
    out = simulate("photophobia", img, 0.8)
    assert out[240, 360].mean() > img[240, 360].mean() + 30       # 40 px outside the lamp: glare
    assert out[20, 20].mean() < img[20, 20].mean() + 25           # far away: only a slight lift


def test_nystagmus_shakes_horizontally_over_time(photo):
    assert np.array_equal(simulate("nystagmus", photo, 1.0, t=0.0), photo)
    moved = simulate("nystagmus", photo, 1.0, t=1 / 16)           # quarter period of 4 Hz: peak shift
    shift = cv2.phaseCorrelate(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32),
                               cv2.cvtColor(moved, cv2.COLOR_BGR2GRAY).astype(np.float32))[0]
    assert abs(shift[0]) > 15 and abs(shift[1]) < 1


# Machado, Oliveira & Fernandes (2009), Table 1, severity 1.0 (typed here from the paper).
PUBLISHED = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


@pytest.mark.parametrize("kind", sorted(PUBLISHED))
def test_colour_matrices_match_published_values_and_are_applied_in_linear_rgb(kind):
    np.testing.assert_allclose(MACHADO_2009[kind], PUBLISHED[kind], atol=1e-6)
    # A pure colour patch comes out as the published matrix predicts (linear RGB, gamma 2.2).
    rgb = np.array([200, 80, 30], np.float32)
    expected = np.clip(np.array(PUBLISHED[kind]) @ (rgb / 255) ** 2.2, 0, 1) ** (1 / 2.2) * 255
    patch = np.full((2, 2, 3), rgb[::-1], np.uint8)               # BGR
    got = simulate(kind, patch, 1.0)[0, 0][::-1].astype(np.float32)
    np.testing.assert_allclose(got, expected, atol=1.5)


def _linear_patch(lin_rgb):
    srgb = np.clip(np.asarray(lin_rgb), 0, 1) ** (1 / 2.2) * 255
    return np.full((2, 2, 3), np.round(srgb[::-1]), np.uint8)       # BGR


@pytest.mark.parametrize("kind", ["protanopia", "deuteranopia"])
def test_colours_on_a_confusion_line_become_the_same_colour(kind):
    """Dichromat matrices are rank 2: colours differing only along the projected-out (red-green)
    direction look identical to the simulated viewer, while they differ clearly to us."""
    null = np.linalg.svd(np.array(PUBLISHED[kind]))[2][-1]
    base = np.array([0.35, 0.3, 0.2])
    a, b = _linear_patch(base + 0.12 * null), _linear_patch(base - 0.12 * null)
    before = np.abs(a.astype(int) - b).max()
    after = np.abs(simulate(kind, a, 1.0).astype(int) - simulate(kind, b, 1.0)).max()
    assert before > 40 and after <= 3, (before, after)


def test_tritan_confusion_is_blue_yellow():
    null = np.linalg.svd(np.array(PUBLISHED["tritanopia"]))[2][-1]
    assert abs(null[2]) > 0.9                                       # the lost axis is mostly blue
    base = np.array([0.3, 0.3, 0.3])
    a, b = _linear_patch(base + 0.15 * null), _linear_patch(base - 0.15 * null)
    before = np.abs(a.astype(int) - b).max()
    after = np.abs(simulate("tritanopia", a, 1.0).astype(int) - simulate("tritanopia", b, 1.0)).max()
    assert after < 0.3 * before


def test_bad_inputs_are_named():
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="condition must be one of"):
        simulate("astigmatism", img, 0.5)
    with pytest.raises(ValueError, match="severity must be between 0 and 1"):
        simulate("glaucoma", img, 1.5)
