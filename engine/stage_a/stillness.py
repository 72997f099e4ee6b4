"""Is the picture still? A near thing cut at a side of the picture cannot be sized, so the tracker
cannot tell whether it is getting nearer (Track.not_closing is False: a warning). Its picture can:
a thing that comes nearer, or that the user walks towards, grows in the image, and the rest of the
picture does not move with it in one piece. Standing at the fridge, or at a desk with a chair in
front, the whole picture stays as it was, up to the camera turning or shaking a little.

The test compares the frame now with the one about REF_AGE_S ago (a small grey copy): corners of
the old frame are followed to the new one (pyramidal Lucas-Kanade, checked back again) and one
homography is fitted to all of them (a camera that only turns moves the picture by exactly one).
The picture is still when that fit holds for nearly all the corners and does not scale the
picture. A box is still when, beside that, nearly all the corners found inside it were followed
AND fit the picture's homography (a corner lost on the way counts against it: corners on a thing
coming nearer are the ones tracking loses), and those corners did not scale either. Walking moves
near things against far ones (parallax: the fit fails) and scales what is ahead; a thing coming
nearer by itself moves against the rest. Anything else (too few corners, no old frame, the user
walking, the thing moving, a frozen picture) is "cannot tell": a warning, as before.

Fitted on the rendered walks of `eval collide` (dev seeds): at 2 px, 481 of 540 frames of a
camera standing with a walker's sway were still, and 0 of 224 boxes of obstacles within 1.5 m
of a walking camera (at 1 px: 138 and 0; at 3 px: 533 and 1). With lost corners counted against
a box (a review's fix), a box over half the standing picture is still on 266 of those 540 frames.

It only ever says "not getting nearer": it never raises an urgency, and it never gives a time to
contact. hazards.from_tracks asks it only about things that cannot move by themselves.
"""
from __future__ import annotations

import logging
import math
from collections import deque

import cv2
import numpy as np

log = logging.getLogger(__name__)

