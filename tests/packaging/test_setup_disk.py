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


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _setup(tmp_path: Path, free_mb: int, *args: str, installed_before: bool = False) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    _fake_df(bin_dir, free_mb)
    # Every Debian package reads as installed (the test never runs apt-get), and the environment
    # exists already (no real venv is made): only the disk check is left to decide.
    _script(bin_dir / "dpkg-query", "echo 'install ok installed'\n")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    _script(venv / "bin" / "python", "echo 'pip must not run here' >&2\nexit 3\n")
    if installed_before:
        (venv / ".maxsight-installed").write_text("an older install\n")
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", MAXSIGHT_VENV=str(venv))
    return subprocess.run(["bash", "scripts/setup.sh", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_full_disk_is_said_before_pip_starts(tmp_path):
    r = _setup(tmp_path, 500, "--dev")
    assert r.returncode == 1
    assert "needs about 9 GB free" in r.stderr and "only 500 MB is free" in r.stderr
    assert "Traceback" not in r.stderr
    assert "Installing Python packages" not in r.stdout        # pip never ran
    assert not (tmp_path / "venv" / ".maxsight-installed").exists()
    assert "pip must not run here" not in r.stderr


def test_the_app_alone_asks_for_less(tmp_path):
    r = _setup(tmp_path, 2000)
    assert r.returncode == 1
    assert "needs about 3 GB free" in r.stderr


def test_an_environment_installed_before_needs_only_room_to_update(tmp_path):
    r = _setup(tmp_path, 800, "--dev", installed_before=True)
    assert r.returncode == 1 and "needs about 1 GB free" in r.stderr
    ok = _setup(tmp_path / "more", 5000, "--dev", installed_before=True)
    assert "needs about" not in ok.stderr and "pip must not run here" in ok.stderr     # it went on to pip
