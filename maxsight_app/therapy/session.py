"""A fatigue-aware therapy session: a plan of tasks, prompts, timed responses, a fatigue estimate
after every answer, break reminders and an automatic pause; everything logged in SQLite.

Time comes from a clock function (time.monotonic by default), so sessions are scriptable."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from maxsight_app.profile.store import ProfileStore
from maxsight_app.therapy import fatigue
from maxsight_app.therapy.tasks import TASKS, Prompt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    correct: bool
    rt_s: float
    fatigue: fatigue.FatigueState
    message: str           # what to tell the user ("" when nothing to say)


class TherapySession:
    def __init__(self, store: ProfileStore, user_id: int, plan: tuple[str, ...] = ("contrast",), trials_per_task: int = 20,
                 clock: Callable[[], float] = time.monotonic, seed: int = 0):
        for name in plan:
            if name not in TASKS:
                raise ValueError(f"plan: unknown task {name!r}; known: {', '.join(TASKS)}")
        self.store, self.user_id = store, user_id
        self.plan = [TASKS[name](seed=seed) for name in plan]
        self.trials_per_task = trials_per_task
        self.clock = clock
        self.session_id = store.start_therapy_session(user_id)
        self._task_index = 0
        self._done_in_task = 0
        self._prompt: Prompt | None = None
        self._asked_at = 0.0
        self._started = clock()
        self._paused_s = 0.0
        self._paused_at: float | None = None
        self.rts: list[float] = []          # since the last rest: what fatigue is measured on
        self.correct: list[bool] = []
        self.trials = 0                      # in the whole session
        self.fatigue_max = 0.0
        self.breaks = 0
        self.finished = False

    @property
    def task(self):
        return self.plan[self._task_index]

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def working_minutes(self) -> float:
        now = self._paused_at if self._paused_at is not None else self.clock()
        return (now - self._started - self._paused_s) / 60

    def next_prompt(self, visible: tuple[str, ...] = (), texts: tuple = ()) -> Prompt | None:
        """The next thing to show, or None when paused, finished, or (find) nothing is in view.
        visible: classes Stage A sees now; texts: (text, score) lines the text reader just read."""
        if self.finished or self.paused:
            return None
        if self._done_in_task >= self.trials_per_task:
            self._task_index += 1
            self._done_in_task = 0
            if self._task_index >= len(self.plan):
                self.end("completed")
                return None
        self._prompt = self.task.next_prompt(visible=visible, texts=texts)
        self._asked_at = self.clock()
        return self._prompt

    def respond(self, response: str, visible: tuple[str, ...] = ()) -> Outcome:
        if self._prompt is None or self.paused or self.finished:
            raise ValueError("there is no open prompt to answer")
        rt = self.clock() - self._asked_at
        level, prompt_text = self._prompt.level, self._prompt.text
        ok = self.task.check(response, visible=visible)
        self.rts.append(rt)
        self.correct.append(ok)
        self._done_in_task += 1
        self.trials += 1
        state = fatigue.estimate(self.rts, self.correct, self.working_minutes())
        self.fatigue_max = max(self.fatigue_max, state.fatigue)
        self._prompt = None
        message = ""
        if state.advice == "pause":
            self.pause()
            self.breaks += 1
            message = "You seem tired: the session is paused. Rest your eyes, then resume when ready."
        elif state.advice == "break":
            self.breaks += 1
            message = "Time for a short break: look at something far away for a minute."
        # The trial and the session's summary are written together (one transaction).
        self.store.add_therapy_trial(self.session_id, {
            "n": self.trials, "task": self.task.name, "prompt": prompt_text, "response": response, "correct": int(ok),
            "rt_s": rt, "level": level, "fatigue": state.fatigue}, self._summary())
        return Outcome(ok, rt, state, message)

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self.clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_s += self.clock() - self._paused_at
            self._paused_at = None
            # After a rest, fatigue is measured afresh against a new baseline.
            self.rts, self.correct = [], []

    def _summary(self) -> dict:
        return {"fatigue_max": self.fatigue_max, "breaks": self.breaks}

    def end(self, reason: str = "stopped") -> None:
        if not self.finished:
            self.finished = True
            self.store.end_therapy_session(self.session_id, reason, self._summary())
