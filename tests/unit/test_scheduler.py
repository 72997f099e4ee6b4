"""The Stage B scheduler with real worker processes: bounded queue drops, a raising processor is
reported once and disabled, a hanging one is killed and the worker restarted, results carry age."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler


def wait_results(s, n, timeout=20.0):
    got, end = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        got += s.drain()
        time.sleep(0.01)
    return got


@pytest.fixture
def sched():
    made = []
    def make(**kw):
        s = StageBScheduler(kw.pop("specs"), **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def test_results_come_back_with_their_time(sched):
    s = sched(specs={"echo": ProcessorSpec("tests.fakes.stage_b:echo")})
    assert s.submit("echo", {"x": 1}, t=3.5)
    r = wait_results(s, 1)
    assert r[0].task == "echo" and r[0].value == {"x": 1} and r[0].submitted_t == 3.5 and r[0].latency_s >= 0


def test_bounded_queue_drops_and_counts(sched):
    s = sched(specs={"slow": ProcessorSpec("tests.fakes.stage_b:echo", {"delay_s": 0.5})}, max_pending=2)
    accepted = [s.submit("slow", i, t=i) for i in range(6)]
    assert accepted == [True, True, False, False, False, False]
    assert s.status.dropped == 4 and s.pending == 2
    assert len(wait_results(s, 2)) == 2
    assert s.submit("slow", 9, t=9)                  # room again


def test_raising_processor_is_reported_once_then_disabled(sched):
    s = sched(specs={"bad": ProcessorSpec("tests.fakes.stage_b:raises"), "echo": ProcessorSpec("tests.fakes.stage_b:echo")},
              max_failures=2)
    for i in range(2):
        s.submit("bad", i, t=i)
        wait_results(s, 0, timeout=0)
        end = time.monotonic() + 10
        while s.pending and time.monotonic() < end:
            s.drain()
            time.sleep(0.01)
    assert s.status.disabled == ("bad",)
    assert sum("bad failed" in p for p in s.status.problems) == 1 and any("switched off" in p for p in s.status.problems)
    assert not s.submit("bad", 3, t=3)
    s.submit("echo", "still here", t=4)              # the others keep working
    assert wait_results(s, 1)[0].value == "still here"


def test_hanging_processor_is_killed_and_the_worker_restarted(sched):
    s = sched(specs={"hang": ProcessorSpec("tests.fakes.stage_b:hangs"), "echo": ProcessorSpec("tests.fakes.stage_b:echo")},
              timeout_s=1.0, max_failures=1)
    s.submit("hang", None, t=0)
    wait_until(s, lambda: s.status.restarts == 1, timeout=10.0)
    assert s.status.disabled == ("hang",) and s.pending == 0
    s.submit("echo", "after restart", t=1)
    assert wait_results(s, 1)[0].value == "after restart"


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or not os.path.isdir("/proc/self/task"), reason="Linux only")
def test_a_starved_worker_is_slow_not_hung(sched):
    """The worker runs at idle priority: on a busy machine a job waits for a core. Pinned to one
    core beside a busy process, a job needing 0.3 s of CPU takes far longer than its 1 s timeout;
    it must not be charged as a hang (a restart would only lose the job and start again)."""
    s = sched(specs={"work": ProcessorSpec("tests.fakes.stage_b:cpu_work", {"cpu_s": 0.3})}, timeout_s=1.0, max_failures=1)
    everywhere = os.sched_getaffinity(0)
    core = min(everywhere)

    def pin(cores):
        for tid in os.listdir(f"/proc/{s.worker_pid}/task"):
            os.sched_setaffinity(int(tid), cores)
    pin({core})
    hog = subprocess.Popen([sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{core}}})\nwhile True: pass"])
    try:
        time.sleep(0.3)
        s.submit("work", None, t=0)
        end = time.monotonic() + 3.0                   # three timeouts
        while time.monotonic() < end:
            assert not s.drain()                       # starved: no answer yet
            time.sleep(0.05)
        assert s.status.restarts == 0 and s.status.disabled == ()
    finally:
        hog.kill()
        hog.wait()
        pin(everywhere)
    got = wait_results(s, 1, timeout=60.0)         # a busy machine may still keep an idle-priority worker waiting
    assert got and got[0].task == "work" and s.status.restarts == 0


def test_a_runaway_job_is_a_hang_even_while_it_computes(sched):
    """Using CPU past the timeout is not starvation: it is charged at the timeout."""
    s = sched(specs={"work": ProcessorSpec("tests.fakes.stage_b:cpu_work", {"cpu_s": 30.0})}, timeout_s=1.0, max_failures=1)
    s.submit("work", None, t=0)
    wait_until(s, lambda: s.status.restarts == 1, timeout=15.0)
    assert s.status.disabled == ("work",)


def test_a_processor_may_have_a_longer_limit_of_its_own(sched):
    """Captions get 30 s: a long stretch of speech is not a hang. Others keep the scheduler's."""
    s = sched(specs={"slow": ProcessorSpec("tests.fakes.stage_b:echo", {"delay_s": 1.6}, timeout_s=5.0),
                     "hang": ProcessorSpec("tests.fakes.stage_b:hangs")}, timeout_s=1.0, max_failures=1)
    s.submit("slow", "late but fine", t=0)
    got = wait_results(s, 1)
    assert got[0].value == "late but fine" and s.status.restarts == 0
    s.submit("hang", None, t=1)
    wait_until(s, lambda: s.status.restarts == 1, timeout=10.0)
    assert s.status.disabled == ("hang",)


