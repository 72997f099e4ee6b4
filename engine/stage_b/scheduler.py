"""Stage B scheduler: processors run in a worker *process* behind a bounded queue.

Why a process: Python-heavy work in a thread beside Stage A stalled frames to 0.8-1 s here (the
GIL); a process cannot. The worker owns each processor's state (models, stream buffers); the
caller submits jobs and drains results, never waits. Rules:
  * at most `max_pending` jobs in flight per task: more are dropped and counted (the result
    says so), so a slow processor cannot starve the others;
  * a processor that raises is reported once; after `max_failures` it is disabled;
  * a job running longer than `timeout_s` means a hang: the worker is killed and restarted
    (processors rebuilt), the processor charged a failure;
Processors are named factories "module:function" with keyword arguments, built in the worker.
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing as mp
import queue
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessorSpec:
    factory: str               # "package.module:function", called with kwargs in the worker
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StageBResult:
    task: str
    value: object
    submitted_t: float         # stream time of the input
    latency_s: float           # submit -> result available


@dataclass
class StageBStatus:
    dropped: int = 0
    restarts: int = 0
    disabled: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)   # one sentence per problem, each reported once


def _worker_main(specs: dict, jobs, results) -> None:
    processors = {}
    while True:
        job = jobs.get()
        if job is None:
            return
        job_id, task, payload = job
        try:
            if task not in processors:
                spec = specs[task]
                module, func = spec.factory.split(":")
                processors[task] = getattr(importlib.import_module(module), func)(**spec.kwargs)
            value = processors[task](payload)
            results.put((job_id, task, True, value))
        except Exception as exc:  # noqa: BLE001 - report, keep serving the other processors
            results.put((job_id, task, False, f"{type(exc).__name__}: {exc}"))


class StageBScheduler:
    def __init__(self, specs: dict[str, ProcessorSpec], max_pending: int = 2, timeout_s: float = 10.0, max_failures: int = 3):
        self.specs = specs
        self.max_pending, self.timeout_s, self.max_failures = max_pending, timeout_s, max_failures
        self.status = StageBStatus()
        self._ctx = mp.get_context("spawn")     # no fork: the parent holds ORT sessions and Qt
        self._failures: dict[str, int] = {}
        self._reported: set[str] = set()
        self._in_flight: dict[int, tuple[str, float, float]] = {}   # job -> (task, stream t, wall submit)
        self._next_id = 0
        self._start_worker()

    def _start_worker(self) -> None:
        self._jobs = self._ctx.Queue()
        self._results = self._ctx.Queue()
        self._proc = self._ctx.Process(target=_worker_main, args=(self.specs, self._jobs, self._results),
                                       name="maxsight-stage-b", daemon=True)
        self._proc.start()

    def _problem(self, key: str, sentence: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.status.problems.append(sentence)
            log.warning("%s", sentence)

    def _fail(self, task: str, why: str) -> None:
        self._failures[task] = self._failures.get(task, 0) + 1
        self._problem(f"fail:{task}", f"Stage B {task} failed ({why}); the safety alerts are not affected.")
        if self._failures[task] >= self.max_failures and task not in self.status.disabled:
            self.status.disabled += (task,)
            self._problem(f"off:{task}", f"Stage B {task} kept failing and is switched off for this session.")

    def submit(self, task: str, payload, t: float) -> bool:
        """Queue a job; False when it was dropped (queue full) or the task is disabled."""
        if task not in self.specs:
            raise ValueError(f"no Stage B processor called {task!r}; known: {', '.join(self.specs)}")
        if task in self.status.disabled:
            return False
        if sum(1 for tk, _, _ in self._in_flight.values() if tk == task) >= self.max_pending:
            self.status.dropped += 1
            return False
        self._next_id += 1
        self._in_flight[self._next_id] = (task, t, time.monotonic())
        self._jobs.put((self._next_id, task, payload))
        return True

    def drain(self) -> list[StageBResult]:
        out = []
        while True:
            try:
                job_id, task, ok, value = self._results.get_nowait()
            except queue.Empty:
                break
            info = self._in_flight.pop(job_id, None)
            if info is None:
                continue            # from a worker that was restarted
            _, t, wall = info
            if ok:
                out.append(StageBResult(task, value, t, time.monotonic() - wall))
            else:
                self._fail(task, value)
        self._check_hang()
        return out

    def _check_hang(self) -> None:
        now = time.monotonic()
        hung = [(jid, task) for jid, (task, _, wall) in self._in_flight.items() if now - wall > self.timeout_s]
        if not hung and self._proc.is_alive():
            return
        if not self._proc.is_alive():
            self._problem("crash", "The Stage B worker stopped; it was restarted.")
        for _, task in hung:
            self._fail(task, f"no answer within {self.timeout_s:.0f} s")
        self._proc.kill()
        self._proc.join(timeout=5)
        self._in_flight.clear()
        self.status.restarts += 1
        self._start_worker()

    @property
    def pending(self) -> int:
        return len(self._in_flight)

    def pending_for(self, task: str) -> int:
        return sum(1 for tk, _, _ in self._in_flight.values() if tk == task)

    def close(self) -> None:
        try:
            self._jobs.put(None)
            self._proc.join(timeout=3)
        finally:
            if self._proc.is_alive():
                self._proc.kill()
