"""Document mode, engine side, on hand-made page images with known text and known crops: the page
is found, each cut-off edge gets its own guidance, the sharpest steady frame is taken, the page
is flattened; reading order handles columns, headings and paragraphs; the cursor moves by line,
paragraph and word and spells. The slow test reads a rendered two-column page with the real
reader and checks the order of what it says."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from engine.stage_a.page import PageCapture, find_page, flatten, guidance
from engine.types import TextRead
from maxsight_app.document import Document, DocumentCursor, Paragraph, layout

FONT = cv2.FONT_HERSHEY_SIMPLEX
HEADING = "OPENING HOURS"
LEFT = ["Monday to Friday", "nine to five", "", "Saturday mornings", "ten to one"]
RIGHT = ["Closed on Sundays", "and bank holidays", "", "Call us on", "five five five"]


def squashed(text: str) -> str:
    """Text without case or spaces: the reader's word gaps differ between CPUs ("Mondayto Friday" on
    one, "Monday to Friday" on another: ONNX Runtime picks other kernels), its letters in order do not."""
    return "".join(text.lower().split())


def page_image(w: int = 900, h: int = 1100) -> np.ndarray:
    """A white page: a large heading across both columns, then two columns of two paragraphs."""
    p = np.full((h, w, 3), 245, np.uint8)
    cv2.putText(p, HEADING, (60, 120), FONT, 2.0, (10, 10, 10), 4, cv2.LINE_AA)
    for col, lines in ((60, LEFT), (480, RIGHT)):
        y = 240
        for line in lines:
            if line:
                cv2.putText(p, line, (col, y), FONT, 1.0, (20, 20, 20), 2, cv2.LINE_AA)
            y += 60 if line else 40
    return p


def scene(page: np.ndarray, x: int, y: int, size=(1280, 720), scale: float = 0.55) -> np.ndarray:
    """The page photographed on a dark, grainy table at (x, y) (it may stick out of the frame)."""
    rng = np.random.default_rng(1)
    img = np.clip(rng.normal(55, 10, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    small = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(size[0], x + w), min(size[1], y + h)
    img[y0:y1, x0:x1] = small[y0 - y:y1 - y, x0 - x:x1 - x]
    return img


@pytest.fixture(scope="module")
def page():
    return page_image()


def test_a_whole_page_is_found_with_its_corners(page):
    img = scene(page, 400, 60)
    p = find_page(img)
    assert p is not None and p.cut == () and guidance(p) == ""
    h, w = (np.array(page.shape[:2]) * 0.55).astype(int)
    expected = np.float32([[400, 60], [400 + w, 60], [400 + w, 60 + h], [400, 60 + h]])
    assert np.abs(p.corners - expected).max() < 12


@pytest.mark.parametrize("x, y, words", [
    (400, -120, "top edge not visible: tilt up"),
    (400, 200, "bottom edge not visible: tilt down"),
    (-150, 60, "left edge not visible: move left"),
    (900, 60, "right edge not visible: move right"),
    (-150, -120, "top and left edges not visible: tilt up and left"),
])
def test_each_cut_edge_says_which_way_to_move(page, x, y, words):
    assert guidance(find_page(scene(page, x, y))) == words


def test_too_close_too_far_and_no_page(page):
    assert guidance(find_page(scene(page, -200, -200, scale=2.0))) == "the page does not fit: move further away"
    assert guidance(find_page(scene(page, 500, 250, scale=0.2))) == "the page is far away: move closer"
    assert guidance(find_page(np.full((720, 1280, 3), 60, np.uint8))).startswith("I can't find a page")
    assert find_page(np.zeros((0, 0, 3), np.uint8)) is None


def test_the_sharpest_steady_frame_is_taken_once(page):
    cap = PageCapture(steady_frames=3)
    sharp = scene(page, 400, 60)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 1.2)
    steps = [cap.update(img) for img in (sharp, blurred, sharp, blurred, blurred)]
    assert [s.guidance for s in steps[:3]] == ["hold still"] * 3
    taken = [s for s in steps if s.captured is not None]
    assert len(taken) == 1
    got = taken[0].captured
    h, w = (np.array(page.shape[:2]) * 0.55).astype(int)
    assert abs(got.shape[0] - h) < 12 and abs(got.shape[1] - w) < 12
    ref = flatten(sharp, find_page(sharp).corners)
    assert cv2.Laplacian(cv2.cvtColor(got, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var() >= \
        0.95 * cv2.Laplacian(cv2.cvtColor(ref, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var()      # the sharp one, not a blurred one
    assert cap.update(sharp).captured is None          # once; again() starts a new page
    cap.again()
    assert cap.update(scene(page, 400, -120)).guidance == "top edge not visible: tilt up"


def test_a_moving_page_is_told_to_hold_still(page):
    cap = PageCapture(steady_frames=2)
    for i in range(6):
        step = cap.update(scene(page, 300 + 40 * i, 60))
        assert step.guidance == "hold still" and step.captured is None


def line(text, x, y, w=300, h=30):
    return TextRead(text, 0.9, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), 12, 0.0)


def test_layout_reads_heading_then_left_column_then_right_with_paragraphs():
    lines = [line("Closed on Sundays", 500, 200), line("OPENING HOURS", 50, 80, 700, 60), line("nine to five", 50, 240),
             line("Monday to Friday", 50, 200), line("and bank holidays", 500, 240), line("ten to one", 50, 370),
             line("Saturday mornings", 50, 330), line("Call us on", 500, 330), line("five five five", 500, 370),
             line("Thank you", 50, 480, 700)]
    doc = layout(lines)
    assert [p.heading for p in doc.paragraphs] == [True, False, False, False, False, False]
    assert [p.lines for p in doc.paragraphs] == [("OPENING HOURS",), ("Monday to Friday", "nine to five"),
                                                 ("Saturday mornings", "ten to one"), ("Closed on Sundays", "and bank holidays"),
                                                 ("Call us on", "five five five"), ("Thank you",)]
    assert doc.text().startswith("OPENING HOURS\n\nMonday to Friday\nnine to five\n\n")
    assert layout([]).paragraphs == ()


def test_cursor_moves_by_line_paragraph_and_word_and_spells():
    doc = Document((Paragraph(("Opening hours",), heading=True), Paragraph(("Monday to Friday", "nine to five")),
                    Paragraph(("Call 555",))))
    c = DocumentCursor(doc)
    assert c.line() == "Heading: Opening hours"
    assert c.move_line(-1) == "Top of the page"
    assert c.move_line(1) == "Monday to Friday"
    assert c.move_word(1) == "to" and c.move_word(1) == "Friday" and c.move_word(1) == "End of the line"
    assert c.spell() == "capital F, r, i, d, a, y"
    assert c.move_paragraph(1) == "Call 555"
    assert c.move_word(1) == "555" and c.spell() == "5, 5, 5"
    assert c.move_paragraph(1) == "End of the page"
    assert c.move_paragraph(-1) == "Monday to Friday"
    assert DocumentCursor(Document(())).line() == "The page has no text I can read"


@pytest.mark.slow
def test_a_photographed_page_is_read_in_reading_order(page):
    """The whole chain: find the page in a photo, flatten it, read it with the real reader, lay it out."""
    from engine.stage_b.ocr import TextReader
    img = scene(page, 400, 60, scale=0.6)
    flat = flatten(img, find_page(img).corners)
    from engine.stage_b.ocr import DOCUMENT
    doc = layout(TextReader().read(flat, options=DOCUMENT))
    said = [ln.lower() for p in doc.paragraphs for ln in p.lines]
    want = [HEADING.lower()] + [ln.lower() for ln in LEFT + RIGHT if ln]
    assert doc.paragraphs[0].heading and squashed(said[0]) == squashed(want[0])
    # every line found, in order (a small misreading allowed)
    from engine.stage_b.ocr import similarity
    assert len(said) == len(want), said
    assert all(similarity(a, b) >= 0.8 for a, b in zip(said, want)), list(zip(said, want))
    assert len(doc.paragraphs) == 5