def test_unknown_task_is_named(sched):
    s = sched(specs={"echo": ProcessorSpec("tests.fakes.stage_b:echo")})
    with pytest.raises(ValueError, match="no Stage B processor called 'ocr'"):
        s.submit("ocr", None, t=0)


# -- faults (issue: nothing hangs, nothing leaks, only the guilty processor is charged) -----------

def wait_until(s, cond, timeout=20.0):
    end = time.monotonic() + timeout
    got = []
    while time.monotonic() < end:
        got += s.drain()
        if cond():
            return got
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_a_crashing_processor_is_charged_and_switched_off_without_a_restart_loop(sched):
    s = sched(specs={"crash": ProcessorSpec("tests.fakes.stage_b:crashes"), "echo": ProcessorSpec("tests.fakes.stage_b:echo")},
              max_failures=2)
    for i in range(2):
        first = s.worker_pid
        assert s.submit("crash", i, t=i) or wait_until(s, lambda: s.submit("crash", i, t=i), 10)
        wait_until(s, lambda: s.worker_pid != first or "crash" in s.status.disabled)
        wait_until(s, lambda: s.worker_pid is not None)           # back-off over, worker back
    assert s.status.disabled == ("crash",)
    assert s.status.restarts == 2 and not s.status.stopped
    assert any("died while running it" in p for p in s.status.problems)
    assert not s.submit("crash", 9, t=9)
    s.submit("echo", "alive", t=10)
    assert wait_results(s, 1)[0].value == "alive"


