"""Reading text: PP-OCRv4 detection + recognition from the `rapidocr-onnxruntime` wheel (models
inside it; its code runs on ONNX Runtime and opencv-python-headless: the wheel's opencv-python
requirement is skipped at install because that build clashes with PySide6).

Two passes, one reader:
  background  the opportunistic pass every few seconds: detection with the shorter side at 736 px
              (the wheel's own default, so it costs what it always cost);
  asked       "read text now" (T): detection with the shorter side at ASKED.det_side px, which
              finds the small text of a sign across a street. Chosen on the ICDAR 2015 dev half
              (`maxsight eval ocr`): 1080 found more words than 736, and 1280, 1440, two scales
              merged or tiles did not find more for their cost.
The detector finds lines; the recogniser's CTC columns place each word of a line, so every word
carries its own box (a line box against a word box never reached IoU 0.5, which is why the old
reader seemed to find only a third of the words). The recogniser often runs two words together
("FASTERTHAN"); nothing in the picture reliably tells such a gap from letter spacing (measured:
ink gaps and the space class's probability both failed), so those stay one word.

Results come in reading order (lines top to bottom, left to right within a row) with a clock
direction, so "read text now" can say "EXIT, 1 o'clock". `TextVote` merges the same sign read on
several frames: each line is voted on over the last VOTE_WINDOW_S, and the reading most frames
agree on (the most confident among equals) is the one said."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, replace

import cv2
import numpy as np

from engine.models.boxes import iou_matrix
from engine.stage_b import unsmear
from engine.stage_b.captions import edit_distance
from engine.types import TextRead, TextWord

log = logging.getLogger(__name__)
MIN_SCORE = 0.5


@dataclass(frozen=True)
class ReadOptions:
    det_side: int              # the detector sees the image with its shorter side at this many pixels
    box_thresh: float          # DB box score a line needs
    min_score: float = MIN_SCORE   # recogniser confidence a line needs
    gap_spaces: bool = False   # put a space wherever the ink shows a word gap the recogniser ran over
    unsmear: bool = True       # undo a clear sideways smear (a pan) first: engine/stage_b/unsmear.py

    def __post_init__(self) -> None:
        if not 320 <= self.det_side <= 2048:
            raise ValueError(f"det_side must be 320..2048 pixels, got {self.det_side}")
        if not 0.0 < self.box_thresh < 1.0 or not 0.0 <= self.min_score < 1.0:
            raise ValueError("box_thresh must be in (0, 1) and min_score in [0, 1)")


BACKGROUND = ReadOptions(det_side=736, box_thresh=0.5)
ASKED = ReadOptions(det_side=1080, box_thresh=0.4)
# A flattened page: print is larger and cleaner than scene text, so the plain detection size is
# enough (1080 broke 32 px print into pieces), and word gaps are measured in the ink, because the
# recogniser runs small print together ("MondaytoFriday").
DOCUMENT = ReadOptions(det_side=736, box_thresh=0.5, gap_spaces=True, unsmear=False)   # it waits for a steady frame
MAX_SIDE = 2000                # larger pictures are shrunk first (as the wheel does)
MIN_SIDE = 32                  # a picture smaller than this holds nothing to read


def _engine(threads: int = 1):
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise FileNotFoundError("the text reader is not installed (pip install --no-deps rapidocr-onnxruntime==1.4.4)") from None
    # One thread each: its default takes every core, and Stage A beside it would wait (a 2-thread
    # Stage B beside a 2-thread Stage A made Stage A 5x slower, ENVIRONMENT.md).
    return RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)


def check_image(image) -> np.ndarray:
    """The picture as [H, W, 3] uint8 BGR, or ValueError in one sentence."""
    if image is None or not isinstance(image, np.ndarray) or image.size == 0:
        raise ValueError("the picture is empty: there is nothing to read")
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"the picture must be a colour or grey image, got shape {image.shape}")
    if image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype != np.uint8:
        raise ValueError(f"the picture must hold 8-bit pixels, got {image.dtype}")
    return image


def split_words(box: np.ndarray, text: str, score: float, columns: float, char_cols: list[int],
                char_conf: list[float] | None = None, reversed_: bool = False) -> tuple[TextWord, ...]:
    """A line's words with their own boxes. box: [4, 2] corners (top-left, top-right, bottom-right,
    bottom-left) of the line; char_cols: the CTC column each character of `text` came from, out of
    `columns` columns spanning the line crop; reversed_: the crop was turned 180 degrees before it
    was read (so columns run right to left in the picture)."""
    box = np.asarray(box, np.float32)
    assert box.shape == (4, 2), f"a line box is [4, 2] corners, got {box.shape}"
    if len(char_cols) != len(text) or columns <= 0:
        return (TextWord(text.strip(), score, tuple(map(tuple, box.tolist()))),) if text.strip() else ()
    out = []
    for m in re.finditer(r"\S+", text):
        c0, c1 = char_cols[m.start()], char_cols[m.end() - 1]
        f0 = 0.0 if m.start() == 0 else max(0.0, (c0 - 0.5) / columns)
        f1 = 1.0 if m.end() == len(text.rstrip()) else min(1.0, (c1 + 1.5) / columns)
        if reversed_:
            f0, f1 = 1.0 - f1, 1.0 - f0
        top = box[0] + (box[1] - box[0]) * np.float32([[f0], [f1]])
        bottom = box[3] + (box[2] - box[3]) * np.float32([[f0], [f1]])
        corners = (tuple(top[0]), tuple(top[1]), tuple(bottom[1]), tuple(bottom[0]))
        conf = float(np.mean(char_conf[m.start():m.end()])) if char_conf and len(char_conf) == len(text) else score
        out.append(TextWord(m.group(), conf, tuple((float(x), float(y)) for x, y in corners)))
    return tuple(out)


def gap_spaces(crop: np.ndarray, text: str, char_cols: list[int], columns: float) -> tuple[str, list[int]]:
    """Spaces where the ink of a printed line shows a word gap that the recogniser ran over: a run
    of ink-free columns at least 2.5 times the line's typical gap between letters, and at least
    0.15 of the line box's height and 3 pixels (measured on rendered pages: letter gaps 1-4 px,
    word gaps 4-10 px, line boxes 20-36 px high). crop: the line as the recogniser saw it; char_cols: each character's CTC
    column, out of `columns` across the crop. Printed text only: letter-spaced signs have letter
    gaps as wide as word gaps, so scene text is left alone."""
    if len(char_cols) != len(text) or len(text) < 2 or columns <= 0:
        return text, char_cols
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    h, w = g.shape
    core = g[int(h * 0.2): max(int(h * 0.8), int(h * 0.2) + 1)]
    _, ink = cv2.threshold(core, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if ink.mean() > 0.5:                        # text is the smaller share of the line
        ink = 1 - ink
    empty = ink.sum(0) == 0
    xs = [(c + 0.5) / columns * w for c in char_cols]
    runs, i = [], 0
    while i < w:
        if empty[i]:
            j = i
            while j < w and empty[j]:
                j += 1
            if i > 0 and j < w and xs[0] < (i + j) / 2 < xs[-1]:
                runs.append((i, j))
            i = j
        else:
            i += 1
    if len(runs) < 2:
        return text, char_cols
    letter_gap = float(np.median([b - a for a, b in runs]))
    out_t, out_c = list(text), list(char_cols)
    for a, b in sorted(runs, reverse=True):       # right to left, so earlier indices stay valid
        if b - a < max(3.0, 2.5 * letter_gap, 0.15 * h):
            continue
        mid = (a + b) / 2
        k = next((k for k in range(len(xs) - 1) if xs[k] < mid < xs[k + 1]), None)
        if k is not None and text[k] != " " and text[k + 1] != " ":
            out_t.insert(k + 1, " ")
            out_c.insert(k + 1, (char_cols[k] + char_cols[k + 1]) // 2)
    return "".join(out_t), out_c


def better_lines(first: list, second: list, overlap: float = 0.3) -> list:
    """Lines of two readings of one picture: a line of the second replaces the lines of the first
    it overlaps (IoU of their upright boxes at least `overlap`) when it scores higher than all of
    them, and is added when it overlaps none."""
    def upright(line):
        b = np.asarray(line[0], np.float32)
        return [b[:, 0].min(), b[:, 1].min(), b[:, 0].max(), b[:, 1].max()]
    out = list(first)
    for line in second:
        iou = iou_matrix(np.float32([upright(old) for old in out]).reshape(-1, 4), np.float32([upright(line)]))[:, 0]
        hit = [k for k in range(len(out)) if iou[k] >= overlap]
        if not hit:
            out.append(line)
        elif all(line[2] > out[k][2] for k in hit):
            out[hit[0]] = line
            out = [old for k, old in enumerate(out) if k not in hit[1:]]
    return out


class TextReader:
    def __init__(self, hfov_deg: float = 60.0, threads: int = 1):
        self.engine = _engine(threads)
        self.hfov_deg = hfov_deg

    def recognise(self, crop: np.ndarray) -> tuple[str, float]:
        """Recogniser alone, on an already cut-out word or line."""
        crop = check_image(crop)
        res, _ = self.engine(crop, use_det=False, use_cls=False, use_rec=True)
        if not res:
            return "", 0.0
        return str(res[0][0]), float(res[0][1])

    def lines(self, image: np.ndarray, options: ReadOptions = BACKGROUND) -> list[tuple[np.ndarray, str, float, tuple]]:
        """[H, W, 3] BGR -> (box [4, 2] in image pixels, text, score, words) per line found, in the
        detector's order (then the lines only the unsmeared picture gave)."""
        image = check_image(image)
        h, w = image.shape[:2]
        if min(h, w) < MIN_SIDE:
            return []
        scale = 1.0
        if max(h, w) > MAX_SIDE:
            scale = MAX_SIDE / max(h, w)
            image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        out = self._lines(image, scale, options)
        if options.unsmear:
            # Large sharp letters of even stroke width look like a smear to the cepstrum too, so
            # the picture as it is is always read, and the unsmeared one only adds or betters lines.
            fixed, smear = unsmear.steady(image)
            if smear is not None:
                out = better_lines(out, self._lines(fixed, scale, options))
        return out

    def _lines(self, image: np.ndarray, scale: float, options: ReadOptions) -> list[tuple[np.ndarray, str, float, tuple]]:
        eng = self.engine
        det = eng.text_det
        det.limit_side_len, det.limit_type = options.det_side, "min"
        det.postprocess_op.box_thresh = options.box_thresh
        boxes, _ = det(image)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = eng.sorted_boxes(boxes)
        crops = eng.get_crop_img_list(image, boxes)
        crops, cls_res, _ = eng.text_cls(crops)
        rec, _ = eng.text_rec(crops, True)
        out = []
        for box, crop, (label, cls_score), r in zip(boxes, crops, cls_res, rec):
            text, score = str(r[0]), float(r[1])
            if score < options.min_score or not text.strip():
                continue
            box = np.asarray(box, np.float32) / scale
            side = np.linalg.norm(box[1] - box[0]), np.linalg.norm(box[3] - box[0])
            upright = side[1] < 1.5 * side[0]            # a tall box's crop was turned 90 degrees to be read
            turned = "180" in label and cls_score > eng.text_cls.cls_thresh
            info = r[2] if len(r) > 2 else None
            if info and upright:
                cols = [c for word in info[2] for c in word]
                conf = list(info[4])
                if options.gap_spaces and len(cols) == len(text):
                    spaced, cols = gap_spaces(crop, text, cols, float(info[0]))
                    if len(conf) == len(text):           # inserted spaces take their left neighbour's confidence
                        j, new_conf = 0, []
                        for ch in spaced:
                            new_conf.append(conf[min(j, len(conf) - 1)] if ch == text[min(j, len(text) - 1)] else conf[max(j - 1, 0)])
                            j += ch == text[min(j, len(text) - 1)]
                        conf = new_conf
                    text = spaced
                words = split_words(box, text, score, float(info[0]), cols, conf, reversed_=turned)
            else:
                words = (TextWord(text.strip(), score, tuple(map(tuple, box.tolist()))),)
            out.append((box, text.strip(), score, words))
        return out

    def read(self, image: np.ndarray, asked: bool = False, options: ReadOptions | None = None) -> list[TextRead]:
        """[H, W, 3] BGR -> lines of text found, in reading order. asked: the user pressed T (the
        finer, slower detection); otherwise the cheap background pass. options: another preset
        (DOCUMENT for a flattened page)."""
        from engine.stage_a.geometry import clock_from_bearing
        image = check_image(image)
        h, w = image.shape[:2]
        f = (w / 2) / math.tan(math.radians(self.hfov_deg) / 2)
        items = []
        for box, text, score, words in self.lines(image, options or (ASKED if asked else BACKGROUND)):
            pts = tuple((float(x), float(y)) for x, y in box)
            cx = sum(p[0] for p in pts) / 4
            bearing = math.degrees(math.atan((cx - w / 2) / f))
            items.append(TextRead(text, score, pts, clock_from_bearing(bearing), bearing, words=words))
        return reading_order(items)


