"""A page as read, in reading order, and the cursor that moves through it (document mode's
reading side; the engine captures the page, engine/stage_a/page.py, and reads it in Stage B).

  layout          lines (TextRead, in page pixels) -> paragraphs in reading order: lines whose
                  letters are HEADING_RATIO times wider than the median (and taller) are headings; lines spanning most of the page
                  width divide it into bands; inside a band, gutters (x ranges no line crosses)
                  split columns, read left to right, each top to bottom; a vertical gap over
                  PARAGRAPH_GAP line heights, a heading, or a new column starts a paragraph;
  DocumentCursor  line / paragraph / word moves, repeat, spell, and the text to save.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.types import TextRead

HEADING_RATIO = 1.4         # a heading's letters are this much wider than the page's median (and it is taller)
PARAGRAPH_GAP = 1.0         # extra gap, in median line heights, that starts a paragraph
WIDE_LINE = 0.6             # a line wider than this share of the text's width spans the columns


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
