"""Scene description ("describe the scene", D): a small scene graph of spatial relations between
tracked objects, plus recent sounds (and text, once read), rendered as one or two short sentences
in the same clock directions and units as every other cue. Deterministic.

Positions: x = d sin(bearing) (right of the user), z = d cos(bearing) (ahead). Relations:
  on          A's box bottom sits in the top third of B's box, A's centre is over B, A is smaller
              (a cup on a table, a laptop on a desk);
  in front of A is over 1 m nearer than B within 10 degrees of the same direction;
  next to     within 1.5 m of each other (and not "on");
  left of     A is over 1 m further left than B, at similar distance (within 2 m);
  beside the path  not in the walking corridor but within 20-40 degrees and 5 m.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from engine.types import Hazard, SoundEvent
from maxsight_app.cues.phrasing import clock_words, distance_words, spoken_name
from maxsight_app.profile.schema import Units

SURFACES = frozenset({"dining table", "bench", "bed", "couch", "chair", "desk", "toilet", "suitcase", "refrigerator"})


@dataclass(frozen=True)
class Relation:
    subject: str
    relation: str
    obj: str


@dataclass(frozen=True)
class SceneReport:
    sentences: tuple[str, ...]
    relations: tuple[Relation, ...]
    objects: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def _xz(h: Hazard) -> tuple[float, float]:
    b = math.radians(h.bearing_deg)
    return h.distance_m * math.sin(b), h.distance_m * math.cos(b)


def _on(a: Hazard, b: Hazard) -> bool:
    ax1, ay1, ax2, ay2 = a.box
    bx1, by1, bx2, by2 = b.box
    if b.label not in SURFACES or (ax2 - ax1) * (ay2 - ay1) >= (bx2 - bx1) * (by2 - by1):
        return False
    cx = (ax1 + ax2) / 2
    return bx1 <= cx <= bx2 and by1 - 0.1 * (by2 - by1) <= ay2 <= by1 + 0.4 * (by2 - by1)


def relations(hazards: tuple[Hazard, ...]) -> tuple[Relation, ...]:
    out: list[Relation] = []
    hs = sorted(hazards, key=lambda h: h.distance_m)
    for i, a in enumerate(hs):
        for b in hs[i + 1:]:
            if _on(a, b):
                out.append(Relation(a.label, "on", b.label))
                continue
            if _on(b, a):
                out.append(Relation(b.label, "on", a.label))
                continue
            (ax, az), (bx, bz) = _xz(a), _xz(b)
            if abs(a.bearing_deg - b.bearing_deg) < 10 and b.distance_m - a.distance_m > 1.0:
                out.append(Relation(a.label, "in front of", b.label))
            elif math.hypot(ax - bx, az - bz) < 1.5:
                out.append(Relation(a.label, "next to", b.label))
            elif abs(a.distance_m - b.distance_m) < 2.0 and abs(ax - bx) > 1.0:
                left, right = (a, b) if ax < bx else (b, a)
                out.append(Relation(left.label, "left of", right.label))
    for h in hs:
        if not h.in_path and abs(h.bearing_deg) < 40 and h.distance_m <= 5.0:
            out.append(Relation(h.label, "beside the path", ""))
    return tuple(out)


def _where(h: Hazard, units: Units) -> str:
    return f"{spoken_name(h.label)}, {clock_words(h.clock)}, {distance_words(h.distance_m, units)}"


def _article(label: str) -> str:
    return ("an " if label[0] in "aeiou" else "a ") + label


def describe(hazards: tuple[Hazard, ...], sounds: tuple[SoundEvent, ...] = (), texts: tuple[str, ...] = (),
             max_objects: int = 4, units: Units = Units.METRES) -> SceneReport:
    if not hazards:
        first = "I don't see anything I recognise nearby."
        rels: tuple[Relation, ...] = ()
        names: tuple[str, ...] = ()
    else:
        near = sorted(hazards, key=lambda h: (-int(h.urgency), h.distance_m))[:max_objects]
        names = tuple(h.label for h in near)
        more = len(hazards) - len(near)
        first = "I see " + "; ".join(_where(h, units) for h in near) + (f"; and {more} more" if more > 0 else "") + "."
        first = first[0].upper() + first[1:]
        rels = relations(tuple(near))
    second_parts = []
    for r in rels:
        if r.relation == "on":
            second_parts.append(f"the {r.subject} is on the {r.obj}")
        elif r.relation == "in front of":
            second_parts.append(f"the {r.subject} is in front of the {r.obj}")
        elif r.relation == "next to":
            second_parts.append(f"the {r.subject} is next to the {r.obj}")
        if len(second_parts) == 2:
            break
    extras = [f"a sign reads \u201c{t}\u201d" for t in texts[:1]]
    extras += [f"I hear {_article(s.label.replace('_', ' '))}" for s in sounds[-1:]]
    sentences = [first]
    tail = second_parts + extras
    if tail:
        s = "; ".join(tail) + "."
        sentences.append(s[0].upper() + s[1:])
    return SceneReport(tuple(sentences), rels, names)
