"""Watch for a word (issue 28, part 1): the user lists what to look out for ("75", "Gate C3",
"Pharmacy"); MaxSight stays quiet about it until the text reader's voted results hold it, then says
it once per sighting with its clock direction.

Matching forgives what a sign reader gets slightly wrong and nothing that changes the meaning:
- case, punctuation and spacing: "Gate C3" matches "GATE-C3" and "GateC3" (a missing space), and
  "Galaxy" is seen in "GALAXYNote" (the reader lost the space; the change of case shows it);
- the match must sit on word boundaries of the reading: "75" is not seen in "175" or "750";
- digits must match exactly: a misread 7 for 1 ("15" for "75") is not a match;
- in a word of 6 or more letters (and no digits), one letter may be wrong, missing or extra
  ("Pharmcy" for "Pharmacy"); shorter words must be read exactly;
- a word of RUN_ON_MIN or more letters (no digits) is seen at the start or end of a longer run of
  letters with at least RUN_ON_REST letters left over: "finest" in "FairPricefinest", a lost space
  the case does not show, or "Galaxy" in "GALAXYNOTE" ("Station" is not seen in "Stationery": too
  little is left over to be a word).

A sighting starts when a voted reading (seen on at least MIN_SEEN frames) matches, or when one sure
reading (score at least SURE_READ) holds the word exactly (no letter forgiven: the vote is there for
readings the reader is unsure of, and waiting for it costs a second read), and ends when no reading
has matched for SIGHTING_GAP_S; the word is said once per sighting, with its clock direction
and distance ("75, 11 o'clock, 8 metres"): the distance of the tracked object the text is on (a bus,
a door), else a rough one from the text's height ("about 12 metres", see text_distance).

Pure functions and one small state per word; no I/O."""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.types import Hazard, TextRead
from maxsight_app.profile.schema import MAX_WATCH_WORD as MAX_WORD  # noqa: F401 - the rules' numbers, read here too
from maxsight_app.profile.schema import MAX_WATCH_WORDS as MAX_WORDS  # noqa: F401
from maxsight_app.profile.schema import watch_words as parse_words  # the words' rules live with the preference

MIN_SEEN = 2                 # frames that must agree on the reading (the text reader's several-frame vote)
SURE_READ = 0.9              # ... unless one reading this sure holds the word exactly (fitted on the dev half)
SIGHTING_GAP_S = 5.0         # unseen this long, the next match is a new sighting
RUN_ON_MIN = 5               # a word this long may be run into another by the reader...
RUN_ON_REST = 4              # ...when the rest of the run is at least this long (a word, not an ending:
                             # "Station" is not seen in "Stationery")
# A line of text on a sign, bus or door is taken to be this tall when nothing tracked holds it: a bus's
# route number is ~0.2-0.25 m, a gate's or shop's letters 0.1-0.3 m, so the distance may be off by up
# to 2x either way; it is said as "about", and not at all beyond TEXT_DISTANCE_MAX_M.
SIGN_TEXT_M = 0.15
TEXT_DISTANCE_MAX_M = 30.0


def _tokens(text: str) -> list[str]:
    return re.findall(r"[0-9a-z]+", text.lower())


# Where a reading that lost its spaces still shows a word boundary: a lower-case letter before a
# capital ("GateExit"), or the end of a run of capitals before a capitalised word ("GALAXYNote").
# Never between letters and digits, so "75A" holds no "75".
_CASE_BREAK = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _pieces(text: str) -> list[str]:
    """The reading's words, split again where the case shows a lost space; lower-case."""
    out = []
    for tok in re.findall(r"[0-9A-Za-z]+", text):
        out += [p.lower() for p in _CASE_BREAK.split(tok) if p]
    return out


