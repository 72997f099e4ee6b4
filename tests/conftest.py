"""Shared fixtures. Hardware is replaced by files (video replay); models and evaluation data are
real. In CI (CI=true) missing data or models fail loudly; elsewhere they skip with one line."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Profiles written by tests (and by the commands they start) never touch the user's own.
os.environ.setdefault("MAXSIGHT_DATA", tempfile.mkdtemp(prefix="maxsight-test-data-"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest

from engine.eval_data import eval_data_dir
from engine.models.registry import default_registry, installed_path

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _missing(msg: str):
    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def eval_data():
    d = eval_data_dir()
    if not d.is_dir():
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
