"""A desktop session for tests, as a user has one: a real X server (Xvfb), a window manager
(openbox), a private D-Bus session bus and the AT-SPI accessibility bus with its registry. Every
process is started here in its own process group and ended here by that group's id.

Used by tests/desktop/conftest.py and by tests/desktop/soak_window.py; nothing here imports Qt."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("Xvfb", "openbox", "xdotool", "xwd", "xprop", "dbus-launch", "gdbus")
BUS_LAUNCHER = next((p for p in ("/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher")
                     if os.path.exists(p)), None)
SYSTEM_PYTHON = "/usr/bin/python3"        # Debian's python3-pyatspi lives there, not in the venv


def missing_tools() -> list[str]:
    """What a desktop session needs and this machine lacks (the set-up's --dev installs them)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if BUS_LAUNCHER is None:
        missing.append("at-spi-bus-launcher (at-spi2-core)")
    if subprocess.run([SYSTEM_PYTHON, "-c", "import pyatspi"], capture_output=True).returncode != 0 \
            if os.path.exists(SYSTEM_PYTHON) else True:
        missing.append("python3-pyatspi")
    return missing


def wait_for(check, timeout: float, what: str, every: float = 0.1):
    """Poll until check() is truthy; an error naming what did not happen after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(every)


def _free_display() -> int:
    for n in range(90, 400):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number between :90 and :399")


@dataclass
class XSession:
    width: int = 1280
    height: int = 800
    workdir: Path = Path("/tmp")
    env: dict = field(default_factory=dict)
    procs: list = field(default_factory=list)        # (name, Popen), in start order
    dbus_pid: int | None = None
    display: str = ""

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "XSession":
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "AT_SPI", "WAYLAND"))}
        env.pop("QT_QPA_PLATFORM", None)
        n = _free_display()
        self.display = f":{n}"
        env.update(DISPLAY=self.display, XDG_SESSION_TYPE="x11", NO_AT_BRIDGE="0", GTK_MODULES="",
                   XDG_RUNTIME_DIR=str(self._dir("runtime", 0o700)),
                   QT_ACCESSIBILITY="1", QT_LINUX_ACCESSIBILITY_ALWAYS_ON="1", QT_QPA_PLATFORM="xcb")
        self.env = env
        try:
            self._spawn("Xvfb", ["Xvfb", self.display, "-screen", "0", f"{self.width}x{self.height}x24", "-nolisten", "tcp",
                                 "-noreset"])
            wait_for(lambda: os.path.exists(f"/tmp/.X11-unix/X{n}") and self._ok(["xdotool", "getdisplaygeometry"]),
                     30, f"the X server {self.display} starting")
            out = subprocess.run(["dbus-launch", "--sh-syntax"], env=env, capture_output=True, text=True, timeout=30).stdout
            for line in out.splitlines():
                if "=" in line and line.startswith("DBUS_"):
                    key, value = line.rstrip(";").split("=", 1)
                    value = value.strip("'\"")
                    if key == "DBUS_SESSION_BUS_PID":
                        self.dbus_pid = int(value)
                    else:
                        env[key] = value
            if "DBUS_SESSION_BUS_ADDRESS" not in env:
                raise RuntimeError(f"dbus-launch gave no session bus: {out!r}")
            self._spawn("openbox", ["openbox", "--sm-disable"])
            wait_for(lambda: "window id" in self._out(["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"]), 30,
                     "the window manager starting")
            self._spawn("at-spi-bus-launcher", [BUS_LAUNCHER, "--launch-immediately"])
            wait_for(lambda: "unix:" in self._out(["gdbus", "call", "--session", "--dest", "org.a11y.Bus", "--object-path",
                                                   "/org/a11y/bus", "--method", "org.a11y.Bus.GetAddress"]),
                     30, "the accessibility bus starting")
            self.set_a11y("IsEnabled", True)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for name, p in reversed(self.procs):
            self._end(p)
        self.procs.clear()
        if self.dbus_pid:
            try:
                os.kill(self.dbus_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.dbus_pid = None

    def __enter__(self) -> "XSession":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers ------------------------------------------------------------------------------
    def _dir(self, name: str, mode: int = 0o755) -> Path:
        d = self.workdir / name
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(mode)
        return d

    def _spawn(self, name: str, argv: list[str], env: dict | None = None, log: Path | None = None, **kw) -> subprocess.Popen:
        log = log or self.workdir / f"{name}.log"
        f = open(log, "ab")
        p = subprocess.Popen(argv, env=env or self.env, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, **kw)
        f.close()
        self.procs.append((name, p))
        return p

    def spawn(self, name: str, argv: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
        """Start a process in this session (its own process group; stop() ends it)."""
        return self._spawn(name, argv, dict(self.env, **(env or {})), **kw)

    @staticmethod
    def _end(p: subprocess.Popen, grace: float = 10.0) -> None:
        if p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(10)

    def end(self, p: subprocess.Popen, grace: float = 10.0) -> None:
        self._end(p, grace)
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    def _ok(self, argv: list[str]) -> bool:
        return subprocess.run(argv, env=self.env, capture_output=True, timeout=30).returncode == 0

    def _out(self, argv: list[str]) -> str:
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=30)
        return r.stdout if r.returncode == 0 else ""

    def run(self, argv: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()[-400:]}")
        return r

    def set_a11y(self, prop: str, on: bool) -> None:
        """org.a11y.Status IsEnabled / ScreenReaderEnabled, as GNOME's settings or Orca set them."""
        self.run(["gdbus", "call", "--session", "--dest", "org.a11y.Bus", "--object-path", "/org/a11y/bus", "--method",
                  "org.freedesktop.DBus.Properties.Set", "org.a11y.Status", prop, f"<{'true' if on else 'false'}>"])

    # -- the keyboard and the screen ----------------------------------------------------------
    def window_id(self, name: str, timeout: float = 120) -> str:
        return wait_for(lambda: (self._out(["xdotool", "search", "--onlyvisible", "--name", name]).split() or [None])[0],
                        timeout, f"a window named {name!r} appearing", every=0.3)

    def active_window_name(self) -> str:
        wid = self._out(["xdotool", "getactivewindow"]).strip()
        return self._out(["xdotool", "getwindowname", wid]).strip() if wid else ""

    def key(self, *keys: str, window: str | None = None, delay_ms: int = 40) -> None:
        """Keys as xdotool names them ("Tab", "ctrl+comma", "F5"), to the focused window."""
        argv = ["xdotool", "key", "--delay", str(delay_ms)]
        if window:
            argv += ["--window", window]
        self.run(argv + list(keys))

    def type(self, text: str) -> None:
        self.run(["xdotool", "type", "--delay", "30", text])

    def activate(self, wid: str) -> None:
        self.run(["xdotool", "windowactivate", "--sync", wid], check=False)
        self.run(["xdotool", "windowfocus", "--sync", wid], check=False)

    def resize(self, wid: str, w: int, h: int) -> None:
        self.run(["xdotool", "windowsize", "--sync", wid, str(w), str(h)], check=False)

    def screenshot(self, png: Path | None = None, window: str | None = None):
        """The screen (or one window) as an [h, w, 3] uint8 RGB array, read from xwd's output."""
        import numpy as np
        argv = ["xwd", "-silent"] + (["-id", window] if window else ["-root"])
        raw = subprocess.run(argv, env=self.env, capture_output=True, timeout=60, check=True).stdout
        rgb = xwd_to_rgb(raw)
        if png is not None:
            from PIL import Image
            png.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgb).save(png)
        return np.asarray(rgb)