def _one_edit(a: str, b: str) -> bool:
    """a and b differ by at most one substitution, insertion or deletion."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) <= 1
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


def _close(span: str, word: str, exact: bool = False) -> bool:
    if span == word:
        return True
    if exact or len(word) < 6 or any(c.isdigit() for c in word + span):
        return False
    return _one_edit(span, word)


def matches(word: str, text: str, exact: bool = False) -> bool:
    """Whether the watched word is in this reading (see the module's rules); exact: no letter forgiven."""
    want = "".join(_tokens(word))
    toks = _pieces(text)
    if not want or not toks:
        return False
    for i in range(len(toks)):
        span = ""
        for j in range(i, len(toks)):
            span += toks[j]
            if len(span) > len(want) + 1:
                break
            if _close(span, want, exact):
                return True
    if len(want) >= RUN_ON_MIN and want.isalpha():
        return any(p.isalpha() and len(p) - len(want) >= RUN_ON_REST and (p.startswith(want) or p.endswith(want))
                   for p in toks)
    return False


TEXT_INSIDE = 0.8            # this share of the text's box inside an object's box: the text is on it
DISAGREE = 3.0               # ... unless the two distances disagree by more than this factor (a sign behind a car)


def _line_height(box) -> float:
    """The text line's height in pixels: the shorter side of its (possibly tilted) box."""
    import math
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box
    along = (math.hypot(x1 - x0, y1 - y0) + math.hypot(x2 - x3, y2 - y3)) / 2
    across = (math.hypot(x3 - x0, y3 - y0) + math.hypot(x2 - x1, y2 - y1)) / 2
    return min(along, across)


def text_distance(read: TextRead, hazards: tuple[Hazard, ...], focal_px: float) -> tuple[float | None, bool]:
    """(metres, rough) for a reading: the distance of the smallest tracked object whose box holds
    most of the text (rough False) when that agrees within DISAGREE with the text's own size, else
    focal_px * SIGN_TEXT_M / the line's height in pixels (rough True), or None when that is beyond
    TEXT_DISTANCE_MAX_M or the box is degenerate."""
    if len(read.box) != 4:
        return None, True
    height = _line_height(read.box)
    own = focal_px * SIGN_TEXT_M / height if height > 1 else None
    xs = [p[0] for p in read.box]
    ys = [p[1] for p in read.box]
    tx1, ty1, tx2, ty2 = min(xs), min(ys), max(xs), max(ys)
    area = max((tx2 - tx1) * (ty2 - ty1), 1e-9)

    def inside(h) -> float:
        iw = min(tx2, h.box[2]) - max(tx1, h.box[0])
        ih = min(ty2, h.box[3]) - max(ty1, h.box[1])
        return iw * ih / area if iw > 0 and ih > 0 else 0.0
    holders = [h for h in hazards if inside(h) >= TEXT_INSIDE]
    if holders:
        h = min(holders, key=lambda h: (h.box[2] - h.box[0]) * (h.box[3] - h.box[1]))
        if own is None or 1 / DISAGREE <= h.distance_m / own <= DISAGREE:
            return h.distance_m, False
    if own is None or own > TEXT_DISTANCE_MAX_M:
        return None, True
    return own, True


@dataclass(frozen=True)
class Sighting:
    word: str                 # as the user typed it
    text: str                 # the reading it was found in
    clock: int
    bearing_deg: float
    t: float
    distance_m: float | None = None    # None: not known
    rough: bool = True                 # from the text's height alone, not from an object it is on

    def words(self, units=None) -> str:
        from maxsight_app.cues.phrasing import clock_words, distance_words
        from maxsight_app.profile.schema import Units
        text = f"{self.word}, {clock_words(self.clock)}"
        if self.distance_m is None:
            return text
        d = max(1.0, round(self.distance_m)) if self.rough else self.distance_m    # no half metres for a guess
        far = distance_words(d, units or Units.METRES)
        return f"{text}, {'about ' if self.rough else ''}{far}"


class WatchFor:
    """The words watched for and when each was last seen; `update` takes the text reader's voted
    readings at time t and returns the new sightings (each word once per sighting)."""

    def __init__(self, words, min_seen: int = MIN_SEEN, gap_s: float = SIGHTING_GAP_S, sure_read: float | None = SURE_READ):
        self.words = parse_words(words) if words else ()
        self.min_seen, self.gap_s = min_seen, gap_s
        self.sure_read = 2.0 if sure_read is None else sure_read      # None: always wait for the vote
        self._last: dict[str, float] = {}

    def update(self, reads: list[TextRead] | tuple[TextRead, ...], t: float, where=None) -> list[Sighting]:
        """where(read) -> (metres or None, rough): how far the reading is (text_distance), if known."""
        out = []
        for w in self.words:
            hit = next((r for r in reads if (r.seen >= self.min_seen and matches(w, r.text))
                        or (r.score >= self.sure_read and matches(w, r.text, exact=True))), None)
            if hit is None:
                continue
            last = self._last.get(w)
            if last is None or t - last > self.gap_s or t < last:
                d, rough = where(hit) if where is not None else (None, True)
                out.append(Sighting(w, hit.text, hit.clock, hit.bearing_deg, t, d, rough))
            self._last[w] = t
        return out
