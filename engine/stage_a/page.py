"""Document mode's page capture, in Stage A (Qt-free, every frame, no model): find the page in
each frame, say how to move the camera until the whole page is in view and steady, take the
sharpest of the steady frames and flatten it for the text reader (Stage B reads it; the reading
order of what it read is maxsight_app/document.py).

  find_page       the largest four-cornered bright region (a page against a darker table) on a
                  small grey copy: Otsu threshold, the biggest outer contour, its convex hull
                  simplified to four corners; its edges that lie on the frame's border are cut off;
  guidance        "top edge not visible: tilt up" (bottom: tilt down, left: move left, right: move
                  right; several at once: "move further away"), "move closer" when the page fills
                  under MIN_AREA of the picture, "hold still" while the corners move or the page is
                  blurred, "" when the page is whole and steady;
  PageCapture     frame by frame: guidance, and once the page has been whole and steady for
                  STEADY_FRAMES frames, the sharpest of them (variance of the Laplacian inside the
                  page), flattened to a rectangle by its four corners.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


WIDTH = 480                 # page finding works on a copy this wide
MAX_HEIGHT = 4 * WIDTH      # ...and never taller than this, however narrow the frame
MIN_AREA = 0.20             # a page filling less of the picture than this: move closer
BORDER = 0.02               # a corner within this share of the frame's size from its edge touches it
STEADY_MOVE = 0.02          # corners moving less than this share of the diagonal between frames: steady
STEADY_FRAMES = 4           # steady frames, whole page in view, before the sharpest is taken
BLURRED = 60.0              # Laplacian variance inside the page (480 px copy) under this: hold still


@dataclass(frozen=True)
class Page:
    corners: np.ndarray            # [4, 2] float32, frame pixels: top-left, top-right, bottom-right, bottom-left
    area: float                    # share of the picture
    cut: tuple[str, ...]           # edges cut off by the frame: "top", "bottom", "left", "right"


def _order(pts: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    pts = np.asarray(pts, np.float32).reshape(4, 2)
    s, d = pts.sum(1), pts[:, 1] - pts[:, 0]
    return np.stack([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]])


def find_page(image: np.ndarray) -> Page | None:
    """The page in a [H, W, 3] BGR frame, or None when no page-like region is found."""
    if image is None or image.size == 0 or image.ndim != 3:
        return None
    h, w = image.shape[:2]
    scale = min(WIDTH / w, MAX_HEIGHT / h)
    small = cv2.resize(image, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA)
    grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
    if grey.std() < 8:                       # one flat colour: no page edge anywhere
        return None
    _, mask = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))      # text holes closed
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    sh, sw = grey.shape
    area = cv2.contourArea(c) / (sh * sw)
    if area < 0.04 or area > 0.995:
        return None
    hull = cv2.convexHull(c)
    quad = None
    for eps in (0.02, 0.04, 0.06, 0.1):
        approx = cv2.approxPolyDP(hull, eps * cv2.arcLength(hull, True), True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2)
            break
    if quad is None:
        quad = cv2.boxPoints(cv2.minAreaRect(hull))
    quad = _order(quad)
    bx, by = BORDER * sw, BORDER * sh
    cut = []
    if min(quad[0][1], quad[1][1]) <= by:
        cut.append("top")
    if max(quad[2][1], quad[3][1]) >= sh - 1 - by:
        cut.append("bottom")
    if min(quad[0][0], quad[3][0]) <= bx:
        cut.append("left")
    if max(quad[1][0], quad[2][0]) >= sw - 1 - bx:
        cut.append("right")
    return Page(quad / scale, float(area), tuple(cut))


_MOVE = {"top": "tilt up", "bottom": "tilt down", "left": "move left", "right": "move right"}


def guidance(page: Page | None) -> str:
    """What to tell the user about where the page is ("" when the whole page is in view)."""
    if page is None:
        return "I can't find a page: hold the camera about 30 centimetres above it"
    if len(page.cut) >= 3 or ("top" in page.cut and "bottom" in page.cut) or ("left" in page.cut and "right" in page.cut):
        return "the page does not fit: move further away"
    if len(page.cut) == 2:
        a, b = page.cut
        return f"{a} and {b} edges not visible: {_MOVE[a]} and {_MOVE[b].split()[-1]}"
    if len(page.cut) == 1:
        return f"{page.cut[0]} edge not visible: {_MOVE[page.cut[0]]}"
    if page.area < MIN_AREA:
        return "the page is far away: move closer"
    return ""


def page_sharpness(image: np.ndarray, page: Page) -> float:
    """Variance of the Laplacian inside the page, on a WIDTH-wide grey copy."""
    h, w = image.shape[:2]
    scale = min(WIDTH / w, MAX_HEIGHT / h)
    small = cv2.cvtColor(cv2.resize(image, (max(2, round(w * scale)), max(2, round(h * scale))), interpolation=cv2.INTER_AREA),
                         cv2.COLOR_BGR2GRAY)
    mask = np.zeros(small.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(page.corners * scale).astype(np.int32), 255)
    mask = cv2.erode(mask, np.ones((7, 7), np.uint8))
    lap = cv2.Laplacian(small, cv2.CV_32F)
    vals = lap[mask > 0]
    return float(vals.var()) if vals.size > 50 else 0.0


def flatten(image: np.ndarray, corners: np.ndarray, max_side: int = 2000) -> np.ndarray:
    """The page warped to an upright rectangle (its own width and height, at most max_side)."""
    c = np.asarray(corners, np.float32)
    assert c.shape == (4, 2), f"page corners must be [4, 2], got {c.shape}"
    w = max(np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[2] - c[3]))
    h = max(np.linalg.norm(c[3] - c[0]), np.linalg.norm(c[2] - c[1]))
    s = min(1.0, max_side / max(w, h, 1))
    w, h = max(8, int(w * s)), max(8, int(h * s))
    m = cv2.getPerspectiveTransform(c, np.float32([[0, 0], [w, 0], [w, h], [0, h]]))
    return cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


@dataclass(frozen=True)
class CaptureStep:
    guidance: str                  # what to say now ("" when nothing new is needed)
    page: Page | None
    captured: np.ndarray | None = None   # the flattened sharpest page, once


class PageCapture:
    """Fed every frame in document mode; says how to move, then hands over the sharpest steady
    frame of the whole page, once (call `again()` to take another page)."""

    def __init__(self, steady_frames: int = STEADY_FRAMES):
        self.steady_frames = steady_frames
        self.again()

    def again(self) -> None:
        self._prev: Page | None = None
        self._steady: list[tuple[float, np.ndarray, Page]] = []
        self.done = False

    def update(self, image: np.ndarray) -> CaptureStep:
        page = find_page(image)
        if self.done:
            return CaptureStep("", page)
        say = guidance(page)
        moved = True
        if page is not None and self._prev is not None:
            diag = float(np.hypot(*image.shape[:2]))
            moved = float(np.abs(page.corners - self._prev.corners).max()) > STEADY_MOVE * diag
        self._prev = page
        if say:
            self._steady = []
            return CaptureStep(say, page)
        sharp = page_sharpness(image, page)
        if moved or sharp < BLURRED:
            self._steady = []
            return CaptureStep("hold still", page)
        self._steady.append((sharp, image, page))
        if len(self._steady) < self.steady_frames:
            return CaptureStep("hold still", page)
        _, best, best_page = max(self._steady, key=lambda s: s[0])
        self._steady, self.done = [], True
        return CaptureStep("", page, flatten(best, best_page.corners))
