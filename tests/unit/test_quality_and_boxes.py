from __future__ import annotations

import cv2
import numpy as np

from engine.models.boxes import iou_matrix, letterbox, nms_per_class, weighted_box_fusion
from engine.stage_a import quality


import pytest


@pytest.fixture
def photo(eval_data):
    return cv2.imread(str(eval_data / "coco_val2017_128" / "images" / "000000000139.jpg"))


def test_quality_flags(photo):
    _scene = lambda: photo  # noqa: E731
    good = quality.measure(_scene())
    assert not (good.dark or good.blurred or good.covered) and good.score > 0.8
    dark = quality.measure((_scene() * 0.08).astype(np.uint8))
    assert dark.dark and dark.score < good.score
    covered = quality.measure(np.full((480, 640, 3), 20, np.uint8))
    assert covered.covered and covered.score < 0.2
    blurred = quality.measure(cv2.GaussianBlur(_scene(), (0, 0), 6))
    assert blurred.blurred and not blurred.covered


def test_motion_blur_is_flagged(photo, eval_data):
    """A walking user's camera: a 25 px horizontal smear of a COCO photo and of a real (sharp)
    ICDAR street photo is flagged; the sharp originals are not."""
    kernel = np.zeros((25, 25), np.float32)
    kernel[12, :] = 1 / 25
    smeared = quality.measure(cv2.filter2D(photo, -1, kernel))
    assert smeared.blurred and smeared.directionality < 0.6
    street = cv2.imread(str(eval_data / "icdar2015_test_scene_text" / "images" / "img_10.jpg"))
    assert not quality.measure(street).blurred
    assert quality.measure(cv2.filter2D(street, -1, kernel)).blurred
    assert not quality.measure(photo).blurred


def test_uncertainty_rises_with_bad_frames_and_ambiguous_scores(photo):
    good = quality.measure(photo)
    bad = quality.measure(np.full((480, 640, 3), 5, np.uint8))
    assert quality.uncertainty(bad, []) > 0.7 > quality.uncertainty(good, [])
    assert quality.uncertainty(good, [0.5, 0.45]) > quality.uncertainty(good, [0.95, 0.97])


def test_letterbox_maps_boxes_back():
    img = np.zeros((300, 600, 3), np.uint8)
    canvas, lb = letterbox(img, 416)
    assert canvas.shape == (416, 416, 3)
    frame_box = np.array([[60.0, 30.0, 300.0, 150.0]])
    in_box = frame_box * lb.scale + np.array([lb.pad_x, lb.pad_y, lb.pad_x, lb.pad_y])
    np.testing.assert_allclose(lb.to_frame(in_box, 600, 300), frame_box, atol=1e-4)


def test_nms_keeps_best_per_class():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.array([0, 0, 1, 0])
    keep = nms_per_class(boxes, scores, classes, iou=0.5)
    assert list(keep) == [0, 2, 3]


def test_weighted_box_fusion_averages_agreeing_boxes():
    a = (np.array([[0, 0, 10, 10]], np.float32), np.array([0.8], np.float32), np.array([0]))
    b = (np.array([[1, 0, 11, 10]], np.float32), np.array([0.8], np.float32), np.array([0]))
    only_b = (np.array([[50, 50, 60, 60]], np.float32), np.array([0.6], np.float32), np.array([0]))
    boxes, scores, classes = weighted_box_fusion([a, (np.concatenate([b[0], only_b[0]]), np.concatenate([b[1], only_b[1]]), np.concatenate([b[2], only_b[2]]))])
    order = np.argsort(-scores)
    np.testing.assert_allclose(boxes[order[0]], [0.5, 0.0, 10.5, 10.0])
    assert scores[order[0]] == np.float32(0.8)
    assert scores[order[1]] == np.float32(0.3)     # seen by one model of two: halved
    assert iou_matrix(boxes[order[1]:order[1] + 1], only_b[0])[0, 0] == 1.0