def xwd_to_rgb(raw: bytes):
    """An XWD (X Window Dump) file of a 24/32-bit TrueColor screen as [h, w, 3] uint8 RGB."""
    import struct

    import numpy as np
    header = struct.unpack(">25I", raw[:100])
    header_size, version, fmt, depth, width, height = header[:6]
    byte_order, bits_per_pixel, bytes_per_line = header[7], header[11], header[12]
    red_mask, green_mask, blue_mask = header[14:17]
    ncolors = header[19]
    if version != 7 or fmt != 2 or bits_per_pixel not in (24, 32):
        raise ValueError(f"expected a ZPixmap XWD at 24 or 32 bits per pixel, got version {version}, format {fmt}, "
                         f"{bits_per_pixel} bpp")
    start = header_size + 12 * ncolors
    rows = np.frombuffer(raw, dtype=np.uint8, count=height * bytes_per_line, offset=start).reshape(height, bytes_per_line)
    nbytes = bits_per_pixel // 8
    b = rows[:, :width * nbytes].reshape(height, width, nbytes).astype(np.uint32)
    order = range(nbytes) if byte_order == 0 else range(nbytes - 1, -1, -1)      # LSBFirst: byte 0 is the lowest
    px = sum(b[:, :, i] << (8 * k) for k, i in enumerate(order))

    def channel(mask):
        shift = (mask & -mask).bit_length() - 1
        return ((px & mask) >> shift).astype(np.uint8)
    return np.dstack([channel(red_mask), channel(green_mask), channel(blue_mask)])
