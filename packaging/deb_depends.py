"""Debian dependencies of a built bundle, read from the bundle itself: every ELF file in it is asked
(ldd, with the bundle's own folder searched first, as the bootloader does) which libraries it loads;
those that resolve outside the bundle belong to Debian packages (dpkg -S). A library that resolves
nowhere is an error, so a bundle that would not start is never packaged.

    python packaging/deb_depends.py BUNDLE_DIR      prints "pkg1, pkg2, ..." for DEBIAN/control
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Packages left out of Depends.
ESSENTIAL: set[str] = set()     # nothing is assumed: even libc6 is declared
# Packages that provide the same library under other names (JACK 1 or 2: PortAudio takes either).
ALTERNATIVES = {"libjack-jackd2-0": "libjack-jackd2-0 | libjack0"}


def elf_files(root: Path):
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    yield p


def outside_libraries(root: Path) -> tuple[set[str], dict[str, set[str]]]:
    """(paths of system libraries loaded, {missing soname: files that need it})."""
    internal = root / "_internal"
    env = dict(os.environ, LD_LIBRARY_PATH=f"{internal}:{root}")
    system, missing = set(), {}
    for f in elf_files(root):
        r = subprocess.run(["ldd", str(f)], capture_output=True, text=True, env=env, timeout=60)
        for line in r.stdout.splitlines():
            line = line.strip()
            if "=> not found" in line:
                missing.setdefault(line.split()[0], set()).add(str(f.relative_to(root)))
            elif "=>" in line:
                target = line.split("=>")[1].split("(")[0].strip()
                if target and not Path(target).resolve().is_relative_to(root.resolve()):
                    system.add(target)
    return system, missing


def packages_of(paths: set[str]) -> set[str]:
    pkgs = set()
    for path in sorted(paths):
        for candidate in (path, str(Path(path).resolve()), path.replace("/lib/", "/usr/lib/", 1)):
            r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if r.returncode == 0:
                pkgs.add(r.stdout.split(":")[0].strip())
                break
        else:
            raise SystemExit(f"no Debian package owns {path}; the bundle would need it")
    return pkgs


def main(argv: list[str]) -> int:
    root = Path(argv[1])
    system, missing = outside_libraries(root)
    # Optional plugins may link things the app never loads (e.g. Qt's other platform plugins); those
    # are reported but do not block, as long as the xcb platform and MaxSight's own modules resolve.
    fatal = {lib: who for lib, who in missing.items() if any("platforms/libqxcb" in w or "/platforms/" not in w
                                                              and "/plugins/" not in w for w in who)}
    for lib, who in sorted(missing.items()):
        print(f"note: {lib} not found (needed by {sorted(who)[0]}{' and others' if len(who) > 1 else ''})", file=sys.stderr)
    if fatal:
        raise SystemExit(f"the bundle needs libraries found nowhere: {', '.join(sorted(fatal))}")
    pkgs = sorted(packages_of(system) - ESSENTIAL)
    print(", ".join(ALTERNATIVES.get(p, p) for p in pkgs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
