"""The unit of training data (one image and its objects) and the error a malformed dataset raises,
shared by every reader (data.py: COCO, yolo.py: YOLO layout, distill.py: teacher frames) and by
the augmentations, which is why they live apart from any reader."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class DataError(ValueError):
    """A malformed dataset, as one sentence naming the file and the field."""


@dataclass
class Sample:
    """One image and its objects, in that image's pixels."""
    image: np.ndarray                      # [H, W, 3] uint8 BGR
    boxes: np.ndarray                      # [N, 4] float32 xyxy
    classes: np.ndarray                    # [N] int64, contiguous 0..K-1
    zones: np.ndarray                      # [N] int64, derived in the original image (labels.py)
    urgency: np.ndarray                    # [N] int64 per object
    scores: np.ndarray = field(default=None)   # [N] float32: 1 for ground truth, teacher score for pseudo-labels

    def __post_init__(self):
        if self.scores is None:
            self.scores = np.ones(len(self.boxes), np.float32)