WIDTH = 320                 # the grey copy's width (px)
KEEP_S = 1.0                # how much of the past is kept
REF_AGE_S = 0.4             # the frame compared with is the one nearest this age ...
MIN_AGE_S = 0.09            # ... and no younger than this (one frame at 10 fps)
# |ln scale| allowed: this rate times the reference's age (1.4 m away: 0.1 m/s), and never less
# than the floor (a held camera's breathing and the fit's own noise): just after a start, with a
# 0.1 s old reference, a thing approached at under 0.28 m/s is a caution until an older
# reference shows it growing (then a warning).
MAX_SCALE_RATE = 0.075      # 1/s
MIN_SCALE_TOL = 0.02
FIT_PX = 2.0                # a corner fits the picture's homography within this (px, at WIDTH)
BACK_PX = 0.5               # forward-backward check (px)
MIN_POINTS = 20             # corners followed over the whole picture
MIN_FIT_SHARE = 0.8         # of them fitting the one homography (a passer-by may take the rest)
MIN_BOX_POINTS = 6          # corners found inside the box ...
MIN_BOX_FIT_SHARE = 0.9     # ... nearly all of which were followed and fit it
_LK = dict(winSize=(15, 15), maxLevel=2, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


class _Fit:
    """The picture's motion from the reference frame to now."""

    def __init__(self, hom: np.ndarray, before: np.ndarray, moved: np.ndarray, fits: np.ndarray, after: np.ndarray,
                 tolerance: float):
        self.hom = hom              # reference -> now
        self.before = before        # every corner found in the reference frame (N, 2)
        self.moved = moved          # where the homography puts each of them now
        self.fits = fits            # followed, checked back, and within FIT_PX of the homography
        self.after = after          # where each was followed to (meaningful where fits)
        self.tolerance = tolerance  # |ln scale| allowed for this reference's age


class PictureStillness:
    """Keeps small grey copies of the last second's frames; answers for the newest one."""

    def __init__(self) -> None:
        self._frames: deque = deque()      # (t, grey image, scale from frame to copy)
        self._fit: _Fit | None = None      # for the newest frame, computed when first asked
        self._fitted = False
        self._failed = False               # an error was logged once

    def reset(self) -> None:
        self._frames.clear()
        self._fit, self._fitted = None, False

    def push(self, image: np.ndarray, t: float) -> None:
        self._fit, self._fitted = None, False
        try:
            grey, scale = _small_grey(image)
        except (cv2.error, ValueError, ZeroDivisionError) as exc:
            self._give_up(exc)
            return
        if not math.isfinite(t):
            self._frames.clear()
            return
        if self._frames and self._frames[-1][0] == t and grey.shape == self._frames[-1][1].shape:
            self._frames.pop()               # the same moment again: keep the newer picture
        if self._frames and (t < self._frames[-1][0] or grey.shape != self._frames[-1][1].shape):
            self._frames.clear()             # a new source, or the clock went back
        self._frames.append((t, grey, scale))
        while self._frames and t - self._frames[0][0] > KEEP_S:
            self._frames.popleft()

    def box_still(self, box) -> bool:
        """True when the whole picture, and this box (frame pixels) in it, held still over the last
        REF_AGE_S; False when it did not or this cannot tell."""
        try:
            return self._box_still(box)
        except (cv2.error, ValueError, FloatingPointError) as exc:
            self._give_up(exc)
            return False

    def _box_still(self, box) -> bool:
        fit = self._picture_fit()
        if fit is None or not all(math.isfinite(float(v)) for v in box):
            return False
        scale = self._frames[-1][2]
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        # where the picture's motion puts each old corner now: the corners of what is in the box now
        now = fit.moved
        inside = (now[:, 0] >= x0) & (now[:, 0] <= x1) & (now[:, 1] >= y0) & (now[:, 1] <= y1)
        if int(inside.sum()) < MIN_BOX_POINTS or float(fit.fits[inside].mean()) < MIN_BOX_FIT_SHARE:
            return False
        # the box's own corners must not have grown either (within FIT_PX a small box still can)
        a, b = fit.before[inside & fit.fits], fit.after[inside & fit.fits]
        m, _ = cv2.estimateAffinePartial2D(a, b, method=cv2.LMEDS)
        return m is not None and abs(math.log(max(math.hypot(m[0, 0], m[1, 0]), 1e-6))) <= fit.tolerance

    def _picture_fit(self) -> _Fit | None:
        """The picture's fit when the picture as a whole held still; None when it did not or this
        cannot tell."""
        if self._fitted:
            return self._fit
        self._fitted = True
        ref = self._reference()
        if ref is None:
            return None
        (t0, old, _), (t1, new, _) = ref, self._frames[-1]
        if np.array_equal(old, new):
            return None                       # a frozen picture (a stalled camera, a paused file) says nothing
        p0 = cv2.goodFeaturesToTrack(old, maxCorners=400, qualityLevel=0.01, minDistance=6, blockSize=7)
        if p0 is None or len(p0) < MIN_POINTS:
            return None
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(old, new, p0, None, **_LK)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(new, old, p1, None, **_LK)
        before, after = p0.reshape(-1, 2), p1.reshape(-1, 2)
        followed = (st1.ravel() == 1) & (st2.ravel() == 1) & (np.linalg.norm(back.reshape(-1, 2) - before, axis=1) <= BACK_PX)
        if followed.sum() < MIN_POINTS:
            return None
        hom, _ = cv2.findHomography(before[followed], after[followed], cv2.RANSAC, FIT_PX)
        if hom is None:
            return None
        moved = _map(hom, before)
        fits = followed & (np.linalg.norm(moved - after, axis=1) <= FIT_PX)
        h, w = old.shape[:2]
        tolerance = max(MIN_SCALE_TOL, MAX_SCALE_RATE * (t1 - t0))
        if fits.sum() < MIN_FIT_SHARE * followed.sum() or _scale_change(hom, (0.0, 0.0, float(w), float(h))) > tolerance:
            return None
        self._fit = _Fit(hom, before, moved, fits, after, tolerance)
        return self._fit

    def _reference(self) -> tuple | None:
        """The kept frame nearest REF_AGE_S old (at least MIN_AGE_S), or None."""
        if not self._frames:
            return None
        t = self._frames[-1][0]
        old = [f for f in list(self._frames)[:-1] if t - f[0] >= MIN_AGE_S]
        return min(old, key=lambda f: abs(t - REF_AGE_S - f[0])) if old else None

    def _give_up(self, exc: Exception) -> None:
        # Stage A answers every frame: an odd picture means "cannot tell" (a warning), never a crash.
        if not self._failed:
            log.warning("the stillness test cannot read this picture (%s); near things cut at a side stay warnings", exc)
            self._failed = True
        self.reset()


def _small_grey(image: np.ndarray) -> tuple[np.ndarray, float]:
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"a {image.dtype} picture of shape {image.shape}")
    h, w = image.shape[:2]
    if min(h, w) < 16:
        raise ValueError(f"a picture of {w}x{h} px")
    if image.ndim == 3:
        code = {1: None, 3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}[image.shape[2]]
        image = image[..., 0] if code is None else cv2.cvtColor(image, code)
    scale = min(1.0, WIDTH / float(w))
    if scale < 1.0:
        image = cv2.resize(image, (max(16, round(w * scale)), max(16, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image), scale


def _map(hom: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), hom).reshape(-1, 2)


def _scale_change(hom: np.ndarray, box) -> float:
    """|ln| of how much the fit scales this box (the square root of its area's change): a turn of
    the camera leaves it near 0, walking towards what is in the picture raises it."""
    x0, y0, x1, y1 = box
    corners = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    before, after = cv2.contourArea(corners), cv2.contourArea(_map(hom, corners))
    if before <= 0 or after <= 0:
        return float("inf")
    return abs(math.log(after / before)) / 2
