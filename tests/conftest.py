"""Shared fixtures. Hardware is replaced by files (video replay); models and evaluation data are
real. In CI (CI=true) missing data or models fail loudly; elsewhere they skip with one line."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Profiles written by tests (and by the commands they start) never touch the user's own.
if "MAXSIGHT_DATA" not in os.environ:
    _test_profiles = tempfile.mkdtemp(prefix="maxsight-test-data-")
    os.environ["MAXSIGHT_DATA"] = _test_profiles
    atexit.register(shutil.rmtree, _test_profiles, ignore_errors=True)     # one per run, never left behind
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from engine.eval_data import EvalDataMissing, eval_data_dir
from engine.models.registry import default_registry, installed_path

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DATA_SKIP_WORDS = "set MAXSIGHT_EVAL_DATA"      # every skip for want of the evaluation data says this


def _missing(msg: str):
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def eval_data():
    d = eval_data_dir()
    if not d.is_dir() or not any(d.iterdir()):        # an empty folder holds no data either
        _missing(f"evaluation data not found at {d}; set MAXSIGHT_EVAL_DATA")
    return d


@pytest.fixture(scope="session")
def registry():
    return default_registry()


@pytest.fixture(scope="session")
def installed_models(registry):
    missing = [s.name for s in registry if not s.parts and installed_path(s) is None]
    if missing:
        _missing(f"models not installed ({', '.join(missing)}); run `maxsight models fetch`")
    return registry


# A test that reaches for the evaluation data through engine.eval_data.require (directly, or through
# a training config's `eval:` path) skips with that one sentence outside CI, as the fixture above does.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI or call.excinfo is None or not call.excinfo.errisinstance(EvalDataMissing):
        return
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")


_PART_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Seconds per part of the suite (tests/desktop, tests/packaging, tests/training...), set-up and
    tear-down included, so a slow CI run says where its time went."""
    parts = report.nodeid.split("/")
    part = parts[1] if len(parts) > 2 and parts[0] == "tests" else "other"
    _PART_SECONDS[part] = _PART_SECONDS.get(part, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """At the end: seconds per part of the suite; how many tests skipped for want of the evaluation
    data, and how to get it."""
    if _PART_SECONDS:
        terminalreporter.write_line("time by part: " + ", ".join(
            f"{part} {seconds:.0f} s" for part, seconds in sorted(_PART_SECONDS.items(), key=lambda kv: -kv[1])))
    wanting = [r for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and DATA_SKIP_WORDS in str(r.longrepr[2])]
    if wanting:
        terminalreporter.write_line(f"{len(wanting)} tests skipped for want of the evaluation data "
                                    f"(not found at {eval_data_dir()}): set MAXSIGHT_EVAL_DATA to the folder that "
                                    "holds it (../shared/data beside the clone, for MaxSight's developers).")
