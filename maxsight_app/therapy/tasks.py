"""Therapy tasks. Each gives prompts and checks responses; none draws anything itself (the UI
renders prompts), so sessions can be scripted in tests.

  contrast chart   a Sloan letter at a Weber contrast set by a 2-down-1-up staircase (converges
                   on 70.7% correct); the threshold estimate is the mean log contrast of the last
                   reversals.
  find the object  "find the <class>" among what Stage A sees now; the answer is right when the
                   user says found while that class is being detected.
  reading          a short phrase at a text size that shrinks after correct answers; checked
                   against the phrase shown (character similarity >= 0.8). When a camera is in use
                   and the text reader (Stage B, the same reader as "read text now") has just read
                   a line in view, the prompt is that real text instead: "read the text in front
                   of the camera", checked against what the reader read, not shown on the card.
"""
from __future__ import annotations

import difflib
import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

SLOAN = "CDHKNORSVZ"
PHRASES = ("the bus stops here", "open the door slowly", "milk and bread", "platform two", "push to cross",
           "exit on the left", "keep this side clear", "mind the step", "lift out of order", "fresh coffee today")


@dataclass(frozen=True)
class Prompt:
    task: str
    text: str                 # what to ask or show ("K", "find the chair", "mind the step")
    level: float              # contrast (0..1) or text size (points); 0 when not graded
    instruction: str
    real: bool = False        # real text in front of the camera (read by the text reader), not shown on the card


def real_line(texts) -> str | None:
    """The line of camera text worth reading aloud: 1-6 words, at least 3 letters, the most
    confident first. texts: (text, score) pairs from the text reader."""
    ok = [(score, " ".join(t.split())) for t, score in texts
          if 1 <= len(t.split()) <= 6 and sum(c.isalpha() for c in t) >= 3]
    return max(ok)[1] if ok else None


class ContrastChart:
    name = "contrast chart"

    def __init__(self, seed: int = 0, start: float = 0.8, step: float = 0.7, floor: float = 0.005):
        self.rng = random.Random(seed)
        self.contrast, self.step, self.floor = start, step, floor
        self._streak = 0
        self._last_dir = 0
        self.reversals: list[float] = []
        self.current: Prompt | None = None

    def next_prompt(self, **_) -> Prompt:
        letter = self.rng.choice(SLOAN)
        self.current = Prompt(self.name, letter, self.contrast, "Say or type the letter you see")
        return self.current

    def check(self, response: str, **_) -> bool:
        correct = response.strip().upper()[:1] == self.current.text
        direction = 0
        if correct:
            self._streak += 1
            if self._streak >= 2:                    # two right in a row: harder
                self._streak, direction = 0, -1
                self.contrast = max(self.floor, self.contrast * self.step)
        else:
            self._streak, direction = 0, +1          # one wrong: easier
            self.contrast = min(1.0, self.contrast / self.step)
        if direction and self._last_dir and direction != self._last_dir:
            self.reversals.append(self.contrast)
        if direction:
            self._last_dir = direction
        return correct

    def threshold(self) -> float | None:
        last = self.reversals[-6:]
        return float(math.exp(np.mean(np.log(last)))) if len(last) >= 2 else None

    @staticmethod
    def render(letter: str, contrast: float, size: int = 360, background: int = 160) -> np.ndarray:
        """A grey card with a dark letter at the given Weber contrast: (Lb - Ll) / Lb."""
        img = np.full((size, size), background, np.uint8)
        level = int(round(background * (1 - contrast)))
        scale = size / 60
        (tw, th), _ = cv2.getTextSize(letter, cv2.FONT_HERSHEY_SIMPLEX, scale, int(scale * 2.2))
        cv2.putText(img, letter, ((size - tw) // 2, (size + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, level,
                    int(scale * 2.2), cv2.LINE_AA)
        return img


class FindObject:
    name = "find the object"

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.current: Prompt | None = None

    def next_prompt(self, visible: tuple[str, ...] = (), **_) -> Prompt | None:
        """A target among what is visible now; None when nothing is detected."""
        if not visible:
            return None
        target = self.rng.choice(sorted(set(visible)))
        self.current = Prompt(self.name, target, 0.0, f"Find the {target}, then say found")
        return self.current

    def check(self, response: str, visible: tuple[str, ...] = (), **_) -> bool:
        return response.strip().lower() in ("found", "yes", "y") and self.current.text in visible


class Reading:
    name = "reading"

    def __init__(self, seed: int = 0, start_pt: float = 36.0, smallest_pt: float = 8.0):
        self.rng = random.Random(seed)
        self.size, self.smallest = start_pt, smallest_pt
        self.current: Prompt | None = None

    def next_prompt(self, texts=(), **_) -> Prompt:
        """texts: (text, score) read by the camera's text reader just now; empty without a camera."""
        line = real_line(texts)
        if line is not None:
            self.current = Prompt(self.name, line, 0.0, "Read the text in front of the camera aloud, or type it", real=True)
        else:
            self.current = Prompt(self.name, self.rng.choice(PHRASES), self.size, "Read the words aloud or type them")
        return self.current

    def check(self, response: str, **_) -> bool:
        said = " ".join(response.lower().split())
        ratio = difflib.SequenceMatcher(None, said, self.current.text.lower()).ratio()
        correct = ratio >= 0.8
        if not self.current.real:          # the card's text size follows answers; real text has its own
            self.size = max(self.smallest, self.size * 0.85) if correct else min(72.0, self.size / 0.85)
        return correct


TASKS = {"contrast": ContrastChart, "find": FindObject, "reading": Reading}
