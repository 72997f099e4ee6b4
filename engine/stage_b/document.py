"""Document mode, the engine's side (Qt-free): find the page in each frame, say how to move the
camera until the whole page is in view and steady, take the sharpest of the steady frames, flatten
the page, and put what the reader found in reading order (columns, headings before what they head,
paragraphs), with a cursor that moves by line, paragraph and word.

  find_page       the largest four-cornered bright region (a page against a darker table) on a
                  small grey copy: Otsu threshold, the biggest outer contour, its convex hull
                  simplified to four corners; its edges that lie on the frame's border are cut off;
  guidance        "top edge not visible: tilt up" (bottom: tilt down, left: move left, right: move
                  right; several at once: "move further away"), "move closer" when the page fills
                  under MIN_AREA of the picture, "hold still" while the corners move or the page is
                  blurred, "" when the page is whole and steady;
  PageCapture     frame by frame: guidance, and once the page has been whole and steady for
                  STEADY_FRAMES frames, the sharpest of them (variance of the Laplacian inside the
                  page), flattened to a rectangle by its four corners;
  layout          lines (TextRead, in page pixels) -> paragraphs in reading order: lines whose
                  letters are HEADING_RATIO times wider than the median (and taller) are headings; lines spanning most of the page
                  width divide it into bands; inside a band, gutters (x ranges no line crosses)
                  split columns, read left to right, each top to bottom; a vertical gap over
                  PARAGRAPH_GAP line heights, a heading, or a new column starts a paragraph;
  DocumentCursor  line / paragraph / word moves, repeat, spell, and the text to save.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from engine.types import TextRead

WIDTH = 480                 # page finding works on a copy this wide
MAX_HEIGHT = 4 * WIDTH      # ...and never taller than this, however narrow the frame
MIN_AREA = 0.20             # a page filling less of the picture than this: move closer
BORDER = 0.02               # a corner within this share of the frame's size from its edge touches it
STEADY_MOVE = 0.02          # corners moving less than this share of the diagonal between frames: steady
STEADY_FRAMES = 4           # steady frames, whole page in view, before the sharpest is taken
BLURRED = 60.0              # Laplacian variance inside the page (480 px copy) under this: hold still
HEADING_RATIO = 1.4         # a heading's letters are this much wider than the page's median (and it is taller)
PARAGRAPH_GAP = 1.0         # extra gap, in median line heights, that starts a paragraph
WIDE_LINE = 0.6             # a line wider than this share of the text's width spans the columns


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


# -- reading order ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Paragraph:
    lines: tuple[str, ...]
    heading: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.lines)


@dataclass(frozen=True)
class Document:
    paragraphs: tuple[Paragraph, ...]

    @property
    def lines(self) -> list[tuple[int, str]]:
        """(paragraph index, line) for every line, in reading order."""
        return [(i, ln) for i, p in enumerate(self.paragraphs) for ln in p.lines]

    def text(self) -> str:
        """Plain text to save: paragraphs separated by blank lines, headings on their own."""
        return "\n\n".join("\n".join(p.lines) for p in self.paragraphs) + ("\n" if self.paragraphs else "")


def _box(t: TextRead) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in t.box], [p[1] for p in t.box]
    return min(xs), min(ys), max(xs), max(ys)


def _columns(lines: list[TextRead]) -> list[list[TextRead]]:
    """Split lines into columns at gutters: x ranges that no line crosses."""
    spans = sorted((_box(t)[0], _box(t)[2]) for t in lines)
    cuts, end = [], spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 > end:
            cuts.append((end + x0) / 2)
        end = max(end, x1)
    cols: list[list[TextRead]] = [[] for _ in range(len(cuts) + 1)]
    for t in lines:
        cx = (_box(t)[0] + _box(t)[2]) / 2
        cols[sum(cx > c for c in cuts)].append(t)
    return [sorted(c, key=lambda t: _box(t)[1]) for c in cols if c]


def layout(lines: list[TextRead]) -> Document:
    """Lines found on a page -> paragraphs in reading order."""
    lines = [t for t in lines if t.text.strip()]
    if not lines:
        return Document(())
    heights = np.array([_box(t)[3] - _box(t)[1] for t in lines])
    med_h = float(np.median(heights))
    # Letter size: the width a character takes (a larger font is wider per letter); line height
    # alone differs by a third between lines with and without descenders.
    pitch = {id(t): (_box(t)[2] - _box(t)[0]) / max(1, len(t.text)) for t in lines}
    med_p = float(np.median(list(pitch.values())))
    x_lo = min(_box(t)[0] for t in lines)
    x_hi = max(_box(t)[2] for t in lines)
    width = max(x_hi - x_lo, 1.0)
    heading = {id(t): pitch[id(t)] >= HEADING_RATIO * med_p and (_box(t)[3] - _box(t)[1]) >= 1.15 * med_h for t in lines}
    wide = [t for t in lines if (_box(t)[2] - _box(t)[0]) >= WIDE_LINE * width or heading[id(t)]]
    wide_ids = {id(t) for t in wide}
    # Bands: the page from top to bottom, cut at every line that spans the columns.
    order: list[list[TextRead] | TextRead] = []
    rest = sorted((t for t in lines if id(t) not in wide_ids), key=lambda t: _box(t)[1])
    for w in sorted(wide, key=lambda t: _box(t)[1]):
        above = [t for t in rest if (_box(t)[1] + _box(t)[3]) / 2 < (_box(w)[1] + _box(w)[3]) / 2]
        rest = [t for t in rest if t not in above]
        if above:
            order.append(above)
        order.append(w)
    if rest:
        order.append(rest)
    paragraphs: list[Paragraph] = []
    current: list[str] = []

    def close():
        if current:
            paragraphs.append(Paragraph(tuple(current)))
            current.clear()

    prev: TextRead | None = None
    for item in order:
        if isinstance(item, TextRead):
            if heading[id(item)]:
                close()
                paragraphs.append(Paragraph((item.text,), heading=True))
                prev = None
            else:
                if prev is not None and _box(item)[1] - _box(prev)[3] > PARAGRAPH_GAP * med_h:
                    close()
                current.append(item.text)
                prev = item
            continue
        for col in _columns(item):
            close()
            prev = None
            for t in col:
                if prev is not None and _box(t)[1] - _box(prev)[3] > PARAGRAPH_GAP * med_h:
                    close()
                current.append(t.text)
                prev = t
        close()
        prev = None
    close()
    return Document(tuple(paragraphs))


@dataclass
class DocumentCursor:
    """Where the user is reading: moves by line, paragraph and word; says what to speak."""
    document: Document
    index: int = 0                 # line, in reading order
    word: int = 0
    _lines: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lines = self.document.lines

    @property
    def empty(self) -> bool:
        return not self._lines

    def line(self) -> str:
        if self.empty:
            return "The page has no text I can read"
        p, text = self._lines[self.index]
        return ("Heading: " if self.document.paragraphs[p].heading else "") + text

    def move_line(self, step: int) -> str:
        if self.empty:
            return self.line()
        new = self.index + step
        if not 0 <= new < len(self._lines):
            return "End of the page" if step > 0 else "Top of the page"
        self.index, self.word = new, 0
        return self.line()

    def move_paragraph(self, step: int) -> str:
        if self.empty:
            return self.line()
        para = self._lines[self.index][0] + step
        if not 0 <= para < len(self.document.paragraphs):
            return "End of the page" if step > 0 else "Top of the page"
        self.index = next(i for i, (p, _) in enumerate(self._lines) if p == para)
        self.word = 0
        return self.line()

    def words(self) -> list[str]:
        return [] if self.empty else self._lines[self.index][1].split()

    def move_word(self, step: int) -> str:
        ws = self.words()
        if not ws:
            return self.line()
        new = self.word + step
        if not 0 <= new < len(ws):
            return "End of the line" if step > 0 else "Start of the line"
        self.word = new
        return ws[new]

    def spell(self) -> str:
        """The current word letter by letter ("C, A, T"); digits and symbols as they are."""
        ws = self.words()
        if not ws:
            return self.line()
        w = ws[min(self.word, len(ws) - 1)]
        return ", ".join("capital " + c if c.isupper() and not w.isupper() else c for c in w)