def reading_order(items: list[TextRead]) -> list[TextRead]:
    """Group into rows by vertical overlap, rows top to bottom, left to right within a row."""
    def span(t):
        ys = [p[1] for p in t.box]
        return min(ys), max(ys)
    lines: list[list[TextRead]] = []
    for t in sorted(items, key=lambda t: span(t)[0]):
        y0, y1 = span(t)
        for line in lines:
            ly0, ly1 = span(line[0])
            if min(y1, ly1) - max(y0, ly0) > 0.5 * min(y1 - y0, ly1 - ly0):
                line.append(t)
                break
        else:
            lines.append([t])
    return [t for line in lines for t in sorted(line, key=lambda t: min(p[0] for p in t.box))]


# -- several frames -------------------------------------------------------------------------------
VOTE_WINDOW_S = 10.0        # readings older than this no longer vote
SAME_LINE = 0.6             # character similarity that makes two readings the same line


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def similarity(a: str, b: str) -> float:
    """1 - edit distance / longer length, case- and space-insensitive."""
    a, b = _key(a).replace(" ", ""), _key(b).replace(" ", "")
    if not a and not b:
        return 1.0
    return 1.0 - edit_distance(a, b) / max(len(a), len(b))


@dataclass
class _Line:
    readings: list                 # (t, text, score)
    last_t: float

    def best(self) -> tuple[str, float, int]:
        """(text, score, votes): the reading most frames agree on; the most confident among equals."""
        votes: dict[str, list] = {}
        for _, text, score in self.readings:
            votes.setdefault(_key(text), []).append((score, text))
        key = max(votes, key=lambda k: (len(votes[k]), max(s for s, _ in votes[k])))
        score, text = max(votes[key])
        return text, score, len(votes[key])