def test_a_crash_loop_stops_stage_b_instead_of_burning_a_core(sched):
    s = sched(specs={"crash": ProcessorSpec("tests.fakes.stage_b:crashes")}, max_failures=100, max_restarts=2)
    for _ in range(3):
        wait_until(s, lambda: s.submit("crash", 0, t=0) or s.status.stopped, 15)
        wait_until(s, lambda: s.pending == 0 or s.status.stopped, 15)
    assert s.status.stopped and s.worker_pid is None
    assert any("Stage B stopped after 2 restarts" in p for p in s.status.problems)
    assert not s.submit("crash", 1, t=1)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_stopped_worker_is_restarted_and_said_within_its_liveness_limit(sched):
    """SIGSTOP the worker while it waits for work: the queued jobs never start. Within its liveness
    limit it is killed and respawned, the user is told, and no processor is charged."""
    s = sched(specs={"echo": ProcessorSpec("tests.fakes.stage_b:echo")}, liveness_s=3.0, max_failures=1)
    assert s.submit("echo", "up", t=0)
    assert wait_results(s, 1, timeout=60)[0].value == "up"
    pid = s.worker_pid
    os.kill(pid, signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        assert s.submit("echo", 1, t=1) and s.submit("echo", 2, t=2)
        wait_until(s, lambda: s.worker_pid != pid, timeout=90)
        assert time.monotonic() - stopped_at >= 3.0          # not before its limit
    finally:
        if not _gone(pid):
            os.kill(pid, signal.SIGCONT)
    problems = s.take_problems()
    assert sum("stopped taking jobs" in p for p in problems) == 1 and "it was restarted" in problems[0], problems
    assert s.status.restarts == 1 and s.status.disabled == () and s.pending == 0 and _gone(pid)
    assert s.submit("echo", "back", t=3)
    assert wait_results(s, 1, timeout=60)[0].value == "back"


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP") or not os.path.isdir("/proc/self/task"), reason="Linux only")
def test_a_worker_stopped_in_the_middle_of_a_job_is_restarted_without_charging_it(sched):
    s = sched(specs={"slow": ProcessorSpec("tests.fakes.stage_b:echo", {"delay_s": 3600})}, liveness_s=3.0,
              timeout_s=120.0, max_failures=1)
    assert s.submit("slow", 0, t=0)
    wait_until(s, lambda: s._running is not None, timeout=60)         # the worker took the job
    pid = s.worker_pid
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_until(s, lambda: s.worker_pid != pid, timeout=90)
    finally:
        if not _gone(pid):
            os.kill(pid, signal.SIGCONT)
    assert any("stopped taking jobs" in p for p in s.take_problems())
    assert s.status.disabled == () and s.status.restarts == 1


def test_an_idle_worker_is_not_restarted_for_having_nothing_to_do(sched):
    """The liveness limit counts only while jobs wait: a worker idle for longer than it takes the
    next job as usual."""
    s = sched(specs={"echo": ProcessorSpec("tests.fakes.stage_b:echo")}, liveness_s=1.0)
    assert s.submit("echo", 0, t=0)
    wait_results(s, 1, timeout=60)
    idle_from = time.monotonic()
    wait_until(s, lambda: time.monotonic() - idle_from > 2.0, timeout=30)    # health checks run while idle
    assert s.submit("echo", 1, t=1)
    assert wait_results(s, 1, timeout=60)[0].value == 1
    assert s.status.restarts == 0 and s.take_problems() == ()


def test_a_hang_charges_only_the_processor_that_hung(sched):
    s = sched(specs={"hang": ProcessorSpec("tests.fakes.stage_b:hangs"), "echo": ProcessorSpec("tests.fakes.stage_b:echo")},
              timeout_s=1.0, max_failures=1)
    s.submit("hang", None, t=0)
    wait_until(s, lambda: s._running is not None)
    s.submit("echo", "queued behind the hang", t=0.1)             # waits in the queue the whole time
    wait_until(s, lambda: s.status.restarts == 1)
    assert s.status.disabled == ("hang",)
    assert not any("echo" in p for p in s.status.problems)
    wait_until(s, lambda: s.worker_pid is not None)
    s.submit("echo", "after", t=2)
    assert wait_results(s, 1)[0].value == "after"


def test_a_memory_hog_is_stopped_at_the_ceiling_and_charged(sched):
    s = sched(specs={"hog": ProcessorSpec("tests.fakes.stage_b:hogs", {"mb": 600, "hold_s": 20}),
                     "echo": ProcessorSpec("tests.fakes.stage_b:echo")}, memory_mb=300, max_failures=1)
    s.submit("hog", None, t=0)
    wait_until(s, lambda: s.status.restarts == 1, 30)
    assert s.status.disabled == ("hog",)
    assert any("over its 300 MB limit" in p for p in s.status.problems)
    wait_until(s, lambda: s.worker_pid is not None)
    s.submit("echo", "ok", t=1)
    assert wait_results(s, 1)[0].value == "ok"


def test_a_huge_result_is_refused_in_the_worker(sched):
    s = sched(specs={"huge": ProcessorSpec("tests.fakes.stage_b:huge", {"mb": 20})}, max_result_bytes=4 * 2**20)
    s.submit("huge", None, t=0)
    wait_until(s, lambda: s.pending == 0)
    assert any("over the 4 MB limit" in p for p in s.status.problems)
    assert s.status.restarts == 0


def test_processor_arguments_change_live_and_survive_a_restart(sched):
    s = sched(specs={"tag": ProcessorSpec("tests.fakes.stage_b:tagger", {"tag": "a"}),
                     "plain": ProcessorSpec("tests.fakes.stage_b:rebuilt", {"tag": "a"}),
                     "crash": ProcessorSpec("tests.fakes.stage_b:crashes")})
    s.submit("tag", None, t=0)
    (tag_a, built_a), = [r.value for r in wait_results(s, 1)]
    s.configure("tag", tag="b")
    s.configure("plain", tag="b")
    s.submit("tag", None, t=1)
    s.submit("plain", None, t=1)
    got = {r.task: r.value for r in wait_results(s, 2)}
    assert got["tag"] == ("b", built_a)          # configured in place: same processor object
    assert got["plain"] == "b"                   # no configure(): rebuilt with the new argument
    s.submit("crash", None, t=2)
    wait_until(s, lambda: s.status.restarts == 1)
    wait_until(s, lambda: s.worker_pid is not None)
    s.submit("tag", None, t=3)
    assert wait_results(s, 1)[0].value[0] == "b"  # the restarted worker kept the change


def test_tasks_can_be_added_and_removed_live(sched):
    s = sched(specs={"echo": ProcessorSpec("tests.fakes.stage_b:echo")})
    s.set_task("tag", ProcessorSpec("tests.fakes.stage_b:tagger", {"tag": "new"}))
    s.submit("tag", None, t=0)
    assert wait_results(s, 1)[0].value[0] == "new"
    s.set_task("tag", None)
    with pytest.raises(ValueError, match="no Stage B processor called 'tag'"):
        s.submit("tag", None, t=1)


_CHILD = r"""
import os, sys, time
sys.path.insert(0, {root!r})
from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
specs = {{"hang": ProcessorSpec("tests.fakes.stage_b:hangs"), "echo": ProcessorSpec("tests.fakes.stage_b:echo")}}
s = StageBScheduler(specs, timeout_s=0.5)
mode = {mode!r}
if mode == "restart":
    s.submit("hang", None, t=0)
    end = time.monotonic() + 20
    while s.status.restarts == 0 and time.monotonic() < end:
        s.drain(); time.sleep(0.05)
    while s.worker_pid is None and time.monotonic() < end:
        s.drain(); time.sleep(0.05)
    s.submit("echo", "x" * 100000, t=1)
print(s.worker_pid, flush=True)
if mode == "killed":
    time.sleep(60)
if mode == "restart_close":
    s.close()
"""


def _child(mode):
    import subprocess
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parents[2])
    return subprocess.Popen([sys.executable, "-c", _CHILD.format(root=root, mode=mode)], stdout=subprocess.PIPE, text=True, cwd=root)


def _alive(pid: int) -> bool:
    import os
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


@pytest.mark.parametrize("mode", ["restart", "restart_close"])
def test_exit_after_a_worker_restart_takes_under_two_seconds(mode):
    p = _child(mode)
    worker = int(p.stdout.readline())
    t0 = time.monotonic()
    p.wait(timeout=10)
    assert time.monotonic() - t0 < 2.0, "the process hung at exit after a Stage B restart"
    end = time.monotonic() + 2
    while _alive(worker) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(worker)


def test_the_worker_exits_within_two_seconds_when_its_parent_is_killed():
    import os
    import signal
    p = _child("killed")
    worker = int(p.stdout.readline())
    assert _alive(worker)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    end = time.monotonic() + 2.0
    while _alive(worker) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(worker), "the Stage B worker outlived its parent"
