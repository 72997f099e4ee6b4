"""scripts/setup.sh refuses, in one sentence, to start an install that the disk cannot hold (pip
would otherwise stop half-way with "No space left on device" and leave a broken environment)."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fake_df(bin_dir: Path, free_mb: int) -> None:
    # POSIX `df -Pm` layout: a header line, then the file system's line with "Available" 4th.
    df = bin_dir / "df"
    df.write_text("#!/bin/sh\necho 'Filesystem 1048576-blocks Used Available Capacity Mounted on'\n"
                  f"echo '/dev/fake 100000 90000 {free_mb} 99% /'\n")
    df.chmod(df.stat().st_mode | stat.S_IXUSR)


def _setup(tmp_path: Path, free_mb: int, *args: str) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_df(bin_dir, free_mb)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", MAXSIGHT_VENV=str(tmp_path / "venv"))
    return subprocess.run(["bash", "scripts/setup.sh", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_full_disk_is_said_before_pip_starts(tmp_path):
    r = _setup(tmp_path, 500, "--dev")
    assert r.returncode == 1
    assert "needs about 9 GB free" in r.stderr and "only 500 MB is free" in r.stderr
    assert "Traceback" not in r.stderr
    assert "Installing Python packages" not in r.stdout        # pip never ran
    assert not (tmp_path / "venv" / ".maxsight-installed").exists()


def test_the_app_alone_asks_for_less(tmp_path):
    r = _setup(tmp_path, 2000)
    assert r.returncode == 1
    assert "needs about 3 GB free" in r.stderr
