"""The Stage B scheduler with real worker processes: bounded queue drops, a raising processor is
reported once and disabled, a hanging one is killed and the worker restarted, results carry age."""
from __future__ import annotations

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
    time.sleep(1.3)
    s.drain()
    assert s.status.restarts == 1 and s.status.disabled == ("hang",) and s.pending == 0
    s.submit("echo", "after restart", t=1)
    assert wait_results(s, 1)[0].value == "after restart"


def test_unknown_task_is_named(sched):
    s = sched(specs={"echo": ProcessorSpec("tests.fakes.stage_b:echo")})
    with pytest.raises(ValueError, match="no Stage B processor called 'ocr'"):
        s.submit("ocr", None, t=0)
