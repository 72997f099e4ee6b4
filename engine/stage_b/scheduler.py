"""Stage B scheduler: processors run in a worker *process* behind a bounded queue.

Why a process: Python-heavy work in a thread beside Stage A stalled frames to 0.8-1 s here (the
GIL); a process cannot. The worker owns each processor's state (models, stream buffers); the
caller submits jobs and drains results, never waits.

What the scheduler owns: the worker process, its two queues, the jobs in flight and the record of
which processor failed how often. What it never does: block the caller, or charge one processor
for another's fault.

Rules:
  * at most `max_pending` jobs in flight per task: more are dropped and counted (the result
    says so), so a slow processor cannot starve the others;
  * the worker announces each job as it starts it, so a hang (a job running longer than
    `timeout_s`), a crash (the worker died) or a memory hog (the worker's resident memory over
    `memory_mb`) is charged to the processor that was running, and only to it; jobs that were
    only waiting are dropped without charge;
  * the worker itself has a liveness limit (`liveness_s`): while jobs are pending, it must take or
    finish one within that time. A worker that does not (stopped by SIGSTOP or a debugger, stuck
    outside any job) is killed and respawned without charging any processor, and the user is
    told; a worker that is runnable but gets no core is starved, not stopped (STARVED_GRACE);
  * a job that is slow only because the worker is starved (it runs at idle priority, so a busy
    machine can leave it waiting for a core) is not a hang: while a worker thread is runnable and
    the job has used less than `timeout_s` of CPU, it gets STARVED_GRACE times longer (Linux;
    elsewhere the wall-clock rule holds). A runaway job (CPU past `timeout_s`) or one that sleeps
    is charged at `timeout_s` as before;
  * a processor charged `max_failures` times is switched off; the worker is restarted after a
    hang, crash or hog, with a back-off, and Stage B stops for the session after `max_restarts`
    restarts inside `restart_window_s` (so a crash loop cannot burn a core);
  * a result larger than `max_result_bytes` is refused in the worker (a failure of that
    processor), so one huge answer cannot stall Stage A while it is unpickled;
  * the worker exits within a second when its parent dies, however the parent dies;
  * old queues are closed without waiting on their feeder threads, so exit never hangs.
Processors are named factories "module:function" with keyword arguments, built in the worker;
each takes its task's job dataclass and answers with its result dataclass (engine/types.py).
A processor may offer `configure(**changes)`, applied live by `configure(task, **changes)`; one
that does not is rebuilt with the new arguments.
"""
from __future__ import annotations

import atexit
import importlib
import logging
import multiprocessing as mp
import os
import pickle
import queue
import threading
import time
import weakref
from dataclasses import dataclass, field, replace

from engine.types import StageBJob, StageBValue

log = logging.getLogger(__name__)

PARENT_POLL_S = 0.2        # how often the worker checks that its parent is alive
MEMORY_POLL_S = 0.5        # how often the parent reads the worker's resident memory
STARVED_GRACE = 30.0       # a starved job may run this many times timeout_s (5 min at 10 s) before it is a hang
LIVENESS_S = 15.0          # a worker with jobs pending that takes or finishes none for this long is restarted


@dataclass(frozen=True)
class ProcessorSpec:
    factory: str               # "package.module:function", called with kwargs in the worker
    kwargs: dict = field(default_factory=dict)
    timeout_s: float | None = None     # this processor's hang limit (None: the scheduler's timeout_s)


@dataclass(frozen=True)
class StageBResult:
    task: str
    value: StageBValue         # the task's result type (engine/types.py); test fakes may answer anything
    submitted_t: float         # stream time of the input
    latency_s: float           # submit -> result available


@dataclass
class StageBStatus:
    dropped: int = 0
    restarts: int = 0
    disabled: tuple[str, ...] = ()
    stopped: bool = False      # Stage B gave up for this session (crash loop)
    problems: list[str] = field(default_factory=list)   # sentences not yet handed out by take_problems()
    worker_rss_mb: float = 0.0


