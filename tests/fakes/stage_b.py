"""Processors for scheduler tests, built in the worker process by name: one that answers, one
that raises, one that hangs, one that burns CPU in Python (the GIL-heavy kind), and the faults a
hostile environment brings: a crash, a memory hog, a huge result, a configurable one."""
from __future__ import annotations

import os
import time


def echo(delay_s: float = 0.0):
    def run(payload):
        time.sleep(delay_s)
        return payload
    return run


def raises():
    def run(payload):
        raise RuntimeError("model file damaged")
    return run


def hangs():
    def run(payload):
        time.sleep(3600)
    return run


def busy(seconds: float = 0.2):
    def run(payload):
        end = time.perf_counter() + seconds
        x = 0
        while time.perf_counter() < end:
            x += 1
        return x
    return run


def cpu_work(cpu_s: float = 0.5):
    """Needs `cpu_s` seconds of CPU, however long the machine takes to give them."""
    def run(payload):
        end = time.process_time() + cpu_s
        x = 0
        while time.process_time() < end:
            x += 1
        return x
    return run


def crashes():
    """Dies like a segfaulting native library: no exception, no goodbye."""
    def run(payload):
        os._exit(139)
    return run


def hogs(mb: int = 400, hold_s: float = 5.0):
    """Allocates and touches `mb` megabytes, then holds them."""
    def run(payload):
        block = bytearray(mb * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(hold_s)
        return len(block)
    return run


def huge(mb: int = 20):
    def run(payload):
        return b"x" * (mb * 2**20)
    return run


class Tagger:
    """Answers with its tag; `configure(tag=...)` changes it live, as the sound filter does."""

    def __init__(self, tag: str = "a"):
        self.tag = tag
        self.built_at = time.monotonic()

    def configure(self, tag: str | None = None) -> None:
        if tag is not None:
            self.tag = tag

    def __call__(self, payload):
        return (self.tag, self.built_at)


def tagger(tag: str = "a"):
    return Tagger(tag)


def rebuilt(tag: str = "a"):
    """No configure(): the scheduler must rebuild it with the new arguments."""
    def run(payload):
        return tag
    return run


def slow_sounds(delay_s: float = 1.0):
    """A sound task that hears a doorbell in every piece of audio, `delay_s` after getting it: a
    worker behind the video, as on a busy machine."""
    from engine.types import SoundEvent, SoundResult

    def run(job):
        time.sleep(delay_s)
        return SoundResult((SoundEvent("doorbell", 0.9, 0.0, None),))
    return run
