"""Runs the `maxsight` command line as a user does (a subprocess), for the tests. When the command
said that the evaluation data is missing (a newcomer's clone has none), the test skips with that
sentence outside CI and fails in CI (tests/conftest.py turns EvalDataMissing into either)."""
from __future__ import annotations

import subprocess
import sys

from engine.eval_data import EvalDataMissing

DATA_MISSING = "set MAXSIGHT_EVAL_DATA"      # the end of engine.eval_data.require's sentence


def data_said_missing(stderr: str) -> None:
    """Raise EvalDataMissing with the command's own sentence when it stopped for want of the data."""
    for line in (stderr or "").splitlines():
        if DATA_MISSING in line and "evaluation data" in line:
            raise EvalDataMissing(line.removeprefix("maxsight: "))


def maxsight(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    """`maxsight ARGS` with text output captured; kw go to subprocess.run (env, cwd...)."""
    r = subprocess.run([sys.executable, "-m", "maxsight_app", *args], capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        data_said_missing(r.stderr)
    return r