class TextVote:
    """The same sign read on several frames: each line read now is matched to the lines read in
    the last VOTE_WINDOW_S (by its characters, not its position, which a moving camera changes)
    and said as the reading most frames agree on. Lines not read now are not said."""

    def __init__(self, window_s: float = VOTE_WINDOW_S, same: float = SAME_LINE):
        self.window_s, self.same = window_s, same
        self._lines: list[_Line] = []

    def update(self, reads: list[TextRead], t: float) -> list[TextRead]:
        self._lines = [ln for ln in self._lines if t - ln.last_t <= self.window_s and t >= ln.last_t - 1e-9]
        taken: set[int] = set()
        out = []
        for r in reads:
            best_i, best_sim = None, self.same
            for i, ln in enumerate(self._lines):
                if i in taken:
                    continue
                sim = max(similarity(r.text, text) for _, text, _ in ln.readings[-5:])
                if sim >= best_sim:
                    best_i, best_sim = i, sim
            if best_i is None:
                self._lines.append(_Line([(t, r.text, r.score)], t))
                best_i = len(self._lines) - 1
            else:
                self._lines[best_i].readings.append((t, r.text, r.score))
                self._lines[best_i].last_t = t
            taken.add(best_i)
            text, score, votes = self._lines[best_i].best()
            out.append(r if votes == 1 and _key(text) == _key(r.text) else _retext(r, text, score, votes))
        return out

    def reset(self) -> None:
        self._lines = []


def _retext(r: TextRead, text: str, score: float, votes: int) -> TextRead:
    """`r` (read now, so its box is where the line is now) saying the voted text; its words keep
    their boxes when the words line up, else they are spread along the line by their length."""
    words = text.split()
    if [_key(w.text) for w in r.words] == [_key(w) for w in words]:
        new_words = tuple(replace(w, text=t) for w, t in zip(r.words, words))
    else:
        box = np.asarray(r.box, np.float32)
        total = max(1, len(text))
        new_words = []
        for m in re.finditer(r"\S+", text):
            f0, f1 = m.start() / total, m.end() / total
            top = box[0] + (box[1] - box[0]) * np.float32([[f0], [f1]])
            bottom = box[3] + (box[2] - box[3]) * np.float32([[f0], [f1]])
            corners = (top[0], top[1], bottom[1], bottom[0])
            new_words.append(TextWord(m.group(), score, tuple((float(x), float(y)) for x, y in corners)))
        new_words = tuple(new_words)
    return replace(r, text=text, score=score, words=new_words, seen=votes)