def _watch_parent(parent_pid: int) -> None:
    """Exit as soon as the parent is gone (its pid is no longer our parent: we were re-parented)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(PARENT_POLL_S)


def _lowest_priority() -> None:
    """Stage A first: the worker runs only on CPU time the frame loop leaves idle (Linux
    SCHED_IDLE), else at the lowest nice level. Stage A at 10 fps leaves most of 2 cores idle, so
    Stage B still gets its work done; it just never takes a core Stage A wants."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(19)
    except OSError:
        pass


def _rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc); 0 where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _cpu_state(pid: int) -> tuple[float, bool] | None:
    """(CPU seconds the process has used, is any of its threads runnable now) from Linux /proc;
    None where it cannot be read. A thread waiting for a core is 'R' (runnable), one blocked or
    sleeping is not."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")     # utime + stime
        runnable = False
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "R":
                        runnable = True
                        break
            except OSError:
                continue
        return cpu, runnable
    except (OSError, ValueError, IndexError):
        return None


def _thread_states(pid: int) -> set[str] | None:
    """The scheduler states of a process's threads from Linux /proc ("R" runnable, "S" sleeping,
    "D" in the kernel, "T"/"t" stopped); None where they cannot be read."""
    try:
        out = set()
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    out.add(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                continue
        return out
    except OSError:
        return None


def _worker_main(specs: dict, jobs, results, running, parent_pid: int, max_result_bytes: int) -> None:
    from engine.runtime_env import quiet_runtimes
    quiet_runtimes()                       # no telemetry from any runtime this process loads
    _lowest_priority()
    results.cancel_join_thread()           # exit never waits on a parent that stopped reading
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="parent-watch").start()
    specs = dict(specs)
    processors = {}
    while True:
        msg = jobs.get()
        if msg is None:
            return
        if msg[0] == "spec":              # a task added or changed live
            _, task, spec = msg
            specs[task] = spec
            processors.pop(task, None)
            continue
        if msg[0] == "configure":
            _, task, changes = msg
            if task in specs:
                specs[task] = replace(specs[task], kwargs={**specs[task].kwargs, **changes})
                proc = processors.get(task)
                if proc is not None and hasattr(proc, "configure"):
                    proc.configure(**changes)
                else:
                    processors.pop(task, None)   # rebuilt with the new arguments on its next job
            continue
        if msg[0] == "drop":
            processors.pop(msg[1], None)
            specs.pop(msg[1], None)
            continue
        _, job_id, task, payload = msg
        # Shared memory, written before the job runs: the parent knows who was running even when
        # the worker dies the next instant (a queued message could die unsent with the process).
        with running.get_lock():
            running[0], running[1] = job_id, time.monotonic()      # one system-wide clock on Linux and macOS
        try:
            if task not in processors:
                spec = specs[task]
                module, func = spec.factory.split(":")
                processors[task] = getattr(importlib.import_module(module), func)(**spec.kwargs)
            value = processors[task](payload)
            blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            if len(blob) > max_result_bytes:
                raise ValueError(f"its result was {len(blob) / 2**20:.0f} MB, over the {max_result_bytes / 2**20:.0f} MB limit")
            results.put(("done", job_id, task, True, blob))
        except Exception as exc:  # noqa: BLE001 - report, keep serving the other processors
            results.put(("done", job_id, task, False, f"{type(exc).__name__}: {exc}"))
        with running.get_lock():
            running[0] = 0
        del payload


def _close_at_exit(ref) -> None:
    # Runs before multiprocessing's own exit handler (atexit is last-in, first-out), so the
    # worker is stopped and the queues released before anything waits on them.
    s = ref()
    if s is not None:
        s.close()


class StageBScheduler:
    """Owns the Stage B worker process and its queues; never blocks the frame loop."""

    def __init__(self, specs: dict[str, ProcessorSpec], max_pending: int = 2, timeout_s: float = 10.0, max_failures: int = 3,
                 memory_mb: float = 1500.0, max_result_bytes: int = 8 * 2**20, max_restarts: int = 5,
                 restart_window_s: float = 120.0, liveness_s: float = LIVENESS_S):
        if not specs:
            raise ValueError("a Stage B scheduler needs at least one processor")
        if memory_mb < 100:
            raise ValueError(f"memory_mb must be at least 100, got {memory_mb}")
        if liveness_s <= 0:
            raise ValueError(f"liveness_s must be above 0, got {liveness_s}")
        self.specs = dict(specs)
        self.max_pending, self.timeout_s, self.max_failures = max_pending, timeout_s, max_failures
        self.memory_mb, self.max_result_bytes = memory_mb, max_result_bytes
        self.max_restarts, self.restart_window_s = max_restarts, restart_window_s
        self.liveness_s = liveness_s
        self._progress_at = time.monotonic()   # the worker last started, took or finished a job (or work arrived)
        self.status = StageBStatus()
        self._ctx = mp.get_context("spawn")     # no fork: the parent holds ORT sessions and Qt
        self._failures: dict[str, int] = {}
        self._reported: set[str] = set()
        self._in_flight: dict[int, tuple[str, float, float]] = {}   # job -> (task, stream t, wall submit)
        self._restart_times: list[float] = []
        self._next_restart_at = 0.0
        self._last_memory_check = 0.0
        self._job_cpu: dict = {}            # CPU the worker had used when the running job was first seen
        self._next_id = 0
        self._ready: list[StageBResult] = []     # collected by wait_idle, handed out by the next drain
        self._proc = None
        self._start_worker()
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- the worker's life ----------------------------------------------------------------------
    def _start_worker(self) -> None:
        self._jobs = self._ctx.Queue()
        self._jobs.cancel_join_thread()      # at exit, never wait to hand unsent jobs to a dead worker
        self._results = self._ctx.Queue()
        self._now_running = self._ctx.Array("d", [0.0, 0.0])     # [job id (0 = idle), start time]
        self._proc = self._ctx.Process(target=_worker_main, name="maxsight-stage-b", daemon=True,
                                       args=(self.specs, self._jobs, self._results, self._now_running, os.getpid(),
                                             self.max_result_bytes))
        self._proc.start()
        self._progress_at = time.monotonic()

    def _stop_worker(self) -> None:
        """Kill the worker and close its queues without waiting on their feeder threads."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(timeout=2)
            if not self._proc.is_alive():
                self._proc.close()
            self._proc = None
        for q in (self._jobs, self._results):
            q.cancel_join_thread()     # a feeder blocked on a dead worker's pipe must not hold up exit
            q.close()

    def _restart(self, why: str) -> None:
        self._stop_worker()
        self._in_flight.clear()
        now = time.monotonic()
        self._restart_times = [t for t in self._restart_times if now - t < self.restart_window_s] + [now]
        if len(self._restart_times) > self.max_restarts:
            self.status.stopped = True
            self.status.disabled = tuple(self.specs)
            self._problem("stopped", f"Stage B stopped after {self.max_restarts} restarts in {self.restart_window_s:.0f} s "
                                     f"({why}); sounds, captions and reading are off, the safety alerts are not affected.")
            return
        # Back off: at once, then 0.5 s, 1 s, 2 s ... so a worker that dies at start cannot spin a core.
        n = len(self._restart_times)
        self._next_restart_at = now + (0.0 if n == 1 else min(30.0, 0.5 * 2 ** (n - 2)))
        self.status.restarts += 1
        log.warning("Stage B worker restarted: %s", why)
        self._ensure_worker()

    def _ensure_worker(self) -> bool:
        if self.status.stopped:
            return False
        if self._proc is None:
            if time.monotonic() < self._next_restart_at:
                return False
            self._start_worker()
        return True

    # -- accounting -------------------------------------------------------------------------------
    def _problem(self, key: str, sentence: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.status.problems.append(sentence)
            log.warning("%s", sentence)

    def take_problems(self) -> tuple[str, ...]:
        """The problem sentences since the last call, each handed out once (the pipeline puts them
        in the next FrameResult, the one road to the user)."""
        out = tuple(self.status.problems)
        self.status.problems.clear()
        return out

    def _fail(self, task: str, why: str) -> None:
        self._failures[task] = self._failures.get(task, 0) + 1
        self._problem(f"fail:{task}", f"Stage B {task} failed ({why}); the safety alerts are not affected.")
        if self._failures[task] >= self.max_failures and task not in self.status.disabled:
            self.status.disabled += (task,)
            self._problem(f"off:{task}", f"Stage B {task} kept failing and is switched off for this session.")

    # -- the caller's side ------------------------------------------------------------------------
    def submit(self, task: str, payload: StageBJob, t: float) -> bool:
        """Queue a job (the task's job type, engine/types.py); False when it was dropped (queue full,
        worker restarting) or the task is off."""
        if task not in self.specs:
            raise ValueError(f"no Stage B processor called {task!r}; known: {', '.join(self.specs)}")
        if task in self.status.disabled or not self._ensure_worker():
            return False
        if self.pending_for(task) >= self.max_pending:
            self.status.dropped += 1
            return False
        self._next_id += 1
        if not self._in_flight:
            self._progress_at = time.monotonic()     # the liveness clock runs only while work waits
        self._in_flight[self._next_id] = (task, t, time.monotonic())
        self._jobs.put(("job", self._next_id, task, payload))
        return True

    def configure(self, task: str, **changes) -> None:
        """Change a processor's arguments live (e.g. which sounds to report); kept across restarts."""
        if task not in self.specs:
            raise ValueError(f"no Stage B processor called {task!r}; known: {', '.join(self.specs)}")
        spec = self.specs[task]
        self.specs[task] = replace(spec, kwargs={**spec.kwargs, **changes})
        if self._proc is not None:
            self._jobs.put(("configure", task, changes))

    def set_task(self, task: str, spec: ProcessorSpec | None) -> None:
        """Add, replace (spec) or remove (None) a processor live."""
        if spec is None:
            if task in self.specs:
                del self.specs[task]
                self._in_flight = {j: v for j, v in self._in_flight.items() if v[0] != task}
                if self._proc is not None:
                    self._jobs.put(("drop", task))
            return
        self.specs[task] = spec
        self.status.disabled = tuple(t for t in self.status.disabled if t != task)
        self._failures.pop(task, None)
        if self._proc is not None:
            self._jobs.put(("spec", task, spec))

    def wait_idle(self, timeout_s: float, task: str | None = None) -> bool:
        """Block until no job (of `task`, or any) is in flight; what finished is kept for the next
        drain(). For tests and benchmarks that must wait on events, not on the clock; never called
        from the frame loop. False when the timeout passed first."""
        end = time.monotonic() + timeout_s
        while (self.pending_for(task) if task else self.pending) and time.monotonic() < end:
            self._ready += self._collect()
            time.sleep(0.01)
        return not (self.pending_for(task) if task else self.pending)

    def drain(self) -> list[StageBResult]:
        out, self._ready = self._ready + self._collect(), []
        return out

    def _collect(self) -> list[StageBResult]:
        out = []
        if self._proc is None:
            self._ensure_worker()
            return out
        while True:
            try:
                msg = self._results.get_nowait()
            except (queue.Empty, OSError, EOFError, ValueError):
                break
            _, job_id, task, ok, value = msg
            self._progress_at = time.monotonic()
            info = self._in_flight.pop(job_id, None)
            if info is None:
                continue            # a task removed while its job ran
            _, t, wall = info
            if ok:
                out.append(StageBResult(task, pickle.loads(value), t, time.monotonic() - wall))
            else:
                self._fail(task, value)
        self._check_health()
        return out

    @property
    def _running(self) -> tuple[int, str, float] | None:
        """(job, task, start time) of the job the worker is running now, if any."""
        if self._proc is None:
            return None
        with self._now_running.get_lock():
            job_id, started = int(self._now_running[0]), self._now_running[1]
        info = self._in_flight.get(job_id)
        return (job_id, info[0], started) if job_id and info else None

    def _check_health(self) -> None:
        now = time.monotonic()
        running = self._running
        if not self._proc.is_alive():
            code = self._proc.exitcode
            if running:
                self._fail(running[1], f"the worker died while running it (exit code {code})")
            self._problem("crash", "The Stage B worker stopped unexpectedly; it was restarted.")
            self._restart(f"worker exited with code {code}")
            return
        if running:
            self._progress_at = max(self._progress_at, running[2])
        if self._stalled(running, now):
            self._problem("stalled", f"The Stage B worker stopped taking jobs for {now - self._progress_at:.0f} s; "
                                     f"it was restarted. The safety alerts are not affected.")
            self._restart("the worker stopped taking jobs")
            return
        if running and self._job_cpu.get("job") != running[0]:
            state = _cpu_state(self._proc.pid)
            self._job_cpu = {"job": running[0], "cpu": state[0] if state else None}
        if running and now - running[2] > self._limit(running[1]) and not self._starved(running, now):
            state = _cpu_state(self._proc.pid)
            used = f", {state[0] - self._job_cpu['cpu']:.1f} s of CPU, {'runnable' if state[1] else 'not runnable'}" \
                if state is not None and self._job_cpu.get("cpu") is not None else ""
            log.warning("Stage B %s: no answer after %.1f s%s", running[1], now - running[2], used)
            self._fail(running[1], f"no answer within {self._limit(running[1]):.0f} s")
            self._restart(f"{running[1]} hung")
            return
        if now - self._last_memory_check >= MEMORY_POLL_S:
            self._last_memory_check = now
            rss = _rss_mb(self._proc.pid)
            self.status.worker_rss_mb = rss
            if rss > self.memory_mb:
                if running:
                    self._fail(running[1], f"the worker used {rss:.0f} MB, over its {self.memory_mb:.0f} MB limit")
                self._problem("memory", f"Stage B used {rss:.0f} MB, over its {self.memory_mb:.0f} MB limit; it was restarted.")
                self._restart("memory limit")

    def _stalled(self, running, now: float) -> bool:
        """Jobs wait, and for liveness_s the worker has taken or finished none: it is stopped
        (every thread "T") or, with no job running, asleep while its queue holds work. A worker
        that is runnable (or in the kernel) is starved, not stalled, for up to STARVED_GRACE x
        liveness_s. A running job that is merely long is the hang rule's business."""
        idle = now - self._progress_at
        if not self._in_flight or idle <= self.liveness_s:
            return False
        states = _thread_states(self._proc.pid)
        if states is None:                     # no /proc: only a worker with no job running can tell
            return running is None
        if states and states <= {"T", "t"}:
            return True
        return running is None and not (states & {"R", "D"} and idle <= self.liveness_s * STARVED_GRACE)

    def _limit(self, task: str) -> float:
        spec = self.specs.get(task)
        return spec.timeout_s if spec is not None and spec.timeout_s else self.timeout_s

    def _starved(self, running: tuple[int, str, float], now: float) -> bool:
        """Is the running job late only because the worker gets no core? Runnable, little CPU used
        since the job was first seen, and within STARVED_GRACE x timeout_s."""
        limit = self._limit(running[1])
        if now - running[2] > limit * STARVED_GRACE or self._job_cpu.get("cpu") is None:
            return False
        state = _cpu_state(self._proc.pid)
        if state is None:
            return False
        cpu, runnable = state
        starved = runnable and cpu - self._job_cpu["cpu"] < limit
        if starved and not self._job_cpu.get("told"):
            self._job_cpu["told"] = True
            log.info("Stage B %s is slow because the machine is busy (%.1f s of CPU in %.0f s); not a hang",
                     running[1], cpu - self._job_cpu["cpu"], now - running[2])
        return starved

    @property
    def pending(self) -> int:
        return len(self._in_flight)

    def pending_for(self, task: str) -> int:
        return sum(1 for tk, _, _ in self._in_flight.values() if tk == task)

    @property
    def worker_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        """Stop the worker (a second at most) and release everything it held."""
        if self._proc is None:
            for q in (self._jobs, self._results):
                q.cancel_join_thread()
                q.close()
            return
        try:
            self._jobs.put(None)
            self._proc.join(timeout=1.0)
        except (OSError, ValueError):
            pass
        self._stop_worker()
        self._in_flight.clear()
