"""Is the picture still? A near thing cut at a side of the picture cannot be sized, so the tracker
cannot tell whether it is getting nearer (Track.not_closing is False: a warning). Its picture can:
a thing that comes nearer, or that the user walks towards, grows in the image, and the rest of the
picture does not move with it in one piece. Standing at the fridge, or at a desk with a chair in
front, the whole picture stays as it was, up to the camera turning or shaking a little.

The test compares the frame now with the one about REF_AGE_S ago (a small grey copy): corners of
the old frame are followed to the new one (pyramidal Lucas-Kanade, checked back again) and one
homography is fitted to all of them (a camera that only turns moves the picture by exactly one).
The picture is still when that fit holds for nearly all the corners and does not scale the
picture; a box is still when, beside that, the corners inside it follow the same fit and it does
not scale the box. Walking moves near things against far ones (parallax: the fit fails) and scales
what is ahead; a thing coming nearer by itself moves against the rest. Anything else (too few
corners, no old frame, the user walking, the thing moving) is "cannot tell": a warning, as before.

Fitted on the rendered walks of `eval collide` (dev seeds): at 2 px, 481 of 540 frames of a
camera standing with a walker's sway were still, and 0 of 224 boxes of obstacles within 1.5 m
of a walking camera (at 1 px: 138 and 0; at 3 px: 533 and 1).

It only ever says "not getting nearer": it never raises an urgency, and it never gives a time to
contact.
"""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np


WIDTH = 320                 # the grey copy's width (px)
KEEP_S = 1.0                # how much of the past is kept
REF_AGE_S = 0.4             # the frame compared with is the one nearest this age ...
MIN_AGE_S = 0.09            # ... and no younger than this (one frame at 10 fps)
MAX_SCALE_CHANGE = 0.03     # |ln scale| over the interval; 1.5 m away this is 0.11 m/s over 0.4 s
FIT_PX = 2.0                # a corner fits the picture's homography within this (px, at WIDTH)
BACK_PX = 0.5               # forward-backward check (px)
MIN_POINTS = 20             # corners followed over the whole picture
MIN_FIT_SHARE = 0.8         # of them fitting the one homography (a passer-by may take the rest)
MIN_BOX_POINTS = 6          # corners inside the box ...
MIN_BOX_FIT_SHARE = 0.9     # ... nearly all of which fit it


class PictureStillness:
    """Keeps small grey copies of the last second's frames; answers for the newest one."""

    def __init__(self) -> None:
        self._frames: deque = deque()      # (t, grey image, scale from frame to copy)
        self._fit: tuple | None = None     # for the newest frame, computed when first asked
        self._fitted = False

    def reset(self) -> None:
        self._frames.clear()
        self._fit, self._fitted = None, False

    def push(self, image: np.ndarray, t: float) -> None:
        h, w = image.shape[:2]
        scale = min(1.0, WIDTH / float(w))
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        if scale < 1.0:
            grey = cv2.resize(grey, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if self._frames and (t <= self._frames[-1][0] or grey.shape != self._frames[-1][1].shape):
            self._frames.clear()            # a new source, or the clock went back
        self._frames.append((t, grey, scale))
        while self._frames and t - self._frames[0][0] > KEEP_S:
            self._frames.popleft()
        self._fit, self._fitted = None, False

    def box_still(self, box) -> bool:
        """True when the whole picture, and this box (frame pixels) in it, held still over the last
        REF_AGE_S; False when it did not or this cannot tell."""
        fit = self._picture_fit()
        if fit is None:
            return False
        hom, points, inliers = fit
        _, _, scale = self._frames[-1]
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        inside = (points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)
        if int(inside.sum()) < MIN_BOX_POINTS or float(inliers[inside].mean()) < MIN_BOX_FIT_SHARE:
            return False
        # the picture's fit maps the box to now; a box that grew there is coming nearer
        return _scale_change(hom, (x0, y0, x1, y1), inverse=True) <= MAX_SCALE_CHANGE

    def _picture_fit(self):
        """(the picture's homography from then to now, corner positions now (N, 2), which of them
        fit it) when the picture as a whole held still; None when it did not or this cannot tell."""
        if self._fitted:
            return self._fit
        self._fitted = True
        ref = self._reference()
        if ref is None:
            return None
        old, new = ref, self._frames[-1][1]
        p0 = cv2.goodFeaturesToTrack(old, maxCorners=400, qualityLevel=0.01, minDistance=6, blockSize=7)
        if p0 is None or len(p0) < MIN_POINTS:
            return None
        lk = dict(winSize=(15, 15), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(old, new, p0, None, **lk)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(new, old, p1, None, **lk)
        ok = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm((back - p0).reshape(-1, 2), axis=1) <= BACK_PX)
        if ok.sum() < MIN_POINTS:
            return None
        a, b = p0.reshape(-1, 2)[ok], p1.reshape(-1, 2)[ok]
        hom, _ = cv2.findHomography(a, b, cv2.RANSAC, FIT_PX)
        if hom is None:
            return None
        inliers = np.linalg.norm(_map(hom, a) - b, axis=1) <= FIT_PX
        h, w = old.shape[:2]
        if inliers.mean() < MIN_FIT_SHARE or _scale_change(hom, (0.0, 0.0, float(w), float(h))) > MAX_SCALE_CHANGE:
            return None
        self._fit = (hom, b, inliers)
        return self._fit

    def _reference(self) -> np.ndarray | None:
        t = self._frames[-1][0] if self._frames else None
        old = [(abs(t - REF_AGE_S - ft), g) for ft, g, _ in list(self._frames)[:-1] if t - ft >= MIN_AGE_S]
        return min(old, key=lambda x: x[0])[1] if old else None


def _map(hom: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), hom).reshape(-1, 2)


def _scale_change(hom: np.ndarray, box, inverse: bool = False) -> float:
    """|ln| of how much the fit scales this box (the square root of its area's change): a turn of
    the camera leaves it near 0, coming nearer raises it. inverse: the box is where it is now."""
    x0, y0, x1, y1 = box
    corners = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    try:
        mapped = _map(np.linalg.inv(hom) if inverse else hom, corners)
    except np.linalg.LinAlgError:
        return float("inf")
    before, after = cv2.contourArea(corners), cv2.contourArea(mapped)
    if before <= 0 or after <= 0:
        return float("inf")
    return abs(np.log(after / before)) / 2
