"""Processors for scheduler tests, built in the worker process by name: one that answers, one
that raises, one that hangs, one that burns CPU in Python (the GIL-heavy kind)."""
from __future__ import annotations

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
